"""Bad-word lists and the fraction of a text's words that are on one.

A list is a UTF-8 text file with one word or phrase a line, as in the LDNOOBW
("List of Dirty, Naughty, Obscene or Otherwise Bad Words") files C4 used; blank
lines and lines starting with '#' are skipped, matching ignores case. C4 dropped
any page with one listed word; a ratio lets a pipeline tolerate an occasional word
(a medical page, a quoted insult) and still drop pages made of them.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import compress, count

from curate.core.params import ConfigError, read_list_file
from curate.quality.words import SYMBOL_TOKENS, split_words


def load_bad_words(path: str) -> frozenset[str]:
    """The lower-cased entries of a word-list file; ConfigError if it cannot be read or lists nothing."""
    lines = read_list_file(path, "bad-word list")
    entries = (line.lower() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    # split as texts are ("don't" -> "don 't", "x-rated" -> "x rated"), so entries match text tokens
    words = frozenset(" ".join(t for t in split_words(entry) if t not in SYMBOL_TOKENS) for entry in entries) - {""}
    if not words:
        raise ConfigError(f"bad-word list '{path}' lists no words")
    return words


def bad_word_ratio(tokens: list[str], words: frozenset[str]) -> float:
    """Fraction of `tokens` (a text's words: curate.quality.words.split_words without the
    punctuation) that are listed words or part of a listed phrase; 0.0 for no tokens."""
    if not tokens:
        return 0.0
    lowered = list(map(str.lower, tokens))
    bad = sum(map(words.__contains__, lowered))
    first_words, lengths = phrase_starts(words)
    if first_words:  # only where a phrase's first word stands can a phrase start
        for i in compress(count(), map(first_words.__contains__, lowered)):
            bad += sum(n for n in lengths if i + n <= len(lowered) and " ".join(lowered[i : i + n]) in words)
    return min(1.0, bad / len(tokens))


@lru_cache(maxsize=8)
def phrase_starts(words: frozenset[str]) -> tuple[frozenset[str], tuple[int, ...]]:
    """First words and word counts of the multi-word entries."""
    phrases = [w.split() for w in words if " " in w]
    return frozenset(p[0] for p in phrases), tuple(sorted({len(p) for p in phrases}))
