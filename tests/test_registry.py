"""One registration per stage (its name and class in STAGES), and an unknown stage name gets a
did-you-mean, from a pipeline file or from the Python API."""

from __future__ import annotations

import pytest

from curate.api import Pipeline, Stage
from curate.core.params import ConfigError
from curate.core.registry import STAGES, stage_class, stage_name
from curate.core.stage import DocumentStage, NoParams


def test_every_listed_stage_is_its_class_and_knows_its_name():
    for name in STAGES:
        cls = stage_class(name, "test")
        assert cls.__module__ + "." + cls.__qualname__ == STAGES[name]
        assert stage_name(cls) == name  # what a stage writes into pipeline.yaml and its config hash


def test_a_stage_class_that_is_not_listed_says_where_to_register_it():
    class Unlisted(DocumentStage):
        pass

    with pytest.raises(TypeError, match="add a line for it to STAGES in curate/core/registry.py"):
        Unlisted("unlisted", NoParams()).type_name


def test_the_python_api_checks_like_a_pipeline_file(shared_data, tmp_path):
    with pytest.raises(ConfigError, match="unknown stage 'lang_id' .did you mean 'langid'"):
        Pipeline.of(str(shared_data / "books"), str(tmp_path), [Stage("extract", source="books"), Stage("lang_id")])
    with pytest.raises(ConfigError, match="treshold: unknown key .did you mean 'threshold'"):
        Pipeline.of(str(shared_data / "books"), str(tmp_path), [Stage("langid", treshold=0.5)])
    with pytest.raises(ConfigError, match="no-such-protocol"):
        Pipeline.of(str(shared_data / "books"), "no-such-protocol://bucket/out", [Stage("extract", source="books")])
