"""The report page: one HTML file with inline SVG and CSS, no script, no request to anywhere.

The Content-Security-Policy forbids every fetch (scripts, styles from files, images other than
data: URLs), so a page that opens without console errors is one that needs nothing but itself.
"""

from __future__ import annotations

import datetime
import re
from html import escape

import numpy as np
import yaml

from curate.report import svg
from curate.report.run import SHOWN, Population, Run, read_rows
from curate.report.thresholds import Threshold, stage_signal_columns, stage_thresholds

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 20px 60px; color: #222; }
.warning { color: #9a3412; font-weight: 600; }
h1 { margin-bottom: 0; } h2 { border-bottom: 2px solid #3b76af; padding-bottom: 4px; margin-top: 40px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child, table.funnel td:last-child, table.params td:last-child { text-align: left; } th { background: #f2f5f9; }
.chart text { font: 11px system-ui, sans-serif; fill: #333; }
.signals { display: flex; flex-wrap: wrap; gap: 18px; } .signal { border: 1px solid #e4e4e4; padding: 6px 8px; }
.signal h4 { margin: 0 0 2px; font-family: monospace; } .note { color: #666; font-size: 12px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; } .doc { border: 1px solid #ddd; margin: 8px 0; padding: 6px 8px; }
.doc.dropped { border-left: 4px solid #e07b39; } .doc.kept { border-left: 4px solid #3b76af; }
.doc pre, pre.yaml { white-space: pre-wrap; word-break: break-word; font-size: 12px; background: #fafafa; padding: 6px; margin: 4px 0 0; }
.meta { font-size: 12px; color: #444; word-break: break-all; } .legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }
nav a { margin-right: 14px; }
"""
TEXT_CHARS = 700


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def shorten(text: str | None, limit: int = TEXT_CHARS) -> str:
    text = text or ""
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text) - limit:,} more characters]"


def table(header: list[str], rows: list[list], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if isinstance(cell, Raw) else escape(fmt(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f'<table class="{css}"><tr>{head}</tr>{body}</table>'


class Raw(str):
    """Markup a table cell holds as is (it was escaped when built)."""


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 or value == 0 else f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def funnel(run: Run) -> str:
    stages = [s["name"] for s in run.stages if s["name"] in run.stats]
    if not stages:
        return "<p>No stats/*.json.</p>"
    first = run.stats[stages[0]]
    docs = [("input", first["docs_in"], svg.DROPPED_OTHER)] + [
        (f"after {n}", run.stats[n]["docs_out"], svg.KEPT) for n in stages
    ]
    kinds = {s["name"]: s["stage"] for s in run.stages}
    mb = [("input", first["bytes_in"] / 1e6, svg.DROPPED_OTHER)] + [
        (f"after {n}" + (" (token bytes)" if kinds[n] == "tokenize" else ""), run.stats[n]["bytes_out"] / 1e6, svg.KEPT)
        for n in stages
    ]
    rows = []
    for n in stages:
        s = run.stats[n]
        drops = ", ".join(f"{r} {c:,}" for r, c in sorted(s["dropped"].items(), key=lambda kv: -kv[1])) or "-"
        rows.append(
            [
                n,
                s["docs_in"],
                s["docs_out"],
                s["docs_in"] - s["docs_out"],
                s["bytes_in"] / 1e6,
                s["bytes_out"] / 1e6,
                s.get("wall_seconds", 0.0),
                drops,
            ]
        )
    drops = [(n, reason, count) for n in stages for reason, count in run.stats[n]["dropped"].items()]
    drop_rows = [
        [
            Raw(f'<a href="#reason-{slug(n + "-" + r)}">{escape(r)}</a>'),
            n,
            c,
            f"{c / first['docs_in']:.2%}" if first["docs_in"] else "-",
        ]
        for n, r, c in sorted(drops, key=lambda d: -d[2])
    ]
    # what stages changed without dropping: secrets removed per kind, pii and normalize edits, license counts
    edit_rows = [
        [n, name, count] for n in stages for name, count in sorted(run.stats[n].get("counters", {}).items()) if count
    ]
    return (
        f"<h3>Documents</h3>{svg.bars(docs)}<h3>Megabytes</h3>{svg.bars(mb, unit=' MB')}"
        + table(
            ["stage", "docs in", "docs out", "dropped", "MB in", "MB out", "seconds", "dropped by reason"],
            rows,
            "funnel",
        )
        + "<h3>Drops by reason</h3>"
        + table(["reason", "stage", "documents", "of the input"], drop_rows, "reasons")
        + (
            "<h3>Counted by the stages (edits, secrets removed per kind, licenses seen)</h3>"
            + table(["stage", "counter", "count"], edit_rows, "counters")
            if edit_rows
            else ""
        )
    )


def values_and_weights(populations: list[Population], column: str, mask=None) -> tuple[np.ndarray, np.ndarray]:
    values, weights = [], []
    for i, population in enumerate(populations):
        v = population.numbers(column)
        if mask is not None and len(v):
            v = v[mask[i]]
        v = v[np.isfinite(v)]
        values.append(v)
        weights.append(np.full(len(v), population.weight))
    return (np.concatenate(values), np.concatenate(weights)) if values else (np.zeros(0), np.zeros(0))


def signal_charts(run: Run) -> str:
    parts = []
    for stage in run.stages:
        name = stage["name"]
        dropped = run.rejected.get(name)
        passed = run.passed(name)
        present = sorted({c for p in passed + ([dropped] if dropped else []) for c in p.table.column_names})
        columns = stage_signal_columns(stage, present)
        if not columns:
            continue
        thresholds = stage_thresholds(stage)
        charts = []
        for column in columns:
            own = [t for t in thresholds if t.column == column]
            rule_reasons = {t.reason for t in own}
            series = [("kept by " + name, *values_and_weights(passed, column), svg.KEPT)]
            if dropped is not None:
                by_rule = np.isin(dropped.strings("reason"), list(rule_reasons))
                series += [
                    ("dropped by this rule", *values_and_weights([dropped], column, [by_rule]), svg.DROPPED_RULE),
                    (
                        f"dropped by another {name} rule",
                        *values_and_weights([dropped], column, [~by_rule]),
                        svg.DROPPED_OTHER,
                    ),
                ]
            shown = sum(len(v) for _, v, _, _ in series)
            if not shown and not own:
                continue
            lines = [(t.value, t.label, threshold_key(name, t)) for t in own]
            charts.append(
                f'<div class="signal" id="signal-{slug(name + "-" + column)}"><h4>{escape(column)}</h4>'
                f'{svg.histogram(series, lines)}<div class="note">{shown:,} sampled documents with a value'
                f"{'; thresholds: ' + escape(', '.join(t.label for t in own)) if own else '; no threshold'}</div></div>"
            )
        parts.append(f'<h3>{escape(name)} ({escape(stage["stage"])})</h3><div class="signals">{"".join(charts)}</div>')
    legend = (
        f'<p class="legend"><span style="background:{svg.KEPT}"></span>kept by the stage'
        f'<span style="background:{svg.DROPPED_RULE}"></span>dropped by the rule the threshold belongs to'
        f'<span style="background:{svg.DROPPED_OTHER}"></span>dropped by another rule of the stage'
        f'<span style="background:{svg.THRESHOLD}"></span>threshold (an arrow: outside the drawn range)</p>'
    )
    return legend + "".join(parts) if parts else "<p>No signal columns in this run.</p>"


def threshold_key(stage: str, t: Threshold) -> str:
    return f"{stage}:{t.column}:{t.side}:{t.value:g}"


def document(record: dict, css: str, signal: str | None) -> str:
    where = record.get("url") or record.get("title") or record.get("path") or record.get("relative_path") or ""
    meta = [f"id {record.get('id')}"] + [
        f"{k} {record[k]}" for k in ("source", "language", "detail", "duplicate_of") if record.get(k)
    ]
    if signal and record.get(signal) is not None:
        meta.append(f"{signal} = {record[signal]:.4g}")
    return (
        f'<div class="doc {css}"><div class="meta"><b>{escape(str(where))}</b><br>{escape(" · ".join(meta))}</div>'
        f"<pre>{escape(shorten(record.get('text')))}</pre></div>"
    )


def kept_neighbours(
    run: Run, stage: str, own: list[Threshold], dropped_values: np.ndarray, k: int, rng
) -> tuple[list[dict], str]:
    """Kept documents whose signal lies nearest the bound the dropped ones broke; without a signal, random kept ones."""
    passed = [p for p in run.passed(stage) if p.table.num_rows]
    columns = SHOWN + ("text",) + tuple({t.column for t in own})
    if own:
        broken = lambda t: np.sum(dropped_values < t.value) if t.side == "min" else np.sum(dropped_values > t.value)
        bound = max(own, key=broken)
        candidates = []
        for i, p in enumerate(passed):
            distance = np.abs(p.numbers(bound.column) - bound.value)
            valid = np.flatnonzero(np.isfinite(distance))
            candidates += [(distance[j], i, j) for j in valid[np.argsort(distance[valid], kind="stable")[:k]]]
        chosen = [(i, j) for _, i, j in sorted(candidates)[:k]]
        what = f"kept documents nearest {bound.label}"
    else:
        starts = np.cumsum([0] + [p.table.num_rows for p in passed])
        picks = np.sort(rng.choice(starts[-1], size=min(k, starts[-1]), replace=False))
        chosen = [(int(i), int(n - starts[i])) for n, i in zip(picks, np.searchsorted(starts, picks, side="right") - 1)]
        what = f"kept documents (random; {stage} has no threshold for this reason)"
    records = []
    for i in sorted({i for i, _ in chosen}):
        rows = [j for pi, j in chosen if pi == i]
        records += read_rows(passed[i].files, passed[i].locations()[rows], list(columns))
    if own:
        records.sort(key=lambda r: abs((r.get(bound.column) or 0) - bound.value))
    return records, what


def samples(run: Run, seed: int) -> str:
    rng = np.random.default_rng(seed)
    parts = []
    for stage in run.stages:
        name = stage["name"]
        thresholds = stage_thresholds(stage)
        for reason, (count, locations) in sorted(run.reasons.get(name, {}).items(), key=lambda kv: -kv[1][0]):
            own = [t for t in thresholds if t.reason == reason]
            signal = own[0].column if own else None
            dropped = read_rows(
                run.rejected[name].files, locations, list(SHOWN + ("text",) + tuple({t.column for t in own}))
            )
            values = np.array([r.get(signal) for r in dropped if signal and r.get(signal) is not None], float)
            kept, what = kept_neighbours(run, name, own, values, len(locations), rng)
            left = "".join(document(r, "dropped", signal) for r in dropped)
            right = "".join(document(r, "kept", signal) for r in kept) or "<p>No kept documents to compare with.</p>"
            parts.append(
                f'<section class="reason" id="reason-{slug(name + "-" + reason)}" data-reason="{escape(reason)}">'
                f"<h3>{escape(reason)} <small>({escape(name)}, {count:,} dropped)</small></h3>"
                f'<div class="pair"><div><h4>dropped: {len(dropped)} of {count:,}, drawn at random</h4>{left}</div>'
                f"<div><h4>{escape(what)}</h4>{right}</div></div></section>"
            )
    return "".join(parts) or "<p>Nothing was dropped.</p>"


def facets(run: Run) -> str:
    before, after = run.everything(), [run.kept] if run.kept is not None else []
    parts = []
    for column, title in (
        ("language", "Languages"),
        ("source", "Sources"),
        ("host", "Domains (top hosts)"),
        ("license", "Licenses (code)"),
    ):
        b, a = run.facet(column, before), run.facet(column, after)
        if set(b) <= {"(none)"}:
            continue
        rows = [
            [value, round(count), round(a.get(value, 0)), f"{a.get(value, 0) / count:.0%}" if count else "-"]
            for value, count in b.most_common(20)
        ]
        parts.append(
            f"<div><h3>{title}</h3>" + table([column, "before", "after", "kept"], rows, f"facet-{column}") + "</div>"
        )
    sampled = [p for p in before if p.table.num_rows < p.total]
    note = (
        (
            f'<p class="note">Estimated from uniform samples of {sum(p.table.num_rows for p in sampled):,} of '
            f"{sum(p.total for p in sampled):,} documents.</p>"
        )
        if sampled
        else ""
    )
    return note + '<div class="pair">' + "".join(parts) + "</div>"


def tokens(run: Run) -> str:
    if not run.tokens:
        return ""
    sources = run.facet("source", [run.kept] if run.kept is not None else [])
    rows = [
        [name, split, info.get("num_documents", 0), info.get("num_tokens", 0), info.get("tokenizer_hash", "")[:12]]
        for name, splits in run.tokens.items()
        for split, info in splits.items()
    ]
    return (
        '<h2 id="tokens">Tokens</h2>'
        + table(["stage", "split", "documents", "tokens", "tokenizer"], rows, "tokens")
        + f'<p class="note">sources of the tokenized documents: {escape(", ".join(f"{s} {round(n):,}" for s, n in sources.most_common()))}</p>'
    )


def configuration(run: Run) -> str:
    if run.pipeline is None:
        return "<p>This run has no pipeline.yaml (made before the runner wrote one): thresholds are not known.</p>"
    rows = [
        [s["name"], s["stage"], ", ".join(f"{k}: {v}" for k, v in s.items() if k not in ("stage", "name"))]
        for s in run.pipeline["stages"]
    ]
    return (
        table(["stage", "type", "parameters"], rows, "params")
        + f'<h3>pipeline.yaml</h3><pre class="yaml">{escape(yaml.safe_dump(run.pipeline, sort_keys=False))}</pre>'
    )


def headline(run: Run) -> str:
    """Documents and text in (the first stage) and out (the last stage that writes documents: a tokenize
    stage's bytes out are token bytes, so its row is the token count instead)."""
    documents = [s["name"] for s in run.stages if s["name"] in run.stats and s["stage"] != "tokenize"]
    if not documents or not run.stats[documents[0]]["docs_in"]:
        return ""
    first, last = run.stats[documents[0]], run.stats[documents[-1]]
    tokens = sum(info.get("num_tokens", 0) for splits in run.tokens.values() for info in splits.values())
    return (
        f"<p>{first['docs_in']:,} documents in, {last['docs_out']:,} out after {escape(documents[-1])} "
        f"({last['docs_out'] / first['docs_in']:.1%} kept); {megabytes(first['bytes_in'])} in, "
        f"{megabytes(last['bytes_out'])} of text out" + (f"; {tokens:,} tokens" if tokens else "") + ".</p>"
    )


def megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e6:.2g} MB"


def render(run: Run, seed: int = 0) -> str:
    name = run.pipeline["name"] if run.pipeline else run.output.name
    summary = headline(run)
    summary += "".join(
        f'<p class="warning">Warning: {escape(stage)}: {escape(text)}</p>'
        for stage, texts in run.warnings.items()
        for text in texts
    )
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>curate report: {escape(name)}</title><style>{STYLE}</style></head><body>
<h1>curate report: {escape(name)}</h1>
<p class="note">{escape(str(run.output))} · generated {generated} · kept documents read from {escape(str(run.kept_stage))}/</p>
{summary}
<nav><a href="#funnel">Funnel</a><a href="#signals">Signals</a><a href="#samples">Dropped vs kept</a><a href="#facets">Languages, sources, domains</a>{'<a href="#tokens">Tokens</a>' if run.tokens else ""}<a href="#config">Configuration</a></nav>
<h2 id="funnel">Funnel</h2>{funnel(run)}
<h2 id="signals">Signals and thresholds</h2>{signal_charts(run)}
<h2 id="samples">Dropped documents beside kept ones</h2>{samples(run, seed)}
<h2 id="facets">Languages, sources and domains, before and after</h2>{facets(run)}
{tokens(run)}
<h2 id="config">Configuration</h2>{configuration(run)}
</body></html>
"""
