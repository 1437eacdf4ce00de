"""The stage interface.

A pipeline is an ordered list of stages. Work is split into shards; each shard of
each stage is processed independently, on whatever executor runs the pipeline, and
stages never know which executor that is. Three kinds:

- DocumentStage: a filter or annotator. `process(table)` gets an Arrow table of
  documents and returns it (optionally with new columns) plus a reason per row:
  None keeps the row, a short string drops it (datatrove's keep | (drop, reason),
  a batch at a time). The base class reads, writes and counts.
- Stage with its own `run_shard` (extract reads raw files, tokenize writes token
  shards): one task per shard, the same completion records and stats.
- Stage with its own `run` (dedup): several phases, each a parallel map over
  tasks through `ctx.map_shards`, each resumable on its own.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from curate.core import storage
from curate.core.schema import with_rejection

if TYPE_CHECKING:
    from curate.core.runner import StageContext


@dataclass(frozen=True)
class Shard:
    """One unit of work: a name unique within its stage phase and the inputs it reads."""

    name: str
    inputs: tuple[str, ...]


@dataclass
class ShardStats:
    """What one shard of one stage did; summed into the stage's stats."""

    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count

    def add(self, other: "ShardStats") -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.seconds += other.seconds
        for reason, count in other.dropped.items():
            self.drop(reason, count)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ShardStats":
        return cls(**data)


class Verdict(NamedTuple):
    """What DocumentStage.process returns: the table (maybe with new columns) and, per row,
    None to keep it or a short reason to drop it; details are optional free text per row."""

    table: pa.Table
    reasons: list[str | None] | pa.Array
    details: list[str | None] | None = None


@dataclass
class NoParams:
    pass


class Stage:
    """Base of every stage. Subclasses set `type_name` (the YAML `stage:` value) and `Params`."""

    type_name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    cpus: ClassVar[float] = 1.0  # what one shard task needs; the Ray executor asks for it
    memory_gb: ClassVar[float | None] = None  # memory one shard task needs, when known; the Ray executor reserves it

    def __init__(self, name: str, params: Any):
        self.name = name
        self.params = params

    @property
    def config_hash(self) -> str:
        """Identifies this stage's configuration, so a resumed run never mixes in results
        produced under different parameters."""
        payload = json.dumps([self.type_name, dataclasses.asdict(self.params)], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def setup(self) -> None:
        """Load models or tables; called once per worker process before its first shard."""

    def shards(self, ctx: "StageContext") -> list[Shard]:
        """Default: one shard per Parquet file of the previous stage's output."""
        files = [f for url in ctx.inputs for f in storage.list_files(url, (".parquet",))]
        return [Shard(storage_name(f), (f,)) for f in files]

    def run_shard(self, shard: Shard, ctx: "StageContext") -> ShardStats:
        raise NotImplementedError

    def run(self, ctx: "StageContext") -> ShardStats:
        """Default: one parallel, resumable task per shard, then `finalize`."""
        stats = ctx.map_shards(self, "main", "run_shard", self.shards(ctx))
        self.finalize(ctx)
        return stats

    def finalize(self, ctx: "StageContext") -> None:
        """Runs on the driver after every shard is done (e.g. to write a summary)."""


def storage_name(url: str) -> str:
    """A shard's name from its file name: 'shard-00003' from '.../shard-00003.parquet'."""
    base = url.rstrip("/").rsplit("/", 1)[-1]
    return base[: -len(".parquet")] if base.endswith(".parquet") else base


def text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or "text" not in table.column_names:
        return 0
    return int(pc.sum(pc.binary_length(table["text"])).as_py() or 0)


class DocumentStage(Stage):
    """A stage that maps each Parquet shard of documents to a filtered/annotated shard."""

    batch_size: ClassVar[int] = 2048

    def process(self, table: pa.Table) -> Verdict:
        raise NotImplementedError

    def run_shard(self, shard: Shard, ctx: "StageContext") -> ShardStats:
        start = time.perf_counter()
        stats = ShardStats()
        kept = storage.ParquetSink(ctx.output_url(shard.name), always=True)
        rejected = storage.ParquetSink(ctx.rejected_url(shard.name))
        try:
            empty_schema = None
            for table in storage.iter_parquet(shard.inputs, self.batch_size):
                verdict = self.process(table)
                write_verdict(verdict, self.name, kept, rejected, stats)
                stats.docs_in += table.num_rows
                stats.bytes_in += text_bytes(table)
            if kept.schema is None:  # nothing kept: learn the output columns from an empty batch
                empty_schema = self.process(storage.parquet_schema(shard.inputs[0]).empty_table()).table.schema
            kept.close(empty_schema)
            rejected.close()
        except BaseException:
            kept.abort()
            rejected.abort()
            raise
        stats.seconds = time.perf_counter() - start
        return stats


def write_verdict(verdict: Verdict, stage: str, kept: storage.ParquetSink, rejected: storage.ParquetSink, stats: ShardStats) -> None:
    """Split a verdict into kept and rejected rows and count them."""
    table, reasons = verdict.table, pa.array(verdict.reasons, pa.string())
    drop = pc.is_valid(reasons)
    keep_table = table.filter(pc.invert(drop))
    if keep_table.num_rows:
        kept.write(keep_table)
    stats.docs_out += keep_table.num_rows
    stats.bytes_out += text_bytes(keep_table)
    if keep_table.num_rows == table.num_rows:
        return
    drop_table = table.filter(drop)
    drop_reasons = reasons.filter(drop).to_pylist()
    details = None if verdict.details is None else pa.array(verdict.details, pa.string()).filter(drop).to_pylist()
    rejected.write(with_rejection(drop_table, stage, drop_reasons, details))
    for reason in drop_reasons:
        stats.drop(reason)
