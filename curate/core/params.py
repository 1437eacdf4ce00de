"""Checking stage parameters from YAML against a stage's Params dataclass (common/typed.py).

Every stage declares its parameters as a dataclass; this module turns a YAML
mapping into an instance or raises ConfigError naming the file, the key and
what was expected, before any work starts.
"""

from __future__ import annotations

import os

from common.typed import NON_EMPTY, ConfigError, Invalid, build  # noqa: F401 - curate's too


build_params = build  # stage parameters: the project's one typed-config layer (common/typed.py)


def read_list_file(path: str, what: str) -> list[str]:
    """The lines of a UTF-8 list file (a leading byte-order mark dropped), or ConfigError naming it."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{what} '{path}' cannot be read: {error}") from None


def absolute_path(path: str | None) -> str | None:
    """For __post_init__: a local file parameter (model, word list) made absolute, so every worker,
    whatever its working folder (Ray workers have their own), opens the file the user meant."""
    return None if path is None else os.path.abspath(os.path.expanduser(path))


def require_fraction(name: str, value: float | None) -> None:
    """For __post_init__ checks: thresholds and ratios must lie in [0, 1]."""
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"parameter '{name}' must be between 0 and 1, got {value}")
