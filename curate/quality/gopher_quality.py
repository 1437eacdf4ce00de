"""Gopher quality signals (Rae et al. 2021, appendix A1.1), as datatrove computes them.

Tokens are curate.quality.words tokens: words plus punctuation marks ("symbols").
As in datatrove, the word count and mean word length skip symbols, while the hash and
ellipsis ratios and the share of tokens with a letter divide by all tokens. That last one,
the alpha-words ratio, is stricter than the paper's "80% of words contain at least one
alphabetic character": every comma and period counts against a page. `alpha_words_of: words`
gives the paper's definition (punctuation tokens left out of the denominator); the default
stays `tokens`, datatrove's, because FineWeb's published 0.8 threshold and its results were
measured that way. Stop
words are matched as written (case-sensitive, like datatrove): "The" at the start of
every sentence does not count, "the" inside one does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import filterfalse
from operator import methodcaller
from typing import Literal

from curate.core.params import require_fraction
from curate.quality.filters import Doc, HeuristicFilter, Rule, ratio
from curate.quality.stopwords import stop_words
from curate.quality.words import HAS_LETTER, NO_SPACE_CHAR, SYMBOL_TOKENS

BULLETS = ("•", "-")
ELLIPSES = ("...", "…")


@dataclass
class GopherQualityParams:
    min_words: int | None = 50
    max_words: int | None = 100_000
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0  # floats, as a pipeline file gives them: the stage hash round-trips through pipeline.yaml
    max_symbol_word_ratio: float | None = 0.1  # for '#' and for ellipses, each against all tokens
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8
    min_stop_words: int | None = 2  # distinct stop words of the document's language
    alpha_words_of: Literal["tokens", "words"] = "tokens"  # the ratio's denominator: datatrove's tokens or the paper's words

    def __post_init__(self):
        for name in ("max_bullet_lines_ratio", "max_ellipsis_lines_ratio", "min_alpha_words_ratio"):
            require_fraction(name, getattr(self, name))
        for name in ("min_words", "max_words", "min_mean_word_length", "max_mean_word_length", "max_symbol_word_ratio", "min_stop_words"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"parameter '{name}' must be 0 or more, got {value}")


class GopherQuality(HeuristicFilter):
    name = "gopher_quality"
    Params = GopherQualityParams
    columns = (
        "gopher_word_count", "gopher_mean_word_length", "gopher_hash_ratio", "gopher_ellipsis_ratio",
        "gopher_bullet_lines_ratio", "gopher_ellipsis_lines_ratio", "gopher_alpha_words_ratio", "gopher_stop_words",
    )  # fmt: skip

    def signals(self, doc: Doc) -> tuple[float, ...]:
        text, tokens, lines = doc.text, doc.tokens, doc.lines
        # a token of letters only (str.isalpha, in C: most tokens) is a word with a letter; only the
        # others can be symbols or need the letter regex
        others = list(filterfalse(str.isalpha, tokens))
        symbols = list(filter(SYMBOL_TOKENS.__contains__, others))
        n_words = len(tokens) - len(symbols)
        # characters of scripts without spaces are one-character words; the mean length is over the
        # others, and only when they are at least half the words (else a Chinese page with one e-mail
        # address would be judged by that address's length)
        no_space = 0 if text.isascii() else len(NO_SPACE_CHAR.findall(text))
        spaced = n_words - no_space
        word_chars = sum(map(len, tokens)) - sum(map(len, symbols)) - no_space
        mean_length = ratio(word_chars, spaced) if spaced >= no_space else math.nan
        ellipses = text.count("...") + text.count("…")
        bullets = sum(map(methodcaller("startswith", BULLETS), map(str.lstrip, lines)))
        ellipsis_lines = sum(map(methodcaller("endswith", ELLIPSES), map(str.rstrip, lines)))
        alpha = len(tokens) - len(others) + sum(map(bool, map(HAS_LETTER.search, others)))
        language_stop_words = stop_words(doc.language)
        stops = math.nan if language_stop_words is None else len(language_stop_words.intersection(tokens))
        return (
            n_words, mean_length, ratio(text.count("#"), len(tokens)),
            ratio(ellipses, len(tokens)), ratio(bullets, len(lines)), ratio(ellipsis_lines, len(lines)),
            ratio(alpha, len(tokens) if self.params.alpha_words_of == "tokens" else n_words), stops,
        )  # fmt: skip

    def rules(self) -> list[Rule]:
        p = self.params
        return [
            Rule("word_count", "gopher_word_count", min=p.min_words, max=p.max_words),
            Rule("mean_word_length", "gopher_mean_word_length", min=p.min_mean_word_length, max=p.max_mean_word_length),
            Rule("hash_ratio", "gopher_hash_ratio", max=p.max_symbol_word_ratio),
            Rule("ellipsis_ratio", "gopher_ellipsis_ratio", max=p.max_symbol_word_ratio),
            Rule("bullet_lines", "gopher_bullet_lines_ratio", max=p.max_bullet_lines_ratio),
            Rule("ellipsis_lines", "gopher_ellipsis_lines_ratio", max=p.max_ellipsis_lines_ratio),
            Rule("alpha_words", "gopher_alpha_words_ratio", min=p.min_alpha_words_ratio),
            Rule("stop_words", "gopher_stop_words", min=p.min_stop_words),
        ]
