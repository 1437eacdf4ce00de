"""The classify stage: score documents with a fastText classifier, then keep, filter or rank.

    - stage: classify
      name: dclm                 # the score column is <name>_score: here dclm_score
      model: models/dclm.bin     # from `curate train-classifier`, or any fastText model
      positive_label: positive   # the label whose probability is the score
      threshold: 0.5             # drop documents scoring below it; or
      # keep_fraction: 0.1       # keep each shard's best-scoring 10%; neither: annotate only

`keep_fraction` works per shard, not over the whole corpus: each shard keeps its top
round(fraction x documents) by score (ties broken by document order). When shards are
big and alike (extract groups pages by file) this is close to a global top fraction;
a global cut would need a second pass over every score first, and a threshold taken
from one run's scores (`<name>_score` quantiles) gives the same result reproducibly.
Dropped documents are rejected with reason `<name>.below_threshold` or
`<name>.below_top_fraction` and the score in the detail. Texts are scored whole, on one
line, normalised as the model's NAME.json says; an empty or whitespace-only text scores 0.
The model is loaded when the pipeline is read, so a wrong path, a file that is not a
fastText model or a label the model lacks is a ConfigError before any work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curate.classify.model import POSITIVE, load_checked, load_classifier
from curate.core import storage
from curate.core.params import absolute_path, require_fraction
from curate.core.stage import DocumentStage, Shard, Verdict


@dataclass
class ClassifyParams:
    model: str  # local path of a fastText .bin/.ftz model
    positive_label: str = POSITIVE
    threshold: float | None = None
    keep_fraction: float | None = None

    def __post_init__(self):
        self.model = absolute_path(self.model)
        require_fraction("threshold", self.threshold)
        require_fraction("keep_fraction", self.keep_fraction)
        if self.threshold is not None and self.keep_fraction is not None:
            raise ValueError("give 'threshold' or 'keep_fraction', not both")


class ClassifyStage(DocumentStage):
    Params = ClassifyParams

    def check(self) -> None:
        load_checked(self.params.model, self.params.positive_label)  # a wrong path or file fails before any work

    def setup(self) -> None:
        self.classifier = load_classifier(self.params.model, self.params.positive_label)
        self.shard_scores = self.shard_keep = None  # keep_fraction: this shard's scores and decisions, row by row
        self.cursor = 0

    @property
    def score_column(self) -> str:
        return f"{self.name}_score"

    def fusable(self) -> bool:
        return self.params.keep_fraction is None  # the cut needs every score of its input shard first

    def begin_shard(self, shard: Shard) -> None:
        if self.params.keep_fraction is not None:  # the cut needs every score of the shard: score it all first
            scores = [
                self.classifier.scores(t["text"].to_pylist())
                for t in storage.iter_parquet(shard.inputs, self.batch_size)
            ]
            self.shard_scores = np.concatenate(scores or [np.zeros(0, np.float32)])
            self.shard_keep = top_fraction(self.shard_scores, self.params.keep_fraction)
            self.cursor = 0

    def process(self, table: pa.Table) -> Verdict:
        if self.params.keep_fraction is not None:  # scored in begin_shard; batches come again in the same order
            rows = slice(self.cursor, self.cursor + table.num_rows)
            self.cursor += table.num_rows
            table = with_score(table, self.score_column, self.shard_scores[rows])
            why = f"not in the shard's top {self.params.keep_fraction:g}"
            return self.verdict(table, self.shard_scores[rows], self.shard_keep[rows], "below_top_fraction", why)
        scores = self.classifier.scores(table["text"].to_pylist())
        table = with_score(table, self.score_column, scores)
        if self.params.threshold is not None:
            keep = scores >= self.params.threshold
            return self.verdict(table, scores, keep, "below_threshold", f"< threshold {self.params.threshold:g}")
        return Verdict(table, [None] * table.num_rows)

    def verdict(self, table: pa.Table, scores: np.ndarray, keep: np.ndarray, reason: str, why: str) -> Verdict:
        reasons = [None if k else f"{self.name}.{reason}" for k in keep]
        details = [None if k else f"score {s:.4f} {why}" for k, s in zip(keep, scores)]
        return Verdict(table, reasons, details)


def with_score(table: pa.Table, column: str, scores: np.ndarray) -> pa.Table:
    """The table with `column` set to the scores (replaced if an earlier run added it)."""
    if column in table.column_names:
        table = table.drop_columns([column])
    return table.append_column(pa.field(column, pa.float32()), pa.array(scores, pa.float32()))


def top_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """True for the round(fraction x n) highest scores; ties go to the earlier document."""
    keep = np.zeros(len(scores), bool)
    count = int(fraction * len(scores) + 0.5)
    keep[np.argsort(-scores, kind="stable")[:count]] = True
    return keep
