"""FineWeb's own quality signals (Penedo et al. 2024), as datatrove's FineWebQualityFilter computes them.

Over the non-blank lines: the share ending in sentence-final punctuation (as written,
trailing spaces count), the share of short lines, and the share of characters in
lines that repeat an earlier line; then newlines per token. Measured after C4 has
removed lines when both run, as in the FineWeb pipeline.
"""

from __future__ import annotations

from curate.quality.filters import Doc, HeuristicFilter, Signal, ratio
from curate.quality.gopher_repetition import duplicates
from curate.quality.words import TERMINAL_PUNCTUATION


class FineWeb(HeuristicFilter):
    name, prefix = "fineweb", "fineweb"
    line_punct_ratio = Signal(fraction=True, min_line_punct_ratio=0.12)
    short_line_ratio = Signal(fraction=True, max_short_line_ratio=0.67)
    char_dup_ratio = Signal(fraction=True, max_char_dup_ratio=0.01)
    newline_ratio = Signal(max_newline_ratio=0.3)  # newlines per token: lists of a word or two a line
    short_line_length: int = 30  # a line of at most this many characters is short

    @classmethod
    def check_params(cls, params: FineWebParams) -> None:
        if params.short_line_length < 0:
            raise ValueError(f"parameter 'short_line_length' must be 0 or more, got {params.short_line_length}")

    def measure(self, doc: Doc) -> dict[str, float]:
        text = doc.text
        lines = [line for line in text.split("\n") if line.strip()]
        punct = sum(line[-1] in TERMINAL_PUNCTUATION for line in lines)  # a set lookup, not endswith() over 159 marks
        short = sum(1 for line in lines if len(line) <= self.params.short_line_length)
        return {
            "line_punct_ratio": ratio(punct, len(lines)), "short_line_ratio": ratio(short, len(lines)),
            "char_dup_ratio": ratio(duplicates(lines)[1], len(text) - text.count("\n")),
            "newline_ratio": ratio(text.count("\n"), len(doc.tokens)),
        }  # fmt: skip


FineWebParams = FineWeb.Params
