"""Typed configuration without dependencies: dataclasses checked against their annotations.

One layer for every configuration in the project: curate's stage parameters (via
curate.core.params), the pipeline file, the trainer's config (train/config.py) and the mix
manifest (common/mix.py). `build(cls, values, where)` checks every key (unknown ones get a
did-you-mean) and every value against the field's annotation (int, float, str, bool, Path,
Literal, unions with None, lists, dicts, nested dataclasses) and the constraints declared next
to it (`n_layer: Annotated[int, POSITIVE]`), then calls the dataclass, whose __post_init__
checks what one field cannot say alone (no files, no models). Every problem is one ConfigError
in one format, "WHERE: KEY: expected ..., got ...", before any work starts. Imports only the
standard library, so train/ may use it.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


class ConfigError(ValueError):
    """A configuration problem (pipeline, stage, train config, mix manifest), reported before any work starts."""


class Invalid(ValueError):
    """Raised by a __post_init__ for a problem no annotation can express, naming the key at fault."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


@dataclass(frozen=True)
class Check:
    """A constraint on a value, declared in its field's annotation: `dropout: Annotated[float, interval("[0, 1)")]`."""

    test: Callable[[Any], bool]
    expected: str  # completes "expected ..., got VALUE"


POSITIVE = Check(lambda v: v > 0, "a positive number")
NON_NEGATIVE = Check(lambda v: v >= 0, "a non-negative number")
NON_EMPTY = Check(lambda v: len(v) > 0, "at least one entry")


def interval(text: str) -> Check:
    """interval("(0, 1]"): a number between the bounds, each bound closed by [ or ] and open by ( or )."""
    low, high = (float(x) for x in text[1:-1].split(","))
    above = (lambda v: v >= low) if text[0] == "[" else (lambda v: v > low)
    below = (lambda v: v <= high) if text[-1] == "]" else (lambda v: v < high)
    return Check(lambda v: above(v) and below(v), f"a number in {text}")


def build(params_cls: type, values: Any, where: str, key: str = "") -> Any:
    """params_cls(**values) after checking every key, type and constraint. Messages read
    "WHERE: KEY: problem"; `key` is the path of values inside where ("sources[1]"), empty at the top."""
    checked = check(params_cls, values, where, key)
    missing = [
        f
        for f in _settable(params_cls).values()
        if f.name not in checked and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        hint = typing.get_type_hints(params_cls, include_extras=True)[missing[0].name]
        raise ConfigError(f"{where}: {_join(key, missing[0].name)}: required key missing; expected {_describe(hint)}")
    try:
        return params_cls(**checked)
    except Invalid as error:
        raise ConfigError(f"{where}: {_join(key, error.key)}: {error.problem}") from None
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{where}: {key + ': ' if key else ''}{error}") from None


def check(params_cls: type, values: Any, where: str, key: str = "") -> dict:
    """The keys and values of `values` checked against params_cls's fields (some may be missing),
    converted to the fields' types; for configs assembled from several layers (preset, file, command line)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: {key + ': ' if key else ''}expected a mapping, got {type(values).__name__}")
    for name in values:
        check_key(params_cls, name, where, key)
    hints = typing.get_type_hints(params_cls, include_extras=True)
    return {name: _check(value, hints[name], where, _join(key, name)) for name, value in values.items()}


def check_key(params_cls: type, name: Any, where: str, key: str = "") -> None:
    """ConfigError with a did-you-mean (or the known keys) unless `name` is a field a config may set."""
    fields = _settable(params_cls)
    if name not in fields:
        hint = did_you_mean(name, list(fields)) or f"; expected one of {', '.join(fields) or 'none'}"
        raise ConfigError(f"{where}: {_join(key, name)}: unknown key{hint}")


def _settable(params_cls: type) -> dict:
    """The fields a config may set: init=False ones are filled in by the code (a loaded shard, a resolved path)."""
    return {f.name: f for f in dataclasses.fields(params_cls) if f.init}


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


class _Mismatch(ConfigError):
    """The value at `key` is not of the annotated type (a union then tries its next member)."""

    def __init__(self, value: Any, hint: Any, where: str, key: str):
        super().__init__(f"{where}: {key}: expected {_describe(hint)}, got {value!r}")
        self.key = key


def _check(value: Any, hint: Any, where: str, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is typing.Annotated:
        value = _check(value, args[0], where, key)
        for constraint in hint.__metadata__:
            if not constraint.test(value):
                raise ConfigError(f"{where}: {key}: expected {constraint.expected}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check(value, arg, where, key)
            except _Mismatch as error:
                if error.key != key:
                    raise  # a value inside (a list item, a nested key) is wrong: name it
        raise _Mismatch(value, hint, where, key)
    if origin is typing.Literal:
        if value not in args:
            raise _Mismatch(value, hint, where, key)
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise _Mismatch(value, hint, where, key)
        return build(hint, value, where, key)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise _Mismatch(value, hint, where, key)
        return [_check(item, args[0], where, f"{key}[{i}]") for i, item in enumerate(value)] if args else value
    if origin is dict:
        if not isinstance(value, dict):
            raise _Mismatch(value, hint, where, key)
        return {_check(k, args[0], where, key): _check(v, args[1], where, f"{key}.{k}") for k, v in value.items()}
    if hint in (int, float) and not isinstance(value, bool):
        number = _number(value)
        if hint is float and number is not None:
            return float(number)
        if hint is int and number is not None and float(number).is_integer():
            return int(number)  # 5.24288e+5 in YAML is a float
    if hint is Path and isinstance(value, str) and value:
        return Path(value)
    if hint in (str, bool) and isinstance(value, hint):
        return value
    raise _Mismatch(value, hint, where, key)


def _number(value: Any) -> int | float | None:
    """An int or float, or a string holding one: PyYAML reads 3e-4 (no dot) as a string."""
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return None


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return " and ".join(c.expected for c in hint.__metadata__)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None)) + (
            " or null" if type(None) in args else ""
        )
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (list, tuple):
        return f"a list of {_describe(args[0])}" if args else "a list"
    if origin is dict:
        return f"a mapping of {_describe(args[0])} to {_describe(args[1])}"
    if dataclasses.is_dataclass(hint):
        return f"a mapping of {', '.join(_settable(hint))}"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", Path: "a path"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def read_yaml(path: Path, what: str) -> Any:
    """The parsed YAML file, or ConfigError naming it: "PATH: WHAT not found" or "PATH: not valid YAML (...)"."""
    import yaml  # pyyaml: a dependency of train/ and curate, imported here only where a file is read

    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def named_path(entry: Any, where: str) -> tuple[str, Path]:
    """An eval set or task as a config names it: 'PATH', 'NAME=PATH' or {name: NAME, path: PATH} -> (name, path);
    the name defaults to the file's name up to its first dot."""
    if isinstance(entry, dict):
        if "path" not in entry or set(entry) - {"name", "path"}:
            raise ConfigError(f"{where}: expected {{name: NAME, path: PATH}}, got {entry!r}")
        path = Path(str(entry["path"]))
        return str(entry.get("name") or _stem(path)), path
    if not isinstance(entry, str) or not entry:
        raise ConfigError(f"{where}: expected a path, NAME=PATH or {{name, path}}, got {entry!r}")
    name, eq, path = entry.partition("=")
    return (name, Path(path)) if eq else (_stem(Path(entry)), Path(entry))


def _stem(path: Path) -> str:
    return path.name.split(".")[0] or str(path)


def did_you_mean(key: Any, known: list[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
