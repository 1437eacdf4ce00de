"""Fused passes vs --materialize: the web pipeline after extraction (langid -> quality -> dedup
-> toxicity) on the same documents, same run, same workers.

    python -m bench.fused_pass [--docs 50000] [--workers 2] [--repeat 1]

Documents: sentences of real text (the web documents of ../shared/data/web and the books cut
into passages) drawn at random into paragraphs of 2 to 5 sentences and documents of 3 to 12 paragraphs, each with a URL on
one of 2,000 hosts, written as 25 Parquet shards in the project's schema. German and French books give
langid something to drop. Both modes run through the Python API (curate.api.Pipeline.of), fused (the
default: one pass per shard through langid, quality and dedup's signatures, dedup's candidate pairs
and clusters, one pass through dedup's filter and toxicity) and materialised (every stage reads its
input and writes its kept output). Reports wall seconds for each (each run as it ends, modes
alternating), the ratio, and whether the final output (toxicity's kept documents, by id, every
column) is identical.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import pyarrow.parquet as pq  # noqa: E402

from curate.api import LocalExecutor, Pipeline, Stage  # noqa: E402
from curate.core.schema import doc_id, make_documents  # noqa: E402
from bench.dedup_corpus import book_passages, sentences, web_texts  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
SHARDS = 25


def paragraph(rng: random.Random, pool: list[str]) -> str:
    return " ".join(rng.choice(pool) for _ in range(rng.randint(2, 5)))


def write_corpus(folder: Path, docs: int, seed: int = 0, shards: int = SHARDS) -> None:
    rng = random.Random(seed)
    pool = sentences(web_texts(SHARED) + book_passages(SHARED))
    per_shard = -(-docs // shards)
    for shard in range(shards):
        rows = []
        for i in range(shard * per_shard, min(docs, (shard + 1) * per_shard)):
            url = f"https://site{rng.randrange(2000)}.example/page/{i}"
            text = "\n".join(paragraph(rng, pool) for _ in range(rng.randint(3, 12)))
            rows.append({"id": doc_id("web", url), "source": "web", "text": text, "url": url})
        pq.write_table(make_documents(rows), folder / f"shard-{shard:05d}.parquet")


def stages() -> list[dict]:
    return [
        Stage("langid", languages=["en"]),
        Stage("quality"),
        Stage("dedup"),
        Stage("toxicity", blocklist=str(REPO / "pipelines" / "lists" / "blocked_domains.txt")),
    ]


def run(corpus: Path, output: Path, workers: int, materialize: bool) -> float:
    shutil.rmtree(output, ignore_errors=True)
    executor = LocalExecutor(workers)
    start = time.perf_counter()
    try:
        Pipeline.of(str(corpus), str(output), stages(), name="fused-bench").run(
            executor, progress=False, materialize=materialize
        )
    finally:
        executor.close()
    return time.perf_counter() - start


def final_output(output: Path) -> list[dict]:
    """Toxicity's kept documents by id, every column (NaN spelled out: NaN != NaN)."""
    table = pq.ParquetDataset(sorted((output / "toxicity").glob("*.parquet"))).read().sort_by("id")
    return [{k: "NaN" if v != v else v for k, v in row.items()} for row in table.to_pylist()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fused-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        write_corpus(corpus, args.docs)
        times = {"materialized": [], "fused": []}
        for _ in range(args.repeat):  # alternate, so machine load hits both alike
            for mode in ("materialized", "fused"):
                times[mode].append(run(corpus, Path(tmp) / mode, args.workers, mode == "materialized"))
                print(f"run: {mode} {times[mode][-1]:.1f} s", flush=True)
        fused, materialized = final_output(Path(tmp) / "fused"), final_output(Path(tmp) / "materialized")
        identical = fused == materialized
        best = {mode: min(t) for mode, t in times.items()}
        print(f"documents: {args.docs:,} in {SHARDS} shards; kept at the end: {len(fused):,}; workers: {args.workers}")
        for mode, seconds in best.items():
            print(f"{mode:<13} {seconds:8.1f} s   ({', '.join(f'{t:.1f}' for t in times[mode])})")
        print(f"fused speed-up: {best['materialized'] / best['fused']:.2f}x; final output identical: {identical}")


if __name__ == "__main__":
    main()
