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

from curate.core.executor import LocalExecutor, make_executor
from curate.core.pipeline import Pipeline, load_pipeline
from curate.core.runner import RunOptions, format_reports, run_pipeline

__all__ = ["LocalExecutor", "Pipeline", "RunOptions", "Stage", "format_reports", "load_pipeline", "make_executor", "run_pipeline"]


def Stage(type_name: str, **params) -> dict:  # noqa: N802 - reads as a constructor inside Pipeline.of(...)
    """One stage of Pipeline.of: its type (the YAML `stage:`) and parameters (`name` too, optional)."""
    return {"stage": type_name, **params}
