"""Stage registration: every stage type, written once, as its YAML `stage:` name and its class.

    "langid": "curate.langid.stage.LangIdStage",

A stage's module is imported only when a pipeline uses the stage, so heavy libraries (fastText,
torch, trafilatura) load only when needed. Add one line here for a new stage.
"""

from __future__ import annotations

import importlib
from functools import cache

from common.typed import did_you_mean
from curate.core.params import ConfigError

STAGES = {
    "read": "curate.read.stage.ReadStage",
    "extract": "curate.extract.stage.ExtractStage",
    "normalize": "curate.normalize.stage.NormalizeStage",
    "langid": "curate.langid.stage.LangIdStage",
    "quality": "curate.quality.stage.QualityStage",
    "code_quality": "curate.quality.code.CodeQualityStage",
    "classify": "curate.classify.stage.ClassifyStage",
    "dedup": "curate.dedup.stage.DedupStage",
    "toxicity": "curate.toxicity.stage.ToxicityStage",
    "tokenize": "curate.tokenize.stage.TokenizeStage",
    "pii": "curate.pii.stage.PiiStage",
    "decontaminate": "curate.decontaminate.stage.DecontaminateStage",
    "paragraph_dedup": "curate.dedup.paragraphs.ParagraphDedupStage",
    "license": "curate.license.stage.LicenseStage",
    "secrets": "curate.secrets.stage.SecretsStage",
}
NAMES = {path: name for name, path in STAGES.items()}


def stage_class(name: str, where: str) -> type:
    """The class of the stage a pipeline calls `name`; ConfigError with a did-you-mean for an unknown one."""
    if name not in STAGES:
        hint = did_you_mean(name, list(STAGES))
        raise ConfigError(f"{where}: unknown stage '{name}'{hint}; known stages: {', '.join(STAGES)}")
    module, _, cls = STAGES[name].rpartition(".")
    return getattr(importlib.import_module(module), cls)


@cache
def stage_name(cls: type) -> str:
    """The YAML name a stage class is registered under."""
    path = f"{cls.__module__}.{cls.__qualname__}"
    if path not in NAMES:
        raise TypeError(f"stage class {path} is not registered: add a line for it to STAGES in curate/core/registry.py")
    return NAMES[path]
