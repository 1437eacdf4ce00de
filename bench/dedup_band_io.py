"""What a dedup candidates task reads: the old layout (band keys as columns of each shard's signature
file) vs band-local key files (curate/dedup/keys.py), measured in the same run on the same corpus.

    python -m bench.dedup_band_io --docs 200000 --shards 4

After: the dedup stage runs (2 workers); each candidates task's files, bytes and read calls are taken
from its completion record (the stage's stats). Before: each shard's signature rows as the stage
wrote them before band-local files (id, url, bytes, score, eligible, exact hash, signature and 14
band columns, one row group per 1,024-document signature batch) are written again from the same
corpus, and one band task's read of them (`read_table(columns=[band, "eligible"])`) is counted
through the same counting file. A read call is one ranged GET on object storage when the reader
has no read-ahead cache; with s3fs's default cache (50 MB blocks) each task would fetch every
signature file whole, the "file bytes" column.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def old_layout(stage, shard: Path, target: Path) -> None:
    from curate.core import storage
    from curate.dedup import memory

    sink = storage.ParquetSink(str(target), always=True)
    table = pq.read_table(shard)
    for start in range(0, table.num_rows, memory.SIGNATURE_BATCH_DOCS):
        signed, bands = stage.sign_batch(table.slice(start, memory.SIGNATURE_BATCH_DOCS))
        for b in range(bands.shape[1]):
            signed = signed.append_column(f"band-{b:03d}", pa.array(bands[:, b]))
        sink.write(signed)
    sink.close()


def old_read(url: Path, columns: list[str]) -> dict:
    from curate.dedup.keys import CountingFile

    with fsspec.filesystem("file").open(str(url), "rb", cache_type="none") as raw:
        f = CountingFile(raw)
        pq.read_table(f, columns=columns)
    return {"bytes_read": f.bytes, "read_calls": f.calls, "file_bytes": url.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from bench import dedup_planted
    from curate.core.executor import LocalExecutor
    from curate.core.pipeline import load_pipeline
    from curate.api import run_pipeline
    from curate.dedup.params import DedupParams
    from curate.dedup.stage import DedupStage

    with tempfile.TemporaryDirectory(prefix="dedup-band-io-") as tmp:
        root = Path(tmp)
        dedup_planted.build(Path(args.shared), args.docs, root / "input", per_shard=-(-args.docs // args.shards))
        (root / "dedup.yaml").write_text(
            f"name: b\ninput: {root / 'input'}\noutput: {root / 'out'}\nstages:\n  - stage: dedup\n    max_memory_gb: 20\n"
        )
        executor = LocalExecutor(args.workers)
        start = time.perf_counter()
        try:
            run_pipeline(load_pipeline(str(root / "dedup.yaml")), executor, progress=False)
        finally:
            executor.close()
        seconds = time.perf_counter() - start
        after = [
            json.loads(p.read_text())["stats"]["dedup:candidates"]["counters"]
            for p in sorted((root / "out" / "_state" / "dedup" / "candidates").glob("band-*.json"))
        ]
        stage = DedupStage("dedup", DedupParams())
        before = []
        for shard in sorted((root / "input").glob("*.parquet")):
            old_layout(stage, shard, root / f"old-{shard.name}")
            before.append(old_read(root / f"old-{shard.name}", ["band-000", "eligible"]))
        per_task = {k: sum(b[k] for b in before) for k in ("bytes_read", "read_calls", "file_bytes")}
        print(
            f"{args.docs:,} documents, {args.shards} shards, 14 band tasks (+1 exact); dedup {seconds:.1f} s; "
            f"load {Path('/proc/loadavg').read_text().split()[0]}"
        )
        print(
            "| layout | files per band task | bytes read per band task | read calls per band task | whole signature files (read-ahead cache) |"
        )
        print("|---|---:|---:|---:|---:|")
        print(
            f"| before: band columns in the signature file | {args.shards} | {per_task['bytes_read']:,} | "
            f"{per_task['read_calls']:,} | {per_task['file_bytes']:,} |"
        )
        print(
            f"| after: band-local key files | {statistics.median(a['files_read'] for a in after):.0f} | "
            f"{statistics.median(a['bytes_read'] for a in after):,.0f} | {statistics.median(a['read_calls'] for a in after):,.0f} | - |"
        )


if __name__ == "__main__":
    main()
