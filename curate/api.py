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
from curate.core.runner import RunOptions, run_pipeline
from curate.core.stats import StageReport, format_reports

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
