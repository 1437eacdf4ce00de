"""Near-duplicate detection quality against planted ground truth (real text).

    python bench/dedup_quality.py [--workers 2] [--bases N]

Every base document (web pages, HTML extracted with trafilatura, book passages, standard
library modules) gets one edited copy whose true Jaccard similarity to it is planted at
1.0 (differs only in case/layout), 0.95, 0.9, 0.85, 0.8 (positives) or 0.6, 0.4 (negatives).
The corpus goes through the real `dedup` stage; two documents are predicted duplicates when
they end in the same cluster. Truth: a pair is a duplicate when its true Jaccard is >= 0.8.
Evaluated pairs: the planted pairs and every predicted pair (so real duplicates already in
the data count as true positives, and any false merge of unrelated texts counts against
precision). Pairs that are neither planted nor predicted are not examined.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dedup_corpus  # noqa: E402

from curate.core.executor import LocalExecutor  # noqa: E402
from curate.core.pipeline import load_pipeline  # noqa: E402
from curate.core.runner import run_pipeline  # noqa: E402

TARGETS = [1.0, 0.95, 0.9, 0.85, 0.8, 0.6, 0.4]
THRESHOLD = 0.8


def bases(shared: Path, limit: int | None, html: bool = True) -> list[tuple[str, str]]:
    found = [("web", t) for t in dedup_corpus.web_texts(shared) if len(t.split()) >= 60]
    if html:
        found += [("web", t) for t in dedup_corpus.html_texts(shared) if len(t.split()) >= 60]
    books = [("books", t) for t in dedup_corpus.book_passages(shared)]
    code = [("code", t) for t in dedup_corpus.stdlib_files(limit=400)]
    if limit is not None:  # keep every source represented
        share = max(1, (limit - len(found)) // 2)
        books, code = books[: share], code[: max(1, limit - len(found) - share)]
    return found + books + code


def write_shards(table: pa.Table, folder: Path, shards: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-table.num_rows // shards)
    for s in range(shards):
        pq.write_table(table.slice(s * per, per), folder / f"shard-{s:04d}.parquet")


def run_dedup(table: pa.Table, root: Path, workers: int, shards: int = 4, extra: str = "") -> Path:
    write_shards(table, root / "input", shards)
    yaml = root / "dedup.yaml"
    yaml.write_text(f"name: dedup-quality\ninput: {root / 'input'}\noutput: {root / 'out'}\n"
                    f"stages:\n  - stage: dedup\n{extra}")
    executor = LocalExecutor(workers)
    try:
        run_pipeline(load_pipeline(str(yaml)), executor, progress=False)
    finally:
        executor.close()
    return root / "out"


def predicted_clusters(output: Path) -> dict[str, list[str]]:
    clusters = defaultdict(list)
    for folder in (output / "dedup", output / "rejected" / "dedup"):
        for path in sorted(folder.glob("*.parquet")):
            table = pq.read_table(path, columns=["id", "dup_cluster"])
            for doc, cluster in zip(table["id"].to_pylist(), table["dup_cluster"].to_pylist()):
                clusters[cluster].append(doc)
    return clusters


def evaluate(table: pa.Table, pairs: list[dict], output: Path) -> dict:
    code = dict(zip(table["id"].to_pylist(), (s == "code" for s in table["source"].to_pylist())))
    texts = dict(zip(table["id"].to_pylist(), table["text"].to_pylist()))
    shingles = {}

    def similarity(a: str, b: str) -> float:
        for d in (a, b):
            if d not in shingles:
                shingles[d] = dedup_corpus.shingle_set(texts[d], code[d])
        return dedup_corpus.jaccard(shingles[a], shingles[b])

    predicted = set()
    for members in predicted_clusters(output).values():
        predicted.update(tuple(sorted(p)) for p in itertools.combinations(members, 2))
    planted = {tuple(sorted((p["a"], p["b"]))): p for p in pairs}
    true_positive = sum(1 for pair in predicted if similarity(*pair) >= THRESHOLD)
    positives = {pair for pair, p in planted.items() if p["jaccard"] >= THRESHOLD}
    positives |= {pair for pair in predicted if pair not in planted and similarity(*pair) >= THRESHOLD}
    found = len(positives & predicted)
    by_target = defaultdict(lambda: [0, 0])
    for pair, p in planted.items():
        by_target[p["target"]][0] += 1
        by_target[p["target"]][1] += pair in predicted
    return {
        "documents": table.num_rows, "planted_pairs": len(planted), "true_pairs": len(positives),
        "predicted_pairs": len(predicted), "precision": true_positive / len(predicted) if predicted else 1.0,
        "recall": found / len(positives) if positives else 1.0,
        "detected_by_target": {t: {"pairs": n, "detected": d} for t, (n, d) in sorted(by_target.items(), reverse=True)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    parser.add_argument("--bases", type=int, default=None, help="limit the number of base documents")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    table, pairs = dedup_corpus.planted_corpus(bases(Path(args.shared), args.bases), TARGETS)
    built = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        output = run_dedup(table, Path(tmp), args.workers)
        ran = time.perf_counter()
        result = evaluate(table, pairs, output)
    print(f"corpus built in {built - start:.1f}s, dedup {ran - built:.1f}s")
    print(f"documents {result['documents']}, planted pairs {result['planted_pairs']}, true pairs (J >= {THRESHOLD}) "
          f"{result['true_pairs']}, predicted pairs {result['predicted_pairs']}")
    print(f"precision {result['precision']:.4f}  recall {result['recall']:.4f}  (goal: precision >= 0.98, recall >= 0.95)")
    print("planted target Jaccard -> detected")
    for target, row in result["detected_by_target"].items():
        print(f"  {target:4.2f}: {row['detected']:>5} / {row['pairs']:<5} ({row['detected'] / row['pairs']:.3f})")


if __name__ == "__main__":
    main()
