"""Words in a URL, checked as FineWeb's URL filter checks them (datatrove's URLFilter).

A URL is lower-cased and split into words at every character that is not an ASCII letter
or digit (https://free-porn.example/x -> https, free, porn, example, x). Three lists, each
a UTF-8 file of one entry a line (a line starting with '#' is skipped), their entries
normalised the same way, so "2 girls 1 cup" is "2girls1cup":
- banned words: drop when one is a word of the URL;
- soft-banned words, words with innocent uses ("ass", "babes"): drop when at least
  `soft_threshold` different ones are (FineWeb: 2);
- banned subwords: drop when one occurs anywhere in the URL's letters and digits run
  together ("xxxvideos" inside "freexxxvideoshd.example").
Unlike datatrove, which matches the URL's words as they are written, matching ignores
case, so an upper-case URL is no way around the lists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.params import ConfigError, read_list_file

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def load_url_words(path: str) -> frozenset[str]:
    """The normalised entries of a URL word list; ConfigError if it cannot be read or lists none."""
    lines = read_list_file(path, "URL word list")
    words = frozenset(_NOT_ALNUM.sub("", line.lower()) for line in lines if not line.lstrip().startswith("#")) - {""}
    if not words:
        raise ConfigError(f"URL word list '{path}' lists no words")
    return words


@dataclass(frozen=True)
class UrlWordChecks:
    banned: frozenset[str] = frozenset()
    soft_banned: frozenset[str] = frozenset()
    soft_threshold: int = 2
    subwords: frozenset[str] = frozenset()

    def check(self, urls: pa.Array) -> dict[int, tuple[str, str]]:
        """{row: (reason, detail)} for the URLs of a batch that fail a check (the first one they fail)."""
        lowered = pc.utf8_lower(urls)
        words = pc.split_pattern_regex(lowered, _NOT_ALNUM.pattern)
        flat, rows = pc.list_flatten(words), pc.list_parent_indices(words)
        failed = {}
        for row, word in self.first_word_rows(flat, rows, self.banned).items():
            failed[row] = ("toxicity.url_banned_word", f"the URL has the banned word '{word}'")
        for row, soft in self.soft_word_rows(flat, rows).items():
            failed.setdefault(row, ("toxicity.url_soft_banned_words",
                                    f"the URL has {len(soft)} soft-banned words: {', '.join(sorted(soft))}"))
        if self.subwords:
            # one alternation, longest entries first, so a detail names the longest match; entries are [a-z0-9]+
            pattern = "(?P<subword>" + "|".join(sorted(self.subwords, key=len, reverse=True)) + ")"
            joined = pc.replace_substring_regex(lowered, _NOT_ALNUM.pattern, "")
            found = pc.struct_field(pc.extract_regex(joined, pattern), [0])
            for row in np.flatnonzero(pc.is_valid(found).to_numpy(zero_copy_only=False)).tolist():
                failed.setdefault(row, ("toxicity.url_banned_subword",
                                        f"the URL contains the banned subword '{found[row].as_py()}'"))
        return failed

    @staticmethod
    def first_word_rows(flat: pa.Array, rows: pa.Array, listed: frozenset[str]) -> dict[int, str]:
        if not listed:
            return {}
        hit = pc.is_in(flat, value_set=pa.array(sorted(listed)))
        first = {}
        for row, word in zip(pc.filter(rows, hit).to_pylist(), pc.filter(flat, hit).to_pylist()):
            first.setdefault(row, word)
        return first

    def soft_word_rows(self, flat: pa.Array, rows: pa.Array) -> dict[int, set[str]]:
        if not self.soft_banned:
            return {}
        hit = pc.is_in(flat, value_set=pa.array(sorted(self.soft_banned)))
        soft: dict[int, set[str]] = {}
        for row, word in zip(pc.filter(rows, hit).to_pylist(), pc.filter(flat, hit).to_pylist()):
            soft.setdefault(row, set()).add(word)
        return {row: words for row, words in soft.items() if len(words) >= self.soft_threshold}
