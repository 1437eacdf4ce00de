"""Training a binary fastText classifier with a held-out test split.

The split is by a seeded hash of each document's normalised text, so it is the same on
every run and copies of one text always land on the same side (copies split across
train and test would inflate the held-out figures). NAME.bin is the model; NAME.json
records the metrics, settings, counts and sources. With --quantize the model is NAME.ftz, about
1 MB instead of tens (the held-out figures are measured on the compressed model).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np

from curate.classify.model import NEGATIVE, POSITIVE, Classifier, binary_metrics, normalise
from curate.classify.sources import parse_source, read_source
from curate.core.params import ConfigError


@dataclass
class TrainSettings:
    epoch: int = 5
    lr: float = 0.1
    word_ngrams: int = 2
    minn: int = 0  # character n-grams of minn..maxn letters as features (fastText's subwords); 0: words only
    maxn: int = 0
    dim: int = 64
    bucket: int = 200_000  # hashed n-gram rows: the model is about (vocabulary + bucket) x dim x 4 bytes
    min_count: int = 1
    threads: int = 1  # fastText is reproducible (same seed, same model) only with one thread
    seed: int = 0
    test_fraction: float = 0.1
    lowercase: bool = False
    strip_markup: bool = False  # HTML entities, links, @mentions, "RT", "#" removed before training and scoring
    quantize: int | None = None  # compress to NAME.ftz keeping this many words and n-grams (fastText -cutoff)

    def check(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"--test-fraction must be between 0 and 1 (exclusive), got {self.test_fraction}")
        for name in ("epoch", "word_ngrams", "dim", "bucket", "min_count", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.minn < 0 or self.maxn < self.minn or (self.minn == 0) != (self.maxn == 0):
            raise ConfigError(
                f"--minn and --maxn must both be 0 (no character n-grams) or 1 <= minn <= maxn, got {self.minn} and {self.maxn}"
            )
        if self.quantize is not None and self.quantize < 1:
            raise ConfigError(f"--quantize must be at least 1, got {self.quantize}")
        if self.lr <= 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}")


@dataclass
class Corpus:
    texts: list[str]  # normalised, non-empty
    labels: np.ndarray  # 1 positive, 0 negative
    sources: list[dict]  # per SRC: spec, label, documents read, empty ones skipped


def load_corpus(positives: list[str], negatives: list[str], settings: TrainSettings, text_field: str) -> Corpus:
    texts, labels, sources = [], [], []
    specs = [(parse_source(s, text_field), 1) for s in positives] + [
        (parse_source(s, text_field), 0) for s in negatives
    ]
    for spec, label in specs:  # parse every spec first: a typo in the last one fails before any reading
        raw = read_source(spec, settings.seed)
        kept = [t for t in (normalise(r, settings.lowercase, settings.strip_markup) for r in raw) if t]
        texts += kept
        labels += [label] * len(kept)
        sources.append(
            {
                "spec": spec.spec,
                "label": POSITIVE if label else NEGATIVE,
                "documents": len(kept),
                "empty_skipped": len(raw) - len(kept),
            }
        )
    corpus = Corpus(texts, np.array(labels, np.int8), sources)
    for label, name in ((1, "--positive"), (0, "--negative")):
        if not np.any(corpus.labels == label):
            raise ConfigError(f"{name} sources gave no non-empty documents")
    return corpus


M_PERTURB = -6  # glibc mallopt: allocations filled with ~byte, freed memory with byte


@contextlib.contextmanager
def zeroed_allocations():
    """fastText (fasttext-numpy2, upstream master) stores matrices in an aligned vector that malloc does not
    clear, and with fewer than 10 threads it draws random values for only the first thread/10 of the input
    rows, leaving the rest as whatever the heap held. A fresh process gets zero pages; a process that
    already freed large float buffers (any pipeline, any test session) gets garbage, and training ends in
    "Encountered NaN" or a different model. glibc's M_PERTURB with 0xff fills every allocation with zeros
    while fastText runs, which restores the zeros upstream fastText 0.9.2 had. Other C libraries: no change."""
    libc = None
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            if not libc.mallopt(M_PERTURB, 0xFF):
                libc = None
        except (OSError, AttributeError):
            libc = None
    try:
        yield
    finally:
        if libc is not None:
            libc.mallopt(M_PERTURB, 0)


def held_out_mask(texts: list[str], fraction: float, seed: int) -> np.ndarray:
    """True for held-out documents: a seeded hash of the text below `fraction`."""
    salt = seed.to_bytes(8, "little", signed=True)
    draws = [
        int.from_bytes(hashlib.blake2b(salt + t.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
        for t in texts
    ]
    return np.array(draws, np.uint64) < np.uint64(int(fraction * 2**64))


def write_fasttext_file(path: str, texts: list[str], labels: np.ndarray) -> None:
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
        for text, label in zip(texts, labels):
            f.write(f"__label__{POSITIVE if label else NEGATIVE} {text}\n")


def counts(labels: np.ndarray) -> dict:
    return {POSITIVE: int(np.sum(labels == 1)), NEGATIVE: int(np.sum(labels == 0))}


def train_classifier(
    name: str,
    positives: list[str],
    negatives: list[str],
    output: str,
    settings: TrainSettings,
    text_field: str = "text",
) -> dict:
    """Train NAME.bin in `output`, measure it on the held-out split, write NAME.json; returns its content."""
    import fasttext

    settings.check()
    corpus = load_corpus(positives, negatives, settings, text_field)
    held_out = held_out_mask(corpus.texts, settings.test_fraction, settings.seed)
    train_idx, test_idx = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    # fastText learns in file order with a decaying rate: sources one after another would bias it to the last
    train_idx = np.random.default_rng(settings.seed).permutation(train_idx)
    for part, idx in (("training", train_idx), ("test", test_idx)):
        if len(set(corpus.labels[idx].tolist())) < 2:
            raise ConfigError(
                f"the {part} split lacks one class ({counts(corpus.labels[idx])}); add documents or change --test-fraction"
            )
    os.makedirs(output, exist_ok=True)
    model_path = os.path.join(output, f"{name}.ftz" if settings.quantize else f"{name}.bin")
    with tempfile.TemporaryDirectory(dir=output) as scratch:
        train_file = os.path.join(scratch, "train.txt")
        write_fasttext_file(train_file, [corpus.texts[i] for i in train_idx], corpus.labels[train_idx])
        start = time.perf_counter()
        try:
            with zeroed_allocations():
                model = fasttext.train_supervised(
                    train_file,
                    epoch=settings.epoch,
                    lr=settings.lr,
                    wordNgrams=settings.word_ngrams,
                    minn=settings.minn,
                    maxn=settings.maxn,
                    dim=settings.dim,
                    bucket=settings.bucket,
                    minCount=settings.min_count,
                    thread=settings.threads,
                    seed=settings.seed,
                    loss="softmax",
                    verbose=0,
                )
        except RuntimeError as error:  # "Encountered NaN.": the learning rate is too high for these settings
            raise ConfigError(f"fastText training failed: {error} Try a lower --lr.") from None
        train_seconds, quantize_seconds = time.perf_counter() - start, None
        if settings.quantize:  # product quantisation, then a retraining pass over the kept rows
            with zeroed_allocations():
                model.quantize(
                    input=train_file, retrain=True, cutoff=settings.quantize, qnorm=True, thread=settings.threads
                )
            quantize_seconds = round(time.perf_counter() - start - train_seconds, 3)
    model.save_model(model_path)
    report = {
        "model": model_path,
        "model_bytes": os.path.getsize(model_path),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "labels": {"positive": POSITIVE, "negative": NEGATIVE},
        "settings": asdict(settings),
        "train_seconds": round(train_seconds, 3),
        "quantize_seconds": quantize_seconds,
        "counts": {"train": counts(corpus.labels[train_idx]), "test": counts(corpus.labels[test_idx])},
        "sources": corpus.sources,
    }
    write_report(output, name, report)  # first, so loading the model reads its normalisation settings
    classifier = Classifier(model_path)  # the saved file is what gets measured
    test_scores = classifier.scores([corpus.texts[i] for i in test_idx])
    report["test_metrics"] = binary_metrics(corpus.labels[test_idx], test_scores)
    write_report(output, name, report)
    return report


def write_report(output: str, name: str, report: dict) -> None:
    with open(os.path.join(output, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
