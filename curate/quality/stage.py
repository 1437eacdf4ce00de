"""The quality stage: Gopher, C4 and FineWeb heuristic filters in one pass.

    - stage: quality
      gopher_repetition: {}             # published thresholds; `false` turns a filter off
      gopher_quality: {min_words: 50}   # any threshold can be set; null turns one rule off
      c4: {bad_words_file: lists/en.txt}
      fineweb: {}

Every enabled filter's signals are computed for every document and stored as float
columns (gopher_word_count, c4_sentences, fineweb_short_line_ratio, ...), so a later
run can re-threshold them without recomputing. Then the thresholds are applied, in
datatrove's FineWeb order (gopher_repetition, gopher_quality, c4, fineweb), and a
dropped document's reason names the first rule it broke, e.g.
"gopher_quality.word_count". With `signals_only: true` nothing is dropped: the would-be
reason goes to the `quality_failed` column instead.

Text: C4 removes lines (see curate.quality.c4); kept documents are written with the
lines it kept, rejected ones with their original text. Stop words follow the
document's `language` column (from langid) when there is one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curate.core import budget
from curate.core.params import build_params
from curate.core.stage import DocumentStage, Verdict
from curate.quality.c4 import C4
from curate.quality.filters import Doc, HeuristicFilter, first_failures
from curate.quality.fineweb import FineWeb
from curate.quality.gopher_quality import GopherQuality
from curate.quality.gopher_repetition import GopherRepetition

FILTERS = {f.name: f for f in (GopherRepetition, GopherQuality, C4, FineWeb)}  # in the order they run
EMPTY = "empty_text"  # no word at all: nothing for any rule to measure


@dataclass
class QualityParams:
    gopher_repetition: dict[str, Any] | bool = True  # a mapping of thresholds, true for the defaults, false for off
    gopher_quality: dict[str, Any] | bool = True
    c4: dict[str, Any] | bool = True
    fineweb: dict[str, Any] | bool = True
    default_language: str = "en"  # for stop words, when a document has no `language`
    signals_only: bool = False  # annotate (signals and quality_failed), drop nothing, change no text
    max_doc_bytes: int | None = 32_000_000  # larger texts are dropped as too_large before any signal (null: no limit)

    def __post_init__(self):
        for name, cls in FILTERS.items():
            value = getattr(self, name)
            if isinstance(value, (bool, dict)):  # from YAML; once built it holds the filter's Params or None
                params = build_params(cls.Params, {} if value is True else value, name) if value is not False else None
                setattr(self, name, params)


class QualityStage(DocumentStage):
    Params = QualityParams

    def __init__(self, name: str, params: QualityParams):
        super().__init__(name, params)
        self.filters: list[HeuristicFilter] = [
            cls(getattr(params, name)) for name, cls in FILTERS.items() if getattr(params, name) is not None
        ]
        self.columns = [column for f in self.filters for column in f.columns]

    def setup(self) -> None:
        for heuristic in self.filters:
            heuristic.setup()

    def process(self, table: pa.Table) -> Verdict:
        texts = table.column("text").to_pylist()
        languages = table.column("language").to_pylist() if "language" in table.column_names else [None] * len(texts)
        # The cheap check first: a document over the budget gets no signals (one 200 MB text took 7 GB).
        sizes = budget.text_bytes(table.column("text"))
        too_large = [budget.too_large(int(size), self.params.max_doc_bytes) for size in sizes]
        measured = [text if over is None else "" for text, over in zip(texts, too_large)]
        signals, final_texts, empty = self.measure(measured, languages)
        reasons, details = first_failures(self.filters, dict(zip(self.columns, signals.T)), len(texts))
        for i in np.flatnonzero(empty):
            if too_large[i] is None:
                reasons[i], details[i] = EMPTY, "no word in the text"
            else:
                reasons[i], details[i] = "too_large", too_large[i]
        for i, text in enumerate(final_texts):
            if reasons[i] is None and not text.strip():
                reasons[i], details[i] = "c4.no_lines_kept", "C4's line rules removed every line"
        for column, values in zip(self.columns, signals.T):
            table = set_column(table, column, pa.array(values, pa.float64()))
        if self.params.signals_only:
            return Verdict(set_column(table, "quality_failed", pa.array(reasons, pa.string())), [None] * len(texts))
        if final_texts is not texts:
            written = [text if reason is None else original for text, original, reason in zip(final_texts, texts, reasons)]
            table = set_column(table, "text", pa.array(written, table.schema.field("text").type))
        return Verdict(table, reasons, details)

    def measure(self, texts: list[str], languages: list[str | None]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Every filter's signals for every text (rows x columns, NaN where a signal does not apply),
        the texts as the filters left them, and which texts have no words at all."""
        signals = np.full((len(texts), len(self.columns)), np.nan)
        empty = np.zeros(len(texts), dtype=bool)
        rewrites = any(f.rewrites_text for f in self.filters) and not self.params.signals_only
        final_texts = list(texts) if rewrites else texts
        for i, (text, language) in enumerate(zip(texts, languages)):
            doc = Doc(text, language or self.params.default_language)
            if not doc.tokens:
                empty[i] = True
                continue
            start = 0
            for heuristic in self.filters:
                signals[i, start : start + len(heuristic.columns)] = heuristic.signals(doc)
                start += len(heuristic.columns)
            if rewrites:
                final_texts[i] = doc.text
        return signals, final_texts, empty


def set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """Add a column, or replace it when the table already has one (a re-run over quality output)."""
    index = table.schema.get_field_index(name)
    if index < 0:
        return table.append_column(name, values)
    return table.set_column(index, name, values)
