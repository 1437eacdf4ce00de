"""FineWeb's own quality signals (Penedo et al. 2024), as datatrove's FineWebQualityFilter computes them.

Over the non-blank lines: the share ending in sentence-final punctuation (as written,
trailing spaces count), the share of short lines, and the share of characters in
lines that repeat an earlier line; then newlines per token. Measured after C4 has
removed lines when both run, as in the FineWeb pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass

from curate.core.params import require_fraction
from curate.quality.filters import Doc, HeuristicFilter, Rule, ratio
from curate.quality.gopher_repetition import duplicates
from curate.quality.words import TERMINAL_PUNCTUATION


@dataclass
class FineWebParams:
    min_line_punct_ratio: float | None = 0.12
    max_short_line_ratio: float | None = 0.67
    short_line_length: int = 30  # a line of at most this many characters is short
    max_char_dup_ratio: float | None = 0.01
    max_newline_ratio: float | None = 0.3  # newlines per token: lists of a word or two a line

    def __post_init__(self):
        for name in ("min_line_punct_ratio", "max_short_line_ratio", "max_char_dup_ratio"):
            require_fraction(name, getattr(self, name))
        if self.max_newline_ratio is not None and self.max_newline_ratio < 0:
            raise ValueError(f"parameter 'max_newline_ratio' must be 0 or more, got {self.max_newline_ratio}")
        if self.short_line_length < 0:
            raise ValueError(f"parameter 'short_line_length' must be 0 or more, got {self.short_line_length}")


class FineWeb(HeuristicFilter):
    name = "fineweb"
    Params = FineWebParams
    columns = ("fineweb_line_punct_ratio", "fineweb_short_line_ratio", "fineweb_char_dup_ratio", "fineweb_newline_ratio")

    def signals(self, doc: Doc) -> tuple[float, ...]:
        text = doc.text
        lines = [line for line in text.split("\n") if line.strip()]
        punct = sum(line[-1] in TERMINAL_PUNCTUATION for line in lines)  # a set lookup, not endswith() over 159 marks
        short = sum(1 for line in lines if len(line) <= self.params.short_line_length)
        dup_chars = duplicates(lines)[1]
        return (
            ratio(punct, len(lines)), ratio(short, len(lines)),
            ratio(dup_chars, len(text) - text.count("\n")), ratio(text.count("\n"), len(doc.tokens)),
        )  # fmt: skip

    def rules(self) -> list[Rule]:
        p = self.params
        return [
            Rule("line_punct_ratio", "fineweb_line_punct_ratio", min=p.min_line_punct_ratio),
            Rule("short_line_ratio", "fineweb_short_line_ratio", max=p.max_short_line_ratio),
            Rule("char_dup_ratio", "fineweb_char_dup_ratio", max=p.max_char_dup_ratio),
            Rule("newline_ratio", "fineweb_newline_ratio", max=p.max_newline_ratio),
        ]
