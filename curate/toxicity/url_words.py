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


class UrlWordChecks:
    """The three checks over a batch of URLs; lists may be empty (that check is off)."""

    def __init__(
        self, banned: frozenset[str], soft_banned: frozenset[str], soft_threshold: int, subwords: frozenset[str]
    ):
        self.banned = pa.array(sorted(banned), pa.string())
        self.soft_banned = pa.array(sorted(soft_banned), pa.string())
        self.soft_threshold = soft_threshold
        # one alternation, longest entries first, so a detail names the longest match; entries are [a-z0-9]+
        self.subword_pattern = (
            "(?P<subword>" + "|".join(sorted(subwords, key=len, reverse=True)) + ")" if subwords else None
        )

    def check(self, urls: pa.Array) -> dict[int, tuple[str, str]]:
        """{row: (reason, detail)} for the URLs of a batch that fail a check (the first one they fail)."""
        lowered = pc.utf8_lower(urls)
        words = pc.split_pattern_regex(lowered, _NOT_ALNUM.pattern)
        flat, rows = pc.list_flatten(words), pc.list_parent_indices(words)
        failed = {}
        for row, banned in listed_words_by_row(flat, rows, self.banned).items():
            failed[row] = ("toxicity.url_banned_word", f"the URL has the banned word '{banned[0]}'")
        for row, soft in listed_words_by_row(flat, rows, self.soft_banned).items():
            soft = sorted(set(soft))
            if len(soft) >= self.soft_threshold:
                failed.setdefault(
                    row,
                    ("toxicity.url_soft_banned_words", f"the URL has {len(soft)} soft-banned words: {', '.join(soft)}"),
                )
        if self.subword_pattern:
            joined = pc.replace_substring_regex(lowered, _NOT_ALNUM.pattern, "")
            found = pc.struct_field(pc.extract_regex(joined, self.subword_pattern), [0])
            for row in np.flatnonzero(pc.is_valid(found).to_numpy(zero_copy_only=False)).tolist():
                failed.setdefault(
                    row, ("toxicity.url_banned_subword", f"the URL contains the banned subword '{found[row].as_py()}'")
                )
        return failed


def listed_words_by_row(flat: pa.Array, rows: pa.Array, listed: pa.Array) -> dict[int, list[str]]:
    """{row: its words that are listed, in order} for the rows that have any."""
    if not len(listed):
        return {}
    hit = pc.is_in(flat, value_set=listed)
    by_row: dict[int, list[str]] = {}
    for row, word in zip(pc.filter(rows, hit).to_pylist(), pc.filter(flat, hit).to_pylist()):
        by_row.setdefault(row, []).append(word)
    return by_row
