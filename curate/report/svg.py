"""Inline SVG charts: horizontal bars and histograms with threshold lines. No library, no script:
the page stays one self-contained file that opens from disk."""
from __future__ import annotations

from html import escape

import numpy as np

KEPT, DROPPED_RULE, DROPPED_OTHER, THRESHOLD = "#3b76af", "#e07b39", "#b8b8b8", "#c0392b"


def number(value: float) -> str:
    """Short labels: 1,234 / 0.12 / 1.2e-05."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"


def bars(rows: list[tuple[str, float, str]], width: int = 720, unit: str = "") -> str:
    """One horizontal bar per (label, value, colour), scaled to the largest."""
    height, label_width = 22, 190
    top = max((v for _, v, _ in rows), default=0) or 1
    out = [f'<svg class="chart" width="{width}" height="{height * len(rows) + 8}" role="img">']
    for i, (label, value, colour) in enumerate(rows):
        y, w = 4 + i * height, (width - label_width - 120) * value / top
        out.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
                   f'<rect x="{label_width}" y="{y + 2}" width="{w:.1f}" height="{height - 6}" fill="{colour}"/>'
                   f'<text x="{label_width + w + 6:.1f}" y="{y + 15}">{number(value)}{unit}</text>')
    return "\n".join(out + ["</svg>"])


def histogram_range(values: np.ndarray, thresholds: list[float]) -> tuple[float, float]:
    """The data's 0.5-99.5% range, widened to thresholds that lie near it (far ones are drawn at the edge)."""
    if not len(values):
        low, high = (min(thresholds), max(thresholds)) if thresholds else (0.0, 1.0)
    else:
        low, high = np.quantile(values, [0.005, 0.995])
    span = (high - low) or max(abs(high), 1.0)
    for t in thresholds:
        if low - span <= t <= high + span:
            low, high = min(low, t), max(high, t)
    if high == low:
        low, high = low - 0.5, high + 0.5
    return float(low), float(high + (high - low) * 0.02)


def histogram(series: list[tuple[str, np.ndarray, np.ndarray, str]], thresholds: list[tuple[float, str, str]],
              bins: int = 40, width: int = 560, height: int = 220) -> str:
    """Stacked bars of weighted values per series (label, values, weights, colour) and a dashed line per
    threshold (value, label, key); values outside the range are counted in the edge bins."""
    every = np.concatenate([values for _, values, _, _ in series]) if series else np.zeros(0)
    if len(every) and np.isin(every, (0.0, 1.0)).all():  # a yes/no signal (c4_curly_bracket): two bars, not one spike
        return binary(series, thresholds, width)
    low, high = histogram_range(every, [t for t, _, _ in thresholds])
    edges = np.linspace(low, high, bins + 1)
    left, right, top, bottom = 56, width - 12, 26, height - 34
    x = lambda v: left + (min(max(v, low), high) - low) / (high - low) * (right - left)
    counts = [np.histogram(np.clip(values, low, high), edges, weights=weights)[0] for _, values, weights, _ in series]
    peak = float(np.sum(counts, axis=0).max()) if counts else 0.0
    peak = peak or 1.0
    out = [f'<svg class="chart" width="{width}" height="{height}" role="img">',
           f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#444"/>',
           f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{number(round(peak))}</text>',
           f'<text x="{left - 4}" y="{bottom}" text-anchor="end">0</text>']
    base = np.zeros(bins)
    for (label, _, _, colour), count in zip(series, counts):
        for i in np.flatnonzero(count):
            h = count[i] / peak * (bottom - top)
            out.append(f'<rect x="{x(edges[i]):.1f}" y="{bottom - (base[i] / peak) * (bottom - top) - h:.1f}" '
                       f'width="{max(x(edges[i + 1]) - x(edges[i]) - 1, 1):.1f}" height="{h:.1f}" fill="{colour}"><title>{escape(label)}: '
                       f'{number(round(count[i]))} in [{edges[i]:.3g}, {edges[i + 1]:.3g})</title></rect>')
        base += count
    for i, tick in enumerate(np.linspace(low, high, 5)):  # the last label ends at the axis' end: never cut off
        out.append(f'<text x="{x(tick):.1f}" y="{bottom + 14}" text-anchor="{"end" if i == 4 else "middle"}">{number(float(f"{tick:.3g}"))}</text>')
    for i, (value, label, key) in enumerate(thresholds):
        edge = "" if low <= value <= high else (" →" if value > high else "← ")
        text = f"{edge.strip()} {label}" if value < low else f"{label}{edge}"
        px = x(value)
        anchor = "end" if px > (left + right) / 2 else "start"
        out.append(f'<g class="threshold" data-threshold="{escape(key)}"><line x1="{px:.1f}" y1="{top - 6}" x2="{px:.1f}" '
                   f'y2="{bottom}" stroke="{THRESHOLD}" stroke-width="2" stroke-dasharray="5,3"/>'
                   f'<text x="{px + (-4 if anchor == "end" else 4):.1f}" y="{top + 8 + 13 * i}" text-anchor="{anchor}" '
                   f'fill="{THRESHOLD}">{escape(text)}</text></g>')
    return "\n".join(out + ["</svg>"])


def binary(series: list[tuple[str, np.ndarray, np.ndarray, str]], thresholds: list[tuple[float, str, str]],
           width: int = 560) -> str:
    """A 0/1 signal: one stacked bar per value (weighted counts per series), the thresholds as text below."""
    label_width, row = 60, 30
    counts = [[float(weights[values == value].sum()) for _, values, weights, _ in series] for value in (0.0, 1.0)]
    top = max(sum(c) for c in counts) or 1.0
    height = 8 + 2 * row + 16 * len(thresholds)
    out = [f'<svg class="chart" width="{width}" height="{height}" role="img">']
    for i, (value, per_series) in enumerate(zip((0, 1), counts)):
        y, start = 4 + i * row, float(label_width)
        out.append(f'<text x="{label_width - 6}" y="{y + 17}" text-anchor="end">= {value}</text>')
        for (label, _, _, colour), count in zip(series, per_series):
            w = (width - label_width - 80) * count / top
            if w:
                out.append(f'<rect x="{start:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" fill="{colour}">'
                           f'<title>{escape(label)}: {number(round(count))} with value {value}</title></rect>')
            start += w
        out.append(f'<text x="{start + 6:.1f}" y="{y + 17}">{number(round(sum(per_series)))}</text>')
    for i, (_, label, key) in enumerate(thresholds):
        out.append(f'<g class="threshold" data-threshold="{escape(key)}"><text x="{label_width}" y="{8 + 2 * row + 16 * i + 4}" '
                   f'fill="{THRESHOLD}">{escape(label)}</text></g>')
    return "\n".join(out + ["</svg>"])
