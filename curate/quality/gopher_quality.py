"""Gopher quality signals (Rae et al. 2021, appendix A1.1), as datatrove computes them but one.

Tokens are curate.quality.words tokens: words plus punctuation marks ("symbols").
As in datatrove, the word count and mean word length skip symbols, and the hash and
ellipsis ratios divide by all tokens.

The alpha-words ratio deviates from datatrove by default. The paper keeps a page when "80% of
words contain at least one alphabetic character", words as whitespace separates them, and that is
the default (`alpha_words_of: whitespace`): "(1951)," or "45%" is a word without a letter, "Paris,"
one with. datatrove divides by its tokens, every comma and period one (`alpha_words_of: tokens`):
that drops 8% of Wikipedia articles (the lead sections of its vital articles, 5+ sentences) for
their dates, parentheses and punctuation, where the paper's count keeps them all and still drops
85% of tables of names and numbers and the menu and calendar pages of the web sample
(bench/alpha_words.py, figures in bench/RESULTS.md). What the paper's count no longer catches is
code: identifiers hold letters (`tokens` dropped 99% of standard-library pieces, `whitespace` 12%);
on web pages C4's line rules remove code lines, and code sources have their own stage (code_quality).
FineWeb's published 0.8 threshold was set on tokens; it is kept for the paper's count, which is
what Gopher set 0.8 for. `alpha_words_of: words` counts tokens without the punctuation ones (a
standalone "|" or "-" is then no word at all; pipelines/books.yaml uses it for dialogue's dashes).

Stop words are matched as written (case-sensitive, like datatrove): "The" at the start of
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
    # what the alpha-words ratio counts: the paper's whitespace-separated words, datatrove's tokens (every
    # punctuation mark one), or tokens without the punctuation (see the module's docstring)
    alpha_words_of: Literal["whitespace", "tokens", "words"] = "whitespace"

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
            "alpha_words_ratio": self.alpha_share(text, alpha, len(tokens), n_words),
            "stop_words": math.nan if language_stop_words is None else len(language_stop_words.intersection(tokens)),
        }

    def alpha_share(self, text: str, alpha_tokens: int, n_tokens: int, n_words: int) -> float:
        """The share of words with a letter, words counted as `alpha_words_of` says."""
        if self.params.alpha_words_of == "tokens":
            return ratio(alpha_tokens, n_tokens)
        if self.params.alpha_words_of == "words":  # punctuation tokens have no letter: only the denominator changes
            return ratio(alpha_tokens, n_words)
        spaced = text.split()
        others = list(filterfalse(str.isalpha, spaced))
        return ratio(len(spaced) - len(others) + sum(map(bool, map(HAS_LETTER.search, others))), len(spaced))


GopherQualityParams = GopherQuality.Params
