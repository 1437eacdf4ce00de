"""Score main-text extraction against gold snippets, as trafilatura's tests/eval_common.py does.

Gold: per page, `with` (snippets the main text must contain) and `without` (boilerplate it
must not). Text and snippets are whitespace-normalised, then matched as substrings: a
found `with` is a true positive, a missing one a false negative, a found `without` a false
positive. No text at all counts every `with` as missed and every `without` as avoided.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple


class Score(NamedTuple):
    true_pos: int = 0
    false_neg: int = 0
    false_pos: int = 0
    true_neg: int = 0

    def __add__(self, other):
        return Score(*(a + b for a, b in zip(self, other)))

    @property
    def precision(self) -> float:
        return self.true_pos / max(1, self.true_pos + self.false_pos)

    @property
    def recall(self) -> float:
        return self.true_pos / max(1, self.true_pos + self.false_neg)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_gold(path: Path) -> list[dict]:
    """[{url, file, with, without}] from a gold JSON keyed by URL, sorted by file."""
    gold = json.loads(Path(path).read_text(encoding="utf-8"))
    return sorted(({"url": url, **entry} for url, entry in gold.items()), key=lambda e: e["file"])


def normalise(text: str) -> str:
    return " ".join(text.split())


def score_page(text: str | None, entry: dict) -> Score:
    if not text:
        return Score(false_neg=len(entry["with"]), true_neg=len(entry["without"]))
    text = normalise(text)
    found = sum(normalise(s) in text for s in entry["with"])
    leaked = sum(normalise(s) in text for s in entry["without"])
    return Score(found, len(entry["with"]) - found, leaked, len(entry["without"]) - leaked)


def score_all(texts: dict[str, str | None], gold: list[dict]) -> Score:
    """texts: file name -> extracted text (None or missing: nothing extracted)."""
    return sum((score_page(texts.get(e["file"]), e) for e in gold), Score())
