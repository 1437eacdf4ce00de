"""C4 line and page rules (Raffel et al. 2020, section 2.2), as datatrove's C4QualityFilter applies them.

Lines are kept only if they end in terminal punctuation (not an ellipsis), have at
least 3 words, no word over 1000 characters, and mention neither javascript nor a
cookie/terms-of-use policy; Wikipedia-style citation marks are cut out. Page signals
are measured on the kept lines: their sentence count, whether one says "lorem ipsum"
or holds a curly brace, and (with a word list) the share of bad words in the page.

With `remove_lines` (the default, as in C4 and datatrove) the stage writes the page
as its kept lines: C4 is a line filter as much as a page filter, and the FineWeb
signals after it are measured on that text, as in datatrove's FineWeb pipeline. A
rejected page always keeps its original text.

Sentences are counted with a regular expression that follows spaCy's sentencizer
(datatrove's English sentence splitter): a new sentence starts after a run of
sentence-final punctuation followed by a word, where a period ends a sentence unless
it belongs to an abbreviation ("e.g.", "U.S.", "Mr.", "3.5").
"""

from __future__ import annotations

import re
from itertools import filterfalse

from curate.core.params import absolute_path
from curate.quality.badwords import BadWords, bad_word_ratio, load_bad_words
from curate.quality.filters import Doc, HeuristicFilter, Signal, ratio
from curate.quality.words import SYMBOL_TOKENS, TERMINAL_PUNCTUATION, split_words

CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_OTHER_TERMINALS = re.escape("".join(sorted(TERMINAL_PUNCTUATION - {"."})))
_ALL_TERMINALS = re.escape("".join(sorted(TERMINAL_PUNCTUATION)))
# The pattern starts with one character class, so the regex engine skips from one candidate
# mark to the next instead of trying every position; which mark it was is checked after it,
# looking back. That class holds the marks of plane 0 and the whole of planes 1-16 as one range:
# the 75 rare marks there, listed one by one, made testing each character of a line 13x slower.
_BMP_TERMINALS = re.escape("".join(sorted(c for c in TERMINAL_PUNCTUATION if c <= "\uffff")))
SENTENCE_BREAK = re.compile(
    rf"[{_BMP_TERMINALS}\U00010000-\U0010ffff]"
    rf"(?:(?<=[{_OTHER_TERMINALS}])"  # ! ? and other scripts' sentence ends
    r"|(?<=\.)(?<!\.\.)(?<!\b[A-Za-z]\.)(?<!\b(?:Mr|Ms|Dr|St|Jr|Sr|vs|No)\.)(?<!\b(?:Mrs|etc|Inc|Ltd)\.)(?!\.))"  # a period, not an abbreviation's
    rf"[{_ALL_TERMINALS}]*[\"'”’)\]»]*"  # more marks, closing quotes and brackets
    r"(?:\s[\W_]*|(?<=[a-z]\.)(?=[A-Z]))(?=[^\W_])"  # then, past any spaces and punctuation, a word
)


class C4(HeuristicFilter):
    name, prefix = "c4", "c4"
    sentences = Signal(min_sentences=5)  # in the kept lines
    lorem_ipsum = Signal(drop_lorem_ipsum=True)  # a kept line says "lorem ipsum"
    curly_bracket = Signal(drop_curly_bracket=True)  # a kept line holds a '{'
    removed_lines_fraction = Signal()
    bad_word_ratio = Signal(
        "bad_words", fraction=True, max_bad_word_ratio=0.0
    )  # C4 dropped a page with any listed word
    rule_order = ("lorem_ipsum", "curly_bracket")  # as datatrove, which stops reading the lines at either
    remove_lines: bool = True  # write the page as its kept lines (C4); false: only measure them
    require_terminal_punctuation: bool = True
    min_words_per_line: int | None = 3
    max_word_length: int | None = 1000  # a line with a longer word is removed
    remove_citations: bool = True
    remove_javascript_lines: bool = True
    remove_policy_lines: bool = True
    bad_words_file: str | None = None  # one word or phrase a line (e.g. an LDNOOBW list); none: no bad-word signal

    @classmethod
    def check_params(cls, params: C4Params) -> None:
        params.bad_words_file = absolute_path(params.bad_words_file)
        for name in ("min_words_per_line", "max_word_length"):
            value = getattr(params, name)
            if value is not None and value < 0:
                raise ValueError(f"parameter '{name}' must be 0 or more, got {value}")
        if params.bad_words_file is not None:
            load_bad_words(params.bad_words_file)  # a missing or empty list is a ConfigError before any work

    def __init__(self, params: C4Params):
        super().__init__(params)
        self.rewrites_text = params.remove_lines
        self.bad_words: BadWords | None = None

    def setup(self) -> None:
        if self.params.bad_words_file is not None:
            self.bad_words = load_bad_words(self.params.bad_words_file)

    def measure(self, doc: Doc) -> dict[str, float]:
        bad = (
            float("nan")
            if self.bad_words is None
            else bad_word_ratio(doc.text, len(words_of(doc.tokens)), self.bad_words)
        )
        lines = doc.lines
        kept, tokens, sentences, lorem, curly = self.kept_lines(lines, doc.line_tokens)
        if self.rewrites_text:
            doc.replace_text("\n".join(kept).strip(), tokens)
        return {
            "sentences": sentences,
            "lorem_ipsum": lorem,
            "curly_bracket": curly,
            "removed_lines_fraction": ratio(len(lines) - len(kept), len(lines)),
            "bad_word_ratio": bad,
        }

    def kept_lines(self, lines: list[str], line_tokens: list[list[str]]) -> tuple[list[str], list[str], int, int, int]:
        """The lines C4 keeps and their tokens, their sentences, and whether one says lorem ipsum / holds
        a '{' (checked, as in datatrove, only on lines that pass the punctuation and length rules)."""
        p = self.params
        kept, kept_tokens, sentences, lorem, curly = [], [], 0, 0, 0
        for line, tokens in zip(lines, line_tokens):
            line = whole = line.strip()  # whitespace: the same tokens
            too_long = p.max_word_length is not None and len(line) > p.max_word_length  # else no word can be
            if too_long and max(map(len, line.split())) > p.max_word_length:
                continue
            if p.remove_citations and "[" in line:  # every citation mark starts with one
                cut = CITATION.sub("", line)
                if cut != line:
                    line, tokens = cut, split_words(cut)
            if p.require_terminal_punctuation and (not line.endswith(END_PUNCTUATION) or line.endswith("...")):
                continue
            # words of the line before any cut; split only as far as the count needs (no list of every word)
            if p.min_words_per_line is not None and len(whole.split(None, p.min_words_per_line)) < p.min_words_per_line:
                continue
            lowered = line.lower()
            lorem |= "lorem ipsum" in lowered
            if p.remove_javascript_lines and "javascript" in lowered:
                continue
            curly |= "{" in line
            if p.remove_policy_lines and any(phrase in lowered for phrase in POLICY_PHRASES):
                continue
            sentences += 1 + len(SENTENCE_BREAK.findall(line))
            kept.append(line)
            kept_tokens += tokens
        return kept, kept_tokens, sentences, lorem, curly


C4Params = C4.Params


def words_of(tokens: list[str]) -> list[str]:
    """The tokens that are not punctuation: a bad-word share is of words."""
    return list(filterfalse(SYMBOL_TOKENS.__contains__, tokens))
