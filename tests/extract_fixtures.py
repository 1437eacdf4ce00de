"""Helpers for the extraction tests: run the real extract stage on some inputs."""

from __future__ import annotations

from pathlib import Path

import yaml

from curate.core.executor import LocalExecutor
from curate.core.pipeline import load_pipeline
from curate.api import run_pipeline
from conftest import read_rejected, read_stage


def write_pipeline(folder: Path, source: str, inputs: list, output: Path, **params) -> Path:
    path = folder / f"{source}-{output.name}.yaml"
    stage = {"stage": "extract", "source": source, **params}
    path.write_text(
        yaml.safe_dump({"name": source, "input": [str(i) for i in inputs], "output": str(output), "stages": [stage]})
    )
    return path


def extract(folder: Path, source: str, inputs: list, name: str = "out", workers: int = 1, **params):
    """Run one extract stage; returns (kept rows, rejected rows) as lists of dicts. The pipeline
    and its output go beside `folder` (in `<folder>-runs/<name>`), never among the inputs."""
    runs = folder.parent / f"{folder.name}-runs"
    runs.mkdir(exist_ok=True)
    output = runs / name
    pipeline = load_pipeline(str(write_pipeline(runs, source, inputs, output, **params)))
    executor = LocalExecutor(workers)
    try:
        run_pipeline(pipeline, executor, progress=False)
    finally:
        executor.close()
    kept, rejected = read_stage(output, "extract"), read_rejected(output, "extract")
    return (kept.to_pylist() if kept is not None else []), (rejected.to_pylist() if rejected is not None else [])
