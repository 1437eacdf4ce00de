"""The heuristic filter, one class each, and rule evaluation on signal columns.

A filter declares its signals with their limits (`word_count = Signal(min_words=50)`) and
measures them once per document (`measure(doc)`). The stage stores every signal as a column
and then compares the columns against the limits, a whole batch at a time with numpy, so a
document's signals can be re-thresholded later without being recomputed. A document fails on
the first rule it breaks, in the filter's order, and the reason names the filter and the rule,
e.g. "gopher_quality.word_count".
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from itertools import chain
from typing import Any, ClassVar

import numpy as np

from curate.core.params import require_fraction
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


class Signal:
    """One number a filter measures per document, stored as the column `<prefix>_<name>`, with the
    rule on it: its limits are parameters, written next to it with their defaults.

        word_count = Signal(min_words=50, max_words=100_000)
        lorem_ipsum = Signal(drop_lorem_ipsum=True)

    A parameter named min_* is a lower bound, max_* an upper one (null in a pipeline turns it off),
    drop_* a switch: when true a document whose signal is above 0 is dropped. `rule` names the rule
    in reasons ("gopher_quality.alpha_words") when that is not the signal's name; `fraction` says
    the limits lie in [0, 1]. A signal without limits is measured and stored only."""

    def __init__(self, rule: str | None = None, fraction: bool = False, **limits: Any):
        bad = [name for name in limits if not name.startswith(("min_", "max_", "drop_"))]
        if bad:
            raise TypeError(f"Signal limits are named min_*, max_* or drop_*, got {bad}")
        self.rule, self.fraction, self.limits = rule, fraction, limits
        self.name = ""  # the attribute it is assigned to, set by HeuristicFilter.__init_subclass__

    def rule_for(self, params: Any, column: str) -> Rule | None:
        """The Rule under these parameters, None when all its limits are off."""
        low = high = None
        for name in self.limits:
            value = getattr(params, name)
            if name.startswith("min_"):
                low = value
            elif name.startswith("max_"):
                high = value
            elif value:
                high = 0
        if low is None and high is None:
            return None
        return Rule(self.rule or self.name, column, min=low, max=high)


class HeuristicFilter:
    """Base class of the quality stage's filters: one class is one filter (subclassing one filter for
    another is not supported: its signals and settings are not inherited).

    A subclass sets `name` and `prefix` (of its column names), declares each signal with its limits
    as a `Signal` class attribute, in the order its rules are checked, declares any other setting as
    an annotated class attribute with its default (`short_line_length: int = 30`), and measures
    every signal of a document in `measure(doc) -> {signal name: value}`. The `Params` dataclass
    that a pipeline's mapping is checked against is built from those declarations, with each limit
    checked (not negative; in [0, 1] for a fraction); `check_params(params)` may check the other
    settings. A filter whose signals depend on its parameters (Gopher's n-gram sizes) adds its
    extra columns and rules in __init__."""

    name: ClassVar[str] = ""
    prefix: ClassVar[str] = ""  # of its column names: "gopher" for gopher_word_count
    signal_order: ClassVar[tuple[Signal, ...]] = ()  # the declared signals (set by __init_subclass__)
    columns: tuple[str, ...] = ()  # one per signal; an instance may add its own
    rule_order: ClassVar[tuple[str, ...]] = ()  # signals whose rules are checked before the others, if any
    Params: ClassVar[type]
    rewrites_text: bool = False  # C4 may remove lines (doc.replace_text); later filters see the new text

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        declared = {key: value for key, value in vars(cls).items() if isinstance(value, Signal)}
        for key, signal in declared.items():
            signal.name = key
            delattr(cls, key)  # the value lives in the signal columns; self.<name> would be a stale default
        cls.signal_order = tuple(declared.values())
        cls.columns = tuple(f"{cls.prefix}_{signal.name}" for signal in cls.signal_order)
        cls.Params = _params_class(cls)

    def __init__(self, params: Any):
        self.params = params
        self.names = [signal.name for signal in self.signal_order]  # measure()'s keys, in column order

    @classmethod
    def check_params(cls, params: Any) -> None:
        """Check (or complete) the settings that are not limits; raise ValueError saying what is wrong."""

    def setup(self) -> None:
        """Load word lists; called once per worker."""

    def measure(self, doc: Doc) -> dict[str, float]:
        raise NotImplementedError

    def signals(self, doc: Doc) -> tuple[float, ...]:
        """measure(doc) in column order."""
        values = self.measure(doc)
        if len(values) != len(self.names):  # e.g. a method named like a signal replaced its declaration
            raise KeyError(f"{self.name}: measure() gave {sorted(values)}, the declared signals are {self.names}")
        return tuple(values[name] for name in self.names)

    def rules(self) -> list[Rule]:
        """The rules of the declared signals under these parameters, in the order they are checked."""
        late = len(self.rule_order)
        ordered = sorted(
            self.signal_order, key=lambda s: self.rule_order.index(s.name) if s.name in self.rule_order else late
        )
        rules = (signal.rule_for(self.params, f"{self.prefix}_{signal.name}") for signal in ordered)
        return [rule for rule in rules if rule is not None]


def _params_class(cls: type) -> type:
    """The dataclass of a filter's parameters: every Signal's limits, then its other settings.
    A limit's type follows its default (an int count, a float ratio, a bool switch), null allowed."""
    limits: dict[str, tuple[Any, bool]] = {}
    for signal in cls.signal_order:
        for name, default in signal.limits.items():
            if name in limits and limits[name][0] != default:
                raise TypeError(f"{cls.__name__}: limit '{name}' declared twice with different defaults")
            limits[name] = (default, signal.fraction)
    own = vars(cls).get("__annotations__", {})
    hints = typing.get_type_hints(cls, include_extras=True)
    settings = [
        (name, hints[name], getattr(cls, name)) for name in own if typing.get_origin(hints[name]) is not ClassVar
    ]
    fields = [
        (
            name,
            bool if name.startswith("drop_") else (int if type(default) is int else float) | None,
            dataclasses.field(default=default),
        )
        for name, (default, _) in limits.items()
    ]
    fields += [
        (name, hint, default if isinstance(default, dataclasses.Field) else dataclasses.field(default=default))
        for name, hint, default in settings
    ]  # a mutable default comes as field(default_factory=...)
    for name, _, _ in settings:
        delattr(cls, name)  # as for signals: the value is self.params.<name>

    def __post_init__(params: Any) -> None:
        for name, (_, fraction) in limits.items():
            value = getattr(params, name)
            if fraction:
                require_fraction(name, value)
            elif value is not None and not isinstance(value, bool) and value < 0:
                raise ValueError(f"parameter '{name}' must be 0 or more, got {value}")
        cls.check_params(params)

    params_cls = dataclasses.make_dataclass(f"{cls.__name__}Params", fields, namespace={"__post_init__": __post_init__})
    params_cls.__module__, params_cls.__qualname__ = (
        cls.__module__,
        f"{cls.__qualname__}.Params",
    )  # picklable: C4.Params
    return params_cls


def first_failures(
    filters: list[HeuristicFilter], columns: dict[str, np.ndarray], n: int
) -> tuple[list[str | None], list[str | None]]:
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
                details[i] = (
                    f"{rule.column} {values[i]:.4g} {'<' if below else '>'} {rule.min if below else rule.max:g}"
                )
            pending[hit] = False
    return reasons, details


def ratio(part: float, whole: float) -> float:
    """part / whole, or NaN when there is nothing to divide by (the rule then does not apply)."""
    return part / whole if whole else math.nan
