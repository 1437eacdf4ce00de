"""Runs a pipeline's stages over shards with an executor, resumably.

Output layout under the pipeline's output folder:

    pipeline.yaml                           the resolved pipeline of the last run (`curate run` reruns it)
    <stage>/<shard>.parquet                 kept documents (written atomically)
    rejected/<stage>/<shard>.parquet        dropped documents with stage, reason, detail
    stats/<stage>.json                      the stage's summed stats
    reports/<stage>/                        a stage's own summary (dedup clusters, edit counts, decontamination),
                                            written by its finalize after every shard, fused or not
    _state/<group>/<phase>/<shard>.json     completion record: the shard's stats and input files, written last
    _state/<group>/work/                    scratch of multi-phase stages (dedup signatures, tokenize's held-out pieces)

A stage folder holds only its Parquet files, so pyarrow.dataset, pandas, DuckDB or
datasets.load_dataset read it as it is. A shard counts as done only when its completion
record exists, so a run killed at any moment and started again redoes exactly the
unfinished shards: nothing lost, nothing duplicated, the same output as an uninterrupted run.

Every stage declares what runs (curate.core.stage: its `phases`, by default one task per shard
as phase 'main'; a document stage's `process`); only this module maps tasks over the executor.

Fused passes: consecutive document stages (filters, annotators) form a group that runs in
one pass per shard: read once, apply each stage's `process` in order, write the final kept
documents (under the group's last stage), each stage's rejected rows and stats. Their
<group> is their names joined by '+'. A phased stage (dedup) joins the group too: its first
phase (signatures) runs in the pass of the stages before it, which writes their kept documents
to scratch (_state/<group>/work/docs-<phase>/) beside the signatures; its task phases run
between passes; its last phase (filter) starts the pass of the stages after it, which reads
that scratch. So `langid -> quality -> dedup -> toxicity` reads the corpus once before dedup
and once after. A group of plain document stages records its pass as phase 'main'; with a
phased stage, each pass is named by its phases ('signatures', 'filter'). With `materialize`
every stage is a group of its own and writes its kept output, as needed to restart from a
middle stage with --stage.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import posixpath
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import yaml
from tqdm import tqdm

from curate.core import storage
from curate.core.executor import Executor, TaskFailure
from curate.core.params import ConfigError
from curate.core.pipeline import Pipeline
from curate.core.stage import DocumentStage, Phase, PhasedStage, Shard, ShardOutput, ShardStats, Stage, StageStep

STATE = "_state"


class StageFailed(RuntimeError):
    """Some shards of a stage failed; the others are done and a rerun retries only these."""


@dataclass
class StageContext:
    """Where a stage (or a fused group of stages) reads and writes. Picklable: it travels with every task."""

    stage_name: str
    inputs: list[str]
    output_dir: str
    rejected_dir: str
    state_dir: str  # completion records and scratch, outside the data folders
    node_workers: int = 1  # tasks that may run at once on one machine (for per-machine memory and threads)
    executor: Executor | None = field(default=None, repr=False, compare=False)
    progress: bool = True
    allow_changed_inputs: bool = False
    state_root: str = ""  # inputs under it are the runner's own scratch, not user data: not fingerprinted
    report_dir: str = ""  # OUT/reports/<stage>/: the stage's summary files, outside the data folders
    kept_format: str = "parquet"  # the pipeline's output_format for its last stage; Parquet where a later stage reads
    rejected_format: str = "parquet"  # the pipeline's output_format (no stage reads rejected rows)

    def __getstate__(self):
        return {**self.__dict__, "executor": None}

    def output_url(self, shard_name: str, suffix: str | None = None) -> str:
        return storage.join(self.output_dir, shard_name + (suffix or "." + self.kept_format))

    def rejected_url(self, shard_name: str, stage: str | None = None) -> str:
        folder = self.rejected_dir if stage is None else storage.join(posix_parent(self.rejected_dir), stage)
        return storage.join(folder, shard_name + "." + self.rejected_format)

    def work_url(self, *parts: str) -> str:
        """Scratch space for multi-phase stages (e.g. dedup signatures)."""
        return storage.join(self.state_dir, "work", *parts)

    def report_url(self, *parts: str) -> str:
        return storage.join(self.report_dir, *parts)

    def done_url(self, phase: str, shard_name: str) -> str:
        return storage.join(self.state_dir, phase, shard_name + ".json")

    def for_stage(self, name: str) -> "StageContext":
        """This context as one stage of its group sees it: its own rejected and report folders."""
        return dataclasses.replace(self, stage_name=name, rejected_dir=storage.join(posix_parent(self.rejected_dir), name),
                                   report_dir=storage.join(posix_parent(self.report_dir), name))

    def note(self, text: str) -> None:
        """A line for the user (plans, figures); stages call this instead of printing."""
        print(text, flush=True)

    def warn(self, text: str) -> None:
        """A warning for the user (inputs passed over), on stderr; stages call this instead of printing."""
        print(text, file=sys.stderr, flush=True)

    def run_phase(self, config_hash: str, phase: str, shards: list[Shard], fn, tasks: list, cpus: float,
                  memory_gb: float | None, redo: bool = False) -> tuple[dict[str, ShardStats], int]:
        """fn(task) for every shard without a completion record (every shard, with redo: an earlier
        phase changed what this one reads); each returns stats by stage name. Returns the sums over
        every shard of the phase, done now or before, and how many tasks ran now."""
        names = [s.name for s in shards]
        if len(set(names)) != len(names):
            raise ValueError(f"stage {self.stage_name}, phase {phase}: shard names are not unique")
        totals: dict[str, ShardStats] = {}
        todo, changed = [], []
        for shard, task in zip(shards, tasks):
            record = None if redo else self._read_done(config_hash, phase, shard)
            if record is not None and record.get("inputs") != self.fingerprint(shard):
                changed.append(shard.name)
                record = None
            if record is None:
                todo.append(task)
            else:
                add_stats(totals, {name: ShardStats.from_dict(d) for name, d in record["stats"].items()})
        if changed and not self.allow_changed_inputs:
            raise ConfigError(f"stage '{self.stage_name}' ({phase}): the input files of {len(changed)} finished shard(s) "
                              f"changed since they were done (other files, or their size or modification time), e.g. {changed[:3]}; "
                              f"rerun with --allow-changed-inputs to redo exactly those, or use another --output")
        failures = []
        label = self.stage_name + ("" if phase == "main" else f" [{phase}]")
        with tqdm(total=len(shards), initial=len(shards) - len(todo), desc=label, unit="shard",
                  disable=not self.progress, file=sys.stderr) as bar:
            for index, result in self.executor.map_unordered(fn, todo, cpus=cpus, memory_gb=memory_gb):
                if isinstance(result, TaskFailure):
                    failures.append((todo[index], result))
                else:
                    add_stats(totals, result)
                    bar.set_postfix(docs=sum(s.docs_in for s in result.values()), refresh=False)
                bar.update(1)
        if failures:
            lines = "\n".join(f"  {task_shard(task).name}: {failure.error}" for task, failure in failures)
            raise StageFailed(f"stage '{self.stage_name}' ({phase}): {len(failures)} of {len(shards)} shards failed; "
                              f"the rest are done and a rerun retries only these:\n{lines}\n\n"
                              f"first traceback:\n{failures[0][1].traceback}")
        return totals, len(todo)

    def fingerprint(self, shard: Shard) -> list:
        """[url, size, mtime or etag] of each input file the user gave (scratch files are not checked).
        An input is a URL, or part of a file with its `url` (the read stage's Piece: a byte range, row groups)."""
        urls = dict.fromkeys(getattr(item, "url", item) for item in shard.inputs)  # a file once, however many pieces
        return [file_fingerprint(url) for url in urls if not (self.state_root and url.startswith(self.state_root))]

    def _read_done(self, config_hash: str, phase: str, shard: Shard) -> dict | None:
        url = self.done_url(phase, shard.name)
        if not storage.exists(url):
            return None
        record = storage.read_json(url)
        if record.get("config_hash") != config_hash:
            raise ConfigError(
                f"{self.output_dir}: holds results of stage '{self.stage_name}' made with different parameters "
                f"({url}); use another --output, or delete that folder and {self.state_dir} to redo the stage")
        return record

    def write_done(self, config_hash: str, phase: str, shard: Shard, stats: dict[str, ShardStats]) -> None:
        storage.write_json(self.done_url(phase, shard.name), {
            "shard": shard.name, "phase": phase, "config_hash": config_hash, "inputs": self.fingerprint(shard),
            "stats": {name: s.to_dict() for name, s in stats.items()}})


def file_fingerprint(url: str) -> list:
    fs, path = storage.filesystem(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return [url, None, None]
    # an object store's ETag first: it changes with the content, where a copy may keep LastModified's second
    version = next((info[k] for k in ("ETag", "etag", "mtime", "LastModified", "last_modified", "created") if info.get(k)), None)
    return [url, info.get("size"), str(version) if version is not None else None]


def posix_parent(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[0] if "://" in url else os.path.dirname(url.rstrip("/"))


def task_shard(task) -> Shard:
    return next(item for item in task if isinstance(item, Shard))


def add_stats(totals: dict[str, ShardStats], stats: dict[str, ShardStats]) -> None:
    for name, s in stats.items():
        totals.setdefault(name, ShardStats()).add(s)


# Stages already set up in this worker process, by (stage name, config hash).
_ready_stages: dict[tuple[str, str], Stage] = {}


def ready(stage: Stage) -> Stage:
    key = (stage.name, stage.config_hash)
    if key not in _ready_stages:
        stage.setup()
        _ready_stages[key] = stage
    return _ready_stages[key]


@dataclass
class Step:
    """One stage's part of a pass over a shard: a document stage's verdicts (make is None), or a
    phased stage's document phase (make is its Phase.documents). Picklable: it travels with every task."""

    key: str  # the name its stats are summed under: the stage's, or 'stage:phase' for a phase before its stage's last
    stage: Stage
    make: Callable | None = None
    phase: str = ""

    def open(self, shard: Shard, ctx: "StageContext"):
        return StageStep(ready(self.stage)) if self.make is None else self.make(shard, ctx.for_stage(self.stage.name))


def run_pass_task(task) -> dict[str, ShardStats]:
    """One shard through one pass: read once, each batch through every step in order; each stage
    writes its rejected rows, the last step's kept rows go to kept_url (None: nothing kept on disk)."""
    steps, shard, ctx, config_hash, phase, kept_url = task
    # a reader (source) makes the documents; used as sent, since it carries this run's plan (its schema)
    source = steps[0].stage if steps[0].stage.source else None
    filters = steps[1:] if source else steps
    if filters and filters[0].make is None:
        ready(filters[0].stage).begin_shard(shard)
    outputs = [ShardOutput(s.stage.name, kept_url if s is steps[-1] else None, ctx.rejected_url(shard.name, s.stage.name))
               for s in steps]
    seconds, task_start = [0.0] * len(steps), time.perf_counter()
    with contextlib.ExitStack() as entered:  # any error aborts every file the task started
        for output in outputs:
            entered.enter_context(output)
        handlers = [entered.enter_context(step.open(shard, ctx)) for step in filters]
        first = len(steps) - len(filters)
        tables = source.documents(shard, outputs[0]) if source else \
            storage.iter_parquet(shard.inputs, getattr(filters[0].stage, "batch_size", DocumentStage.batch_size))
        for table in tables:
            for i, (handler, output) in enumerate(zip(handlers, outputs[first:]), start=first):
                start = time.perf_counter()
                table = handler(table, output)
                seconds[i] += time.perf_counter() - start
        if kept_url and outputs[-1].kept.schema is None:  # nothing kept: learn the output columns from an empty batch
            table = (source.schema if source else storage.parquet_schema(shard.inputs[0])).empty_table()
            for handler, output in zip(handlers, outputs[first:]):
                table = handler(table, output)
            outputs[-1].empty_schema = table.schema
    if source:  # reading is what the pass spent outside the filters
        seconds[0] = time.perf_counter() - task_start - sum(seconds[1:])
    stats = {}
    for step, output, spent in zip(steps, outputs, seconds):
        output.stats.seconds = spent
        stats[step.key] = output.stats
    ctx.write_done(config_hash, phase, shard, stats)
    return stats


def run_phase_task(task) -> dict[str, ShardStats]:
    """One task of a stage's task phase, in a worker: the stage's method on the worker's set-up copy
    of the stage, then the task's completion record."""
    stage, method, key, shard, ctx, phase = task
    stats = {key: getattr(ready(stage), method)(shard, ctx)}
    ctx.write_done(stage.config_hash, phase, shard, stats)
    return stats


@dataclass
class StageReport:
    name: str
    stats: ShardStats
    wall_seconds: float
    fused_with: list[str] = field(default_factory=list)  # the stages of its fused pass, when more than itself
    materialized: bool = True  # whether OUT/<name>/ holds its kept documents

    def to_dict(self) -> dict:
        stats = self.stats
        return {"stage": self.name, **stats.to_dict(), "wall_seconds": round(self.wall_seconds, 3),
                "docs_per_second": round(stats.docs_in / self.wall_seconds, 1) if self.wall_seconds else None,
                "fused_with": self.fused_with, "materialized": self.materialized}


@dataclass
class RunOptions:
    progress: bool = True
    materialize: bool = False  # every stage writes its kept output (otherwise only a fused group's last)
    allow_changed_inputs: bool = False
    stage_input: list[str] | None = None  # with only_stage: read these instead of the previous stage's output


def groups(pipeline: Pipeline, materialize: bool) -> list[list[int]]:
    """Indices of the stages that run together: runs of fusable document stages and phased stages
    (dedup), the rest alone."""
    def fusable(stage: Stage) -> bool:
        return isinstance(stage, (DocumentStage, PhasedStage)) and stage.fusable() and not materialize

    result: list[list[int]] = []
    for index, stage in enumerate(pipeline.stages):
        group = [pipeline.stages[i] for i in result[-1]] if result else []
        before = group[-1] if group else None
        joins = before and fusable(stage) and (fusable(before) or (before.source and not materialize))
        if joins and isinstance(stage, PhasedStage) and group[0].source:
            joins = False  # phases plan from Parquet input files, which a reader's pieces are not
        if joins:
            result[-1].append(index)
        else:
            result.append([index])
    return result


def group_context(pipeline: Pipeline, indices: list[int], executor: Executor, options: RunOptions) -> StageContext:
    stages = [pipeline.stages[i] for i in indices]
    if options.stage_input is not None:
        inputs = options.stage_input
    else:
        inputs = pipeline.inputs if indices[0] == 0 else [storage.join(pipeline.output, pipeline.stages[indices[0] - 1].name)]
    label = "+".join(s.name for s in stages)
    final = stages[-1] is pipeline.stages[-1]  # its kept output is the run's result: written as output_format
    return StageContext(label, inputs, storage.join(pipeline.output, stages[-1].name),
                        storage.join(pipeline.output, "rejected", stages[-1].name),
                        storage.join(pipeline.output, STATE, label), executor.node_workers, executor,
                        options.progress, options.allow_changed_inputs, storage.join(pipeline.output, STATE),
                        storage.join(pipeline.output, "reports", stages[-1].name),
                        kept_format=pipeline.output_format if final else "parquet", rejected_format=pipeline.output_format)


def stage_context(pipeline: Pipeline, index: int, executor: Executor, progress: bool = True) -> StageContext:
    """The context one stage runs in on its own (materialised)."""
    return group_context(pipeline, [index], executor, RunOptions(progress=progress))


def require_finished(pipeline: Pipeline, index: int, reader: str) -> None:
    """A stage reads its predecessor's folder only once that stage finished (its stats are written
    after its last shard's completion record) and wrote its kept output (not fused into a later one)."""
    stage = pipeline.stages[index]
    stats_url = storage.join(pipeline.output, "stats", f"{stage.name}.json")
    folder = storage.join(pipeline.output, stage.name)
    if not storage.exists(stats_url):
        raise ConfigError(f"stage '{reader}' reads the output of stage '{stage.name}' at {folder}, which has not "
                          f"finished (no {stats_url}): run that stage first")
    if not storage.read_json(stats_url).get("materialized", True):
        raise ConfigError(f"stage '{reader}' reads the output of stage '{stage.name}', which ran fused with the next "
                          f"stage and wrote no {folder}: rerun with --materialize, or name the input with --input")


def run_group(pipeline: Pipeline, indices: list[int], executor: Executor, options: RunOptions) -> list[StageReport]:
    stages = [pipeline.stages[i] for i in indices]
    ctx = group_context(pipeline, indices, executor, options)
    if indices[0] > 0 and options.stage_input is None:
        require_finished(pipeline, indices[0] - 1, reader=stages[0].name)
    start = time.perf_counter()
    # OUT/read written for `--stage X --input`: X reads this run's shards by name, so an older file there is never read
    scratch = options.stage_input is not None and stages[-1].source
    totals = run_stages(stages, ctx, refuse_stale_files=stages[-1].writes_documents and not scratch)
    for stage in stages:  # each stage's summary, from its summed stats; its rows lie in its rejected folder and ctx.output_dir
        stage.finalize(ctx.for_stage(stage.name), totals.get(stage.name, ShardStats()))
    if any(isinstance(s, PhasedStage) for s in stages):  # their scratch (signatures, pairs, documents between passes)
        storage.remove_tree(ctx.work_url())
    # Every shard is done and summarised, so nothing writes here any more: temporaries are leftovers of killed attempts.
    for folder in [ctx.output_dir, ctx.state_dir] + [storage.join(pipeline.output, kind, s.name) for s in stages for kind in ("rejected", "reports")]:
        storage.remove_temporaries(folder)
    wall = time.perf_counter() - start
    spent = sum(totals.get(s.name, ShardStats()).seconds for s in stages) or 1.0
    reports = []
    for stage in stages:
        stats = totals.get(stage.name, ShardStats())
        share = wall if len(stages) == 1 else wall * stats.seconds / spent  # a fused pass's time, split by process time
        names = [s.name for s in stages] if len(stages) > 1 else []
        report = StageReport(stage.name, stats, share, names, stage is stages[-1])
        storage.write_json(storage.join(pipeline.output, "stats", f"{stage.name}.json"), report.to_dict())
        reports.append(report)
    return reports


@dataclass
class Pass:
    """Steps that run in one pass per shard; its kept rows go to the next pass, or the group's output."""

    steps: list[Step] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)  # phase names of phased stages in it (names its records)
    changes_rows: bool = False

    def add(self, step: Step, phase: Phase | None = None) -> None:
        self.steps.append(step)
        if phase is not None:
            self.phases.append(phase.name)
        self.changes_rows |= phase is None or phase.changes_rows


def segments(stages: list[Stage], ctx: StageContext, shards: list[Shard]) -> list:
    """A group as passes and task phases in order: consecutive document steps (and a source that
    makes the documents) share a pass; a stage's task phase (dedup's candidate pairs, extract's
    or tokenize's shards) ends the pass before it."""
    result, current = [], Pass()
    for stage in stages:
        if isinstance(stage, DocumentStage) or stage.source:
            current.add(Step(stage.name, stage))
            continue
        phases = stage.phases(ctx.for_stage(stage.name), shards)
        counted = next((p for p in phases if p.stage_stats), phases[-1] if phases else None)
        for phase in phases:
            key = stage.name if phase is counted else f"{stage.name}:{phase.name}"
            if phase.documents is not None:
                current.add(Step(key, stage, phase.documents, phase.name), phase)
                continue
            if current.steps:
                result.append(current)
                current = Pass()
            result.append((key, stage, phase))
    return result + ([current] if current.steps else [])


def run_stages(stages: list[Stage], ctx: StageContext, refuse_stale_files: bool) -> dict[str, ShardStats]:
    """A group's stages, in passes over the documents and task phases between them (see segments),
    over the first stage's shards: Parquet documents, a reader's pieces (the `read` stage), raw
    files (extract). Intermediate documents (kept rows of a pass before a task phase) are scratch
    under ctx.work_url. A phase after one of its stage that ran tasks now is redone in full: what
    it reads changed (a new or changed input shard), so its old records no longer hold."""
    shards = stages[0].shards(ctx)
    if refuse_stale_files:
        refuse_stale(ctx, shards)
    parts = segments(stages, ctx, shards)
    phased = any(isinstance(s, PhasedStage) for s in stages)
    totals: dict[str, ShardStats] = {}
    done: dict[str, dict[str, ShardStats]] = {}  # each stage's phases' sums, by phase name
    changed: set[str] = set()  # stages whose earlier phases ran tasks in this run
    seconds = {}
    for part in parts:
        start = time.perf_counter()
        if isinstance(part, Pass):
            label = "+".join(part.phases) if phased else "main"
            folder = ctx.output_dir if part is parts[-1] else ctx.work_url("docs-" + label) if part.changes_rows else None
            phased_steps = [step for step in part.steps if step.phase]
            sums, ran = run_pass(part, label, shards, ctx, folder, any(s.stage.name in changed for s in phased_steps))
            for step in phased_steps:
                done.setdefault(step.stage.name, {})[step.phase] = sums.get(step.key, ShardStats())
                if ran:
                    changed.add(step.stage.name)
            if folder:  # the next pass reads what this one kept
                shards = [Shard(shard.name, (kept_url(ctx, folder, shard.name),)) for shard in shards]
        else:
            key, stage, phase = part
            label, stage_ctx = phase.name, ctx.for_stage(stage.name)
            work = phase.tasks(done.get(stage.name, {}))
            tasks = [(stage, phase.run.__name__, key, task, stage_ctx, phase.name) for task in work]
            sums, ran = stage_ctx.run_phase(stage.config_hash, phase.name, work, run_phase_task, tasks, phase.cpus,
                                            phase.memory_gb, redo=stage.name in changed)
            done.setdefault(stage.name, {})[phase.name] = sums.get(key, ShardStats())
            if ran:
                changed.add(stage.name)
        add_stats(totals, sums)
        seconds[label] = time.perf_counter() - start
    if len(parts) > 1:
        ctx.note(f"{ctx.stage_name} phases: " + ", ".join(f"{name} {s:.1f}s" for name, s in seconds.items()))
    return {s.name: totals.get(s.name, ShardStats()) for s in stages}


def refuse_stale(ctx: StageContext, shards: list[Shard]) -> None:
    """Stale output is never used: a file in the group's output folder that no shard of this run writes
    (an earlier run's, on other inputs) would be read beside this run's by the next stage or an export."""
    names = {posixpath.basename(ctx.output_url(shard.name)) for shard in shards}
    stale = [f for f in storage.list_files(ctx.output_dir) if posixpath.basename(f) not in names and not is_stage_report(f)]
    if stale:
        raise ConfigError(f"{ctx.output_dir} holds {len(stale)} file(s) of an earlier run that no shard of this run "
                          f"writes, e.g. {stale[0]}; a later stage would read them with this run's documents: use "
                          f"another --output, or delete them")


def run_pass(part: Pass, label: str, shards: list[Shard], ctx: StageContext, folder: str | None,
             redo: bool) -> tuple[dict[str, ShardStats], int]:
    """One pass over every shard; its kept rows go to folder (None: a pass that only reads)."""
    stages = list({id(s.stage): s.stage for s in part.steps}.values())
    config_hash = stages[0].config_hash if len(stages) == 1 else combined_hash(stages)
    tasks = [(part.steps, shard, ctx, config_hash, label, folder and kept_url(ctx, folder, shard.name)) for shard in shards]
    return ctx.run_phase(config_hash, label, shards, run_pass_task, tasks, max(s.cpus for s in stages),
                         sum(s.memory_gb or 0 for s in stages) or None, redo)


def kept_url(ctx: StageContext, folder: str, shard_name: str) -> str:
    """The group's output file (in the pipeline's output_format), or a scratch Parquet file between passes."""
    return ctx.output_url(shard_name) if folder == ctx.output_dir else storage.join(folder, shard_name + ".parquet")


def combined_hash(stages: list[Stage]) -> str:
    return hashlib.sha256(":".join(s.config_hash for s in stages).encode()).hexdigest()[:16]


def resolved_pipeline(pipeline: Pipeline) -> dict:
    """The pipeline as run, in the shape of a pipeline file: every parameter with its value."""
    stages = [{"stage": s.type_name, "name": s.name, **dataclasses.asdict(s.params)} for s in pipeline.stages]
    resolved = {"name": pipeline.name, "input": list(pipeline.inputs), "output": pipeline.output}
    if pipeline.has_reader:  # back as the key it came from, so loading the file inserts the read stage again
        resolved["reader"] = {k: v for k, v in stages.pop(0).items() if k not in ("stage", "name")}
    return {**resolved, "output_format": pipeline.output_format, "stages": stages}


def write_resolved_pipeline(pipeline: Pipeline) -> None:
    """OUTPUT/pipeline.yaml, so a report shows the thresholds that produced this output. A second pipeline
    adding stages to the folder (the demo's tokenize step) keeps the first's stages, name and input."""
    url = storage.join(pipeline.output, "pipeline.yaml")
    resolved = resolved_pipeline(pipeline)
    if storage.exists(url):
        with storage.fsspec.open(url, "r", encoding="utf-8") as f:
            earlier = yaml.safe_load(f) or {}
        names = {s["name"] for s in resolved["stages"]}
        resolved["stages"] = [s for s in earlier.get("stages", []) if s.get("name") not in names] + resolved["stages"]
        resolved.update({k: earlier[k] for k in ("name", "input") if k in earlier})
        if "reader" in earlier and "reader" not in resolved:
            resolved = {"reader": earlier["reader"], **resolved}
    text = yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
    with storage.atomic_path(url) as temporary:
        with storage.fsspec.open(temporary, "w", encoding="utf-8") as f:
            f.write(text)


def documents_problem(inputs: list[str]) -> str | None:
    """What keeps inputs from being documents in the project's schema (Parquet with its columns), or None.
    No file at all is no problem here: the run reads 0 documents and its summary says so loudly."""
    from curate.core.schema import DOCUMENT_SCHEMA

    files = [f for url in inputs for f in storage.list_files(url) if not is_stage_report(f)]
    other = [f for f in files if not f.endswith(".parquet")]
    if other:
        return f"{', '.join(inputs)} holds {len(other)} file(s) not Parquet, e.g. {other[0]}"
    if not files:
        return None
    missing = set(DOCUMENT_SCHEMA.names) - set(storage.parquet_schema(files[0]).names)
    return f"{files[0]} is Parquet without the document columns {', '.join(sorted(missing))}" if missing else None


def is_stage_report(url: str) -> bool:
    """A stage's own report beside its documents (OUT/dedup/report/clusters.json)."""
    return url.endswith(".json") and url.rstrip("/").rsplit("/", 2)[-2:-1] == ["report"]


def stage_input_plan(pipeline: Pipeline, index: int, inputs: list[str]) -> tuple[Pipeline, list[tuple[list[int], list[str]]]]:
    """What runs for `--stage NAME --input PATH`, as (stage indices, inputs) steps: NAME alone on PATH when
    PATH holds documents in the project's schema (Parquet); else PATH read through the pipeline's reader (or,
    without one, a reader that infers the format from suffixes, with the source of the pipeline's extract
    stage): fused before NAME when NAME is a document stage, else written to OUT/read first for NAME (dedup,
    tokenize, ...) to read. The pipeline returned holds that reader."""
    from curate.read.plan import plan
    from curate.read.stage import ReadStage

    if documents_problem(inputs) is None:
        return pipeline, [([index], inputs)]
    if not isinstance(pipeline.stages[0], ReadStage):  # documents labelled as what the pipeline extracts (code.yaml: code)
        params = ReadStage.Params(source=getattr(pipeline.stages[0].params, "source", "web"))
        pipeline = dataclasses.replace(pipeline, stages=[ReadStage("read", params)] + pipeline.stages)
        index += 1
    read, stage = pipeline.stages[0], pipeline.stages[index]
    if isinstance(stage, DocumentStage):
        return pipeline, [([0, index], inputs)]
    written = [storage.join(pipeline.output, read.name, f"{name}.parquet") for name, _ in plan(inputs, read.params)]
    return pipeline, [([0], inputs), ([index], written)]  # only this run's shards of OUT/read, never older ones


def not_documents(stage: Stage, problem: str) -> ConfigError:
    from curate.read.config import SUPPORTED

    return ConfigError(f"stage '{stage.name}': {problem}; supported: Parquet documents in the project's schema "
                       f"(docs/schema.md); add a top-level 'reader:' key to the pipeline to read other documents ({SUPPORTED})")


def run_pipeline(pipeline: Pipeline, executor: Executor, only_stage: str | None = None, progress: bool = True,
                 options: RunOptions | None = None) -> list[StageReport]:
    options = options or RunOptions(progress=progress)
    if options.stage_input is not None and only_stage is None:
        raise ConfigError("an input for one stage needs --stage naming it")
    selected = [pipeline.stages.index(pipeline.stage_named(only_stage))] if only_stage is not None else None
    running, steps = pipeline, None  # running: the pipeline with the reader --input needs, when it had none
    if options.stage_input is not None:
        running, steps = stage_input_plan(pipeline, selected[0], options.stage_input)
    elif isinstance(pipeline.stages[0], DocumentStage) and selected in (None, [0]):
        problem = documents_problem(pipeline.inputs)
        if problem is not None:
            raise not_documents(pipeline.stages[0], problem)
    if not pipeline.checked:
        pipeline.check([pipeline.stages[i] for i in selected] if selected else None)
    write_resolved_pipeline(pipeline)
    if steps:
        reports = [report for indices, inputs in steps
                   for report in run_group(running, indices, executor, dataclasses.replace(options, stage_input=inputs))]
    else:
        plan = [selected] if selected else groups(pipeline, options.materialize)
        reports = [report for indices in plan for report in run_group(pipeline, indices, executor, options)]
    storage.remove_temporaries(storage.join(pipeline.output, "stats"))  # a killed run's half-written stats
    return reports


def format_reports(reports: list[StageReport]) -> str:
    """The summary table printed at the end of a run."""
    header = f"{'stage':<14} {'docs in':>9} {'docs out':>9} {'MB in':>9} {'MB out':>9} {'seconds':>8} {'docs/s':>9}  dropped (by reason)"
    lines = [header, "-" * len(header)]
    for report in reports:
        s = report.stats
        rate = f"{s.docs_in / report.wall_seconds:.1f}" if report.wall_seconds > 0 else "-"
        dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(s.dropped.items(), key=lambda kv: -kv[1])) or "-"
        lines.append(f"{report.name:<14} {s.docs_in:>9} {s.docs_out:>9} {s.bytes_in / 1e6:>9.2f} {s.bytes_out / 1e6:>9.2f} "
                     f"{report.wall_seconds:>8.1f} {rate:>9}  {dropped}")
    fused = [r.name for r in reports if r.fused_with and not r.materialized]
    if fused:
        lines.append(f"(fused: {', '.join(fused)} wrote no folder of their own; --materialize writes every stage's output)")
    empty = [r.name for r in reports if r.stats.docs_in == 0]
    if empty:
        lines.append(f"WARNING: {', '.join(empty)} read 0 documents: check the input path")
    return "\n".join(lines)
