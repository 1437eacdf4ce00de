"""Kill-and-resume: `curate run` killed with SIGKILL mid-run and started again gives exactly
the output of an uninterrupted run: the same ids and text, no duplicates, no temporaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, curate_in_process, read_rejected, read_stage
from extract_fixtures import write_pipeline

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: the session's web extraction (conftest web_extracted), made once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("web_extracted")]


def documents(output):
    kept, rejected = read_stage(output, "extract"), read_rejected(output, "extract")
    return sorted(zip(kept["id"].to_pylist(), kept["text"].to_pylist())), sorted(rejected["id"].to_pylist())


def done_records(output):
    folder = output / "_state" / "extract" / "main"
    return len(list(folder.glob("*.json"))) if folder.exists() else 0


def start_and_kill(pipeline, output, after_records: int) -> bool:
    """Start `curate run`, SIGKILL its process group once `after_records` shards are recorded done; False if it finished first."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "curate.cli",
            "run",
            str(pipeline),
            "--output",
            str(output),
            "--workers",
            "2",
            "--no-progress",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # driver, forkserver and workers: one process group
    try:
        while process.poll() is None and done_records(output) < after_records:
            time.sleep(0.01)
        if process.poll() is not None:
            return False
        os.killpg(process.pid, signal.SIGKILL)  # the whole job, as a machine losing power would
        process.wait()
        return True
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("kill_points", [(1, 3, 6)])
def test_killed_runs_resume_to_the_uninterrupted_output(shared_data, web_extracted, tmp_path, kill_points):
    inputs = [shared_data / "web" / "html", shared_data / "web" / "warc"]
    pipeline = write_pipeline(
        tmp_path, "web", inputs, tmp_path / "unused", files_per_shard=4
    )  # 28 html shards + 5 WARCs
    expected = documents(
        web_extracted
    )  # the same inputs extracted uninterrupted (in other shards: ids and texts are the same)

    output = tmp_path / "killed"
    kills = sum(start_and_kill(pipeline, output, point) for point in kill_points)
    assert kills >= 1, "the run finished before any kill: make the job bigger"
    assert not (output / "stats" / "extract.json").exists()  # it really was interrupted
    curate_in_process(
        "run", str(pipeline), "--output", str(output), "--workers", "2", "--no-progress"
    )  # the killed runs were real

    kept, rejected = documents(output)
    assert kept == expected[0] and rejected == expected[1]
    assert len({doc_id for doc_id, _ in kept}) == len(kept)
    leftovers = [p for p in output.rglob("*") if ".tmp-" in p.name]
    assert not leftovers
