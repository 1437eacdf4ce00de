"""The license of every code file: its repository's license files and package metadata, or its own SPDX header.

Evidence, per folder of a repository (vendored, generated and version-control folders excluded):
- license files: LICENSE*, LICENCE*, COPYING*, UNLICENSE* (plain, .txt, .md, .rst or a suffix such as
  LICENSE-MIT; never a code file like license.py), identified by askalono (the Rust detector, via
  pyaskalono) when its score is at least MIN_SCORE;
- package metadata: the license field of package.json, pyproject.toml ([project] or [tool.poetry]),
  setup.cfg ([metadata]) and Cargo.toml ([package]), used only when it is a valid SPDX expression
  ("MIT OR Apache-2.0"; free text such as "BSD License" is no evidence).

A file's license, first rule that applies:
1. an `SPDX-License-Identifier:` line in its first HEADER_CHARS characters: the file's own header wins
   over its repository (a GPL file inside an MIT repository is GPL), license_source "header";
2. the nearest folder, from the file's own up to the repository root, that holds evidence:
   - identified license files: their licenses joined with AND (every one applies), unless that
     folder's metadata names exactly the same licenses, whose expression then says how they
     combine (Cargo.toml "MIT OR Apache-2.0" beside LICENSE-MIT and LICENSE-APACHE);
   - else valid metadata;
   - else license files that could not be identified: `unknown`, the files named as the source;
3. `unknown`, source null.
license_source names the evidence: the repository-relative paths of the files used, or "header".

Where it fails: a license file holding two licenses' texts is identified as the closer one only
(askalono matches one text); metadata that disagrees with the files (npm's default "ISC" beside an
MIT LICENSE) loses to the files; a license stated only in a README or in a file's prose header
(without an SPDX line) is not found.
"""

from __future__ import annotations

import configparser
import functools
import json
import posixpath
import re
import tomllib

MIN_SCORE = 0.8  # askalono's own default confidence threshold
HEADER_CHARS = 4000  # SPDX lines sit in the first comment block (REUSE); a whole file is not searched
LICENSE_NAME = re.compile(r"(?:(?:un)?licen[cs]e|copying)(?:[-_.][\w.-]*)?", re.IGNORECASE)
TEXT_SUFFIXES = {"", ".txt", ".md", ".markdown", ".rst"}
METADATA_FILES = {"package.json", "pyproject.toml", "setup.cfg", "cargo.toml"}
SPDX_HEADER = re.compile(r"SPDX-License-Identifier:\s*(.+?)\s*(?:\*/|-->|\"\"\"|'''|$)", re.MULTILINE)
COPYRIGHT_LINE = re.compile(r"^.*(?:copyright|\(c\)|©).*$", re.IGNORECASE | re.MULTILINE)
UNKNOWN = "unknown"


def is_evidence(relative: str) -> bool:
    """A license file or package metadata, by its name."""
    name = posixpath.basename(relative)
    if name.lower() in METADATA_FILES:
        return True
    suffix = posixpath.splitext(name)[1]
    # LICENSE, LICENSE.md, LICENSE-MIT, COPYING.LESSER; not license.py or license_check.go
    return LICENSE_NAME.fullmatch(name) is not None and (suffix.lower() in TEXT_SUFFIXES or suffix[1:].isupper())


@functools.cache
def licensing():
    from license_expression import get_spdx_licensing  # the SPDX list, loaded once per process

    return get_spdx_licensing()


def spdx_expression(text: str | None) -> str | None:
    """The normalised SPDX expression, or None when the text is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    info = licensing().validate(text.strip())
    return None if info.errors else info.normalized_expression


def license_header(text: str) -> str | None:
    match = SPDX_HEADER.search(text, 0, HEADER_CHARS)
    return spdx_expression(match.group(1)) if match else None


_identified: dict[str, str | None] = {}


def identify(text: str) -> str | None:
    """The SPDX id of a license text, or None. Texts that differ only in their copyright lines and
    spacing (most MIT and BSD files) share one askalono call: each costs about 0.4 s (bench/RESULTS.md)."""
    key = " ".join(COPYRIGHT_LINE.sub("", text).split())
    if key not in _identified:
        import askalono  # loaded only where code is extracted

        if len(_identified) >= 4096:
            _identified.clear()
        match = askalono.identify(text)
        _identified[key] = spdx_expression(match.name) if match.score >= MIN_SCORE else None
    return _identified[key]


def metadata_license(name: str, text: str) -> str | None:
    """The license field of a package file, if it is an SPDX expression; None for anything unreadable."""
    try:
        name = name.lower()
        if name == "package.json":
            data = json.loads(text)
            value = data.get("license")
            if isinstance(value, dict):  # the old {"type": "MIT"} form
                value = value.get("type")
            if value is None and isinstance(data.get("licenses"), list):  # the old list: a choice
                value = " OR ".join(str(item.get("type")) for item in data["licenses"] if isinstance(item, dict))
        elif name == "pyproject.toml":
            data = tomllib.loads(text)
            value = data.get("project", {}).get("license") or data.get("tool", {}).get("poetry", {}).get("license")
            if isinstance(value, dict):  # {text = "MIT"}; {file = ...} points at a license file read anyway
                value = value.get("text")
        elif name == "cargo.toml":
            value = tomllib.loads(text).get("package", {}).get("license")
        else:  # setup.cfg
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text)
            value = parser.get("metadata", "license", fallback=None)
    except (ValueError, AttributeError, configparser.Error, tomllib.TOMLDecodeError):
        return None
    return spdx_expression(value)


def symbols(expression: str) -> set[str]:
    return {symbol.key for symbol in licensing().license_symbols(expression, decompose=True)}


def folder_evidence(files: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{folder: (license, license_source)} from {relative path: text} of evidence files ('' is the root)."""
    by_folder: dict[str, dict[str, str]] = {}
    for relative, text in files.items():
        by_folder.setdefault(posixpath.dirname(relative), {})[relative] = text
    evidence = {}
    for folder, found in by_folder.items():
        identified, unidentified, metadata = {}, [], {}
        for relative, text in sorted(found.items()):
            name = posixpath.basename(relative)
            if name.lower() in METADATA_FILES:
                if (expression := metadata_license(name, text)) is not None:
                    metadata[relative] = expression
            elif (license := identify(text)) is not None:
                identified[relative] = license
            else:
                unidentified.append(relative)
        if identified:
            licenses = sorted(set(identified.values()))
            same = [path for path, expression in metadata.items() if symbols(expression) == set(licenses)]
            expression = metadata[same[0]] if same else spdx_expression(" AND ".join(licenses))
            evidence[folder] = (expression, ",".join([*identified, *same]))
        elif metadata:
            path, expression = next(iter(metadata.items()))
            evidence[folder] = (expression, path)
        elif unidentified:
            evidence[folder] = (UNKNOWN, ",".join(unidentified))
    return evidence


def license_of(relative: str, text: str, evidence: dict[str, tuple[str, str]]) -> tuple[str, str | None]:
    """(license, license_source) of one file of a repository (rules in the module docstring)."""
    if (header := license_header(text)) is not None:
        return header, "header"
    folder = posixpath.dirname(relative)
    while True:
        if folder in evidence:
            return evidence[folder]
        if not folder:
            return UNKNOWN, None
        folder = posixpath.dirname(folder)
