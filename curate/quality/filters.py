"""The interface every heuristic filter implements, and rule evaluation on signal columns.

A filter computes its signals once per document (`signals(doc)`, one number per
column it declares) and turns its YAML thresholds into Rules. Rules compare the
stored signal columns against thresholds, a whole batch at a time with numpy, so a
document's signals can be re-thresholded later without being recomputed. A
document fails on the first rule it breaks, in the filter's order, and the reason
names the filter and the rule, e.g. "gopher_quality.word_count".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain
from typing import Any, ClassVar

import numpy as np

from curate.quality.words import split_words


class Doc:
    """One document's text with its lines and tokens split once, on first use, for every filter."""

    __slots__ = ("text", "language", "_lines", "_line_tokens", "_tokens")

    def __init__(self, text: str, language: str):
        self.text = text
        self.language = language
        self._lines = self._line_tokens = self._tokens = None

    @property
    def tokens(self) -> list[str]:
        if self._tokens is None:
            self._tokens = list(chain.from_iterable(self.line_tokens))
        return self._tokens

    @property
    def lines(self) -> list[str]:
        """str.splitlines(), as the Gopher and C4 line rules count lines."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    @property
    def line_tokens(self) -> list[list[str]]:
        """The tokens of each line. Every break str.splitlines() splits at is whitespace to the tokenizer,
        so no token spans two lines and these, joined, are the text's tokens: C4, which rewrites a text
        as some of its lines, reuses those lines' tokens instead of splitting its new text again."""
        if self._line_tokens is None:
            self._line_tokens = list(map(split_words, self.lines))
        return self._line_tokens

    def replace_text(self, text: str, tokens: list[str] | None = None) -> None:
        """The text as a filter rewrote it, with its tokens when the filter knows them."""
        self.text, self._lines, self._line_tokens, self._tokens = text, None, None, tokens


@dataclass(frozen=True)
class Rule:
    """Keep a document when min <= column <= max (either bound may be None); a missing (NaN) value passes."""

    name: str
    column: str
    min: float | None = None
    max: float | None = None

    def fails(self, values: np.ndarray) -> np.ndarray:
        fail = np.zeros(len(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.min is not None:
                fail |= values < self.min
            if self.max is not None:
                fail |= values > self.max
        return fail


class HeuristicFilter:
    """Base class. Subclasses set `name`, `columns` (signal column names, in the order
    `signals` returns them; an instance may set its own when they depend on params),
    `Params` (a dataclass of thresholds) and implement `signals`/`rules`."""

    name: ClassVar[str] = ""
    columns: tuple[str, ...] = ()
    Params: ClassVar[type]
    rewrites_text: bool = False  # C4 may remove lines (doc.replace_text); later filters see the new text

    def __init__(self, params: Any):
        self.params = params

    def setup(self) -> None:
        """Load word lists; called once per worker."""

    def signals(self, doc: Doc) -> tuple[float, ...]:
        raise NotImplementedError

    def rules(self) -> list[Rule]:
        raise NotImplementedError


def first_failures(filters: list[HeuristicFilter], columns: dict[str, np.ndarray], n: int) -> tuple[list[str | None], list[str | None]]:
    """Per row, 'filter.rule' of the first rule broken (filters and rules in order) or None, and a
    detail naming the value and the limit it broke, e.g. "gopher_word_count 12 < 50"."""
    reasons: list[str | None] = [None] * n
    details: list[str | None] = [None] * n
    pending = np.ones(n, dtype=bool)
    for heuristic in filters:
        for rule in heuristic.rules():
            values = columns[rule.column]
            hit = np.flatnonzero(pending & rule.fails(values))
            for i in hit:
                reasons[i] = f"{heuristic.name}.{rule.name}"
                below = rule.min is not None and values[i] < rule.min
                details[i] = f"{rule.column} {values[i]:.4g} {'<' if below else '>'} {rule.min if below else rule.max:g}"
            pending[hit] = False
    return reasons, details


def ratio(part: float, whole: float) -> float:
    """part / whole, or NaN when there is nothing to divide by (the rule then does not apply)."""
    return part / whole if whole else math.nan
