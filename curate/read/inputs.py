"""Input planning: whether inputs already hold documents in the project's schema (a pipeline that starts with
a document stage needs them) or must first go through a reader, and, for `curate run --stage NAME --input
PATH`, the steps that run NAME on PATH."""

from __future__ import annotations

import dataclasses

from curate.core import storage
from curate.core.context import is_stage_report
from curate.core.params import ConfigError
from curate.core.pipeline import Pipeline
from curate.core.schema import DOCUMENT_SCHEMA
from curate.core.stage import DocumentStage, Stage
from curate.read.config import SUPPORTED
from curate.core.jsonl_sink import is_project_jsonl, jsonl_output_to_parquet
from curate.read.plan import plan
from curate.read.stage import ReadStage


def documents_problem(inputs: list[str]) -> str | None:
    """What keeps inputs from being documents in the project's schema (Parquet with its columns), or None.
    No file at all is no problem here: the run reads 0 documents and its summary says so loudly."""
    files = [f for url in inputs for f in storage.list_files(url) if not is_stage_report(f)]
    other = [f for f in files if not f.endswith(".parquet")]
    if other:
        return f"{', '.join(inputs)} holds {len(other)} file(s) not Parquet, e.g. {other[0]}"
    if not files:
        return None
    missing = set(DOCUMENT_SCHEMA.names) - set(storage.parquet_schema(files[0]).names)
    return f"{files[0]} is Parquet without the document columns {', '.join(sorted(missing))}" if missing else None


def stage_input_plan(
    pipeline: Pipeline, index: int, inputs: list[str]
) -> tuple[Pipeline, list[tuple[list[int], list[str]]]]:
    """What runs for `--stage NAME --input PATH`, as (stage indices, inputs) steps: NAME alone on PATH when
    PATH holds documents in the project's schema (Parquet, or a pipeline's .jsonl.gz output, first
    converted to Parquet in OUT/read/); else PATH read through the pipeline's reader (or,
    without one, a reader that infers the format from suffixes, with the source of the pipeline's extract
    stage): fused before NAME when NAME is a document stage, else written to OUT/read first for NAME (dedup,
    tokenize, ...) to read. The pipeline returned holds that reader."""
    if documents_problem(inputs) is None:
        return pipeline, [([index], inputs)]
    files = [f for url in inputs for f in storage.list_files(url) if not is_stage_report(f)]
    if files and all(is_project_jsonl(f) for f in files):  # a pipeline's own JSONL output: no field mapping
        written = [storage.join(pipeline.output, "read", f"jsonl-{i:05d}.parquet") for i in range(len(files))]
        for source, target in zip(files, written):
            jsonl_output_to_parquet(source, target)
        return pipeline, [([index], written)]
    if not isinstance(
        pipeline.stages[0], ReadStage
    ):  # documents labelled as what the pipeline extracts (code.yaml: code)
        params = ReadStage.Params(source=getattr(pipeline.stages[0].params, "source", "web"))
        pipeline = dataclasses.replace(pipeline, stages=[ReadStage("read", params)] + pipeline.stages)
        index += 1
    read, stage = pipeline.stages[0], pipeline.stages[index]
    if isinstance(stage, DocumentStage):
        return pipeline, [([0, index], inputs)]
    written = [storage.join(pipeline.output, read.name, f"{name}.parquet") for name, _ in plan(inputs, read.params)]
    return pipeline, [([0], inputs), ([index], written)]  # only this run's shards of OUT/read, never older ones


def not_documents(stage: Stage, problem: str) -> ConfigError:
    return ConfigError(
        f"stage '{stage.name}': {problem}; supported: Parquet documents in the project's schema "
        f"(docs/schema.md); add a top-level 'reader:' key to the pipeline to read other documents ({SUPPORTED})"
    )
