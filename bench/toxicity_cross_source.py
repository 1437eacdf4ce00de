"""Toxicity classifiers across sources: train on one labelled set, test on the other.

    python bench/toxicity_cross_source.py [--work out/bench_toxicity]

The two sets in ../shared/data differ in what "toxic" means: Jigsaw marks rude, insulting or
threatening Wikipedia talk comments (balanced, 6,090 / 6,089); Davidson labels tweets hate speech
(0), offensive (1) or neither (2), and hate + offensive are 83% of its rows. Four recipes, each
one `curate train-classifier` command (printed as run), scored on every held-out row of its own
sources and on the whole of the other set (ROC AUC; share flagged at 0.5):
- jigsaw: Jigsaw only (the README's recipe);
- davidson: hate + offensive vs neither, all rows (83% positives, the earlier recipe);
- davidson-balanced: as many positives as negatives (4,163 of each, a seeded sample);
- combined: Jigsaw plus balanced Davidson, so each kind of toxicity is in the training set.
The Davidson test for Jigsaw-trained models counts hate + offensive as positive.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

from curate.classify.model import Classifier, binary_metrics, normalise  # noqa: E402
from curate.classify.sources import parse_source, read_source  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
JIGSAW = SHARED / "toxicity" / "jigsaw_robtest" / "jigsaw_binary_balanced.csv"
DAVIDSON = SHARED / "toxicity" / "davidson2017" / "labeled_data.csv"
SOURCES = {
    "jigsaw+": f"{JIGSAW}#columns=text+label,label=1", "jigsaw-": f"{JIGSAW}#columns=text+label,label=0",
    "davidson+": f"{DAVIDSON}#text=tweet,class=0+1", "davidson-": f"{DAVIDSON}#text=tweet,class=2",
    "davidson+balanced": f"{DAVIDSON}#text=tweet,class=0+1,max=4163",
}
RECIPES = {
    "jigsaw": (["jigsaw+"], ["jigsaw-"]),
    "davidson": (["davidson+"], ["davidson-"]),
    "davidson-balanced": (["davidson+balanced"], ["davidson-"]),
    "combined": (["jigsaw+", "davidson+balanced"], ["jigsaw-", "davidson-"]),
}


def train(name: str, models: Path) -> dict:
    positives, negatives = RECIPES[name]
    args = ["train-classifier", name, "--output", str(models), "--threads", "1", "--epoch", "10", "--lr", "0.5",
            "--positive", *[SOURCES[s] for s in positives], "--negative", *[SOURCES[s] for s in negatives]]
    print("$ curate " + " ".join(shlex.quote(a) for a in args), flush=True)
    subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=REPO, check=True, capture_output=True)
    return json.loads((models / f"{name}.json").read_text())


def labelled(positive: str, negative: str) -> tuple[list[str], np.ndarray]:
    pos = [t for t in (normalise(r) for r in read_source(parse_source(SOURCES[positive]), 0)) if t]
    neg = [t for t in (normalise(r) for r in read_source(parse_source(SOURCES[negative]), 0)) if t]
    return pos + neg, np.array([1] * len(pos) + [0] * len(neg))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="out/bench_toxicity")
    args = parser.parse_args()
    models = REPO / args.work
    models.mkdir(parents=True, exist_ok=True)
    tests = {"jigsaw": labelled("jigsaw+", "jigsaw-"), "davidson": labelled("davidson+", "davidson-")}
    print(f"{'recipe':<18} {'train pos/neg':>14} {'held-out AUC':>12} {'Jigsaw AUC':>10} {'Davidson AUC':>12} {'flags Jigsaw':>12} {'flags Davidson':>14}")
    for name in RECIPES:
        report = train(name, models)
        classifier = Classifier(str(models / f"{name}.bin"))
        row = []
        for test, (texts, labels) in tests.items():
            scores = classifier.scores(texts)
            row.append((binary_metrics(labels, scores)["roc_auc"], float(np.mean(scores >= 0.5))))
        train_counts = "/".join(str(n) for n in report["counts"]["train"].values())
        held = report["test_metrics"]["roc_auc"]
        print(f"{name:<18} {train_counts:>14} {held:>12.3f} {row[0][0]:>10.3f} {row[1][0]:>12.3f} {row[0][1]:>12.1%} {row[1][1]:>14.1%}", flush=True)
    print("(a model's AUC on its own training source includes its training rows; read the other column for transfer)")


if __name__ == "__main__":
    main()
