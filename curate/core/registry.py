"""Stage registration: the YAML `stage:` name of every stage type, written once.

A stage module registers its class with the decorator:

    @register_stage("langid")
    class LangIdStage(DocumentStage): ...

and STAGE_MODULES names the module that holds it, so a pipeline imports only the stages it
uses (heavy libraries load only when needed). The decorator refuses a name that the module
table does not map to the class's own module, so the two cannot disagree.
"""
from __future__ import annotations

import importlib

from common.typed import did_you_mean
from curate.core.params import ConfigError

# YAML stage name -> the module that registers it. Add a line here for a new stage.
STAGE_MODULES = {
    "read": "curate.read.stage",
    "extract": "curate.extract.stage",
    "normalize": "curate.normalize.stage",
    "langid": "curate.langid.stage",
    "quality": "curate.quality.stage",
    "code_quality": "curate.quality.code",
    "classify": "curate.classify.stage",
    "dedup": "curate.dedup.stage",
    "toxicity": "curate.toxicity.stage",
    "tokenize": "curate.tokenize.stage",
    "pii": "curate.pii.stage",
    "decontaminate": "curate.decontaminate.stage",
    "paragraph_dedup": "curate.dedup.paragraphs",
    "license": "curate.license.stage",
    "secrets": "curate.secrets.stage",
}

_registered: dict[str, type] = {}


def register_stage(name: str):
    """Class decorator: make the class the stage called `name` in pipeline files."""
    def register(cls: type) -> type:
        module = STAGE_MODULES.get(name)
        if module != cls.__module__:
            raise TypeError(f"stage '{name}' ({cls.__module__}.{cls.__name__}): add \"{name}\": \"{cls.__module__}\" "
                            f"to STAGE_MODULES in curate/core/registry.py" + (f" (it names {module})" if module else ""))
        cls.type_name = name
        _registered[name] = cls
        return cls
    return register


def stage_class(name: str, where: str) -> type:
    if name not in STAGE_MODULES:
        hint = did_you_mean(name, list(STAGE_MODULES))
        raise ConfigError(f"{where}: unknown stage '{name}'{hint}; known stages: {', '.join(STAGE_MODULES)}")
    importlib.import_module(STAGE_MODULES[name])
    if name not in _registered:
        raise TypeError(f"{STAGE_MODULES[name]} registers no stage '{name}' (@register_stage(\"{name}\") missing)")
    return _registered[name]
