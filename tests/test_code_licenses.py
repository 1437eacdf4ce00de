"""Licenses of code: found per repository and per file, kept or rejected by the license stage, shown by export.

The repositories are planted (tests/code_fixtures.py): MIT, a dual MIT/Apache repository with
Cargo.toml, a license only in package.json or pyproject.toml, a GPL file (SPDX header) inside an
MIT repository, a GPL repository, none, an unidentifiable custom license, a monorepo whose package
has its own license, and a GitHub-style .tar.gz. The standard library's json package is the real case.
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest

from code_fixtures import COMMON_LICENSES, MIT, plant_repositories
from conftest import read_rejected, read_stage
from curate.api import Pipeline, Stage
from curate.core.params import ConfigError
from curate.export import export

pytestmark = pytest.mark.skipif(
    not (COMMON_LICENSES / "GPL-3").exists(),
    reason="full license texts come from Debian's base-files (/usr/share/common-licenses)",
)


def run(tmp_path: Path, *stages: dict, inputs=None) -> Path:
    if inputs is None:
        inputs, _ = plant_repositories(tmp_path / "repos")
    out = tmp_path / "out"
    Pipeline.of(inputs, str(out), [Stage("extract", source="code", files_per_shard=4), *stages]).run()
    return out


def licenses_by_file(table) -> dict:
    return {(r["repository"], r["relative_path"]): (r["license"], r["license_source"]) for r in table.to_pylist()}


@pytest.mark.slow
def test_every_planted_file_gets_its_repositorys_license_or_its_own_header(tmp_path):
    inputs, expected = plant_repositories(tmp_path / "repos")
    found = licenses_by_file(read_stage(run(tmp_path, inputs=inputs), "extract"))
    assert {key: found.get(key) for key in expected} == expected


@pytest.mark.slow
def test_the_license_stage_keeps_the_permissive_set_and_says_why_it_drops_the_rest(tmp_path):
    out = run(tmp_path, Stage("license"))
    kept = licenses_by_file(read_stage(out, "license"))
    assert {repository for repository, _ in kept} == {
        "mit",
        "dual",
        "npm_only",
        "pyproject_only",
        "gpl_in_mit",
        "monorepo",
        "apache",
    }
    assert ("gpl_in_mit", "main.py") in kept and ("gpl_in_mit", "vendored_gpl.py") not in kept
    dropped = {
        (r["repository"], r["relative_path"]): (r["reason"], r["detail"])
        for r in read_rejected(out, "license").to_pylist()
    }
    assert dropped == {
        ("gpl", "x.c"): ("license.not_allowed", "GPL-3.0-only (from COPYING)"),
        ("gpl_in_mit", "vendored_gpl.py"): ("license.not_allowed", "GPL-3.0-or-later (from header)"),
        ("no_license", "main.py"): ("license.unknown", "no license file, package license or SPDX header"),
        ("no_license", "README.md"): ("license.unknown", "no license file, package license or SPDX header"),
        ("custom", "main.py"): ("license.unknown", "license files not identified (from LICENSE)"),
    }
    stats = json.loads((out / "stats" / "license.json").read_text())
    assert stats["dropped"] == {"license.not_allowed": 2, "license.unknown": 3}
    assert stats["counters"]["documents.MIT"] == 5 and stats["counters"]["documents.unknown"] == 3


@pytest.mark.slow
def test_unknown_can_be_kept_and_the_list_replaced(tmp_path):
    inputs, _ = plant_repositories(tmp_path / "repos")
    kept = licenses_by_file(read_stage(run(tmp_path / "a", Stage("license", unknown="keep"), inputs=inputs), "license"))
    assert ("no_license", "main.py") in kept and ("custom", "main.py") in kept
    kept = licenses_by_file(
        read_stage(
            run(tmp_path / "b", Stage("license", licenses=["GPL-3.0-only", "Apache-2.0"]), inputs=inputs), "license"
        )
    )
    # an OR needs one listed license, an AND all: MIT OR Apache-2.0 stays, GPL-3.0-or-later does not
    assert {license for license, _ in kept.values()} == {"GPL-3.0-only", "MIT OR Apache-2.0", "Apache-2.0"}


def test_a_license_name_that_is_no_spdx_id_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="not SPDX license ids: 'BSD'"):
        Pipeline.of(
            str(tmp_path),
            str(tmp_path / "out"),
            [Stage("extract", source="code"), Stage("license", licenses=["MIT", "BSD"])],
        )


@pytest.mark.slow
def test_a_package_folder_takes_the_license_above_it_up_to_the_repository_root(tmp_path):
    stdlib_json = Path(sysconfig.get_paths()["stdlib"]) / "json"  # the demo's code: Lib/json, Lib/LICENSE.txt above it
    found = licenses_by_file(read_stage(run(tmp_path / "a", inputs=[str(stdlib_json)]), "extract"))
    assert set(found.values()) == {("unknown", None)}  # a folder tree is a repository of its own ...
    out = tmp_path / "c"
    Pipeline.of(
        [str(stdlib_json)], str(out), [Stage("extract", source="code", parent_licenses=True), Stage("license")]
    ).run()
    kept = licenses_by_file(read_stage(out, "license"))
    assert len(kept) == len(list(stdlib_json.glob("*.py")))  # ... or, with parent_licenses, part of the one above
    assert set(kept.values()) == {("Python-2.0.1", "../LICENSE.txt")}

    outer = tmp_path / "outer"  # the search stops at the repository's root (a .git folder)
    (outer / "repo" / ".git").mkdir(parents=True)
    (outer / "LICENSE").write_text(MIT.format(year=2020, holder="Someone else"))
    (outer / "repo" / "pkg").mkdir()
    (outer / "repo" / "pkg" / "a.py").write_text("x = 1\n")
    out = tmp_path / "d"
    Pipeline.of([str(outer / "repo" / "pkg")], str(out), [Stage("extract", source="code", parent_licenses=True)]).run()
    assert licenses_by_file(read_stage(out, "extract")) == {("pkg", "a.py"): ("unknown", None)}


@pytest.mark.slow
def test_export_card_and_report_list_licenses(tmp_path):
    out = run(tmp_path, Stage("license"))
    from curate.report.page import facets
    from curate.report.run import load_run

    licenses = facets(load_run(out)).split("Licenses (code)")[1]
    for license, before, after in (("MIT", 5, 5), ("GPL-3.0-only", 1, 0), ("unknown", 3, 0)):
        assert f"<td>{license}</td><td>{before}</td><td>{after}</td>" in licenses  # the distribution before and after
    export(str(out / "license"), str(tmp_path / "export"))
    card = (tmp_path / "export" / "README.md").read_text()
    assert "| `MIT` | 5 | 3 |" in card  # mit (2 files), gpl_in_mit (main.py, LICENSE.md), monorepo packages/a
    assert "- `MIT`: gpl_in_mit, mit, monorepo" in card
    assert "GPL" not in card.split("## Licenses")[1]
    listed = json.loads((tmp_path / "export" / "licenses.json").read_text())
    assert listed["MIT OR Apache-2.0"] == {"files": 2, "repositories": ["dual"]}
