"""fastText binary classifiers: text normalisation, loading, batch scoring, metrics.

Models written by `curate train-classifier` have the labels `__label__positive` and
`__label__negative` and a NAME.json beside NAME.bin that records how texts were
normalised; scoring applies the same normalisation. Any other fastText model (DCLM's
`openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin`, labels hq/cc) works too by
naming its positive label.
"""

from __future__ import annotations

import html
import json
import os
import re
import struct
from functools import lru_cache

import numpy as np

from curate.core.params import ConfigError

POSITIVE, NEGATIVE = "positive", "negative"
FASTTEXT_MAGIC = 793712314  # first int32 of every fastText .bin/.ftz file
WHITESPACE = re.compile(r"\s+")


# platform markup: links, @mentions, retweet marks and hashtag signs say where a text was posted, not
# what it says; a model trained on tweets and comments together learns the platform from them
MARKUP = re.compile(r"(?i)https?://\S+|www\.\S+|@\w+:?|\bRT\b|#(?=\w)")


def normalise(text: str, lowercase: bool = False, strip_markup: bool = False) -> str:
    """One line for fastText (it reads a line per example and splits on whitespace); with strip_markup,
    HTML entities decoded (twice: scraped tweets hold "&amp;#8220;") and platform markup removed."""
    if strip_markup:
        text = MARKUP.sub(" ", html.unescape(html.unescape(text)))
    text = WHITESPACE.sub(" ", text).strip()
    return text.lower() if lowercase else text


def check_model_file(path: str) -> None:
    """ValueError naming the path unless it is a readable fastText model file."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as error:
        raise ValueError(f"model '{path}' cannot be read: {error.strerror or error}") from None
    if len(head) < 4 or struct.unpack("<i", head)[0] != FASTTEXT_MAGIC:
        raise ValueError(f"model '{path}' is not a fastText model (.bin or .ftz)")


def model_settings(path: str) -> dict:
    """The NAME.json that train-classifier writes beside NAME.bin, or {} for another model."""
    meta = os.path.splitext(path)[0] + ".json"
    if not os.path.exists(meta):
        return {}
    with open(meta, encoding="utf-8") as f:
        return json.load(f)


class Classifier:
    """A loaded fastText model scoring texts by the probability of one label."""

    def __init__(self, path: str, positive_label: str = POSITIVE):
        import fasttext  # fasttext-numpy2; imported here so configs load without it

        check_model_file(path)
        self.path = path
        self.model = fasttext.load_model(path)
        self.label = "__label__" + positive_label
        labels = list(self.model.labels)
        if self.label not in labels:
            names = ", ".join(sorted(x.removeprefix("__label__") for x in labels))
            raise ValueError(
                f"model '{path}' has no label '{positive_label}' (its labels: {names}); set positive_label"
            )
        settings = model_settings(path).get("settings", {})
        self.lowercase, self.strip_markup = (
            bool(settings.get("lowercase", False)),
            bool(settings.get("strip_markup", False)),
        )

    def scores(self, texts: list[str]) -> np.ndarray:
        """P(positive label) per text, one batched fastText call. An empty or whitespace-only
        text scores 0: with no words fastText would answer from its end-of-line token alone."""
        lines = [normalise(t or "", self.lowercase, self.strip_markup) for t in texts]
        scores = np.zeros(len(lines), np.float32)
        present = [i for i, line in enumerate(lines) if line]
        if present:
            labels, probs = self.model.predict([lines[i] for i in present], k=-1)
            scores[present] = [label_probability(ls, ps, self.label) for ls, ps in zip(labels, probs)]
        return scores


def label_probability(labels, probs, wanted: str) -> float:
    for label, prob in zip(labels, probs):
        if label == wanted:
            return min(1.0, float(prob))  # fastText adds 1e-5 before its softmax output is returned
    return 0.0


@lru_cache(maxsize=4)
def load_classifier(path: str, positive_label: str = POSITIVE) -> Classifier:
    """One loaded model per process and path (checking a config and running it share it)."""
    return Classifier(path, positive_label)


def load_checked(path: str, positive_label: str) -> Classifier:
    """For Params.__post_init__: the model, or ConfigError naming the path and the problem."""
    try:
        return load_classifier(path, positive_label)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
    """Precision, recall, F1, accuracy at `threshold` and ROC AUC, positives being labels == 1."""
    labels, predicted = labels.astype(bool), scores >= threshold
    tp = int(np.sum(predicted & labels))
    fp = int(np.sum(predicted & ~labels))
    fn = int(np.sum(~predicted & labels))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": float(np.mean(predicted == labels)),
        "roc_auc": roc_auc(labels, scores),
        "threshold": threshold,
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve = P(a random positive scores above a random negative), ties
    counting half (Mann-Whitney U from average ranks). None when one class is absent."""
    labels = labels.astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    # tied scores share the average of their ranks
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first[counts > 1], counts[counts > 1]):
        ranks[order[start : start + count]] = start + (count + 1) / 2
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))
