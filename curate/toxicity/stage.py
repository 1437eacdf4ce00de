"""The toxicity stage: a URL blocklist, a bad-word ratio and a toxicity classifier.

    - stage: toxicity
      blocklist: lists/blocked_domains.txt  # drop pages on these domains and their subdomains (or a list of files)
      bad_words: lists/en_bad_words.txt     # a word list (LDNOOBW style, one word or phrase a line)
      max_bad_word_ratio: 0.01              # drop when more than 1 word in 100 is listed (0: any)
      model: models/toxicity.bin            # a classifier from `curate train-classifier`
      threshold: 0.5                        # drop when P(toxic) >= threshold

Give any of the three checks; at least one. They run cheapest first and a document is
dropped by the first that fires, with reason `toxicity.url_blocklist`,
`toxicity.bad_words` or `toxicity.classifier` and a detail saying what matched. With a
model every document, kept or not, gets the column `<name>_score` (P(toxic)).
Documents without a URL (books, code) pass the blocklist; empty texts pass the bad-word
check (ratio 0) and score 0. The word ratio counts tokens with a letter or digit
(curate.quality.words.split_words), so punctuation does not dilute it.
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


@dataclass
class ToxicityParams:
    blocklist: str | list[str] | None = None
    bad_words: str | None = None
    max_bad_word_ratio: float = 0.01
    model: str | None = None
    positive_label: str = POSITIVE  # the model's label for toxic text
    threshold: float = 0.5

    def __post_init__(self):
        self.bad_words, self.model = map(absolute_path, (self.bad_words, self.model))
        if isinstance(self.blocklist, list):
            self.blocklist = [absolute_path(path) for path in self.blocklist]
        else:
            self.blocklist = absolute_path(self.blocklist)
        require_fraction("max_bad_word_ratio", self.max_bad_word_ratio)
        require_fraction("threshold", self.threshold)
        if not (self.blocklist or self.bad_words or self.model):
            raise ValueError("give at least one of 'blocklist', 'bad_words' or 'model'")
        # unreadable lists and models fail here, before any work
        if self.blocklist:
            load_blocklist(self.blocklist)
        if self.bad_words:
            load_bad_words(self.bad_words)
        if self.model:
            load_checked(self.model, self.positive_label)


class ToxicityStage(DocumentStage):
    type_name = "toxicity"
    Params = ToxicityParams

    def setup(self) -> None:
        p = self.params
        self.blocked_domains = load_blocklist(p.blocklist) if p.blocklist else None
        self.words = load_bad_words(p.bad_words) if p.bad_words else None
        self.classifier = load_classifier(p.model, p.positive_label) if p.model else None

    def process(self, table: pa.Table) -> Verdict:
        n = table.num_rows
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        if self.blocked_domains is not None and "url" in table.column_names:
            self.check_urls(table["url"].to_pylist(), reasons, details)
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
            ratio = bad_word_ratio(words, self.words)
            if ratio > limit:
                reasons[i] = "toxicity.bad_words"
                details[i] = f"bad-word ratio {ratio:.4f} > {limit:g} ({round(ratio * len(words))} of {len(words)} words)"

    def check_scores(self, scores: np.ndarray, reasons: list, details: list) -> None:
        threshold = self.params.threshold
        for i in np.flatnonzero(scores >= threshold):
            if reasons[i] is None:
                reasons[i], details[i] = "toxicity.classifier", f"toxicity score {scores[i]:.4f} >= {threshold:g}"
