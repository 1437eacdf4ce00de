"""The installed rawtollm distribution's version, for `curate --version` and `train --version`."""

from __future__ import annotations


def package_version() -> str:
    """From the package metadata (pyproject.toml's version, recorded at install)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rawtollm")
    except PackageNotFoundError:
        return "unknown (rawtollm is not installed: pip install -e .)"
