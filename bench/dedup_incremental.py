"""Incremental dedup with an index vs from scratch: crawl B against the index of crawl A, vs one run on A + B.

    python -m bench.dedup_incremental --docs 100000 [--workers 2]

Corpus: bench/dedup_planted.py's (10% exact, 10% near copies of a document among the last 200,000),
2 x docs documents in 8 shards; A is the first 4 shards, B the last 4, so B holds copies of A's
documents. Runs, each through the runner in this process: (1) A with `index` (builds the index),
(2) B with the same `index` (the incremental run), (3) A + B without an index (from scratch).
CPU seconds (user + system of this process and its workers) are the figure to compare on a
loaded machine; wall seconds move with the load. Ids sort in input order, so the one-run keep rule (lowest id) equals the index's (A wins): the kept
sets of (1) + (2) and (3) are compared. The cost that matters is (2) vs (3): adding a crawl to an
index of N kept documents vs redoing everything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (the executor's workers)."""
    from bench import dedup_scale

    return dedup_scale.tree_sum(pid, lambda fields: (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))


def run(folder: Path, shards: list[Path], out: Path, workers: int, index: Path | None) -> tuple[float, float, set[str]]:
    from curate.core.executor import LocalExecutor
    from curate.core.pipeline import load_pipeline
    from curate.api import run_pipeline

    folder.mkdir()
    for shard in shards:
        (folder / shard.name).symlink_to(shard)
    yaml = out.with_suffix(".yaml")
    yaml.write_text(
        f"name: b\ninput: {folder}\noutput: {out}\nstages:\n  - stage: dedup\n    max_memory_gb: 20\n"
        + (f"    index: {index}\n" if index else "")
    )
    executor = LocalExecutor(workers)
    start, cpu_start = time.perf_counter(), tree_cpu_seconds(os.getpid())
    try:
        run_pipeline(load_pipeline(str(yaml)), executor, progress=False)
        cpu = tree_cpu_seconds(os.getpid()) - cpu_start  # before close: the workers are still alive to be counted
    finally:
        executor.close()
    seconds = time.perf_counter() - start
    kept = {
        i for f in sorted((out / "dedup").glob("*.parquet")) for i in pq.read_table(f, columns=["id"])["id"].to_pylist()
    }
    return seconds, cpu, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--docs", type=int, default=100_000, help="documents per crawl")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from bench import dedup_planted

    root = Path(tempfile.mkdtemp(prefix="dedup-incremental-"))
    try:
        dedup_planted.build(Path(args.shared), 2 * args.docs, root / "all", per_shard=-(-2 * args.docs // 8))
        shards = sorted((root / "all").glob("*.parquet"))
        load = [Path("/proc/loadavg").read_text().split()[0]]
        a_seconds, a_cpu, a_kept = run(root / "a", shards[:4], root / "out-a", args.workers, root / "index")
        b_seconds, b_cpu, b_kept = run(root / "b", shards[4:], root / "out-b", args.workers, root / "index")
        all_seconds, all_cpu, all_kept = run(root / "ab", shards, root / "out-ab", args.workers, None)
        load.append(Path("/proc/loadavg").read_text().split()[0])
        index_bytes = sum(p.stat().st_size for p in (root / "index").rglob("*") if p.is_file())
        same = len((a_kept | b_kept) ^ all_kept)
        print(f"{args.docs:,} documents per crawl, {args.workers} workers, load {load[0]} / {load[1]}")
        print("| run | wall s | CPU s (process tree) | kept |")
        print("|---|---:|---:|---:|")
        print(f"| A, building the index | {a_seconds:.1f} | {a_cpu:.1f} | {len(a_kept):,} |")
        print(f"| B against the index of A (incremental) | {b_seconds:.1f} | {b_cpu:.1f} | {len(b_kept):,} |")
        print(f"| A + B from scratch | {all_seconds:.1f} | {all_cpu:.1f} | {len(all_kept):,} |")
        print(
            f"incremental / from scratch: {b_cpu / all_cpu:.2f}x the CPU, {b_seconds / all_seconds:.2f}x the wall time; "
            f"kept sets differ in {same:,} "
            f"documents; index {index_bytes / 1e6:.1f} MB for {len(a_kept) + len(b_kept):,} documents "
            f"({index_bytes / max(len(a_kept) + len(b_kept), 1):.0f} B each)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
