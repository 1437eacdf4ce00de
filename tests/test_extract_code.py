"""Code extraction on a slice of the Python standard library and on repository archives."""

from __future__ import annotations

import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from extract_fixtures import extract

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def make_repository(root: Path) -> Path:
    """A small repository with the files a real checkout carries besides its own code."""
    files = {
        "src/app.py": "def main():\n    return 42\n",
        "src/util.ts": "export const answer: number = 42;\n",
        "Makefile": "all:\n\tpython src/app.py\n",
        "Dockerfile": "FROM python:3.11\n",
        "scripts/deploy": "#!/usr/bin/env bash\necho deploy\n",
        "node_modules/left-pad/index.js": "module.exports = leftPad;\n",
        "vendor/lib/thing.go": "package thing\n",
        "build/lib/app.py": "def main():\n    return 42\n",
        ".git/config": "[core]\n",
        "package-lock.json": "{}\n",
        "static/app.min.js": "var a=1;\n",
        "static/bundle.js": "var b=" + "1+" * 600 + "1;\n",
        "docs/logo.png": "not really a png",
        "notes.txt": "remember the milk\n",
        "src/__init__.py": "",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "src" / "compiled.py").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 10)  # binary with a .py name
    return root


def reasons_by_path(rejected):
    return {r["relative_path"]: r["reason"] for r in rejected}


def test_repository_tree_keeps_code_and_rejects_the_rest_with_reasons(tmp_path):
    repo = make_repository(tmp_path / "myrepo")
    kept, rejected = extract(tmp_path, "code", [repo], max_line_chars=1000)
    languages = {r["relative_path"]: r["programming_language"] for r in kept}
    assert languages == {
        "src/app.py": "Python",
        "src/util.ts": "TypeScript",
        "Makefile": "Makefile",
        "Dockerfile": "Dockerfile",
        "scripts/deploy": "Shell",
    }
    assert {r["repository"] for r in kept} == {"myrepo"}
    assert reasons_by_path(rejected) == {
        "node_modules/left-pad/index.js": "vendored",
        "vendor/lib/thing.go": "vendored",
        "build/lib/app.py": "generated",
        ".git/config": "vcs_metadata",
        "package-lock.json": "lock_file",
        "static/app.min.js": "minified",
        "static/bundle.js": "minified",
        "docs/logo.png": "not_code",
        "notes.txt": "not_code",
        "src/__init__.py": "empty_file",
        "src/compiled.py": "binary_file",
    }
    vendored = next(r for r in rejected if r["relative_path"].startswith("node_modules"))
    assert vendored["detail"] == "inside node_modules/" and vendored["stage"] == "extract"


def test_archives_are_read_without_extracting_and_match_the_tree(tmp_path):
    repo = make_repository(tmp_path / "src" / "myrepo")
    files = sorted(p for p in repo.rglob("*") if p.is_file())
    with tarfile.open(tmp_path / "myrepo.tar.gz", "w:gz") as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(repo).as_posix())
    with zipfile.ZipFile(tmp_path / "myrepo.zip", "w") as archive:
        for path in files:
            archive.write(path, path.relative_to(repo).as_posix())
    tree, tree_rejected = extract(tmp_path, "code", [repo], name="out-tree")
    for name in ("myrepo.tar.gz", "myrepo.zip"):
        kept, rejected = extract(tmp_path, "code", [tmp_path / name], name=f"out-{name}")
        assert {r["relative_path"]: r["text"] for r in kept} == {r["relative_path"]: r["text"] for r in tree}
        assert {r["repository"] for r in kept} == {"myrepo"} and {r["path"] for r in kept} == {str(tmp_path / name)}
        assert reasons_by_path(rejected) == reasons_by_path(tree_rejected)


def test_a_corrupt_archive_is_a_rejection_naming_it(tmp_path):
    repo = make_repository(tmp_path / "src" / "myrepo")
    with tarfile.open(tmp_path / "good.tar.gz", "w:gz") as tar:
        tar.add(repo / "src", arcname="src")
    data = (tmp_path / "good.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 this is not a zip archive")
    kept, rejected = extract(
        tmp_path, "code", [tmp_path / "cut.tar.gz", tmp_path / "bad.zip", tmp_path / "good.tar.gz"]
    )
    assert {r["relative_path"] for r in kept if r["path"].endswith("good.tar.gz")} == {"src/app.py", "src/util.ts"}
    broken = {r["path"].rsplit("/", 1)[-1]: r for r in rejected if r["reason"] == "unreadable_archive"}
    assert set(broken) == {"cut.tar.gz", "bad.zip"}
    assert all(name in row["detail"] for name, row in broken.items())


@pytest.fixture(scope="module")
def stdlib_slice(tmp_path_factory):
    if not (STDLIB / "json" / "__init__.py").exists():
        pytest.skip(f"Python standard library sources not found at {STDLIB}")
    folder = tmp_path_factory.mktemp("stdlib")
    return extract(folder, "code", [STDLIB / "json", STDLIB / "email", STDLIB / "test" / "encoded_modules"])


def test_stdlib_slice(stdlib_slice):
    kept, rejected = stdlib_slice
    paths = {(r["repository"], r["relative_path"]) for r in kept}
    assert ("json", "decoder.py") in paths and ("email", "mime/text.py") in paths
    assert all(r["programming_language"] == "Python" for r in kept if r["relative_path"].endswith(".py"))
    assert "class JSONDecoder" in next(r["text"] for r in kept if r["relative_path"] == "decoder.py")
    assert {r["reason"] for r in rejected if "__pycache__" in r["relative_path"]} <= {"generated"}


def test_non_utf8_python_files_decode_by_their_coding_cookie(stdlib_slice):
    kept, _ = stdlib_slice
    by_path = {r["relative_path"]: r for r in kept}
    assert by_path["module_koi8_r.py"]["charset"] == "koi8-r"
    assert "Познание бесконечности" in by_path["module_koi8_r.py"]["text"]
    assert "Les hommes ont oublié cette vérité" in by_path["module_iso_8859_1.py"]["text"]
