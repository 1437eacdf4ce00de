"""Shared fixtures: the real sample data in ../shared/data and small helpers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a skip saying it is missing (tests never pass without their data). Under CI
    (env CI set) a missing folder fails: a green CI run must have run the data tests."""
    if not (SHARED_DATA / "README.md").exists():
        why = f"real sample data not found at {SHARED_DATA} (set SHARED_DATA or check out shared/ beside the repo)"
        if os.environ.get("CI"):
            pytest.fail(why + "; CI is set, so this fails instead of skipping")
        pytest.skip(why)
    return SHARED_DATA


def pytest_collection_modifyitems(items):
    """Every test that takes the shared_data fixture carries the `data` marker (-m 'not data' runs the rest)."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)


def read_stage(output: Path, stage: str):
    """All kept documents of a stage as one table (rows in shard order)."""
    files = sorted((output / stage).glob("*.parquet"))
    return pq.ParquetDataset(files).read() if files else None


def read_rejected(output: Path, stage: str):
    files = sorted((output / "rejected" / stage).glob("*.parquet"))
    return pq.ParquetDataset(files).read() if files else None


def run_curate(*args: str, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    """The real `curate` command line in a subprocess."""
    result = subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"curate {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dead_pid() -> int:
    """The pid of a process that has exited (for stale locks and partial downloads)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
