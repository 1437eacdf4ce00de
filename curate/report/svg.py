"""Inline SVG charts drawn with matplotlib: horizontal bars and histograms with threshold lines.

Each chart is matplotlib's SVG output pasted into the page (no script, no file beside it), so the
report stays one self-contained file that opens from disk. Text stays text (svg.fonttype none): the
browser draws it, the page stays small. matplotlib cannot attach HTML attributes or hover titles to
an artist, only an SVG id (gid): each artist we mark gets a placeholder gid that `inline` swaps for
the markup the page needs (a <title> for the hover text, data-threshold for the tests and readers).
Matplotlib costs time the hand-written SVG did not: about 0.2 s per chart (most of it laying out
ticks) on the loaded 2-core dev VM, a fixed cost per chart, not per document (bench/RESULTS.md,
"Report charts drawn with matplotlib").
"""

from __future__ import annotations

import io
import itertools
import re
from html import escape

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from common.colours import BLUE, ORANGE, RED

KEPT, DROPPED_RULE, DROPPED_OTHER, THRESHOLD = BLUE, ORANGE, "#b8b8b8", RED
PX = 1 / 96  # inches per CSS pixel: sizes below are given in pixels, as the page lays them out
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": None,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_gids = itertools.count()


def number(value: float) -> str:
    """Short labels: 1,234 / 0.12 / 1.2e-05."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"


def tick(value: float, _position=None) -> str:
    return number(float(f"{value:.3g}"))


def count_tick(value: float, _position=None) -> str:
    """Counts on the y axis in a few characters (the left margin is fixed): 950 / 9,500 / 95k / 9.5M."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    return f"{value / 1e3:.3g}k" if abs(value) >= 1e4 else number(value)


def mark(artist, markup: dict[str, str], open_tag: str) -> None:
    """Give an artist a placeholder gid that `inline` replaces by open_tag (a <g ...> with what the page needs)."""
    gid = f"mark-{next(_gids)}"
    artist.set_gid(gid)
    markup[gid] = open_tag


def inline(figure: Figure, markup: dict[str, str], tight: bool = False) -> str:
    """The figure as an <svg> element for an HTML page: no XML prolog or metadata, matplotlib's per-figure
    ids dropped (every chart would repeat them), our placeholders replaced; clip-path ids stay (random)."""
    out = io.StringIO()
    figure.savefig(
        out,
        format="svg",
        bbox_inches="tight" if tight else None,
        pad_inches=0.04,
        metadata={"Date": None, "Creator": None},
    )
    text = out.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)
    text = text.replace("<svg ", '<svg class="chart" role="img" ', 1)
    return re.sub(r'<g id="([^"]+)">', lambda m: markup.get(m.group(1), "<g>"), text)


def bars(rows: list[tuple[str, float, str]], width: int = 720, unit: str = "") -> str:
    """One horizontal bar per (label, value, colour), labelled with its value."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(width * PX, (22 * len(rows) + 16) * PX))
        axes = figure.add_subplot()
        labels = [label for label, _, _ in rows]
        values = [value for _, value, _ in rows]
        drawn = axes.barh(range(len(rows)), values, color=[colour for _, _, colour in rows], height=0.7)
        axes.bar_label(drawn, [f"{number(v)}{unit}" for v in values], padding=4)
        axes.set_yticks(range(len(rows)), labels)
        axes.set_ylim(len(rows) - 0.5, -0.5)  # first row on top
        axes.set_xlim(0, (max(values, default=0) or 1) * 1.2)  # room for the value labels
        axes.xaxis.set_visible(False)
        axes.spines[["bottom", "top", "right"]].set_visible(False)
        axes.tick_params(axis="y", length=0)
        return inline(figure, {}, tight=True)  # as wide as its labels need


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
    return float(low), float(high)


def integers(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)))


def bin_edges(values: np.ndarray, thresholds: list[float], bins: int) -> np.ndarray:
    """One bar per integer for integer signals with integer thresholds spanning at most `bins` values (a flag
    is two bars, 0 and 1, not one bar at each end of 40 bins); otherwise `bins` equal bins."""
    low, high = histogram_range(values, thresholds)
    if integers(values) and integers(np.array(thresholds)) and high - low <= bins:
        low, high = np.floor(low), np.ceil(high)  # quantiles of integers may fall between them
        return np.arange(low - 0.5, max(high, low + 1) + 1.0)  # at least two values: a flag never set still shows 1
    if high == low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high + (high - low) * 0.02, bins + 1)


def histogram(
    series: list[tuple[str, np.ndarray, np.ndarray, str]],
    thresholds: list[tuple[float, str, str]],
    bins: int = 40,
    width: int = 560,
    height: int = 220,
) -> str:
    """Stacked bars of weighted values per series (label, values, weights, colour) and a dashed line per
    threshold (value, label, key); values outside the range are counted in the edge bins, thresholds
    outside it are drawn at the edge with an arrow pointing where they lie."""
    every = np.concatenate([values for _, values, _, _ in series]) if series else np.zeros(0)
    edges = bin_edges(every, [t for t, _, _ in thresholds], bins)
    low, high = float(edges[0]), float(edges[-1])
    markup: dict[str, str] = {}
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(width * PX, height * PX))
        # fixed margins in pixels: every histogram has the same size, tick labels fit (counts are short, see
        # count_tick; the last x label is centred on the right end at most)
        figure.subplots_adjust(left=46 / width, right=1 - 24 / width, bottom=22 / height, top=1 - 6 / height)
        axes = figure.add_subplot()
        base = np.zeros(len(edges) - 1)
        for label, values, weights, colour in series:
            count = np.histogram(np.clip(values, low, high), edges, weights=weights)[0]
            # one step outline per series, stacked on the ones before: a bar per bin (a Rectangle each) made
            # the report 3-4x slower to draw; the hover title is the series' total, not a bin's
            # add_artist, not add_patch: the limits are set below, and updating them from the step path walks
            # every segment of it (a third of a chart's time)
            mark(
                axes.add_artist(StepPatch(base + count, edges, baseline=base.copy(), fill=True, color=colour)),
                markup,
                f"<g><title>{escape(label)}: {number(round(count.sum()))} documents</title>",
            )
            base += count
        axes.set_xlim(low, high)
        peak = (base.max() if len(base) else 0) or 1
        axes.set_ylim(0, peak * (1.05 + 0.12 * len(thresholds)))  # headroom for the threshold labels
        axes.xaxis.set_major_locator(
            MaxNLocator(5, integer=integers(edges + 0.5))
        )  # one bar per integer: integer ticks
        axes.xaxis.set_major_formatter(FuncFormatter(tick))
        axes.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        axes.yaxis.set_major_formatter(FuncFormatter(count_tick))
        for i, (value, label, key) in enumerate(thresholds):
            x = min(max(value, low), high)
            text = label if low <= value <= high else (f"← {label}" if value < low else f"{label} →")
            right = x > (low + high) / 2  # the label runs toward the middle, never off the chart
            mark(
                axes.axvline(x, color=THRESHOLD, linewidth=1.5, linestyle=(0, (5, 3))),
                markup,
                f'<g class="threshold" data-threshold="{escape(key)}">',
            )
            axes.annotate(
                text,
                (x, 1),
                xycoords=("data", "axes fraction"),
                xytext=(-4 if right else 4, -10 - 11 * i),
                textcoords="offset points",
                ha="right" if right else "left",
                color=THRESHOLD,
                wrap=True,
            )  # a long label breaks at a space instead of widening the chart
        return inline(figure, markup)
