"""Gopher repetition signals (Rae et al. 2021, table A1), as datatrove computes them.

Duplicated paragraphs and lines, the share of the text taken by the most frequent
2/3/4-gram, and by 5..10-grams that occur again. Every fraction of characters is
relative to the whole text.

n-grams are never built as strings: each token is hashed once (Python's own string
hash, in C), an n-gram's hash is a polynomial of its tokens' hashes computed for all
positions at once with numpy, and its length in characters comes from a running sum
of token lengths. Only the positions whose n-gram occurs more than once reach the
one per-position Python loop (the greedy scan of datatrove's find_all_duplicate),
and in ordinary prose those are few.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import field

import numpy as np

from curate.core.params import require_fraction
from curate.quality.filters import Doc, HeuristicFilter, Rule, Signal, ratio

MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so mixing in the next token never loses information


class GopherRepetition(HeuristicFilter):
    name, prefix = "gopher_repetition", "gopher"
    dup_para_fraction = Signal(fraction=True, max_dup_para_fraction=0.30)  # paragraphs that repeat an earlier one
    dup_para_char_fraction = Signal(fraction=True, max_dup_para_char_fraction=0.20)  # ... their characters
    dup_line_fraction = Signal(fraction=True, max_dup_line_fraction=0.30)
    dup_line_char_fraction = Signal(fraction=True, max_dup_line_char_fraction=0.20)
    # two families of signals, one per n-gram size; their rules are named top_<n>gram and dup_<n>gram:
    # n -> the most the single most frequent n-gram may cover (characters of all its occurrences / text)
    max_top_ngram_char_fraction: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    # n -> the most that repeated occurrences of n-grams may cover
    max_dup_ngram_char_fraction: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )

    @classmethod
    def check_params(cls, params: GopherRepetitionParams) -> None:
        for name in ("max_top_ngram_char_fraction", "max_dup_ngram_char_fraction"):
            for n, value in getattr(params, name).items():
                if not 1 <= n <= 100:
                    raise ValueError(f"parameter '{name}': n-gram sizes must be 1 to 100, got {n}")
                require_fraction(f"{name}.{n}", value)

    def __init__(self, params: GopherRepetitionParams):
        super().__init__(params)
        self.top_ns = sorted(params.max_top_ngram_char_fraction)
        self.dup_ns = sorted(params.max_dup_ngram_char_fraction)
        self.names += [f"top_{n}gram_char_fraction" for n in self.top_ns] + [
            f"dup_{n}gram_char_fraction" for n in self.dup_ns
        ]
        self.columns = tuple(f"gopher_{name}" for name in self.names)

    def measure(self, doc: Doc) -> dict[str, float]:
        text, n_chars = doc.text, len(doc.text)
        paragraphs = split_paragraphs(text)
        para_dups, para_dup_chars = duplicates(paragraphs)
        lines = split_lines(text)
        line_dups, line_dup_chars = duplicates(lines)
        grams = NGrams(doc.tokens)
        return {
            "dup_para_fraction": ratio(para_dups, len(paragraphs)), "dup_para_char_fraction": ratio(para_dup_chars, n_chars),
            "dup_line_fraction": ratio(line_dups, len(lines)), "dup_line_char_fraction": ratio(line_dup_chars, n_chars),
            **{f"top_{n}gram_char_fraction": ratio(grams.top_chars(n), n_chars) for n in self.top_ns},
            **{f"dup_{n}gram_char_fraction": ratio(grams.duplicate_chars(n), n_chars) for n in self.dup_ns},
        }  # fmt: skip

    def rules(self) -> list[Rule]:
        p = self.params
        rules = super().rules()
        rules += [
            Rule(f"top_{n}gram", f"gopher_top_{n}gram_char_fraction", max=p.max_top_ngram_char_fraction[n])
            for n in self.top_ns
        ]
        rules += [
            Rule(f"dup_{n}gram", f"gopher_dup_{n}gram_char_fraction", max=p.max_dup_ngram_char_fraction[n])
            for n in self.dup_ns
        ]
        return rules


GopherRepetitionParams = GopherRepetition.Params


def split_paragraphs(text: str) -> list[str]:
    """re.split(r"\n{2,}", text.strip()) at str.split's speed (5x). Splitting at "\n\n" takes a run of
    newlines two at a time: an even run leaves empty pieces, an odd one a piece starting with "\n"."""
    stripped = text.strip()
    return [part.removeprefix("\n") for part in stripped.split("\n\n") if part] if stripped else [""]


def split_lines(text: str) -> list[str]:
    """re.split(r"\n+", text) at str.split's speed (5x): the empty pieces between newlines dropped,
    the first and the last kept (a text starting or ending with a newline has an empty line there)."""
    parts = text.split("\n")
    return parts if len(parts) < 3 else [parts[0], *filter(None, parts[1:-1]), parts[-1]]


def duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their characters (datatrove's find_duplicates)."""
    unique = set(items)
    return len(items) - len(unique), sum(map(len, items)) - sum(map(len, unique))


class NGrams:
    """Hashes and character spans of a token list's n-grams, for every n asked."""

    def __init__(self, tokens: list[str]):
        self.count = len(tokens)
        self.token_hashes = np.fromiter(map(hash, tokens), np.int64, self.count).view(np.uint64)
        self.char_offsets = np.zeros(self.count + 1, np.int64)
        np.cumsum(np.fromiter(map(len, tokens), np.int64, self.count), out=self.char_offsets[1:])
        self._n, self._hashes = 1, self.token_hashes  # only the latest n is kept: n rises from call to call
        self._repeated_n, self._repeated = 0, np.arange(0)  # positions of the last n whose n-gram repeats

    def hashes(self, n: int) -> np.ndarray:
        """hash of tokens[i:i+n] for every i, each n built from the (n-1)-gram hashes."""
        if n < self._n:
            self._n, self._hashes = 1, self.token_hashes
        while self._n < n:
            self._n += 1
            self._hashes = self._hashes[: self.count - self._n + 1] * MULTIPLIER + self.token_hashes[self._n - 1 :]
        return self._hashes

    def chars(self, n: int) -> np.ndarray:
        """Characters of tokens[i:i+n] for every i, without separators."""
        return self.char_offsets[n:] - self.char_offsets[: self.count - n + 1]

    def top_chars(self, n: int) -> float:
        """Characters of all occurrences of the most frequent n-gram, tokens joined by spaces;
        among equally frequent ones the first to occur, as Counter.most_common picks. NaN if none."""
        if self.count < n:
            return float("nan")
        order, bounds = sorted_runs(self.hashes(n))
        counts = bounds[1:] - bounds[:-1]
        top = counts.max()
        # the first occurrence of each most frequent n-gram is the lowest position in its run
        position = 0 if top == 1 else np.minimum.reduceat(order, bounds[:-1])[counts == top].min()
        return float((self.char_offsets[position + n] - self.char_offsets[position] + n - 1) * top)

    def duplicate_chars(self, n: int) -> int:
        """datatrove's find_all_duplicate: scan left to right, and when the n-gram at a position
        was seen before, count its characters and jump past it. Only n-grams that occur at
        least twice can be seen before, so only their positions are visited; and an n-gram
        repeats only where its first n-1 tokens do, so after n-1 only those positions are counted."""
        if self.count < n:
            return 0
        if self._repeated_n == n - 1 and not len(self._repeated):  # no (n-1)-gram repeats, so no n-gram does
            self._repeated_n = n
            return 0
        hashes = self.hashes(n)
        if self._repeated_n == n - 1:
            candidates = self._repeated[self._repeated < len(hashes)]
        else:
            candidates = np.arange(len(hashes))
        order, bounds = sorted_runs(hashes[candidates])
        counts = bounds[1:] - bounds[:-1]
        positions = candidates[np.sort(order[(counts > 1).repeat(counts)])]  # in prose often none
        self._repeated_n, self._repeated = n, positions
        if not len(positions):
            return 0
        values, chars, starts = hashes[positions].tolist(), self.chars(n)[positions].tolist(), positions.tolist()
        seen, repeated, k = set(), 0, 0
        while k < len(values):
            if values[k] in seen:
                repeated += chars[k]
                k = bisect_left(starts, starts[k] + n, k)  # jump past this n-gram
            else:
                seen.add(values[k])
                k += 1
        return repeated


def sorted_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions that sort the values, and the bounds of each run of equal values in that order
    (run i is order[bounds[i]:bounds[i + 1]]). np.unique does the same with a stable sort and
    Python-level steps that cost 2-3x on a document's few hundred n-grams."""
    order = values.argsort()
    ordered = values[order]
    return order, np.concatenate(([0], (ordered[1:] != ordered[:-1]).nonzero()[0] + 1, [len(values)]))
