"""The stage interface.

A pipeline is an ordered list of stages. Every stage declares its work; the runner
(curate.core.runner and the modules it names) runs it: it skips finished tasks, maps the rest
over the executor, times them, writes their completion records and sums their stats. Stages never know the
executor, never print (ctx.note, ctx.warn) and never read the worker count beyond ctx.node_workers
(per-machine memory and threads). Three kinds:

- DocumentStage: a filter or annotator. `process(table)` gets an Arrow table of
  documents and returns it (optionally with new columns) plus a reason per row:
  None keeps the row, a short string drops it (datatrove's keep | (drop, reason),
  a batch at a time). The runner reads, writes and counts, and runs consecutive
  document stages in one pass per shard.
- Stage with its own `run_shard` (extract reads raw files): its default `phases` is one
  phase 'main', a task per shard; a ShardOutput owns the task's kept/rejected files.
- A stage that declares several phases (curate.core.stage.Phase) in `phases`: task phases
  (a function mapped over tasks: tokenize's token shards, then its validation gather), and,
  in a PhasedStage (dedup), passes over its input documents that the runner fuses with the
  document stages before (a first phase) or after it (a last phase). Each phase resumes
  on its own; a phase after one that redid tasks in this run is redone in full.

Every stage is registered once, by its YAML name and class, in curate.core.registry.STAGES.
Parameter dataclasses only check values; files and models are opened in `check()`
(on the driver, before any work) and `setup()` (once per worker).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from curate.core import storage
from curate.core.registry import stage_name
from curate.core.schema import with_rejection
from curate.core.shard import Shard, ShardStats
from curate.core.jsonl_sink import JsonlSink

if TYPE_CHECKING:
    from curate.core.context import StageContext


class Verdict(NamedTuple):
    """What DocumentStage.process returns: the table (maybe with new columns) and, per row,
    None to keep it or a short reason to drop it; details are optional free text per row;
    counters are what the batch counted besides drops (edits made, benchmark hits), summed by
    name into the stage's stats (ShardStats.counters), so finalize sees them in fused runs too."""

    table: pa.Table
    reasons: list[str | None] | pa.Array
    details: list[str | None] | None = None
    counters: dict[str, int] | None = None


@dataclass
class NoParams:
    pass


class Stage:
    """Base of every stage. Subclasses set `Params` and are listed in curate.core.registry.STAGES."""

    Params: ClassVar[type] = NoParams
    cpus: ClassVar[float] = 1.0  # what one shard task needs; the Ray executor asks for it
    memory_gb: ClassVar[float | None] = None  # memory one shard task needs, when known; the Ray executor reserves it
    source: ClassVar[bool] = (
        False  # makes documents from files (`read`): its documents(shard, output) feeds a fused pass
    )
    writes_documents: ClassVar[bool] = (
        True  # its output folder holds one document file per shard (the runner refuses others there)
    )

    def __init__(self, name: str, params: Any):
        self.name = name
        self.params = params

    @property
    def type_name(self) -> str:
        """The YAML `stage:` value this class is registered under."""
        return stage_name(type(self))

    @property
    def config_hash(self) -> str:
        """Identifies this stage's configuration, so a resumed run never mixes in results
        produced under different parameters."""
        payload = json.dumps([self.type_name, dataclasses.asdict(self.params)], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def check(self) -> None:
        """Validate what the stage will need (files exist, models load, lists parse) on the driver,
        before any work; raise ValueError (or ConfigError) saying what is wrong."""

    def setup(self) -> None:
        """Load models or tables; called once per worker process before its first shard."""

    def shards(self, ctx: "StageContext") -> list[Shard]:
        """Default: one shard per Parquet file of the previous stage's output."""
        files = [f for url in ctx.inputs for f in storage.list_files(url, (".parquet",))]
        return [Shard(storage_name(f), (f,)) for f in files]

    def phases(self, ctx: "StageContext", shards: list[Shard]) -> list["Phase"]:
        """What the runner runs over these shards (`shards(ctx)`, or, for a stage fused after others,
        the names of its input shards; their files may not exist yet then, so read them only to plan).
        Runs on the driver before any work: it may note a plan, write it to scratch, or refuse (raise).
        Default: one phase 'main', run_shard on a worker for each shard."""
        return [Phase("main", run=self.run_shard, tasks=lambda done: shards, cpus=self.cpus, memory_gb=self.memory_gb)]

    def run_shard(self, shard: Shard, ctx: "StageContext") -> ShardStats:
        raise NotImplementedError

    def finalize(self, ctx: "StageContext", stats: ShardStats) -> None:
        """Runs on the driver once every shard of the stage is done, fused or not, with the stage's
        summed stats; a summary goes under ctx.report_dir (OUT/reports/<stage>/), never into the
        data folders. Its rows: ctx.rejected_dir holds its rejected ones, ctx.output_dir the kept
        rows of its pass (its own folder, or the last fused stage's). Runs again on a rerun (from the completion records), so it must be repeatable."""


def storage_name(url: str) -> str:
    """A shard's name from its file name: 'shard-00003' from '.../shard-00003.parquet'."""
    base = url.rstrip("/").rsplit("/", 1)[-1]
    return base[: -len(".parquet")] if base.endswith(".parquet") else base


def text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or "text" not in table.column_names:
        return 0
    return int(pc.sum(pc.binary_length(table["text"])).as_py() or 0)


class DocumentStage(Stage):
    """A filter or annotator of documents. It only says what to do with a batch; the runner
    reads, writes and counts, and runs consecutive document stages in one pass per shard
    (curate.core.planning: fused groups)."""

    batch_size: ClassVar[int] = 2048

    def process(self, table: pa.Table) -> Verdict:
        raise NotImplementedError

    def fusable(self) -> bool:
        """Whether this stage may run in one pass with the document stages around it (False for a
        stage that must see its whole input shard before deciding, see begin_shard)."""
        return True

    def begin_shard(self, shard: Shard) -> None:
        """Called before a shard's first batch when this stage reads the shard itself (not fused)."""


class StageStep:
    """A document stage's part of a pass over a shard: its verdict on each batch (see PhasedStage
    for the other kind of step, a phase's)."""

    def __init__(self, stage: DocumentStage):
        self.stage = stage

    def __enter__(self) -> "StageStep":
        return self

    def __exit__(self, *error) -> None:
        pass

    def __call__(self, table: pa.Table, output: "ShardOutput") -> pa.Table:
        output.read(table)
        return output.verdict(self.stage.process(table))


@dataclass
class Phase:
    """One phase of a stage. Either a task phase: `run(task, ctx) -> ShardStats`, a method of the
    stage (called on the worker's copy, set up once per worker), for each of `tasks(done)` (made
    when the phase starts; `done` holds the summed stats of the stage's earlier phases by name);
    or, in a PhasedStage, with `documents`, a pass over each of the stage's input shards:
    `documents(shard, ctx)` gives a step (a context manager: exit without error commits its files,
    with one aborts them; called with each batch and its ShardOutput, it counts what it reads
    and keeps and returns the kept rows). Document phases fuse into one read with the document
    stages before the stage's first phase and after its last. The stage's stats are those of its
    phase with `stage_stats`, or else of its last phase."""

    name: str
    run: Callable | None = None
    tasks: Callable[[dict[str, ShardStats]], list[Shard]] | None = None
    documents: Callable | None = None
    changes_rows: bool = True  # False: a document phase that only reads (writes scratch), its pass keeps every row
    cpus: float = 1.0
    memory_gb: float | None = None
    stage_stats: bool = False  # its stats are the stage's (tokenize's shards, not the gather after them)


class PhasedStage(Stage):
    """A stage of several phases over its whole input (dedup: signatures, candidate pairs,
    clusters, filter) whose first and last may be passes over the documents, fused with the
    document stages around it. It declares them in `phases`; the runner runs them. Its scratch
    (ctx.work_url) is removed once the stage is done."""

    def fusable(self) -> bool:
        """Whether its first and last phases are document phases that may share a pass with the
        document stages around it."""
        return False


class ShardOutput:
    """What one task of one stage writes: kept documents (optional: a stage fused before another
    keeps nothing on disk), rejected documents with stage/reason/detail, and the counts of both.
    Used as a context manager: on error every file it started is removed (abort), on success
    they are moved into place (close)."""

    def __init__(self, stage: str, kept_url: str | None, rejected_url: str, kept_always: bool = True):
        self.stage = stage
        self.kept = sink(kept_url, always=kept_always) if kept_url else None
        self.rejected = sink(rejected_url)
        self.stats = ShardStats()
        self.empty_schema: pa.Schema | None = None  # the kept schema when no row is kept
        self._start = time.perf_counter()

    def __enter__(self) -> "ShardOutput":
        return self

    def __exit__(self, kind, error, trace) -> None:
        sinks = [s for s in (self.kept, self.rejected) if s is not None]
        if kind is None:
            for sink in sinks:
                sink.close(self.empty_schema) if sink is self.kept else sink.close()
            self.stats.seconds += time.perf_counter() - self._start
        else:
            for sink in sinks:
                sink.abort()

    def read(self, table: pa.Table) -> None:
        self.stats.docs_in += table.num_rows
        self.stats.bytes_in += text_bytes(table)

    def keep(self, table: pa.Table) -> None:
        if table.num_rows and self.kept is not None:
            self.kept.write(table)
        self.stats.docs_out += table.num_rows
        self.stats.bytes_out += text_bytes(table)

    def reject(self, table: pa.Table, reasons: list[str], details: list[str | None] | None = None) -> None:
        if table.num_rows:
            self.rejected.write(with_rejection(table, self.stage, reasons, details))
        for reason in reasons:
            self.stats.drop(reason)

    def verdict(self, verdict: Verdict) -> pa.Table:
        """Split a verdict into kept and rejected rows, write and count them; returns the kept rows."""
        table, reasons = verdict.table, pa.array(verdict.reasons, pa.string())
        drop = pc.is_valid(reasons)
        keep_table = table.filter(pc.invert(drop))
        self.keep(keep_table)
        for name, value in (verdict.counters or {}).items():
            self.stats.count(name, int(value))
        if keep_table.num_rows < table.num_rows:
            details = (
                None if verdict.details is None else pa.array(verdict.details, pa.string()).filter(drop).to_pylist()
            )
            self.reject(table.filter(drop), reasons.filter(drop).to_pylist(), details)
        return keep_table


def sink(url: str, always: bool = False):
    """The writer a file name asks for: JSON lines for '.jsonl.gz' (a pipeline's output_format), else Parquet."""
    return JsonlSink(url, always) if url.endswith(".jsonl.gz") else storage.ParquetSink(url, always)
