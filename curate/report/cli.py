"""`curate report OUT`: a static HTML report of a run. `curate sample FOLDER`: documents in the terminal."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

from common.typed import did_you_mean
from curate.core.params import ConfigError

WHERE_TERM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*('[^']*'|\"[^\"]*\"|[-+0-9.eE]+|null)\s*$")


def add_report_parsers(commands) -> None:
    report = commands.add_parser(
        "report",
        help="write a static HTML report of a pipeline run",
        description="Read a run's output folder (stats/*.json, pipeline.yaml, rejected/ and the last stage's documents, "
        "Parquet or JSON lines as the run wrote them) "
        "and write one self-contained HTML file: the funnel of documents and bytes per stage, drops by "
        "reason, a histogram per signal column with its thresholds, dropped documents beside kept ones "
        "near the same threshold, languages, sources and domains before and after, tokens, and the "
        "pipeline's parameters. Large runs are read as a bounded seeded sample (--sample rows per folder).",
    )
    report.add_argument("output", help="the output folder of `curate run`, e.g. out/web")
    report.add_argument("--html", help="folder to write index.html to (default OUTPUT/report)")
    report.add_argument(
        "--sample", type=int, default=100_000, help="rows read per folder for histograms and counts (default 100000)"
    )
    report.add_argument("--examples", type=int, default=5, help="dropped documents shown per reason (default 5)")
    report.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    report.set_defaults(handler=cmd_report)

    sample = commands.add_parser(
        "sample",
        help="print documents of a stage or its rejected folder",
        description="Print documents from OUT/<stage> (kept) or OUT/rejected/<stage> (dropped, with reason and detail), "
        "optionally only those with a drop reason or matching conditions on columns, e.g. "
        "--where \"gopher_word_count < 80 and language == 'en'\".",
    )
    sample.add_argument("folder", help="OUT/<stage> or OUT/rejected/<stage>")
    sample.add_argument(
        "--reason", help="only documents dropped for this reason (or reasons starting with it, e.g. gopher_quality)"
    )
    sample.add_argument("--where", help="conditions 'column OP value' joined by 'and'; OP one of < <= > >= == !=")
    sample.add_argument("-n", type=int, default=5, help="how many documents (default 5)")
    sample.add_argument(
        "--seed", type=int, help="draw the documents at random with this seed (default: the first matches)"
    )
    sample.add_argument("--chars", type=int, default=1000, help="characters of text shown per document (default 1000)")
    sample.set_defaults(handler=cmd_sample)


def cmd_report(args) -> int:
    from curate.report.page import render
    from curate.report.run import load_run

    output = Path(args.output)
    if not (output / "stats").is_dir():
        raise ConfigError(f"{output}: no stats/ folder; give the output folder of a `curate run`")
    run = load_run(output, cap=args.sample, per_reason=args.examples, seed=args.seed)
    folder = Path(args.html) if args.html else output / "report"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(render(run, args.seed), encoding="utf-8")
    print(f"report: {folder / 'index.html'}")
    return 0


def parse_where(text: str):
    """'a < 3 and b == "x"' as a pyarrow filter expression, or ConfigError saying what is wrong."""
    import pyarrow.dataset as ds

    expression = None
    for term in re.split(r"\s+and\s+", text.strip()):
        match = WHERE_TERM.match(term)
        if not match:
            raise ConfigError(
                f"--where: cannot read '{term}'; write column OP value, e.g. gopher_word_count < 80 or language == 'en'"
            )
        column, op, raw = match.groups()
        value = None if raw == "null" else raw[1:-1] if raw[0] in "'\"" else float(raw)
        field = ds.field(column)
        condition = {
            "<": field < value,
            "<=": field <= value,
            ">": field > value,
            ">=": field >= value,
            "==": field.is_null() if value is None else field == value,
            "!=": field.is_valid() if value is None else field != value,
        }[op]
        expression = condition if expression is None else expression & condition
    return expression


def cmd_sample(args) -> int:
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from curate.report.run import is_jsonl, output_files

    files = output_files(Path(args.folder))
    if not files:
        raise ConfigError(
            f"{args.folder}: no Parquet files (nor .jsonl.gz) directly in this folder; give OUT/<stage> or OUT/rejected/<stage>"
        )
    dataset = ds.dataset([str(f) for f in files], format="json" if is_jsonl(files[0]) else "parquet")
    names = dataset.schema.names
    expression = parse_where(args.where) if args.where else None
    if args.where:
        missing = [
            m.group(1)
            for term in re.split(r"\s+and\s+", args.where.strip())
            if (m := WHERE_TERM.match(term)) and m.group(1) not in names
        ]
        if missing:
            raise ConfigError(
                f"--where: no column {', '.join(missing)} in {args.folder}{did_you_mean(missing[0], names)}; "
                f"columns: {', '.join(names)}"
            )
    if args.reason:
        if "reason" not in names:
            raise ConfigError(f"--reason: {args.folder} has no reason column; use OUT/rejected/<stage>")
        by_reason = (ds.field("reason") == args.reason) | pc.starts_with(ds.field("reason"), pattern=args.reason + ".")
        if not dataset.count_rows(filter=by_reason):  # a typo, not an empty result: say which reasons there are
            counts = pc.value_counts(dataset.to_table(columns=["reason"])["reason"]).to_pylist()
            there = {item["values"]: item["counts"] for item in counts if item["values"] is not None}
            listed = ", ".join(f"{r} ({n:,})" for r, n in sorted(there.items(), key=lambda kv: -kv[1]))
            prefixes = sorted(
                {r.split(".")[0] for r in there}
            )  # --reason gopher_quality matches every gopher_quality.*
            raise ConfigError(
                f"--reason: no document in {args.folder} was dropped for {args.reason!r}"
                f"{did_you_mean(args.reason, prefixes + list(there))}; reasons there: {listed or 'none'}"
            )
        expression = by_reason if expression is None else expression & by_reason
    if args.seed is None:
        table = dataset.head(args.n, filter=expression)
    else:
        table = dataset.to_table(filter=expression)
        table = table.take(
            np.sort(
                np.random.default_rng(args.seed).choice(table.num_rows, size=min(args.n, table.num_rows), replace=False)
            )
        )
    total = dataset.count_rows(filter=expression)
    width = shutil.get_terminal_size((100, 20)).columns
    shown = [c for c in ("reason", "detail", "source", "language", "url", "title", "path") if c in names]
    conditions = (
        [m.group(1) for term in re.split(r"\s+and\s+", args.where.strip()) if (m := WHERE_TERM.match(term))]
        if args.where
        else []
    )
    for i, row in enumerate(table.to_pylist()):
        print("=" * width)
        print(f"[{i + 1}/{table.num_rows} of {total:,} matching] id {row.get('id')}")
        for column in shown + [c for c in conditions if c not in shown]:
            if row.get(column) is not None:
                print(f"  {column}: {row[column]}")
        print("-" * width)
        text = row.get("text") or ""
        body = (
            text if len(text) <= args.chars else f"{text[: args.chars]}… [{len(text) - args.chars:,} more characters]"
        )
        print(textwrap.indent(body, "  "))
    if not table.num_rows:
        print(f"no documents in {args.folder} match")
    return 0
