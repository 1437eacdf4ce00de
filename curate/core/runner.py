"""Runs a pipeline's stages over shards with an executor, resumably.

Output layout under the pipeline's output folder:

    <stage>/<shard>.parquet            kept documents (written atomically)
    <stage>/_done/<phase>/<shard>.json completion record with the shard's stats, written last
    rejected/<stage>/<shard>.parquet   dropped documents with stage, reason, detail
    stats/<stage>.json                 the stage's summed stats
    pipeline.yaml                      the pipeline as run: every stage parameter resolved

A shard counts as done only when its completion record exists, so a run killed at
any moment and started again redoes exactly the unfinished shards: nothing lost,
nothing duplicated, the same output as an uninterrupted run.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field

import fsspec
import yaml

from tqdm import tqdm

from curate.core import storage
from curate.core.executor import Executor, TaskFailure
from curate.core.params import ConfigError
from curate.core.pipeline import Pipeline
from curate.core.stage import Shard, ShardStats, Stage


class StageFailed(RuntimeError):
    """Some shards of a stage failed; the others are done and a rerun retries only these."""


@dataclass
class StageContext:
    """Where a stage reads and writes. Picklable: it travels with every shard task."""

    stage_name: str
    inputs: list[str]
    output_dir: str
    rejected_dir: str
    workers: int = 1
    executor: Executor | None = field(default=None, repr=False, compare=False)
    progress: bool = True

    def __getstate__(self):
        return {**self.__dict__, "executor": None}

    def output_url(self, shard_name: str, suffix: str = ".parquet") -> str:
        return storage.join(self.output_dir, shard_name + suffix)

    def rejected_url(self, shard_name: str) -> str:
        return storage.join(self.rejected_dir, shard_name + ".parquet")

    def work_url(self, *parts: str) -> str:
        """Scratch space for multi-phase stages (e.g. dedup signatures)."""
        return storage.join(self.output_dir, "_work", *parts)

    def done_url(self, phase: str, shard_name: str) -> str:
        return storage.join(self.output_dir, "_done", phase, shard_name + ".json")

    def map_shards(self, stage: Stage, phase: str, method: str, shards: list[Shard]) -> ShardStats:
        """Run stage.<method>(shard, ctx) for every shard not yet done in this phase, in
        parallel on the executor; return the summed stats of all shards of the phase."""
        names = [s.name for s in shards]
        if len(set(names)) != len(names):
            raise ValueError(f"stage {self.stage_name}, phase {phase}: shard names are not unique")
        total = ShardStats()
        todo = []
        for shard in shards:
            record = self._read_done(stage, phase, shard)
            if record is None:
                todo.append(shard)
            else:
                total.add(ShardStats.from_dict(record["stats"]))
        failures = []
        label = f"{self.stage_name}" + ("" if phase == "main" else f" [{phase}]")
        with tqdm(total=len(shards), initial=len(shards) - len(todo), desc=label, unit="shard", disable=not self.progress, file=sys.stderr) as bar:
            tasks = [(stage, method, shard, self, phase) for shard in todo]
            for index, result in self.executor.map_unordered(run_shard_task, tasks, cpus=stage.cpus, memory_gb=stage.memory_gb):
                if isinstance(result, TaskFailure):
                    failures.append((todo[index].name, result))
                else:
                    total.add(result)
                    bar.set_postfix(docs=total.docs_in, refresh=False)
                bar.update(1)
        if failures:
            lines = "\n".join(f"  {name}: {failure.error}" for name, failure in failures)
            detail = failures[0][1].traceback
            raise StageFailed(f"stage '{self.stage_name}' ({phase}): {len(failures)} of {len(shards)} shards failed; "
                              f"the rest are done and a rerun retries only these:\n{lines}\n\nfirst traceback:\n{detail}")
        return total

    def _read_done(self, stage: Stage, phase: str, shard: Shard) -> dict | None:
        url = self.done_url(phase, shard.name)
        if not storage.exists(url):
            return None
        record = storage.read_json(url)
        if record.get("config_hash") != stage.config_hash:
            raise ConfigError(
                f"{self.output_dir}: holds results of stage '{self.stage_name}' made with different parameters "
                f"({url}); use another --output, or delete that folder to redo the stage")
        return record


# Stages already set up in this worker process, by (stage name, config hash).
_ready_stages: dict[tuple[str, str], Stage] = {}


def run_shard_task(task) -> ShardStats:
    """One shard of one phase, in a worker: run it, then write its completion record."""
    stage, method, shard, ctx, phase = task
    key = (stage.name, stage.config_hash)
    if key not in _ready_stages:
        stage.setup()
        _ready_stages[key] = stage
    stats = getattr(_ready_stages[key], method)(shard, ctx)
    storage.write_json(ctx.done_url(phase, shard.name), {"shard": shard.name, "phase": phase, "config_hash": stage.config_hash, "stats": stats.to_dict()})
    return stats


@dataclass
class StageReport:
    name: str
    stats: ShardStats
    wall_seconds: float

    def to_dict(self) -> dict:
        stats = self.stats
        return {"stage": self.name, **stats.to_dict(), "wall_seconds": round(self.wall_seconds, 3),
                "docs_per_second": round(stats.docs_in / self.wall_seconds, 1) if self.wall_seconds else None}


def stage_context(pipeline: Pipeline, index: int, executor: Executor, progress: bool) -> StageContext:
    stage = pipeline.stages[index]
    inputs = pipeline.inputs if index == 0 else [storage.join(pipeline.output, pipeline.stages[index - 1].name)]
    return StageContext(stage.name, inputs, storage.join(pipeline.output, stage.name),
                        storage.join(pipeline.output, "rejected", stage.name),
                        executor.workers, executor, progress)


def require_finished(pipeline: Pipeline, index: int, reader: str) -> None:
    """A stage reads its predecessor's folder only once that stage finished (its stats are written
    after its last shard's completion record): a half-done folder may hold outputs without records."""
    stage = pipeline.stages[index]
    stats_url = storage.join(pipeline.output, "stats", f"{stage.name}.json")
    if not storage.exists(stats_url):
        raise ConfigError(f"stage '{reader}' reads the output of stage '{stage.name}' at "
                          f"{storage.join(pipeline.output, stage.name)}, which has not finished (no {stats_url}): "
                          f"run that stage first")


def run_stage(pipeline: Pipeline, index: int, executor: Executor, progress: bool = True) -> StageReport:
    stage = pipeline.stages[index]
    ctx = stage_context(pipeline, index, executor, progress)
    if index > 0:
        require_finished(pipeline, index - 1, reader=stage.name)
    start = time.perf_counter()
    stats = stage.run(ctx)
    # Every shard is done, so no task writes here any more: temporaries are leftovers of killed attempts.
    for folder in (ctx.output_dir, ctx.rejected_dir):
        storage.remove_temporaries(folder)
    report = StageReport(stage.name, stats, time.perf_counter() - start)
    storage.write_json(storage.join(pipeline.output, "stats", f"{stage.name}.json"), report.to_dict())
    return report


def write_resolved_pipeline(pipeline: Pipeline) -> None:
    """OUTPUT/pipeline.yaml: the pipeline in its own file shape with every parameter's resolved value
    (defaults filled in), so a report shows the thresholds that produced this output."""
    url = storage.join(pipeline.output, "pipeline.yaml")
    resolved = {"name": pipeline.name, "input": pipeline.inputs, "output": pipeline.output,
                "stages": [{"stage": s.type_name, "name": s.name, **dataclasses.asdict(s.params)} for s in pipeline.stages]}
    if storage.exists(url):  # a second pipeline adding stages to this folder (the demo's tokenize step) keeps the first's
        with fsspec.open(url, "r") as f:
            earlier = yaml.safe_load(f) or {}
        names = {s["name"] for s in resolved["stages"]}
        resolved["stages"] = [s for s in earlier.get("stages", []) if s["name"] not in names] + resolved["stages"]
        resolved.update({k: earlier[k] for k in ("name", "input") if k in earlier})
    with storage.atomic_path(url) as temporary, fsspec.open(temporary, "w") as f:
        yaml.safe_dump(resolved, f, sort_keys=False)


def run_pipeline(pipeline: Pipeline, executor: Executor, only_stage: str | None = None, progress: bool = True) -> list[StageReport]:
    write_resolved_pipeline(pipeline)
    indices = range(len(pipeline.stages))
    if only_stage is not None:
        indices = [pipeline.stages.index(pipeline.stage_named(only_stage))]
    return [run_stage(pipeline, i, executor, progress) for i in indices]


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
    return "\n".join(lines)
