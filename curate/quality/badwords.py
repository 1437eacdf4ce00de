"""Bad-word lists and the fraction of a text's words that are on one.

A list is a UTF-8 text file with one word or phrase a line, as in the LDNOOBW
("List of Dirty, Naughty, Obscene or Otherwise Bad Words") files C4 used; blank
lines and lines starting with '#' are skipped, matching ignores case. C4 dropped
any page with one listed word; a ratio lets a pipeline tolerate an occasional word
(a medical page, a quoted insult) and still drop pages made of them.

Entries are matched as written, symbols included ("a$$", "sh!t", "f*ck"), wherever one
stands as a word of its own: not inside a longer word ("ass" does not match "class"), any
run of whitespace between the words of a phrase. (Splitting entries into words as texts
are split turned "a$$" into "a", which then matched nearly every English page.)
"""

from __future__ import annotations

import re

from curate.core.params import ConfigError, read_list_file
from curate.quality.words import SYMBOL_TOKENS, split_words

WORD_CHAR = r"[^\W_]"


class BadWords:
    """The entries of one list, compiled into one case-insensitive pattern."""

    def __init__(self, entries: frozenset[str]):
        self.entries = entries
        # longest first, so "son of a gun" wins over "son"; spaces in an entry match any whitespace
        alternatives = (r"\s+".join(map(re.escape, entry.split())) for entry in sorted(entries, key=len, reverse=True))
        self.pattern = re.compile(rf"(?<!{WORD_CHAR})(?:{'|'.join(alternatives)})(?!{WORD_CHAR})", re.IGNORECASE)

    def count(self, text: str) -> int:
        """Words of the text that are listed words or part of a listed phrase ("a$$" is one word)."""
        return sum(
            max(1, sum(t not in SYMBOL_TOKENS for t in split_words(m.group(0)))) for m in self.pattern.finditer(text)
        )


def load_bad_words(path: str) -> BadWords:
    """The entries of a word-list file; ConfigError if it cannot be read or lists nothing."""
    lines = read_list_file(path, "bad-word list")
    entries = frozenset(
        " ".join(line.lower().split()) for line in lines if line.strip() and not line.lstrip().startswith("#")
    )
    if not entries:
        raise ConfigError(f"bad-word list '{path}' lists no words")
    return BadWords(entries)


def bad_word_ratio(text: str, n_words: int, words: BadWords) -> float:
    """Fraction of the text's `n_words` words (punctuation is no word) that are listed; 0.0 for no words."""
    if not n_words:
        return 0.0
    return min(1.0, words.count(text) / n_words)
