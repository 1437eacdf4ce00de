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
from itertools import filterfalse
from operator import methodcaller
from typing import Literal

from curate.quality.filters import Doc, HeuristicFilter, Signal, ratio
from curate.quality.stopwords import stop_words
from curate.quality.words import HAS_LETTER, NO_SPACE_CHAR, SYMBOL_TOKENS

BULLETS = ("•", "-")
ELLIPSES = ("...", "…")


class GopherQuality(HeuristicFilter):
    name, prefix = "gopher_quality", "gopher"
    word_count = Signal(min_words=50, max_words=100_000)  # words: tokens that are not punctuation
    # floats, as a pipeline file gives them: the stage hash round-trips through pipeline.yaml
    mean_word_length = Signal(min_mean_word_length=3.0, max_mean_word_length=10.0)
    hash_ratio = Signal(max_symbol_word_ratio=0.1)  # '#' per token
    ellipsis_ratio = Signal(max_symbol_word_ratio=0.1)  # "..." and "…" per token
    bullet_lines_ratio = Signal("bullet_lines", fraction=True, max_bullet_lines_ratio=0.9)
    ellipsis_lines_ratio = Signal("ellipsis_lines", fraction=True, max_ellipsis_lines_ratio=0.3)
    alpha_words_ratio = Signal("alpha_words", fraction=True, min_alpha_words_ratio=0.8)  # tokens with a letter
    stop_words = Signal(min_stop_words=2)  # distinct stop words of the document's language
    alpha_words_of: Literal["tokens", "words"] = "tokens"  # the ratio's denominator: datatrove's tokens or the paper's words

    def measure(self, doc: Doc) -> dict[str, float]:
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
        ellipses = text.count("...") + text.count("…")
        bullets = sum(map(methodcaller("startswith", BULLETS), map(str.lstrip, lines)))
        ellipsis_lines = sum(map(methodcaller("endswith", ELLIPSES), map(str.rstrip, lines)))
        alpha = len(tokens) - len(others) + sum(map(bool, map(HAS_LETTER.search, others)))
        language_stop_words = stop_words(doc.language)
        return {
            "word_count": n_words,
            "mean_word_length": ratio(word_chars, spaced) if spaced >= no_space else math.nan,
            "hash_ratio": ratio(text.count("#"), len(tokens)),
            "ellipsis_ratio": ratio(ellipses, len(tokens)),
            "bullet_lines_ratio": ratio(bullets, len(lines)),
            "ellipsis_lines_ratio": ratio(ellipsis_lines, len(lines)),
            "alpha_words_ratio": ratio(alpha, len(tokens) if self.params.alpha_words_of == "tokens" else n_words),
            "stop_words": math.nan if language_stop_words is None else len(language_stop_words.intersection(tokens)),
        }


GopherQualityParams = GopherQuality.Params
