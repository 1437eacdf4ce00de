"""Where a run writes and what it says when it cannot (issue #31, cases 12, 13 and the curate half of 18):
stage names that would write outside the output folder, a symlink loop in a code tree, and a held lock,
a read-only output folder and a full disk, each one `curate: error: ...` line, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import curate_in_process, read_stage, run_curate
from test_faults_inputs import run_without_root_privileges

from curate.core.params import ConfigError

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The whole of stderr, asserted to be one `curate: error:` line."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curate: error: "), result.stderr
    return lines[0]


def books_pipeline(tmp_path: Path, shared_data: Path, output: Path, **stage) -> Path:
    path = tmp_path / "books.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "books",
                "input": str(shared_data / "books" / "en_alice_pg11.txt"),
                "output": str(output),
                "stages": [{"stage": "extract", "source": "books", **stage}],
            }
        )
    )
    return path


# ---- 12: stage names are plain names; every path the runner writes lies inside the output folder


@pytest.mark.parametrize("name", ["../../x", "/abs/x", "a/b", "..", "_state", "reports", ""])
def test_a_stage_name_that_is_not_a_plain_name_is_refused_before_any_write(shared_data, tmp_path, name):
    name = str(tmp_path / "abs") if name == "/abs/x" else name
    output = tmp_path / "deep" / "er" / "out"
    result = run_curate(
        "run", str(books_pipeline(tmp_path, shared_data, output, name=name)), "--no-progress", check=False
    )
    assert result.returncode == 2
    assert "stages[0].name" in one_error_line(result) and "letter" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["books.yaml"]  # nothing written anywhere


def test_pipelines_from_python_refuse_such_names_too_and_the_runner_checks_its_paths(shared_data, tmp_path):
    from curate.api import Pipeline
    from curate.core.pipeline import build_stages
    from curate.api import run_pipeline

    with pytest.raises(ConfigError, match=r"stages\[0\]\.name"):
        Pipeline.of(
            str(shared_data / "books"), str(tmp_path / "out"), [{"stage": "extract", "source": "books", "name": "../x"}]
        )
    pipeline = Pipeline.of(
        str(shared_data / "books" / "en_alice_pg11.txt"),
        str(tmp_path / "out"),
        [{"stage": "extract", "source": "books"}],
    )
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "extract").symlink_to(tmp_path)  # a link in the output folder leading out of it
    with pytest.raises(ConfigError, match=r"out/extract.* outside the output folder"):
        pipeline.run()
    renamed = build_stages([{"stage": "extract", "source": "books"}], "p.yaml")[0]
    renamed.name = "../escape"  # set after checking: the runner still refuses it
    pipeline.stages = [renamed]
    with pytest.raises(ConfigError, match="stage '../escape': a stage name is a letter"):
        run_pipeline(pipeline, executor=None)
    assert not (tmp_path / "escape").exists()


# ---- 13: a symlink loop in a code tree


def test_a_symlink_loop_in_a_code_tree_is_skipped_with_a_warning_naming_it(shared_data, tmp_path):
    tree = tmp_path / "repo"
    (tree / "src").mkdir(parents=True)
    shutil.copy(
        shared_data / "quality" / "positives" / "rust_book" / "src" / "ch01-00-getting-started.md",
        tree / "src" / "intro.md",
    )
    (tree / "self").symlink_to("self")  # ln -s self self
    (tree / "src" / "a").symlink_to("b")
    (tree / "src" / "b").symlink_to("a")
    pipeline = tmp_path / "code.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "name": "code",
                "input": str(tree),
                "output": str(tmp_path / "out"),
                "stages": [{"stage": "extract", "source": "code"}],
            }
        )
    )
    for _ in range(2):  # and the rerun finds it done
        result = curate_in_process("run", str(pipeline), "--no-progress")
        assert f"{tree / 'self'}" in result.stderr and "loop" in result.stderr
        assert f"{tree / 'src' / 'a'}" in result.stderr
    assert read_stage(tmp_path / "out", "extract")["relative_path"].to_pylist() == ["src/intro.md"]


# ---- 18: one line for a held lock, a read-only output folder, a full disk


def test_a_held_lock_is_one_error_line(shared_data, tmp_path):
    from curate.core.lock import RunLock

    with RunLock(str(tmp_path / "out")):
        result = run_curate(
            "run", str(books_pipeline(tmp_path, shared_data, tmp_path / "out")), "--no-progress", check=False
        )
    assert result.returncode == 1 and "another run is writing" in one_error_line(result)


def test_a_read_only_output_folder_is_one_error_line(shared_data, tmp_path):
    parent = tmp_path / "readonly"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = run_without_root_privileges(
            ["run", str(books_pipeline(tmp_path, shared_data, parent / "out")), "--no-progress"]
        )
    finally:
        parent.chmod(0o755)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "permission denied" in line.lower() and str(parent / "out") in line


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs; mounting needs root), filled but for a few kilobytes."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small real filesystem to fill needs root to mount tmpfs: {mounted.stderr.strip()}")
    try:
        (mount / "filler").write_bytes(b"\0" * (1024 * 1024 - 48 * 1024))
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_during_a_run_is_one_error_line_naming_the_place(shared_data, tmp_path, small_disk):
    output = small_disk / "out"
    result = run_curate("run", str(books_pipeline(tmp_path, shared_data, output)), "--no-progress", check=False)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "no space left on device" in line and str(output / "extract") in line
    assert not [p for p in small_disk.rglob("*") if ".tmp-" in p.name]  # no half-written file left
    (small_disk / "filler").unlink()
    run_curate("run", str(books_pipeline(tmp_path, shared_data, output)), "--no-progress")  # room again: it finishes
    assert read_stage(output, "extract").num_rows == 1


def test_a_full_disk_during_an_export_is_one_error_line_and_leaves_nothing(shared_data, tmp_path, small_disk):
    output = tmp_path / "out"
    run_curate("run", str(books_pipeline(tmp_path, shared_data, output)), "--no-progress")
    result = run_curate("export", str(output / "extract"), str(small_disk / "ds"), check=False)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "no space left on device" in line and str(small_disk) in line
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
