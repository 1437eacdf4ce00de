"""One large Parquet file read with 1 and 2 workers: does a single file use every worker?

    python -m bench.read_parquet [--size-gb 1.0]

The file: FineWeb-style rows (text, id, dump, url, date, file_path, language, language_score,
token_count) whose texts are passages of the real CCNet/Dolma documents in ../shared/data/web/jsonl,
repeated up to --size-gb on disk (snappy without dictionary encoding, so the repeats are stored
as text, not as dictionary indices; row groups of 10,000 rows). curate: `curate run` with
one `read` stage (the file is planned as row-group pieces of 128 MB; documents written as zstd
Parquet), --workers 1, 2, 1, 2, ... interleaved (--rounds), so load from other users of a shared
machine falls on both; the figure is the ratio of the summed wall times, printed with the load
average around each run and, first, what a second process of a pure-CPU loop adds on this
machine now (the ceiling any 2-worker figure can reach). For contrast, datatrove's ParquetReader
in the same run with 1 and 2 tasks (it reads one file in one task); --no-datatrove leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent

from bench.read_langid import passages  # noqa: E402


def write_file(path: Path, size_gb: float) -> int:
    base = passages()
    rows = [
        {
            "text": r["text"],
            "dump": "CC-MAIN-2020-16",
            "url": r["metadata"].get("url") or r["id"],
            "date": r["created"],
            "file_path": r["metadata"].get("cc_segment") or "",
            "language": "en",
            "language_score": 0.9,
            "token_count": len(r["text"].split()),
        }
        for r in base
    ]
    block = pa.Table.from_pylist(rows * (10_000 // len(rows) + 1)).slice(0, 10_000)
    written = 0
    with pq.ParquetWriter(
        path,
        block.schema.insert(1, pa.field("id", pa.string())),
        compression="snappy",
        use_dictionary=["dump", "language", "file_path"],
    ) as writer:
        while path.stat().st_size < size_gb * 1e9:
            ids = pa.array([f"<urn:uuid:{written + i:036d}>" for i in range(block.num_rows)])
            writer.write_table(block.add_column(1, "id", ids), row_group_size=10_000)
            written += block.num_rows
    return written


def curate_read(path: Path, work: Path, workers: int, run: int) -> tuple[float, int, float]:
    """Wall seconds of one `curate run`, the number of shards (tasks) it planned and the seconds its
    shards spent in the workers (from their completion records): with 2 workers running side by
    side these sum to up to twice the wall time."""
    output = work / f"out{run}"
    pipeline = work / f"p{run}.yaml"
    pipeline.write_text(json.dumps({"input": str(path), "output": str(output), "stages": [{"stage": "read"}]}))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--workers", str(workers), "--no-progress"],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    records = [json.loads(p.read_text()) for p in (output / "_state" / "read" / "main").glob("*.json")]
    busy = sum(r["stats"]["read"]["seconds"] for r in records)
    subprocess.run(["rm", "-rf", str(output)], check=True)  # 1 GB per run: keep the disk free
    return seconds, len(records), busy


def spin(_) -> int:
    return sum(range(30_000_000))


def machine_scaling() -> float:
    """What a second process adds on this machine now: the throughput of 2 processes each running a
    pure-CPU loop over that of 1. About 2 on an idle 2-core machine; on a shared one whose kernel
    shares CPU between sessions (sched_autogroup), the processes of one session split one share."""
    from multiprocessing import Pool

    seconds = {}
    for processes in (1, 2):
        with Pool(processes) as pool:
            start = time.perf_counter()
            pool.map(spin, range(processes))
            seconds[processes] = time.perf_counter() - start
    return 2 * seconds[1] / seconds[2]


def datatrove_read(path: Path, work: Path, tasks: int) -> float:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import ParquetReader

    executor = LocalPipelineExecutor(
        [ParquetReader(str(path.parent), glob_pattern=path.name)],
        tasks=tasks,
        workers=tasks,
        logging_dir=str(work / f"logs{tasks}"),
    )
    start = time.perf_counter()
    executor.run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2, help="runs with 1 then 2 workers, interleaved (default 2)")
    parser.add_argument("--no-datatrove", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="read-parquet-") as tmp:
        work = Path(tmp)
        path = work / "data" / "fineweb.parquet"
        path.parent.mkdir()
        rows = write_file(path, args.size_gb)
        print(
            f"{path.stat().st_size / 1e9:.2f} GB, {rows} rows, {pq.ParquetFile(path).metadata.num_row_groups} row groups",
            flush=True,
        )
        print(
            f"machine: 2 processes of a pure-CPU loop do {machine_scaling():.2f}x the work of 1 in the same time",
            flush=True,
        )
        totals = {1: 0.0, 2: 0.0}
        for run in range(2 * args.rounds):
            workers = 1 + run % 2
            before = os.getloadavg()[0]
            seconds, shards, busy = curate_read(path, work, workers, run)
            totals[workers] += seconds
            print(
                f"curate read, {workers} worker(s): {seconds:6.1f} s  {rows / seconds:8.0f} docs/s  {shards} shards  "
                f"{busy:6.1f} s in shards  "
                f"load {before:.1f} -> {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        print(
            f"curate read, sums over {args.rounds} rounds: 1 worker {totals[1]:.1f} s, 2 workers {totals[2]:.1f} s, "
            f"speed-up {totals[1] / totals[2]:.2f}x",
            flush=True,
        )
        if args.no_datatrove:
            return
        d1, d2 = datatrove_read(path, work, 1), datatrove_read(path, work, 2)
        print(
            f"datatrove ParquetReader, 1 task: {d1:6.1f} s; 2 tasks: {d2:6.1f} s   speed-up {d1 / d2:.2f}x", flush=True
        )


if __name__ == "__main__":
    main()
