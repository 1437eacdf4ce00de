"""Near-duplicate detection quality against planted ground truth (real text).

    python -m bench.dedup_quality [--workers 2] [--bases N] [--verify-thresholds default 0.7 null]

Every base document (web pages, HTML extracted with trafilatura, book passages, standard
library modules) gets one edited copy whose true Jaccard similarity to it is planted at
1.0 (differs only in case/layout), 0.95, 0.9, 0.85, 0.8 (positives) or 0.6, 0.4 (negatives).
The corpus goes through the real `dedup` stage.

Ground truth: every pair of documents in the corpus whose exact Jaccard similarity (on dedup's
own normalised 5-word shingles, code tokens for code) is >= 0.8, planted or not (the data holds
real families of near-duplicates: stdlib codec modules, licence passages shared by books).
It is computed by an exact all-pairs similarity join (dedup_corpus.similar_pairs), not sampled.
Documents without any shingle (empty) are in no true pair.

Scores, both against that truth:
- removals (the goal): dedup's claim is "this removed document is a near-duplicate of the
  document kept instead" (its duplicate_of). Precision: the share of (removed, duplicate_of)
  pairs that are true pairs. Recall: the share of true pairs that dedup broke up, that is, not
  both documents are still in the output.
- cluster pairs (stricter, shown for comparison): every pair of documents in the same output
  cluster is a predicted pair; precision and recall of those against the truth. Two documents
  removed in favour of the same survivor count here even though dedup claims nothing about them.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


from bench import dedup_corpus  # noqa: E402

from curate.core.executor import LocalExecutor  # noqa: E402
from curate.core.pipeline import load_pipeline  # noqa: E402
from curate.api import run_pipeline  # noqa: E402

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
        books, code = books[:share], code[: max(1, limit - len(found) - share)]
    return found + books + code


def write_shards(table: pa.Table, folder: Path, shards: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-table.num_rows // shards)
    for s in range(shards):
        pq.write_table(table.slice(s * per, per), folder / f"shard-{s:04d}.parquet")


def run_dedup(table: pa.Table, root: Path, workers: int, shards: int = 4, extra: str = "") -> Path:
    write_shards(table, root / "input", shards)
    yaml = root / "dedup.yaml"
    yaml.write_text(
        f"name: dedup-quality\ninput: {root / 'input'}\noutput: {root / 'out'}\nstages:\n  - stage: dedup\n{extra}"
    )
    executor = LocalExecutor(workers)
    try:
        run_pipeline(load_pipeline(str(yaml)), executor, progress=False)
    finally:
        executor.close()
    return root / "out"


def dedup_output(output: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The output clusters ({cluster id: member ids}) and the removals ({removed id: duplicate_of})."""
    clusters, removed = defaultdict(list), {}
    for folder in (output / "dedup", output / "rejected" / "dedup"):
        for path in sorted(folder.glob("*.parquet")):
            table = pq.read_table(path)
            for doc, cluster in zip(table["id"].to_pylist(), table["dup_cluster"].to_pylist()):
                clusters[cluster].append(doc)
            if "duplicate_of" in table.column_names:
                removed.update(zip(table["id"].to_pylist(), table["duplicate_of"].to_pylist()))
    return clusters, removed


def true_pairs(table: pa.Table) -> set[tuple[str, str]]:
    ids = table["id"].to_pylist()
    found = dedup_corpus.similar_pairs(dedup_corpus.shingle_arrays(table), THRESHOLD)
    return {tuple(sorted((ids[i], ids[j]))) for i, j in found}


def precision_recall(predicted: set, truth: set) -> tuple[float, float]:
    hits = len(predicted & truth)
    return hits / len(predicted) if predicted else 1.0, hits / len(truth) if truth else 1.0


def evaluate(table: pa.Table, pairs: list[dict], output: Path) -> dict:
    truth = true_pairs(table)
    clusters, removed = dedup_output(output)
    cluster_pairs = set()
    for members in clusters.values():
        cluster_pairs.update(tuple(sorted(p)) for p in itertools.combinations(members, 2))
    removal_pairs = {tuple(sorted(p)) for p in removed.items()}
    broken_up = sum(1 for a, b in truth if a in removed or b in removed)
    cluster_precision, cluster_recall = precision_recall(cluster_pairs, truth)
    by_target = defaultdict(lambda: [0, 0])
    for p in pairs:
        by_target[p["target"]][0] += 1
        by_target[p["target"]][1] += tuple(sorted((p["a"], p["b"]))) in cluster_pairs
    planted = {tuple(sorted((p["a"], p["b"]))) for p in pairs}
    return {
        "documents": table.num_rows,
        "planted_pairs": len(pairs),
        "true_pairs": len(truth),
        "true_pairs_not_planted": len(truth - planted),
        "removed": len(removed),
        "precision": precision_recall(removal_pairs, truth)[0],
        "recall": broken_up / len(truth) if truth else 1.0,
        "cluster_pairs": len(cluster_pairs),
        "cluster_precision": cluster_precision,
        "cluster_recall": cluster_recall,
        "detected_by_target": {t: {"pairs": n, "detected": d} for t, (n, d) in sorted(by_target.items(), reverse=True)},
    }


def report(result: dict) -> None:
    print(
        f"documents {result['documents']}, planted pairs {result['planted_pairs']}, true pairs (exact J >= {THRESHOLD}) "
        f"{result['true_pairs']} ({result['true_pairs_not_planted']} not planted), removed {result['removed']}"
    )
    print(
        f"removals: precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
        "(goal: precision >= 0.98, recall >= 0.95)"
    )
    print(
        f"cluster pairs ({result['cluster_pairs']}): precision {result['cluster_precision']:.4f}  "
        f"recall {result['cluster_recall']:.4f}"
    )
    print("planted target Jaccard -> pairs in the same output cluster")
    for target, row in result["detected_by_target"].items():
        print(f"  {target:4.2f}: {row['detected']:>5} / {row['pairs']:<5} ({row['detected'] / row['pairs']:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    parser.add_argument("--bases", type=int, default=None, help="limit the number of base documents")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--verify-thresholds",
        nargs="*",
        default=["default"],
        help="verify_threshold values to run on the same corpus: numbers, null, default",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    table, pairs = dedup_corpus.planted_corpus(bases(Path(args.shared), args.bases), TARGETS)
    print(f"corpus built in {time.perf_counter() - start:.1f}s")
    for threshold in args.verify_thresholds:
        extra = "" if threshold == "default" else f"    verify_threshold: {threshold}\n"
        with tempfile.TemporaryDirectory() as tmp:
            ran = time.perf_counter()
            output = run_dedup(table, Path(tmp), args.workers, extra=extra)
            print(f"\nverify_threshold {threshold}: dedup {time.perf_counter() - ran:.1f}s")
            report(evaluate(table, pairs, output))


if __name__ == "__main__":
    main()
