"""Executing a planned group (curate.core.planning): its passes and task phases over the executor, in order
(run_stages), and the tasks workers run: one shard through a fused pass (run_pass_task), one task of a
stage's task phase (run_phase_task). Every task writes its completion record last (curate.core.context).
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import time

from curate.core import storage
from curate.core.context import StageContext, add_stats, is_stage_report
from curate.core.params import ConfigError
from curate.core.planning import Pass, Step, segments
from curate.core.stage import DocumentStage, PhasedStage, Shard, ShardOutput, ShardStats, Stage, StageStep

# Stages already set up in this worker process, by (stage name, config hash).
_ready_stages: dict[tuple[str, str], Stage] = {}


def ready(stage: Stage) -> Stage:
    """The worker's set-up copy of a stage: setup() (models, lists) runs once per process, not once per task."""
    key = (stage.name, stage.config_hash)
    if key not in _ready_stages:
        stage.setup()
        _ready_stages[key] = stage
    return _ready_stages[key]


def open_step(step: Step, shard: Shard, ctx: StageContext):
    """The handler of one step in a worker: a document stage's verdicts on its set-up copy, or a phase's own."""
    return StageStep(ready(step.stage)) if step.make is None else step.make(shard, ctx.for_stage(step.stage.name))


def run_pass_task(task) -> dict[str, ShardStats]:
    """One shard through one pass: read once, each batch through every step in order; each stage
    writes its rejected rows, the last step's kept rows go to kept_url (None: nothing kept on disk)."""
    steps, shard, ctx, config_hash, phase, kept_url = task
    # a reader (source) makes the documents; used as sent, since it carries this run's plan (its schema)
    source = steps[0].stage if steps[0].stage.source else None
    filters = steps[1:] if source else steps
    if filters and filters[0].make is None:
        ready(filters[0].stage).begin_shard(shard)
    outputs = [
        ShardOutput(s.stage.name, kept_url if s is steps[-1] else None, ctx.rejected_url(shard.name, s.stage.name))
        for s in steps
    ]
    seconds, task_start = [0.0] * len(steps), time.perf_counter()
    with contextlib.ExitStack() as entered:  # any error aborts every file the task started
        for output in outputs:
            entered.enter_context(output)
        handlers = [entered.enter_context(open_step(step, shard, ctx)) for step in filters]
        first = len(steps) - len(filters)
        tables = (
            source.documents(shard, outputs[0])
            if source
            else storage.iter_parquet(shard.inputs, getattr(filters[0].stage, "batch_size", DocumentStage.batch_size))
        )
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


def run_stages(stages: list[Stage], ctx: StageContext, refuse_stale_files: bool) -> dict[str, ShardStats]:
    """A group's stages, in passes over the documents and task phases between them (see segments),
    over the first stage's shards: Parquet documents, a reader's pieces (the `read` stage), raw
    files (extract). Intermediate documents (kept rows of a pass before a task phase) are scratch
    under ctx.work_url. A phase after one of its stage that ran tasks now is redone in full: what
    it reads changed (a new or changed input shard), so its old records no longer hold."""
    shards = stages[0].shards(ctx)
    if refuse_stale_files:
        refuse_stale(ctx, shards)
    note_idle_workers(stages[0], ctx, len(shards))
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
            folder = (
                ctx.output_dir if part is parts[-1] else ctx.work_url("docs-" + label) if part.changes_rows else None
            )
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
            sums, ran = stage_ctx.run_phase(
                stage.config_hash,
                phase.name,
                work,
                run_phase_task,
                tasks,
                phase.cpus,
                phase.memory_gb,
                redo=stage.name in changed,
            )
            done.setdefault(stage.name, {})[phase.name] = sums.get(key, ShardStats())
            if ran:
                changed.add(stage.name)
        add_stats(totals, sums)
        seconds[label] = time.perf_counter() - start
    if len(parts) > 1:
        ctx.note(f"{ctx.stage_name} phases: " + ", ".join(f"{name} {s:.1f}s" for name, s in seconds.items()))
    return {s.name: totals.get(s.name, ShardStats()) for s in stages}


def note_idle_workers(stage: Stage, ctx: StageContext, shards: int) -> None:
    """More workers than shards: the extra ones wait. Said, with the parameter that cuts the input finer."""
    workers = getattr(ctx.executor, "workers", 1)
    if not 0 < shards < workers:
        return
    params = stage.params
    if hasattr(params, "shard_bytes"):
        hint = (
            f"a smaller shard_bytes under reader: (now {params.shard_bytes:,}; at least 1,000,000) makes more shards: "
            f"small files are grouped up to it, large ones split (Parquet by row groups, plain JSONL by line ranges; "
            f"a compressed JSONL, CSV or Arrow file is one piece)"
        )
    elif hasattr(params, "files_per_shard"):
        hint = f"a smaller files_per_shard (now {params.files_per_shard}) makes more shards of many small files; a WARC file is one shard"
    else:
        hint = "a stage makes one shard per file of the stage before it"
    ctx.note(f"{ctx.stage_name}: {shards} shard(s) for {workers} workers, so {workers - shards} of them wait; {hint}")


def refuse_stale(ctx: StageContext, shards: list[Shard]) -> None:
    """Stale output is never used: a file in the group's output folder that no shard of this run writes
    (an earlier run's, on other inputs) would be read beside this run's by the next stage or an export."""
    names = {posixpath.basename(ctx.output_url(shard.name)) for shard in shards}
    stale = [
        f for f in storage.list_files(ctx.output_dir) if posixpath.basename(f) not in names and not is_stage_report(f)
    ]
    if stale:
        raise ConfigError(
            f"{ctx.output_dir} holds {len(stale)} file(s) of an earlier run that no shard of this run "
            f"writes, e.g. {stale[0]}; a later stage would read them with this run's documents: use "
            f"another --output, or delete them"
        )


def run_pass(
    part: Pass, label: str, shards: list[Shard], ctx: StageContext, folder: str | None, redo: bool
) -> tuple[dict[str, ShardStats], int]:
    """One pass over every shard; its kept rows go to folder (None: a pass that only reads)."""
    stages = list({id(s.stage): s.stage for s in part.steps}.values())
    config_hash = stages[0].config_hash if len(stages) == 1 else combined_hash(stages)
    tasks = [
        (part.steps, shard, ctx, config_hash, label, folder and kept_url(ctx, folder, shard.name)) for shard in shards
    ]
    return ctx.run_phase(
        config_hash,
        label,
        shards,
        run_pass_task,
        tasks,
        max(s.cpus for s in stages),
        sum(s.memory_gb or 0 for s in stages) or None,
        redo,
    )


def kept_url(ctx: StageContext, folder: str, shard_name: str) -> str:
    """The group's output file (in the pipeline's output_format), or a scratch Parquet file between passes."""
    return ctx.output_url(shard_name) if folder == ctx.output_dir else storage.join(folder, shard_name + ".parquet")


def combined_hash(stages: list[Stage]) -> str:
    return hashlib.sha256(":".join(s.config_hash for s in stages).encode()).hexdigest()[:16]
