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

Profiles (curate.quality.profiles): `profile: books` starts from the settings made for books
instead of web pages, and `sources: {books: books, wiki: {profile: encyclopedic, c4: false}}`
judges the documents of each `source` label by their own settings (a name, or a mapping
like the stage's own). The stage warns when a rule removes more than `warn_removed_share`
of the bytes of a source that is not web.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core import budget, storage
from curate.core.params import build_params, require_fraction
from curate.core.stage import DocumentStage, Verdict
from curate.quality.c4 import C4
from curate.quality.filters import Doc, HeuristicFilter, first_failures
from curate.quality.fineweb import FineWeb
from curate.quality.gopher_quality import GopherQuality
from curate.quality.gopher_repetition import GopherRepetition
from curate.quality.profiles import (
    REMOVED_BYTES,
    REMOVED_LINES,
    SOURCE_BYTES,
    profile_settings,
    source_shares,
    source_warnings,
)

FILTERS = {f.name: f for f in (GopherRepetition, GopherQuality, C4, FineWeb)}  # in the order they run
EMPTY = "empty_text"  # no word at all: nothing for any rule to measure


@dataclass
class QualityParams:
    # each filter: a mapping of thresholds, true for the profile's (or published) defaults, false for off;
    # left out, as the profile says
    gopher_repetition: dict[str, Any] | bool | None = None
    gopher_quality: dict[str, Any] | bool | None = None
    c4: dict[str, Any] | bool | None = None
    fineweb: dict[str, Any] | bool | None = None
    profile: Literal["web", "books", "encyclopedic", "code"] = "web"  # curate.quality.profiles
    sources: dict[str, Any] = field(default_factory=dict)  # source label -> a profile name, or settings like these
    web_sources: list[str] = field(default_factory=lambda: ["web"])  # labels whose bytes web-tuned rules may cut freely
    warn_removed_share: float = 0.25  # a rule removing more of another source's bytes is reported
    default_language: str = "en"  # for stop words, when a document has no `language`
    signals_only: bool = False  # annotate (signals and quality_failed), drop nothing, change no text
    max_doc_bytes: int | None = 32_000_000  # larger texts are dropped as too_large before any signal (null: no limit)

    def __post_init__(self):
        require_fraction("warn_removed_share", self.warn_removed_share)
        for name, cls in FILTERS.items():
            value = getattr(self, name)
            if value is None or isinstance(
                value, (bool, dict)
            ):  # from YAML; once built it holds the filter's Params or False
                value = profile_settings(self.profile, name, value)
                setattr(self, name, build_params(cls.Params, value, name) if value is not False else False)
        for label, spec in self.sources.items():
            if isinstance(spec, str):
                spec = {"profile": spec}
            if isinstance(spec, dict):  # from YAML; once built it holds the source's QualityParams
                if spec.get("sources"):
                    raise ValueError(f"parameter 'sources.{label}' cannot have sources of its own")
                inherited = {
                    "default_language": self.default_language,
                    "signals_only": self.signals_only,
                    "max_doc_bytes": self.max_doc_bytes,
                }
                self.sources[label] = build_params(QualityParams, {**inherited, **spec}, f"sources.{label}")


class QualityStage(DocumentStage):
    Params = QualityParams

    def __init__(self, name: str, params: QualityParams):
        super().__init__(name, params)
        self.filters: list[HeuristicFilter] = [
            cls(getattr(params, name)) for name, cls in FILTERS.items() if getattr(params, name)
        ]
        self.columns = [column for f in self.filters for column in f.columns]
        self.by_source = {label: QualityStage(name, settings) for label, settings in params.sources.items()}

    def setup(self) -> None:
        for heuristic in self.filters:
            heuristic.setup()
        for stage in self.by_source.values():
            stage.setup()

    def process(self, table: pa.Table) -> Verdict:
        sources = table.column("source") if "source" in table.column_names else pa.nulls(table.num_rows, pa.string())
        verdict = self.judge_by_source(table, sources) if self.by_source else self.judge(table)
        return verdict._replace(counters=self.removed_bytes(table, verdict, sources) or None)

    def finalize(self, ctx, stats) -> None:
        """Report the bytes each rule removed from each source that is not web; warn where one took too much."""
        shares = source_shares(stats.counters)
        if not shares:
            return
        warnings = source_warnings(shares, self.params.warn_removed_share)
        storage.write_json(
            ctx.report_url("source_shares.json"),
            {"warn_removed_share": self.params.warn_removed_share, "sources": shares, "warnings": warnings},
        )
        for warning in warnings:
            ctx.warn(f"warning: {self.name}: {warning}")

    def judge_by_source(self, table: pa.Table, sources: pa.ChunkedArray) -> Verdict:
        """Each source's rows judged by its own settings (the rest by the stage's), back in their order. Every
        settings' columns are in the table, null where they were not measured (an empty part gives its columns)."""
        labels = sources.to_numpy(zero_copy_only=False)
        own = np.isin(labels, list(self.by_source))
        parts = [(self, np.flatnonzero(~own))] + [
            (stage, np.flatnonzero(labels == label)) for label, stage in self.by_source.items()
        ]
        verdicts = [stage.judge(table.take(rows)) for stage, rows in parts]
        order = np.argsort(np.concatenate([rows for _, rows in parts]), kind="stable")
        merged = pa.concat_tables([v.table for v in verdicts], promote_options="default").take(order)
        reasons = np.concatenate([np.asarray(v.reasons, dtype=object) for v in verdicts])[order].tolist()
        details = np.concatenate([np.asarray(v.details or [None] * v.table.num_rows, dtype=object) for v in verdicts])[
            order
        ].tolist()
        return Verdict(merged, reasons, details)

    def removed_bytes(self, table: pa.Table, verdict: Verdict, sources: pa.ChunkedArray) -> dict[str, int]:
        """Counters of the bytes read from sources that are not web and of those each rule removed: the text of a
        dropped document under its reason, the lines C4 cut from a kept one under c4.removed_lines."""
        judged = ~np.isin(sources.to_numpy(zero_copy_only=False), self.params.web_sources + [None])
        if not judged.any():
            return {}
        before = pc.binary_length(table.column("text")).to_numpy(zero_copy_only=False)
        after = pc.binary_length(verdict.table.column("text")).to_numpy(zero_copy_only=False)
        counters: dict[str, int] = {}
        for i in np.flatnonzero(judged):
            source, reason = sources[int(i)].as_py(), verdict.reasons[i]
            counters[f"{SOURCE_BYTES}:{source}"] = counters.get(f"{SOURCE_BYTES}:{source}", 0) + int(before[i])
            removed = int(before[i]) if reason is not None else int(before[i] - after[i])
            rule = reason or REMOVED_LINES
            if removed:
                counters[f"{REMOVED_BYTES}:{source}:{rule}"] = (
                    counters.get(f"{REMOVED_BYTES}:{source}:{rule}", 0) + removed
                )
        return counters

    def judge(self, table: pa.Table) -> Verdict:
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
            written = [
                text if reason is None else original for text, original, reason in zip(final_texts, texts, reasons)
            ]
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
