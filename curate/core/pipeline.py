"""Pipeline YAML: inputs, an output folder and an ordered list of stages.

    name: web
    input: ../shared/data/web/warc        # a path, URL or list of them (relative to the current folder)
    output: out/web
    stages:
      - stage: extract                   # the stage type
        source: web                      # its parameters
      - stage: langid
        languages: [en]

Every problem (unknown stage, unknown or mistyped parameter, missing input path)
is raised as ConfigError naming the file, the key and what was expected, before
any work starts.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass

import yaml

from curate.core import storage
from curate.core.params import ConfigError, build_params
from curate.core.stage import Stage

# YAML stage type -> "module:Class". Imported only when a pipeline uses it.
STAGE_TYPES = {
    "read": "curate.read.stage:ReadStage",
    "extract": "curate.extract.stage:ExtractStage",
    "langid": "curate.langid.stage:LangIdStage",
    "quality": "curate.quality.stage:QualityStage",
    "code_quality": "curate.quality.code:CodeQualityStage",
    "classify": "curate.classify.stage:ClassifyStage",
    "dedup": "curate.dedup.stage:DedupStage",
    "toxicity": "curate.toxicity.stage:ToxicityStage",
    "tokenize": "curate.tokenize.stage:TokenizeStage",
    "pii": "curate.pii.stage:PiiStage",
    "decontaminate": "curate.decontaminate.stage:DecontaminateStage",
    "normalize": "curate.normalize.stage:NormalizeStage",
}

PIPELINE_KEYS = ("name", "description", "input", "output", "stages")


@dataclass
class Pipeline:
    name: str
    source_file: str
    inputs: list[str]
    output: str
    stages: list[Stage]

    def stage_named(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        names = ", ".join(s.name for s in self.stages)
        raise ConfigError(f"{self.source_file}: no stage named '{name}'; stages: {names}")


def stage_class(type_name: str, where: str) -> type[Stage]:
    if type_name not in STAGE_TYPES:
        close = difflib.get_close_matches(type_name, list(STAGE_TYPES), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{where}: unknown stage '{type_name}'{hint}; known stages: {', '.join(STAGE_TYPES)}")
    module_name, class_name = STAGE_TYPES[type_name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


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
            close = difflib.get_close_matches(str(key), PIPELINE_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{path}: unknown key '{key}'{hint}; expected {', '.join(PIPELINE_KEYS)}")
    inputs = input_override or _as_list(raw.get("input"), f"{path}: key 'input'")
    output = output_override or raw.get("output")
    if not isinstance(output, str) or not output:
        raise ConfigError(f"{path}: key 'output': expected a folder path or URL (or pass --output)")
    for url in inputs:
        if not storage.exists(url):
            raise ConfigError(f"{path}: key 'input': path '{url}' does not exist")
    return Pipeline(str(raw.get("name", path)), path, inputs, output, build_stages(raw.get("stages"), path))


def build_stages(entries, path: str) -> list[Stage]:
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: key 'stages': expected a non-empty list of stages")
    stages, names = [], set()
    for index, entry in enumerate(entries):
        where = f"{path}: stages[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("stage"), str):
            raise ConfigError(f"{where}: expected a mapping with a 'stage' key naming the stage type, got {entry!r}")
        params = {k: v for k, v in entry.items() if k not in ("stage", "name")}
        cls = stage_class(entry["stage"], f"{where}.stage")
        name = entry.get("name", entry["stage"])
        if not isinstance(name, str) or name in names or name in ("rejected", "stats"):
            raise ConfigError(f"{where}.name: stage names must be unique strings other than 'rejected'/'stats'; got {name!r} (give one a 'name:')")
        names.add(name)
        stage = cls(name, build_params(cls.Params, params, f"{where} ({entry['stage']})"))
        if hasattr(stage, "check"):  # files a stage reads (benchmarks), checked before any work
            stage.check()
        stages.append(stage)
    return stages


def _as_list(value, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"{where}: expected a path/URL or a list of them (or pass --input), got {value!r}")
