"""The Python API: build and run a pipeline without writing YAML.

    from curate.api import LocalExecutor, Pipeline, Stage

    pipeline = Pipeline.of("data/web", "out/web", [
        Stage("extract", source="web"),
        Stage("langid", languages=["en"]),
        Stage("quality", name="quality"),
    ])
    reports = pipeline.run(LocalExecutor(2))           # or pipeline.run(materialize=True)

Parameters are checked exactly as a pipeline file's are (ConfigError naming the stage and key).
"""

from __future__ import annotations

import dataclasses

from curate.core import pipeline as core_pipeline
from curate.core.executor import Executor, LocalExecutor
from curate.core.ray_executor import RayExecutor
from curate.core import runner
from curate.core.params import ConfigError
from curate.core.runner import RunOptions
from curate.core.stage import DocumentStage
from curate.core.stats import StageReport, format_reports
from curate.read.inputs import documents_problem, not_documents, stage_input_plan

__all__ = [
    "LocalExecutor",
    "Pipeline",
    "RunOptions",
    "Stage",
    "format_reports",
    "load_pipeline",
    "make_executor",
    "run_pipeline",
]


class Pipeline(core_pipeline.Pipeline):
    """A pipeline (curate.core.pipeline) that runs itself: the runner sits above the pipeline it runs, so `run`
    is added here rather than in core."""

    def run(self, executor: Executor | None = None, **options) -> list[StageReport]:
        """Run every stage (curate.core.runner.run_pipeline); a one-worker local executor by default."""
        own = executor is None
        executor = executor or LocalExecutor(1)
        try:
            return run_pipeline(self, executor, options.pop("only_stage", None), options=RunOptions(**options))
        finally:
            if own:
                executor.close()


def run_pipeline(
    pipeline: core_pipeline.Pipeline,
    executor: Executor,
    only_stage: str | None = None,
    progress: bool = True,
    options: RunOptions | None = None,
) -> list[StageReport]:
    """Run a pipeline (every stage, or `only_stage`), resumably (curate.core.runner). With
    `options.stage_input`, only_stage runs on those inputs, behind a reader when they are not documents in
    the project's schema (curate.read.inputs); a pipeline that starts with a document stage must be given
    documents, which is checked here before any work."""
    options = options or RunOptions(progress=progress)
    if options.stage_input is not None and only_stage is None:
        raise ConfigError("an input for one stage needs --stage naming it")
    selected = [pipeline.stages.index(pipeline.stage_named(only_stage))] if only_stage is not None else None
    steps = None
    if options.stage_input is not None:
        steps = stage_input_plan(pipeline, selected[0], options.stage_input)
    elif isinstance(pipeline.stages[0], DocumentStage) and selected in (None, [0]):
        problem = documents_problem(pipeline.inputs)
        if problem is not None:
            raise not_documents(pipeline.stages[0], problem)
    return runner.run_selected(pipeline, executor, selected, options, steps)


def load_pipeline(path: str, input_override: list[str] | None = None, output_override: str | None = None) -> Pipeline:
    """A pipeline file as a Pipeline that runs itself (curate.core.pipeline.load_pipeline)."""
    loaded = core_pipeline.load_pipeline(path, input_override, output_override)
    return Pipeline(**{f.name: getattr(loaded, f.name) for f in dataclasses.fields(loaded)})


def make_executor(kind: str, workers: int, ray_address: str | None = None) -> Executor:
    """`curate run --executor`: 'local' processes or a 'ray' cluster."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, address=ray_address)
    raise ValueError(f"unknown executor '{kind}': expected 'local' or 'ray'")


def Stage(type_name: str, **params) -> dict:  # noqa: N802 - reads as a constructor inside Pipeline.of(...)
    """One stage of Pipeline.of: its type (the YAML `stage:`) and parameters (`name` too, optional)."""
    return {"stage": type_name, **params}
