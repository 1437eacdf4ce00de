"""Pipeline YAML: inputs, an output folder and an ordered list of stages.

    name: web
    input: ../shared/data/web/warc        # a path, URL or list of them (relative to the current folder)
    output: out/web
    stages:
      - stage: extract                   # the stage type
        source: web                      # its parameters
      - stage: langid
        languages: [en]

Documents that already exist (JSONL, Parquet, CSV, save_to_disk folders) go in through a top-level
`reader:` mapping (curate/read/config.py): the `read` stage with those parameters is put first, so
any stage list can start from documents. `output_format: jsonl.gz` writes the last stage's kept
output and the rejected rows as JSON lines (default parquet). Inputs may be globs matching files.

Every problem (unknown stage, unknown or mistyped parameter, missing input path)
is raised as ConfigError naming the file, the key and what was expected, before
any work starts; `Pipeline.check` then runs each stage's check() (files exist, models load).

The same from Python, without YAML:

    from curate.api import Pipeline, Stage
    Pipeline.of("in/", "out/", [Stage("langid", languages=["en"]), Stage("quality")]).run()
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import fsspec
import yaml

from common.typed import did_you_mean
from curate.core import storage
from curate.core.params import ConfigError, build_params
from curate.core.registry import stage_class
from curate.core.stage import Stage

STAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
RESERVED_NAMES = (
    "rejected",
    "stats",
    "reports",
    "report",
)  # the runner's folders beside the stages' (and `curate report`'s)
PIPELINE_KEYS = ("name", "description", "input", "output", "reader", "output_format", "stages")
OUTPUT_FORMATS = ("parquet", "jsonl.gz")


@dataclass
class Pipeline:
    name: str
    source_file: str
    inputs: list[str]
    output: str
    stages: list[Stage]
    checked: bool = False  # check() passed: the runner need not load every model again
    output_format: str = "parquet"  # of the last stage's kept output and of rejected rows
    has_reader: bool = False  # stages[0] is the `read` stage the top-level `reader:` key put there

    def stage_named(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        names = ", ".join(s.name for s in self.stages)
        raise ConfigError(f"{self.source_file}: no stage named '{name}'; stages: {names}")

    @classmethod
    def of(
        cls,
        input: str | list[str],
        output: str,
        stages: list[dict],
        name: str = "pipeline",
        reader: dict | None = None,
        output_format: str = "parquet",
    ) -> "Pipeline":
        """A pipeline from Python: stages as Stage(type, **params) mappings, checked as a file's would be;
        reader and output_format as the pipeline file's keys."""
        inputs = [input] if isinstance(input, str) else list(input)
        for url in inputs:
            require_protocol(url, f"{name}: input")
            require_input(url, f"{name}: input")
        require_protocol(output, f"{name}: output")
        require_output_format(output_format, f"{name}: output_format")
        return cls(
            name,
            name,
            inputs,
            output,
            build_stages(with_reader(stages, reader, name), name, reader is not None),
            output_format=output_format,
            has_reader=reader is not None,
        )

    def check(self, stages: list[Stage] | None = None) -> None:
        """Each stage's check() before any work: a missing file or a broken model is a ConfigError
        naming the pipeline and the stage, not a failure in the middle of a run."""
        for stage in self.stages if stages is None else stages:
            try:
                stage.check()
            except (ValueError, OSError) as error:
                where = where_in_file(self.source_file, self.stages.index(stage), self.has_reader)
                raise ConfigError(f"{where} ({stage.type_name}): {error}") from None
        self.checked = self.checked or stages is None


def require_protocol(url: str, where: str) -> None:
    """The fsspec filesystem for url's protocol is installed (s3:// needs s3fs, gs:// gcsfs, ...)."""
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as error:
        raise ConfigError(f"{where}: '{url}': {error}") from None


def require_input(url: str, where: str) -> None:
    """url exists; a glob must match at least one file. A remote input that cannot be reached is one line
    naming it, not the HTTP client's traceback."""
    try:
        if any(c in url for c in "*?["):
            fs, pattern = storage.filesystem(url)
            if not any(fs.isfile(p) for p in fs.glob(pattern)):
                raise ConfigError(f"{where}: pattern '{url}' matches no file")
        elif not storage.exists(url):
            raise ConfigError(f"{where}: path '{url}' does not exist{offline_hint(url)}")
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - each client raises its own (httpx, aiohttp, botocore)
        if "://" not in url or url.startswith("file://"):
            raise
        raise ConfigError(
            f"{where}: '{url}' cannot be reached ({type(error).__name__}: {error}); check the network"
            f"{' and HF_ENDPOINT' if url.startswith('hf://') else ''}{offline_hint(url, always=True)}"
        ) from None


def offline_hint(url: str, always: bool = False) -> str:
    """hf:// reads the Hub itself, never the local cache: say how to work without a network."""
    if not url.startswith("hf://"):
        return ""
    download = (
        " download the dataset while online (hf download ORG/NAME --repo-type dataset --local-dir DIR) "
        "and give DIR as the input"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return (
            f" (HF_HUB_OFFLINE is set: hf:// inputs are read from the Hub, not from the cache; unset it, or{download})"
        )
    return (
        f"; without a network,{download} (HF_HUB_OFFLINE=1 does not help: hf:// never reads the cache)"
        if always
        else ""
    )


def load_pipeline(path: str, input_override: list[str] | None = None, output_override: str | None = None) -> Pipeline:
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: pipeline file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {', '.join(PIPELINE_KEYS)}, got {type(raw).__name__}")
    for key in raw:
        if key not in PIPELINE_KEYS:
            hint = did_you_mean(key, list(PIPELINE_KEYS))
            raise ConfigError(f"{path}: unknown key '{key}'{hint}; expected {', '.join(PIPELINE_KEYS)}")
    inputs = input_override or _as_list(raw.get("input"), f"{path}: key 'input'")
    output = output_override or raw.get("output")
    if not isinstance(output, str) or not output:
        raise ConfigError(f"{path}: key 'output': expected a folder path or URL (or pass --output)")
    require_protocol(output, f"{path}: key 'output'")
    for url in inputs:
        require_protocol(url, f"{path}: key 'input'")
        require_input(url, f"{path}: key 'input'")
    reader, output_format = raw.get("reader"), raw.get("output_format", "parquet")
    require_output_format(output_format, f"{path}: key 'output_format'")
    stages = build_stages(with_reader(raw.get("stages"), reader, path), path, reader is not None)
    pipeline = Pipeline(
        str(raw.get("name", path)),
        path,
        inputs,
        output,
        stages,
        output_format=output_format,
        has_reader=reader is not None,
    )
    pipeline.check()
    return pipeline


def require_output_format(value, where: str) -> None:
    if value not in OUTPUT_FORMATS:
        raise ConfigError(f"{where}: expected one of {', '.join(OUTPUT_FORMATS)}, got {value!r}")


def with_reader(entries, reader, path: str):
    """The stage entries with the `read` stage, carrying the reader's parameters, first: documents in."""
    if reader is None:
        return entries
    if not isinstance(reader, dict) or "stage" in reader or "name" in reader:
        raise ConfigError(
            f"{path}: key 'reader': expected a mapping of reader parameters "
            f"(format, text, id, url, source, keep, shard_bytes), got {reader!r}"
        )
    if isinstance(entries, list) and any(isinstance(e, dict) and e.get("stage") == "read" for e in entries):
        raise ConfigError(f"{path}: key 'reader' and a 'read' stage in 'stages': give the reader once")
    return [{"stage": "read", **reader}] + (entries if isinstance(entries, list) else [])


def where_in_file(path: str, index: int, has_reader: bool) -> str:
    """Where the stage at this index of the built list stands in the user's file: the `read` stage a
    `reader:` key put first is that key, and the stages under `stages:` count from 0 without it."""
    if has_reader and index == 0:
        return f"{path}: key 'reader'"
    return f"{path}: stages[{index - has_reader}]"


def build_stages(entries, path: str, has_reader: bool = False) -> list[Stage]:
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: key 'stages': expected a non-empty list of stages")
    stages, names = [], set()
    for index, entry in enumerate(entries):
        where = where_in_file(path, index, has_reader)
        if not isinstance(entry, dict) or not isinstance(entry.get("stage"), str):
            raise ConfigError(f"{where}: expected a mapping with a 'stage' key naming the stage type, got {entry!r}")
        params = {k: v for k, v in entry.items() if k not in ("stage", "name")}
        cls = stage_class(entry["stage"], f"{where}.stage")
        name = entry.get("name", entry["stage"])
        require_stage_name(name, f"{where}.name")
        if name in names:
            raise ConfigError(f"{where}.name: stage names must be unique; '{name}' is taken (give one a 'name:')")
        names.add(name)
        stage = cls(name, build_params(cls.Params, params, f"{where} ({entry['stage']})"))
        stages.append(stage)
    return stages


def require_stage_name(name, where: str) -> None:
    """A stage's name is a folder name under the output (OUT/<name>, rejected/<name>, stats/<name>.json):
    a plain name, so no name writes outside the output folder (../../x, /abs) or into the runner's own
    folders (_state, reports: a leading '_' also hides a folder from readers)."""
    if not isinstance(name, str) or not STAGE_NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise ConfigError(
            f"{where}: a stage name is a letter then letters, digits, '_' or '-' (at most 100), other than "
            f"{', '.join(RESERVED_NAMES)}; got {name!r}"
        )


def require_inside(pipeline: Pipeline) -> None:
    """Every folder the runner writes resolves inside the output folder, links followed (a stage folder that
    is a link to elsewhere, a name changed after checking): the last guard before any write."""
    if "://" in pipeline.output and not pipeline.output.startswith("file://"):
        return  # object stores have no links, and names are checked
    root = os.path.realpath(storage.filesystem(pipeline.output)[1])
    for stage in pipeline.stages:
        require_stage_name(stage.name, f"{pipeline.source_file}: stage '{stage.name}'")
        for parts in ((stage.name,), ("rejected", stage.name), ("reports", stage.name), ("stats",), ("_state",)):
            path = os.path.realpath(os.path.join(root, *parts))
            if not path.startswith(root + os.sep):
                raise ConfigError(
                    f"{os.path.join(pipeline.output, *parts)} leads to {path}, outside the output folder "
                    f"{pipeline.output}; remove that link, or use another --output"
                )


def _as_list(value, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"{where}: expected a path/URL or a list of them (or pass --input), got {value!r}")
