"""Time `curate report` on a 100,000-document run, against re-reading that run's Parquet in full.

The run is a real `curate demo` web run (../shared/data) replicated: every kept and rejected folder's rows
repeated until the first stage has seen ~100,000 documents, its stats/*.json scaled by the same factor,
its pipeline.yaml copied. Each copy gets unique ids and its letters rotated (a Caesar shift per copy), so
Parquet's zstd cannot shrink the copies to nothing and the files weigh what 100,000 real pages weigh;
files are written like the runner writes them (zstd, a row group per 1,000-document batch). The baseline is what a report without
stats and sampling would have to do at least once: read every Parquet file of the run, text included.

    python -m bench.report_time [--demo out/demo] [--docs 100000] [--work /tmp/report_bench]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.harness import REPO, Machine, Results, run_command, timed


def rotation(shift: int) -> dict:
    lower, upper = string.ascii_lowercase, string.ascii_uppercase
    k = shift % 26
    return str.maketrans(lower + upper, lower[k:] + lower[:k] + upper[k:] + upper[:k])


def replicate(source: Path, target: Path, docs: int, files: int = 8) -> int:
    stats = {p.stem: json.loads(p.read_text()) for p in (source / "stats").glob("*.json")}
    first = max(s["docs_in"] for s in stats.values())
    factor = math.ceil(docs / first)
    shutil.rmtree(target, ignore_errors=True)
    folders = [p for p in source.iterdir() if p.is_dir() and list(p.glob("*.parquet"))]
    folders += [p for p in (source / "rejected").iterdir() if p.is_dir()]
    for folder in folders:
        table = pa.concat_tables(
            [pq.read_table(p) for p in sorted(folder.glob("*.parquet"))], promote_options="permissive"
        )
        copies = []
        for copy in range(factor):
            ids = pc.binary_join_element_wise(pc.cast(table["id"], pa.string()), pa.scalar(f"-{copy}"), "")
            copied = table.set_column(table.schema.get_field_index("id"), "id", ids)
            texts = [None if t is None else t.translate(rotation(copy)) for t in table["text"].to_pylist()]
            copies.append(
                copied.set_column(
                    copied.schema.get_field_index("text"), "text", pa.array(texts, table.schema.field("text").type)
                )
            )
        big = pa.concat_tables(copies)
        out = target / folder.relative_to(source)
        out.mkdir(parents=True)
        step = math.ceil(big.num_rows / files)
        for i in range(0, big.num_rows, step):
            pq.write_table(
                big.slice(i, step), out / f"shard-{i // step:05d}.parquet", compression="zstd", row_group_size=1000
            )
    (target / "stats").mkdir(parents=True)
    for name, s in stats.items():
        scaled = {
            **s,
            **{k: s[k] * factor for k in ("docs_in", "docs_out", "bytes_in", "bytes_out")},
            "dropped": {r: c * factor for r, c in s["dropped"].items()},
        }
        (target / "stats" / f"{name}.json").write_text(json.dumps(scaled, indent=1))
    shutil.copy(source / "pipeline.yaml", target / "pipeline.yaml")
    return first * factor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--demo", default="out/demo", help="a `curate demo` output (made with --from ../shared/data if missing)"
    )
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--work", default="/tmp/report_bench")
    parser.add_argument("--reuse", action="store_true", help="time the run already in --work (made by an earlier call)")
    parser.add_argument("--json", help="write the ratios here (for python -m bench.compare)")
    args = parser.parse_args()
    demo = Path(args.demo)
    if not (demo / "web" / "pipeline.yaml").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "studies.cli",
                "curate",
                "demo",
                "--from",
                str(REPO.parent / "shared" / "data"),
                "--output",
                str(demo),
                "--train-steps",
                "0",
                "--no-progress",
            ],
            check=True,
            cwd=REPO,
            capture_output=True,
        )
    run = Path(args.work) / "web"
    if args.reuse and (run / "stats").exists():
        docs = max(json.loads(p.read_text())["docs_in"] for p in (run / "stats").glob("*.json"))
    else:
        docs = replicate(demo / "web", run, args.docs)
    parquet = [p for p in run.rglob("*.parquet")]
    size = sum(p.stat().st_size for p in parquet) / 1e6
    print(f"run: {run}: {docs:,} documents in, {len(parquet)} Parquet files, {size:.1f} MB; {Machine.now()}")

    rows, reread = timed(lambda: sum(pq.read_table(p).num_rows for p in parquet))
    print(f"re-read every Parquet file (all columns): {reread} ({rows:,} rows)")
    results = Results()
    for sample in (100_000, 10_000):
        report = run_command("-m", "curate.cli", "report", str(run), "--sample", str(sample))
        html = (run / "report" / "index.html").stat().st_size / 1e6
        print(
            f"curate report --sample {sample}: {report} (process start included), {html:.2f} MB of HTML; "
            f"{report.wall / reread.wall:.2f}x the re-read"
        )
        results.add(
            f"report_time.sample_{sample}_vs_reread",
            report.wall / reread.wall,
            "seconds of `curate report` / re-reading every Parquet file of the run",
            higher_is_better=False,
        )
    if args.json:
        results.write(args.json)


if __name__ == "__main__":
    main()
