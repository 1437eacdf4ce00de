"""Stage parameters from YAML are checked against the stage's dataclass before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from curate.core.params import ConfigError, build_params, require_fraction


@dataclass
class Example:
    languages: list[str]
    threshold: float = 0.65
    per_language: dict[str, float] = field(default_factory=dict)
    mode: Literal["threshold", "top_fraction"] = "threshold"
    model: Optional[str] = None
    batch: int = 16

    def __post_init__(self):
        require_fraction("threshold", self.threshold)


def build(**values):
    return build_params(Example, values, "pipelines/x.yaml: stages[1] (langid)")


def test_valid_values_are_converted():
    params = build(languages=["en", "de"], threshold=1, per_language={"de": 0.5})
    assert params.threshold == 1.0 and isinstance(params.threshold, float)
    assert params.per_language == {"de": 0.5}
    assert params.model is None and params.batch == 16


def test_unknown_key_names_file_key_and_close_match():
    with pytest.raises(ConfigError) as error:
        build(languages=["en"], treshold=0.5)
    message = str(error.value)
    assert "pipelines/x.yaml: stages[1] (langid)" in message
    assert "treshold: unknown key" in message and "did you mean 'threshold'" in message


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"languages": "en"}, "languages: expected a list of a string, got 'en'"),
        ({"languages": ["en"], "batch": True}, "batch: expected an integer, got True"),
        ({"languages": ["en"], "batch": 2.5}, "batch: expected an integer, got 2.5"),
        ({"languages": ["en"], "mode": "top"}, "mode: expected one of 'threshold', 'top_fraction', got 'top'"),
        ({"languages": ["en"], "per_language": {"de": "high"}}, "per_language.de: expected a number, got 'high'"),
        ({"languages": ["en"], "model": 3}, "model: expected a string or null, got 3"),
        ({}, "languages: required key missing; expected a list of a string"),
        ({"languages": ["en"], "threshold": 1.5}, "'threshold' must be between 0 and 1, got 1.5"),
    ],
)
def test_wrong_values_are_explained(values, expected):
    with pytest.raises(ConfigError, match=None) as error:
        build(**values)
    assert expected in str(error.value)
    assert str(error.value).startswith("pipelines/x.yaml")


def test_parameters_must_be_a_mapping():
    with pytest.raises(ConfigError, match="p.yaml: expected a mapping, got list"):
        build_params(Example, ["en"], "p.yaml")
