"""The toxicity stage: a URL blocklist, URL words, a bad-word ratio and a toxicity classifier.

    - stage: toxicity
      blocklist: lists/blocked_domains.txt  # drop pages on these domains and their subdomains (or a list of files)
      url_banned_words: lists/url_banned_words.txt        # FineWeb's URL word checks (url_words.py)
      url_soft_banned_words: lists/url_soft_banned_words.txt
      url_soft_word_threshold: 2
      url_banned_subwords: lists/url_banned_subwords.txt
      bad_words: lists/en_bad_words.txt     # a word list (LDNOOBW style, one word or phrase a line)
      max_bad_word_ratio: 0.01              # drop when more than 1 word in 100 is listed (0: any)
      model: models/toxicity.bin            # a classifier from `curate train-classifier`
      threshold: 0.5                        # drop when P(toxic) >= threshold

Give any of the checks; at least one. They run cheapest first and a document is dropped
by the first that fires, with reason `toxicity.url_blocklist`, `toxicity.url_banned_word`,
`toxicity.url_soft_banned_words`, `toxicity.url_banned_subword`, `toxicity.bad_words` or
`toxicity.classifier` and a detail saying what matched. With a model every document,
kept or not, gets the column `<name>_score` (P(toxic)). Documents without a URL (books,
code) pass the URL checks; empty texts pass the bad-word check (ratio 0) and score 0.
The word ratio counts tokens with a letter or digit (curate.quality.words.split_words),
so punctuation does not dilute it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curate.classify.model import POSITIVE, load_checked, load_classifier
from curate.classify.stage import with_score
from curate.core.params import absolute_path, require_fraction
from curate.core.stage import DocumentStage, Verdict
from curate.quality.badwords import bad_word_ratio, load_bad_words
from curate.quality.words import split_words
from curate.toxicity.blocklist import load_blocklist
from curate.toxicity.url_words import UrlWordChecks, load_url_words


URL_WORD_LISTS = ("url_banned_words", "url_soft_banned_words", "url_banned_subwords")


@dataclass
class ToxicityParams:
    blocklist: str | list[str] | None = None
    url_banned_words: str | None = None
    url_soft_banned_words: str | None = None
    url_soft_word_threshold: int = 2
    url_banned_subwords: str | None = None
    bad_words: str | None = None
    max_bad_word_ratio: float = 0.01
    model: str | None = None
    positive_label: str = POSITIVE  # the model's label for toxic text
    threshold: float = 0.5

    def __post_init__(self):
        self.bad_words, self.model = map(absolute_path, (self.bad_words, self.model))
        for name in URL_WORD_LISTS:
            setattr(self, name, absolute_path(getattr(self, name)))
        if isinstance(self.blocklist, list):
            self.blocklist = [absolute_path(path) for path in self.blocklist]
        else:
            self.blocklist = absolute_path(self.blocklist)
        require_fraction("max_bad_word_ratio", self.max_bad_word_ratio)
        require_fraction("threshold", self.threshold)
        if self.url_soft_word_threshold < 1:
            raise ValueError(f"'url_soft_word_threshold' must be at least 1, got {self.url_soft_word_threshold}")
        if not (self.blocklist or self.has_url_word_lists or self.bad_words or self.model):
            raise ValueError(
                "give at least one of 'blocklist', 'url_banned_words', 'url_soft_banned_words', "
                "'url_banned_subwords', 'bad_words' or 'model'"
            )

    @property
    def has_url_word_lists(self) -> bool:
        return any(getattr(self, name) for name in URL_WORD_LISTS)

    def load_url_word_checks(self) -> UrlWordChecks | None:
        if not self.has_url_word_lists:
            return None
        lists = {
            name: load_url_words(getattr(self, name)) if getattr(self, name) else frozenset() for name in URL_WORD_LISTS
        }
        return UrlWordChecks(
            lists["url_banned_words"],
            lists["url_soft_banned_words"],
            self.url_soft_word_threshold,
            lists["url_banned_subwords"],
        )


class ToxicityStage(DocumentStage):
    Params = ToxicityParams

    def check(self) -> None:
        """Unreadable lists and models fail here, before any work."""
        p = self.params
        if p.blocklist:
            load_blocklist(p.blocklist)
        p.load_url_word_checks()
        if p.bad_words:
            load_bad_words(p.bad_words)
        if p.model:
            load_checked(p.model, p.positive_label)

    def setup(self) -> None:
        p = self.params
        self.blocked_domains = load_blocklist(p.blocklist) if p.blocklist else None
        self.url_words = p.load_url_word_checks()
        self.words = load_bad_words(p.bad_words) if p.bad_words else None
        self.classifier = load_classifier(p.model, p.positive_label) if p.model else None

    def process(self, table: pa.Table) -> Verdict:
        n = table.num_rows
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        if self.blocked_domains is not None and "url" in table.column_names:
            self.check_urls(table["url"].to_pylist(), reasons, details)
        if self.url_words is not None and "url" in table.column_names:
            for i, (reason, detail) in self.url_words.check(table["url"].combine_chunks()).items():
                if reasons[i] is None:
                    reasons[i], details[i] = reason, detail
        texts = table["text"].to_pylist() if self.words is not None or self.classifier is not None else []
        if self.words is not None:
            self.check_bad_words(texts, reasons, details)
        if self.classifier is not None:
            scores = self.classifier.scores(texts)
            table = with_score(table, f"{self.name}_score", scores)
            self.check_scores(scores, reasons, details)
        return Verdict(table, reasons, details)

    def check_urls(self, urls: list[str | None], reasons: list, details: list) -> None:
        for i, (url, domain) in enumerate(zip(urls, self.blocked_domains.blocked(urls))):
            if domain:
                reasons[i], details[i] = "toxicity.url_blocklist", f"{url} is under blocked domain {domain}"

    def check_bad_words(self, texts: list[str], reasons: list, details: list) -> None:
        limit = self.params.max_bad_word_ratio
        for i, text in enumerate(texts):
            if reasons[i] is not None:
                continue
            words = [t for t in split_words(text) if any(c.isalnum() for c in t)]  # punctuation is no word
            ratio = bad_word_ratio(text, len(words), self.words)
            if ratio > limit:
                reasons[i] = "toxicity.bad_words"
                details[i] = (
                    f"bad-word ratio {ratio:.4f} > {limit:g} ({round(ratio * len(words))} of {len(words)} words)"
                )

    def check_scores(self, scores: np.ndarray, reasons: list, details: list) -> None:
        threshold = self.params.threshold
        for i in np.flatnonzero(scores >= threshold):
            if reasons[i] is None:
                reasons[i], details[i] = "toxicity.classifier", f"toxicity score {scores[i]:.4f} >= {threshold:g}"
