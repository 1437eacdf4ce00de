"""One registration per stage: the decorator and the module table cannot disagree, and an
unknown stage name gets a did-you-mean, from a pipeline file or from the Python API."""
from __future__ import annotations

import pytest

from curate.api import Pipeline, Stage
from curate.core.params import ConfigError
from curate.core.registry import STAGE_MODULES, register_stage, stage_class
from curate.core.stage import DocumentStage


def test_every_listed_stage_registers_under_its_name():
    for name in STAGE_MODULES:
        assert stage_class(name, "test").type_name == name


def test_a_name_the_table_does_not_map_to_the_module_is_refused():
    with pytest.raises(TypeError, match="STAGE_MODULES"):
        @register_stage("langid")  # registered by curate.langid.stage, not by this module
        class Impostor(DocumentStage):
            pass
    with pytest.raises(TypeError, match="STAGE_MODULES"):
        @register_stage("not_listed")
        class Unlisted(DocumentStage):
            pass


def test_the_python_api_checks_like_a_pipeline_file(shared_data, tmp_path):
    with pytest.raises(ConfigError, match="unknown stage 'lang_id' .did you mean 'langid'"):
        Pipeline.of(str(shared_data / "books"), str(tmp_path), [Stage("extract", source="books"), Stage("lang_id")])
    with pytest.raises(ConfigError, match="treshold: unknown key .did you mean 'threshold'"):
        Pipeline.of(str(shared_data / "books"), str(tmp_path), [Stage("langid", treshold=0.5)])
    with pytest.raises(ConfigError, match="no-such-protocol"):
        Pipeline.of(str(shared_data / "books"), "no-such-protocol://bucket/out", [Stage("extract", source="books")])
