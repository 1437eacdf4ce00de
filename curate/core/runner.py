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
as phase 'main'; a document stage's `process`). The run is built from modules a reader can name:
curate.core.planning (which stages fuse, which phases run), curate.core.execution (passes and task
phases over the executor), curate.core.context (completion records, resume), curate.core.stats (the
figures and the summary table). What `--stage NAME --input PATH` runs is planned above core, in
curate.api (with curate.read.inputs), since it may put a reader before the stage.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import yaml

from curate.core import storage
from curate.core.context import StageContext
from curate.core.execution import run_stages
from curate.core.executor import Executor
from curate.core.params import ConfigError
from curate.core.pipeline import Pipeline, require_inside
from curate.core.planning import groups
from curate.core.stage import PhasedStage, ShardStats
from curate.core.stats import StageReport, stage_reports
from curate.core.jsonl_sink import is_project_jsonl, jsonl_output_to_parquet

STATE = "_state"


@dataclass
class RunOptions:
    progress: bool = True
    materialize: bool = False  # every stage writes its kept output (otherwise only a fused group's last)
    allow_changed_inputs: bool = False
    stage_input: list[str] | None = None  # with only_stage: read these instead of the previous stage's output


def group_context(pipeline: Pipeline, indices: list[int], executor: Executor, options: RunOptions) -> StageContext:
    stages = [pipeline.stages[i] for i in indices]
    if options.stage_input is not None:
        inputs = options.stage_input
    else:
        inputs = (
            pipeline.inputs
            if indices[0] == 0
            else [storage.join(pipeline.output, pipeline.stages[indices[0] - 1].name)]
        )
    label = "+".join(s.name for s in stages)
    final = stages[-1] is pipeline.stages[-1]  # its kept output is the run's result: written as output_format
    return StageContext(
        label,
        inputs,
        storage.join(pipeline.output, stages[-1].name),
        storage.join(pipeline.output, "rejected", stages[-1].name),
        storage.join(pipeline.output, STATE, label),
        executor.node_workers,
        executor,
        options.progress,
        options.allow_changed_inputs,
        storage.join(pipeline.output, STATE),
        storage.join(pipeline.output, "reports", stages[-1].name),
        kept_format=pipeline.output_format if final else "parquet",
        rejected_format=pipeline.output_format,
    )


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
        raise ConfigError(
            f"stage '{reader}' reads the output of stage '{stage.name}' at {folder}, which has not "
            f"finished (no {stats_url}): run that stage first"
        )
    if not storage.read_json(stats_url).get("materialized", True):
        raise ConfigError(
            f"stage '{reader}' reads the output of stage '{stage.name}', which ran fused with the next "
            f"stage and wrote no {folder}: rerun with --materialize, or name the input with --input"
        )


def as_parquet(folder: str, why: str) -> None:
    """A stage folder that an earlier run wrote as JSON lines (output_format: jsonl.gz, its stage then the last)
    and that a later stage now reads, in Parquet, which the stages read: converted in place, and said."""
    files = (
        [f for f in storage.list_files(folder, (".jsonl.gz",)) if is_project_jsonl(f)] if storage.exists(folder) else []
    )
    for url in files:
        jsonl_output_to_parquet(url, url[: -len(".jsonl.gz")] + ".parquet")
        storage.filesystem(url)[0].rm(storage.filesystem(url)[1])
    if files:
        print(f"{folder}: {len(files)} JSON-lines file(s) of an earlier run converted to Parquet ({why})", flush=True)


def run_group(pipeline: Pipeline, indices: list[int], executor: Executor, options: RunOptions) -> list[StageReport]:
    stages = [pipeline.stages[i] for i in indices]
    ctx = group_context(pipeline, indices, executor, options)
    if ctx.kept_format == "parquet" and stages[-1].writes_documents:
        as_parquet(ctx.output_dir, f"'{stages[-1].name}' is no longer the last stage; the next one reads Parquet")
    if indices[0] > 0 and options.stage_input is None:
        as_parquet(ctx.inputs[0], f"'{stages[0].name}' reads Parquet")
    if indices[0] > 0 and options.stage_input is None:
        require_finished(pipeline, indices[0] - 1, reader=stages[0].name)
    start = time.perf_counter()
    # OUT/read written for `--stage X --input`: X reads this run's shards by name, so an older file there is never read
    scratch = options.stage_input is not None and stages[-1].source
    totals = run_stages(stages, ctx, refuse_stale_files=stages[-1].writes_documents and not scratch)
    for (
        stage
    ) in stages:  # each stage's summary, from its summed stats; its rows lie in its rejected folder and ctx.output_dir
        stage.finalize(ctx.for_stage(stage.name), totals.get(stage.name, ShardStats()))
    if any(isinstance(s, PhasedStage) for s in stages):  # their scratch (signatures, pairs, documents between passes)
        storage.remove_tree(ctx.work_url())
    # Every shard is done and summarised, so nothing writes here any more: temporaries are leftovers of killed attempts.
    for folder in [ctx.output_dir, ctx.state_dir] + [
        storage.join(pipeline.output, kind, s.name) for s in stages for kind in ("rejected", "reports")
    ]:
        storage.remove_temporaries(folder)
    return stage_reports(stages, totals, time.perf_counter() - start, pipeline.output)


def resolved_pipeline(pipeline: Pipeline) -> dict:
    """The pipeline as run, in the shape of a pipeline file: every parameter with its value."""
    stages = [{"stage": s.type_name, "name": s.name, **dataclasses.asdict(s.params)} for s in pipeline.stages]
    resolved = {"name": pipeline.name, "input": list(pipeline.inputs), "output": pipeline.output}
    if pipeline.has_reader:  # back as the key it came from, so loading the file inserts the read stage again
        resolved["reader"] = {k: v for k, v in stages.pop(0).items() if k not in ("stage", "name")}
    return {**resolved, "output_format": pipeline.output_format, "stages": stages}


def remove_from(pipeline: Pipeline, name: str) -> list[str]:
    """`curate run --redo NAME`: delete what stage NAME and every stage after it wrote (kept and rejected
    documents, reports, stats, and the completion records of each group any of them ran in, so a fused
    group is redone whole), and nothing of the stages before it. Returns the paths removed."""
    later = {s.name for s in pipeline.stages[pipeline.stages.index(pipeline.stage_named(name)) :]}
    out = pipeline.output
    paths = [
        storage.join(out, *parts)
        for stage in pipeline.stages
        if stage.name in later
        for parts in ((stage.name,), ("rejected", stage.name), ("reports", stage.name), ("stats", f"{stage.name}.json"))
    ]
    state = storage.join(out, STATE)
    groups = (
        storage.filesystem(state)[0].ls(storage.filesystem(state)[1], detail=False) if storage.exists(state) else []
    )
    paths += [storage.join(state, storage.basename(g)) for g in groups if later & set(storage.basename(g).split("+"))]
    removed = [p for p in paths if storage.exists(p)]
    for path in removed:
        fs, local = storage.filesystem(path)
        fs.rm(local, recursive=True)
    return removed


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


def run_selected(
    pipeline: Pipeline,
    executor: Executor,
    selected: list[int] | None = None,
    options: RunOptions | None = None,
    steps: tuple[Pipeline, list[tuple[list[int], list[str]]]] | None = None,
) -> list[StageReport]:
    """Run the selected stages (all by default, fused into groups), or `steps`: a pipeline and its (stage
    indices, inputs) groups, as curate.api plans them for `--stage NAME --input PATH`."""
    options = options or RunOptions()
    if not pipeline.checked:
        pipeline.check([pipeline.stages[i] for i in selected] if selected else None)
    require_inside(steps[0] if steps else pipeline)
    write_resolved_pipeline(pipeline)
    if steps:
        running, groups_inputs = steps
        reports = [
            report
            for indices, inputs in groups_inputs
            for report in run_group(running, indices, executor, dataclasses.replace(options, stage_input=inputs))
        ]
    else:
        plan = [selected] if selected else groups(pipeline, options.materialize)
        reports = [report for indices in plan for report in run_group(pipeline, indices, executor, options)]
    storage.remove_temporaries(storage.join(pipeline.output, "stats"))  # a killed run's half-written stats
    return reports
