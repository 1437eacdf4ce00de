"""common/typed.py, the one config layer: constraints declared on fields, nested configs, one error format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest

from common.typed import NON_EMPTY, NON_NEGATIVE, POSITIVE, ConfigError, Invalid, build, check, interval, named_path


@dataclass
class Part:
    name: str
    path: Path
    share: Annotated[float, interval("(0, 1]")] | None = None
    loaded: int | None = field(default=None, init=False)  # set by the code, not by a config

    def __post_init__(self):
        if self.name == self.path.name:
            raise ValueError("name and path must differ")


@dataclass
class Whole:
    size: Annotated[int, POSITIVE]
    parts: Annotated[list[Part], NON_EMPTY]
    rate: Annotated[float, NON_NEGATIVE] = 0.5
    dropout: Annotated[float, interval("[0, 1)")] = 0.0

    def __post_init__(self):
        if self.size < len(self.parts):
            raise Invalid("size", f"{self.size} is smaller than the {len(self.parts)} parts")


def make(**values):
    return build(Whole, {"size": 4, "parts": [{"name": "a", "path": "x/b"}], **values}, "w.yaml")


def test_values_are_converted_to_the_annotated_types():
    whole = make(rate="3e-4", size=4.0, parts=[{"name": "a", "path": "x/b", "share": 1}])
    assert whole.rate == 3e-4  # PyYAML reads 3e-4 (no dot) as a string
    assert whole.size == 4 and isinstance(whole.size, int)  # 4.0, e.g. 4e+0 in YAML
    assert whole.parts[0].path == Path("x/b") and whole.parts[0].share == 1.0


@pytest.mark.parametrize(
    "values, message",
    [
        ({"size": 0}, "w.yaml: size: expected a positive number, got 0"),
        ({"size": 2.5}, "w.yaml: size: expected an integer, got 2.5"),
        ({"size": True}, "w.yaml: size: expected an integer, got True"),
        ({"rate": -1}, "w.yaml: rate: expected a non-negative number, got -1.0"),
        ({"dropout": 1}, "w.yaml: dropout: expected a number in [0, 1), got 1.0"),
        ({"parts": []}, "w.yaml: parts: expected at least one entry, got []"),
        (
            {"parts": [{"name": "a", "path": "b", "share": 0}]},
            "w.yaml: parts[0].share: expected a number in (0, 1], got 0.0",
        ),
        (
            {"parts": [{"name": "a", "path": "b", "share": "all"}]},
            "w.yaml: parts[0].share: expected a number in (0, 1] or null, got 'all'",
        ),
        (
            {"parts": [{"name": "a", "path": "b", "shaer": 1}]},
            "w.yaml: parts[0].shaer: unknown key (did you mean 'share'?)",
        ),
        (
            {"parts": [{"name": "a", "path": "b", "loaded": 1}]},
            "w.yaml: parts[0].loaded: unknown key; expected one of name, path, share",
        ),
        ({"parts": [{"name": "a"}]}, "w.yaml: parts[0].path: required key missing; expected a path"),
        ({"parts": ["a"]}, "w.yaml: parts[0]: expected a mapping of name, path, share, got 'a'"),
        ({"parts": [{"name": "b", "path": "x/b"}]}, "w.yaml: parts[0]: name and path must differ"),
        ({"size": 2, "parts": [{"name": "a", "path": "b"}] * 3}, "w.yaml: size: 2 is smaller than the 3 parts"),
    ],
)
def test_each_problem_names_file_key_and_expectation(values, message):
    with pytest.raises(ConfigError) as error:
        make(**values)
    assert str(error.value) == message


def test_interval_bounds_are_open_or_closed():
    closed, half_open = interval("[0, 1]"), interval("(0, 1]")
    assert closed.test(0) and closed.test(1) and not closed.test(1.01)
    assert not half_open.test(0) and half_open.test(1)


def test_check_takes_a_partial_layer_and_build_the_whole():
    """A config assembled from layers: each layer is checked under its own name, then the whole is built."""
    layer = check(Whole, {"rate": "0.1"}, "command line")
    assert layer == {"rate": 0.1}
    with pytest.raises(ConfigError, match="command line: sise: unknown key .did you mean 'size'"):
        check(Whole, {"sise": 3}, "command line")
    with pytest.raises(ConfigError, match="config: size: required key missing; expected a positive number"):
        build(Whole, layer, "config")


def test_an_eval_set_or_task_is_named_by_path_name_or_mapping():
    assert named_path("held/out.jsonl.gz", "task") == ("out", Path("held/out.jsonl.gz"))
    assert named_path("books=held/b.txt", "task") == ("books", Path("held/b.txt"))
    assert named_path({"path": "held/b.txt"}, "task") == ("b", Path("held/b.txt"))
    with pytest.raises(ConfigError, match=r"config: eval_sets\[0\]: expected \{name: NAME, path: PATH\}"):
        named_path({"name": "b", "file": "b.txt"}, "config: eval_sets[0]")
