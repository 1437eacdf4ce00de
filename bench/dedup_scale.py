"""End-to-end dedup time and peak memory, ours vs datatrove, on the same input and settings.

    python -m bench.dedup_scale --docs 10000 100000 [--ours-only 1000000] [--workers 2]

Input: short documents (2-4 random real sentences from the books and web documents in
../shared/data, about 30-100 words), 10% planted exact copies (case changed) and 10%
near copies (one or two words swapped), written as Parquet shards read by both sides.
Settings on both sides: word 5-grams, 14 bands x 8 rows (112 permutations), 2 workers.
Ours: the `dedup` stage through the pipeline runner (defaults, so candidate pairs are also
verified). Datatrove: MinhashDedupSignature -> MinhashDedupBuckets -> MinhashDedupCluster ->
MinhashDedupFilter with LocalPipelineExecutor, ParquetReader/ParquetWriter.
Each side runs in its own subprocess; memory is the peak of the summed RSS of that process
and all its descendants (sampled every 0.1 s). Agreement: Jaccard of the two sets of
removed document ids (ids are in input order, so both keep the first copy of a cluster).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
SHARDS = 8


def build_corpus(shared: Path, docs: int, folder: Path, seed: int = 0) -> None:
    from bench import dedup_corpus

    pool = dedup_corpus.sentences(dedup_corpus.web_texts(shared) + dedup_corpus.book_passages(shared, 20, 10_000))
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < docs:
        roll = rng.random()
        if texts and roll < 0.1:
            texts.append(texts[rng.randrange(len(texts))].upper())
        elif texts and roll < 0.2:
            words = texts[rng.randrange(len(texts))].split()
            for _ in range(rng.randint(1, 2)):
                words[rng.randrange(len(words))] = pool[rng.randrange(len(pool))].split()[0]
            texts.append(" ".join(words))
        else:
            texts.append(" ".join(pool[rng.randrange(len(pool))] for _ in range(rng.randint(2, 4))))
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-docs // SHARDS)
    for s in range(SHARDS):
        chunk = texts[s * per : (s + 1) * per]
        ids = [f"doc-{i:09d}" for i in range(s * per, s * per + len(chunk))]
        table = pa.table(
            {
                "id": ids,
                "source": ["web"] * len(chunk),
                "text": pa.array(chunk, pa.large_string()),
                "url": [f"https://bench.example/{i}" for i in ids],
            }
        )
        pq.write_table(table, folder / f"shard-{s:04d}.parquet")


def run_ours(input_dir: Path, work: Path, workers: int, verify: bool = True) -> set[str]:
    from curate.core.executor import LocalExecutor
    from curate.core.pipeline import load_pipeline
    from curate.api import run_pipeline

    yaml = work / "dedup.yaml"
    yaml.write_text(
        f"name: bench\ninput: {input_dir}\noutput: {work / 'out'}\nstages:\n  - stage: dedup\n    max_memory_gb: 20\n"
        + ("" if verify else "    verify_threshold: null\n")
    )
    executor = LocalExecutor(workers)
    try:
        run_pipeline(load_pipeline(str(yaml)), executor, progress=False)
    finally:
        executor.close()
    files = sorted((work / "out" / "rejected" / "dedup").glob("*.parquet"))
    return set(pq.ParquetDataset(files).read(columns=["id"])["id"].to_pylist()) if files else set()


def run_datatrove(input_dir: Path, work: Path, workers: int) -> set[str]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    config = MinhashConfig(num_buckets=14, hashes_per_bucket=8, n_grams=5)
    logs = str(work / "logs")
    steps = [
        (
            [ParquetReader(str(input_dir)), MinhashDedupSignature(output_folder=str(work / "sigs"), config=config)],
            SHARDS,
        ),
        (
            [MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=config)],
            config.num_buckets,
        ),
        (
            [
                MinhashDedupCluster(
                    input_folder=str(work / "buckets"), output_folder=str(work / "remove"), config=config
                )
            ],
            1,
        ),
        (
            [
                ParquetReader(str(input_dir)),
                MinhashDedupFilter(
                    input_folder=str(work / "remove"), exclusion_writer=ParquetWriter(str(work / "removed"))
                ),
                ParquetWriter(str(work / "kept")),
            ],
            SHARDS,
        ),
    ]
    for index, (pipeline, tasks) in enumerate(steps):
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=f"{logs}/{index}").run()
    files = sorted((work / "removed").glob("*.parquet"))
    return set(pq.ParquetDataset(files).read(columns=["id"])["id"].to_pylist()) if files else set()


def tree_rss(pid: int) -> int:
    """Summed resident memory of a process and all its descendants, in bytes."""
    return tree_sum(pid, lambda fields: int(fields[21]) * os.sysconf("SC_PAGE_SIZE"))


def tree_sum(pid: int, value) -> float:
    """value(the /proc/<pid>/stat fields after the command name) summed over a process and its live descendants."""
    children: dict[int, list[int]] = {}
    values: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            values[int(entry)] = value(fields)
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += values.get(p, 0)
        stack += children.get(p, [])
    return total


def measure(side: str, input_dir: Path, work: Path, workers: int, verify: bool = True) -> dict:
    """Run one side in a subprocess; wall time and peak summed RSS of its process tree."""
    result_file = work / "result.json"
    command = [
        sys.executable,
        "-m",
        __spec__.name,
        "--child",
        side,
        str(input_dir),
        str(work),
        str(workers),
        str(result_file),
        str(int(verify)),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{stderr[-3000:]}")
    removed = set(json.loads(result_file.read_text()))
    return {"seconds": seconds, "peak_rss_mb": peak / 2**20, "removed": removed}


def child(side: str, input_dir: str, work: str, workers: str, result_file: str, verify: str = "1") -> None:
    if side == "ours":
        removed = run_ours(Path(input_dir), Path(work), int(workers), verify == "1")
    else:
        removed = run_datatrove(Path(input_dir), Path(work), int(workers))
    Path(result_file).write_text(json.dumps(sorted(removed)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--docs", type=int, nargs="*", default=[10_000, 100_000], help="sizes run on both sides")
    parser.add_argument("--ours-only", type=int, nargs="*", default=[], help="sizes run on our side only")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--no-verify", action="store_true", help="ours without candidate verification (datatrove has none)"
    )
    parser.add_argument("--tmp", default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    print(
        "| documents | ours s | datatrove s | speed-up | ours peak RSS MB | datatrove peak RSS MB | ours removed | datatrove removed | removal agreement |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    sizes = [(n, True) for n in args.docs] + [(n, False) for n in args.ours_only]
    for docs, with_peer in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"dedup-scale-{docs}-", dir=args.tmp))
        try:
            build_corpus(Path(args.shared), docs, root / "input")
            (root / "ours").mkdir()
            ours = measure("ours", root / "input", root / "ours", args.workers, not args.no_verify)
            peer = None
            if with_peer:
                (root / "datatrove").mkdir()
                peer = measure("datatrove", root / "input", root / "datatrove", args.workers)
            print(row(docs, ours, peer), flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def row(docs: int, ours: dict, peer: dict | None) -> str:
    if peer is None:
        return (
            f"| {docs:,} | {ours['seconds']:.1f} | not run | - | {ours['peak_rss_mb']:.0f} | - | "
            f"{len(ours['removed']):,} | - | - |"
        )
    union = ours["removed"] | peer["removed"]
    agreement = len(ours["removed"] & peer["removed"]) / len(union) if union else 1.0
    return (
        f"| {docs:,} | {ours['seconds']:.1f} | {peer['seconds']:.1f} | {peer['seconds'] / ours['seconds']:.1f}x | "
        f"{ours['peak_rss_mb']:.0f} | {peer['peak_rss_mb']:.0f} | {len(ours['removed']):,} | "
        f"{len(peer['removed']):,} | {agreement:.4f} |"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:8])
    else:
        main()
