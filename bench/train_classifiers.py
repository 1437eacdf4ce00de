"""Train the quality and toxicity classifiers on the real data in ../shared/data, report their
held-out figures, then time scoring with the classify stage against datatrove's
FastTextClassifierFilter on the same documents and model.

    python -m bench.train_classifiers [--work out/bench_classifiers] [--score-copies 2]

Classifiers (each one `curate train-classifier` command, printed as run):
- quality (DCLM-style): positives GSM8K, self-instruct tasks, Rust book chapters; negatives
  web text extracted from ../shared/data/web (WARC + HTML, with the extract stage) and the
  CCNet/dolma JSONL documents.
- jigsaw: toxic (1) vs clean (0) Wikipedia talk comments, balanced; jigsaw-small: the same,
  quantized to a .ftz of about 1 MB (--quantize 20000).
- davidson: tweets, hate speech (0) or offensive (1) vs neither (2), classes balanced.
  Cross-source figures (train on one set, test on the other): bench/toxicity_cross_source.py.

Scoring: every Jigsaw comment and Davidson tweet plus the web text, repeated --score-copies
times into 4 Parquet shards, scored with the jigsaw model by `curate run` (classify stage,
annotate only, 1 worker) and by datatrove (ParquetReader -> FastTextClassifierFilter ->
ParquetWriter, 1 task), each in a fresh process; the scores of both are compared.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
SHARDS = 4


def curate(*args: str) -> str:
    command = [sys.executable, "-m", "curate.cli", *args]
    print("$ curate " + " ".join(shlex.quote(a) for a in args), flush=True)
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def extract_web(work: Path) -> Path:
    """Web pages as documents, with the project's own extract stage."""
    pipeline = work / "web_extract.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "name": "web-negatives",
                "input": [str(SHARED / "web" / "warc"), str(SHARED / "web" / "html")],
                "output": str(work / "web"),
                "stages": [{"stage": "extract", "source": "web"}],
            }
        )
    )
    curate("run", str(pipeline), "--no-progress")
    return work / "web" / "extract"


def classifier_commands(web: Path, models: Path) -> dict[str, list[str]]:
    positives, jigsaw = (
        SHARED / "quality" / "positives",
        SHARED / "toxicity" / "jigsaw_robtest" / "jigsaw_binary_balanced.csv",
    )
    davidson = SHARED / "toxicity" / "davidson2017" / "labeled_data.csv"
    common = ["--output", str(models), "--threads", "1"]
    return {
        "quality": [
            "train-classifier",
            "quality",
            *common,
            "--epoch",
            "20",
            "--lr",
            "0.5",
            "--test-fraction",
            "0.2",
            "--positive",
            f"{positives / 'gsm8k'}#text=question+answer,max=100",
            f"{positives / 'self_instruct'}#text=instruction+instances,max=100",
            str(positives / "rust_book"),
            "--negative",
            str(web),
            str(SHARED / "web" / "jsonl"),
        ],
        "jigsaw": [
            "train-classifier",
            "jigsaw",
            *common,
            "--epoch",
            "10",
            "--lr",
            "0.5",
            "--positive",
            f"{jigsaw}#columns=text+label,label=1",
            "--negative",
            f"{jigsaw}#columns=text+label,label=0",
        ],
        "jigsaw-small": [
            "train-classifier",
            "jigsaw-small",
            *common,
            "--epoch",
            "10",
            "--lr",
            "0.5",
            "--quantize",
            "20000",
            "--positive",
            f"{jigsaw}#columns=text+label,label=1",
            "--negative",
            f"{jigsaw}#columns=text+label,label=0",
        ],
        "davidson": [
            "train-classifier",
            "davidson",
            *common,
            "--epoch",
            "10",
            "--lr",
            "0.5",
            # balanced: hate + offensive are 83% of the tweets; a sample as large as "neither" (4,163)
            "--positive",
            f"{davidson}#text=tweet,class=0+1,max=4163",
            "--negative",
            f"{davidson}#text=tweet,class=2",
        ],
    }


def scoring_corpus(web: Path, folder: Path, copies: int) -> int:
    from curate.classify.sources import parse_source, read_source

    jigsaw = SHARED / "toxicity" / "jigsaw_robtest" / "jigsaw_binary_balanced.csv"
    texts = read_source(parse_source(f"{jigsaw}#columns=text+label"), 0)
    texts += read_source(
        parse_source(str(SHARED / "toxicity" / "davidson2017" / "labeled_data.csv") + "#text=tweet"), 0
    )
    texts += pq.read_table(web, columns=["text"])["text"].to_pylist()
    texts = [t for t in texts if t.strip()] * copies  # datatrove drops empty documents; keep counts equal
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(SHARDS):
        part = texts[shard::SHARDS]
        ids = [f"{shard}-{i}" for i in range(len(part))]
        pq.write_table(
            pa.table({"id": ids, "source": ["web"] * len(part), "text": pa.array(part, pa.large_string())}),
            folder / f"part-{shard}.parquet",
        )
    return len(texts)


def score_ours(corpus: Path, model: Path, work: Path) -> float:
    pipeline = work / "score.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "name": "score",
                "input": str(corpus),
                "output": str(work / "ours"),
                "stages": [{"stage": "classify", "name": "tox", "model": str(model)}],
            }
        )
    )
    start = time.perf_counter()
    curate("run", str(pipeline), "--no-progress", "--workers", "1")
    return time.perf_counter() - start


def score_datatrove(corpus: Path, model: Path, work: Path) -> float:
    code = f"""
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import FastTextClassifierFilter
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import JsonlWriter
LocalPipelineExecutor(pipeline=[ParquetReader({str(corpus)!r}), FastTextClassifierFilter({str(model)!r}, newline_replacement=" ",
                                remove_labels=("positive", 2.0)),  # annotate only (it needs some label to load)
                                JsonlWriter({str(work / "datatrove")!r}, compression=None)],
                      tasks={SHARDS}, workers=1, logging_dir={str(work / "datatrove_logs")!r}).run()
"""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def compare_scores(work: Path) -> tuple[int, float]:
    """Documents whose two scores differ by more than 1e-4, and the largest difference. Texts with
    non-ASCII whitespace (NBSP, U+2028) differ: curate splits words there, as it did in training."""
    ours = pq.ParquetDataset(sorted((work / "ours" / "tox").glob("*.parquet"))).read(columns=["id", "tox_score"])
    mine = dict(zip(ours["id"].to_pylist(), ours["tox_score"].to_pylist()))
    peer = {}
    for path in (work / "datatrove").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").split("\n"):  # not splitlines: U+2028 may sit in a string
            if not line:
                continue
            doc = json.loads(line)
            peer[doc["id"]] = doc["metadata"].get("__label__positive", 0.0)
    assert mine.keys() == peer.keys(), "the two runs scored different documents"
    differences = np.array([abs(mine[k] - min(1.0, peer[k])) for k in mine])
    return int(np.sum(differences > 1e-4)), float(differences.max())


def web_scores(web: Path, model: Path) -> str:
    from curate.classify.model import Classifier

    pages = pq.read_table(web, columns=["text", "url"])
    scores = Classifier(str(model)).scores(pages["text"].to_pylist())
    top = [f"{scores[i]:.2f} {pages['url'][int(i)].as_py()}" for i in np.argsort(-scores)[:5]]
    return (
        f"{model.name}: {len(scores)} pages, median {np.median(scores):.3f}, >= 0.5: {np.sum(scores >= 0.5)}, "
        f">= 0.9: {np.sum(scores >= 0.9)}; highest: {'; '.join(top)}"
    )


def seconds(report: dict) -> str:
    quantize = report["quantize_seconds"]
    return f"{report['train_seconds']:.1f}" + ("" if quantize is None else f" + {quantize:.1f} quantize")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=REPO / "out" / "bench_classifiers")
    parser.add_argument("--score-copies", type=int, default=2)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    web = extract_web(args.work)
    rows = []
    for name, command in classifier_commands(web, args.work / "models").items():
        print(curate(*command), flush=True)
        report = json.loads((args.work / "models" / f"{name}.json").read_text())
        m, test = report["test_metrics"], report["counts"]["test"]
        rows.append(
            f"| {name} | {sum(report['counts']['train'].values())} | {test['positive']} / {test['negative']} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['roc_auc']:.3f} | {seconds(report)} | "
            f"{report['model_bytes'] / 1e6:.1f} |"
        )
    print("| model | train docs | test pos / neg | precision | recall | F1 | ROC AUC | train s | MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))

    print("\nscores on the extracted web pages (out of domain for the toxicity models):")
    for name in ("jigsaw", "davidson"):
        print(web_scores(web, args.work / "models" / f"{name}.bin"))

    docs = scoring_corpus(web, args.work / "score_input", args.score_copies)
    model = args.work / "models" / "jigsaw.bin"
    ours, peer = (
        score_ours(args.work / "score_input", model, args.work),
        score_datatrove(args.work / "score_input", model, args.work),
    )
    differing, largest = compare_scores(args.work)
    print(
        f"\nscoring {docs} documents with {model.name}: curate {ours:.1f} s ({docs / ours:.0f} docs/s), "
        f"datatrove {peer:.1f} s ({docs / peer:.0f} docs/s), curate {peer / ours:.2f}x datatrove's rate; "
        f"scores differ by more than 1e-4 on {differing} documents (largest {largest:.3f})"
    )


if __name__ == "__main__":
    main()
