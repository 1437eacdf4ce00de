"""Typed configuration without dependencies: dataclasses checked against their annotations.

One layer for every configuration in the project: curate's stage parameters (via
curate.core.params), the pipeline file, and train/'s configs. `build(cls, values, where)`
checks every key (unknown ones get a did-you-mean) and every value against the field's
annotation (int, float, str, bool, Literal, unions with None, lists, dicts), then calls the
dataclass, whose __post_init__ checks values only (no files, no models); ConfigError names
where the problem is. Imports only the standard library, so train/ may use it.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any


class ConfigError(ValueError):
    """A pipeline or stage configuration problem, reported before any work starts."""


def build(params_cls: type, values: dict, where: str) -> Any:
    """Make params_cls(**values) after checking every key and type; `where` prefixes messages."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of parameters, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    hints = typing.get_type_hints(params_cls)
    for key in values:
        if key not in fields:
            hint = did_you_mean(key, list(fields))
            known = ", ".join(fields) or "none"
            raise ConfigError(f"{where}: unknown parameter '{key}'{hint}; known parameters: {known}")
    missing = [
        name
        for name, f in fields.items()
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required parameter '{missing[0]}' ({_describe(hints[missing[0]])})")
    checked = {key: _check(value, hints[key], f"{where}: parameter '{key}'") for key, value in values.items()}
    try:
        return params_cls(**checked)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{where}: {error}") from None


def _check(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check(value, arg, where)
            except ConfigError as error:
                errors.append(error)
        raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r}")
        return [_check(item, args[0], f"{where}[{i}]") for i, item in enumerate(value)] if args else value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r}")
        return {_check(k, args[0], where): _check(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r} ({type(value).__name__})")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None)) + (" or null" if type(None) in args else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (list, tuple):
        return f"a list of {_describe(args[0])}" if args else "a list"
    if origin is dict:
        return f"a mapping of {_describe(args[0])} to {_describe(args[1])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, getattr(hint, "__name__", str(hint)))


def did_you_mean(key: Any, known: list[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
