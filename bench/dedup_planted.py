"""Dedup at 1M-10M documents with planted duplicates: time, peak RSS and precision/recall on the plants.

    nice -n 10 python -m bench.dedup_planted --docs 1000000 3000000 10000000 --workers 2 [--tmp DIR]

Input, written shard by shard (the corpus is never held in memory; 250,000 documents per shard):
originals are 3-5 random sentences of the books and web documents in ../shared/data (19,886
sentences, so two originals are equal by chance about (n^2 / 2) / 19,886^3 times: a handful at
10M); 10% of documents are exact copies (upper-cased) and 10% near copies (one or two words
swapped for another sentence's first word) of a document among the last 200,000 written, so
planted pairs cross shard boundaries. Truth: which documents are planted copies.
Ours: the dedup stage through the runner, defaults (exact + MinHash 14x8, verified), in a
subprocess; peak RSS is the summed RSS of its process tree (bench/dedup_scale.py's `measure`).
Recall: planted copies removed / planted copies (exact and near separately; a near copy with two
swapped words of a 40-word text is at Jaccard ~0.6-0.7, below the 0.75 check, so near recall < 1
is expected). Precision: removed documents that are planted copies / removed documents.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import dedup_scale

HERE = Path(__file__).resolve().parent
DOCS_PER_SHARD = 250_000
RECENT = 200_000
EXACT, NEAR = 1, 2


def build(shared: Path, docs: int, folder: Path, seed: int = 0, per_shard: int = DOCS_PER_SHARD) -> np.ndarray:
    """Write the corpus; returns per document 0 (original), EXACT or NEAR."""
    from bench import dedup_corpus

    pool = dedup_corpus.sentences(dedup_corpus.web_texts(shared) + dedup_corpus.book_passages(shared, 20, 10_000))
    rng = random.Random(seed)
    kind = np.zeros(docs, np.int8)
    recent: deque[str] = deque(maxlen=RECENT)
    folder.mkdir(parents=True, exist_ok=True)
    for shard, start in enumerate(range(0, docs, per_shard)):
        texts = []
        for i in range(start, min(docs, start + per_shard)):
            roll = rng.random()
            if recent and roll < 0.1:
                text = recent[rng.randrange(len(recent))].upper()
                kind[i] = EXACT
            elif recent and roll < 0.2:
                words = recent[rng.randrange(len(recent))].split()
                for _ in range(rng.randint(1, 2)):
                    words[rng.randrange(len(words))] = pool[rng.randrange(len(pool))].split()[0]
                text = " ".join(words)
                kind[i] = NEAR
            else:
                text = " ".join(pool[rng.randrange(len(pool))] for _ in range(rng.randint(3, 5)))
            texts.append(text)
            recent.append(text)
        ids = [f"doc-{i:09d}" for i in range(start, start + len(texts))]
        pq.write_table(
            pa.table({"id": ids, "source": ["web"] * len(texts), "text": pa.array(texts, pa.large_string())}),
            folder / f"shard-{shard:04d}.parquet",
        )
    return kind


def scores(kind: np.ndarray, removed: set[str]) -> dict:
    removed_index = np.array(sorted(int(r.removeprefix("doc-")) for r in removed), np.int64)
    hit = np.zeros(kind.size, bool)
    hit[removed_index] = True
    planted = kind > 0
    return {
        "removed": int(hit.sum()),
        "precision": float((hit & planted).sum() / max(hit.sum(), 1)),
        "recall_exact": float((hit & (kind == EXACT)).sum() / max((kind == EXACT).sum(), 1)),
        "recall_near": float((hit & (kind == NEAR)).sum() / max((kind == NEAR).sum(), 1)),
        "recall": float((hit & planted).sum() / max(planted.sum(), 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--docs", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tmp", default=None)
    args = parser.parse_args()
    print(
        "| documents | build s | dedup s | s per M docs | peak RSS MB | removed | precision | recall exact | recall near | load before/after |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for docs in args.docs:
        root = Path(tempfile.mkdtemp(prefix=f"dedup-planted-{docs}-", dir=args.tmp))
        try:
            start = time.perf_counter()
            kind = build(Path(args.shared), docs, root / "input")
            built = time.perf_counter() - start
            load_before = Path("/proc/loadavg").read_text().split()[0]
            (root / "ours").mkdir()
            ours = dedup_scale.measure("ours", root / "input", root / "ours", args.workers)
            load_after = Path("/proc/loadavg").read_text().split()[0]
            s = scores(kind, ours["removed"])
            print(
                f"| {docs:,} | {built:.0f} | {ours['seconds']:.1f} | {ours['seconds'] / docs * 1e6:.1f} | "
                f"{ours['peak_rss_mb']:,.0f} | {s['removed']:,} | {s['precision']:.4f} | {s['recall_exact']:.4f} | "
                f"{s['recall_near']:.4f} | {load_before} / {load_after} |",
                flush=True,
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
