"""Faults around a run (issue #21), through the real `curate run` command: the whole process group
killed inside dedup and tokenize, a second run during dedup's filter phase, a failing shard,
a worker process dying. Each ends with the output of one uninterrupted run: the same kept and
rejected rows (with reasons), the same stats, token shards byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO, curate_in_process, read_rejected, read_stage, run_curate
from curate.core.schema import make_documents

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: its tests share the module's job and reference run
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults_runs")]
STAGES = ("extract", "dedup", "tokenize")


@pytest.fixture(scope="module")
def job(shared_data, tmp_path_factory):
    """Books (and edited copies: near-duplicates) -> extract -> dedup -> tokenize, one file per shard,
    and the output of one uninterrupted run as the reference."""
    from curate.tokenize.bpe import train_tokenizer

    root = tmp_path_factory.mktemp("faults")
    books = root / "books"
    books.mkdir()
    originals = [
        path
        for path in sorted((shared_data / "books").glob("*.txt"))
        if "moby_dick" not in path.name and "pride_and_prejudice" not in path.name
    ]  # the long novels only add time
    for path in originals:
        shutil.copy(path, books / path.name)
        text = path.read_bytes()
        (books / f"copy_{path.name}").write_bytes(text.replace(b"the", b"teh", 3))  # a near-duplicate
    sample = [{"id": path.name, "source": "books", "text": path.read_text(encoding="utf-8-sig")} for path in originals]
    pq.write_table(make_documents(sample), root / "sample.parquet")
    train_tokenizer([str(root / "sample.parquet")], str(root / "tokenizer.json"), vocab_size=512, sample_bytes=500_000)
    pipeline = root / "books.yaml"
    pipeline.write_text(
        f"name: faults\ninput: {books}\noutput: {root / 'unused'}\nstages:\n"
        "  - {stage: extract, source: books, files_per_shard: 1}\n"
        "  - {stage: dedup}\n"
        f"  - {{stage: tokenize, tokenizer: {root / 'tokenizer.json'}, validation_fraction: 0.2}}\n"
    )
    curate_in_process("run", str(pipeline), "--output", str(root / "reference"), "--workers", "2", "--no-progress")
    return pipeline, snapshot(root / "reference")


def snapshot(output: Path) -> dict:
    """What a user relies on: kept ids and texts, rejected ids with reasons and details, stats
    without timings, and the token shards' bytes."""
    result = {}
    for stage in STAGES[:2]:
        kept, rejected = read_stage(output, stage), read_rejected(output, stage)
        result[stage] = sorted(zip(kept["id"].to_pylist(), kept["text"].to_pylist()))
        result[f"rejected/{stage}"] = (
            sorted(zip(rejected["id"].to_pylist(), rejected["reason"].to_pylist(), rejected["detail"].to_pylist()))
            if rejected is not None
            else []
        )
    for stage in STAGES:
        stats = json.loads((output / "stats" / f"{stage}.json").read_text())
        result[f"stats/{stage}"] = {
            k: v for k, v in stats.items() if k not in ("seconds", "wall_seconds", "docs_per_second")
        }
    result["tokens"] = {
        str(p.relative_to(output)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((output / "tokenize").rglob("*"))
        if p.suffix in (".bin", ".idx")
    }
    assert result["rejected/dedup"] and result["tokens"]  # the job really deduplicates and tokenizes
    return result


def done_records(output: Path) -> dict[str, tuple[int, int]]:
    """Every completion record and its (inode, mtime): a redone shard rewrites its record as a new file."""
    return {
        str(p.relative_to(output)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in output.glob("_state/*/*/*.json")
        if p.parent.name != "work"
    }


def start(pipeline: Path, output: Path, workers: int = 2) -> subprocess.Popen:
    # a session of its own: the driver, the forkserver and the pool workers form one process group
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "curate.cli",
            "run",
            str(pipeline),
            "--output",
            str(output),
            "--workers",
            str(workers),
            "--no-progress",
        ],
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(process: subprocess.Popen, folder: Path, records: int) -> bool:
    """Wait until `records` completion records exist in folder; False when the run ended first."""
    while len(list(folder.glob("*.json"))) < records:
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    return True


def kill_group(process: subprocess.Popen, sig=signal.SIGKILL) -> None:
    os.killpg(process.pid, sig)
    process.communicate()


# phase folder, completion records to wait for before the kill
KILL_POINTS = [
    ("_state/dedup/signatures", 2),
    ("_state/dedup/filter", 3),
    ("_state/tokenize/main", 1),
    ("_state/tokenize/main", 6),
]


def test_killing_the_process_group_inside_dedup_and_tokenize_resumes_exactly(job, tmp_path):
    pipeline, expected = job
    output = tmp_path / "killed"
    recorded, kills = {}, 0
    for folder, records in KILL_POINTS:
        process = start(pipeline, output)
        if not wait_for(process, output / folder, records):
            process.communicate()
            continue
        kill_group(process)
        kills += 1
        # what was recorded done before a kill is never redone by a later run
        assert all(done_records(output).get(name) == key for name, key in recorded.items())
        recorded = done_records(output)
    assert kills >= 3, "the run finished before the kill points: make the job bigger"
    # the runs that are killed are real processes; resuming is the same in this one (no interpreter to start)
    result = curate_in_process("run", str(pipeline), "--output", str(output), "--workers", "2", "--no-progress")
    assert all(done_records(output).get(name) == key for name, key in recorded.items())
    assert "taking over a stale lock" in result.stderr  # the killed run's lock: its pid is gone
    assert snapshot(output) == expected
    assert not [p for p in output.rglob("*") if ".tmp-" in p.name]


def test_a_second_run_during_dedup_filter_is_refused_and_the_first_is_unharmed(job, tmp_path):
    pipeline, expected = job
    output = tmp_path / "out"
    first = start(pipeline, output)
    assert wait_for(first, output / "_state" / "dedup" / "filter", 1)
    os.killpg(first.pid, signal.SIGSTOP)  # hold the first run inside its filter phase
    try:
        second = run_curate("run", str(pipeline), "--output", str(output), "--no-progress", check=False)
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert second.returncode == 1 and f"pid {first.pid}" in second.stderr
    first.communicate()
    assert first.returncode == 0
    assert snapshot(output) == expected


def test_a_failing_shard_is_the_only_one_a_rerun_redoes(job, tmp_path):
    # quality reads its input inside each shard task (dedup reads every footer in the driver first)
    pipeline = tmp_path / "quality.yaml"
    pipeline.write_text(
        job[0].read_text().split("  - {stage: dedup}")[0] + "  - {stage: quality, c4: false, fineweb: false}\n"
    )
    curate_in_process("run", str(pipeline), "--output", str(tmp_path / "reference"), "--no-progress")
    output = tmp_path / "out"
    curate_in_process("run", str(pipeline), "--output", str(output), "--stage", "extract", "--no-progress")
    shard = output / "extract" / "shard-00003.parquet"
    good = shard.read_bytes()
    shard.write_bytes(b"PAR1 not parquet PAR1")  # damaged on disk after its stage finished
    failed = curate_in_process(
        "run",
        str(pipeline),
        "--output",
        str(output),
        "--stage",
        "quality",
        "--workers",
        "2",
        "--no-progress",
        check=False,
    )
    assert failed.returncode == 1
    shards = len(list((output / "extract").glob("*.parquet")))
    assert f"1 of {shards} shards failed" in failed.stderr and "shard-00003" in failed.stderr
    assert failed.stderr.startswith("curate: stage 'quality'")  # a message first, not a crash
    done = done_records(output)
    assert len([name for name in done if name.startswith("_state/quality/")]) == shards - 1
    shard.write_bytes(good)
    curate_in_process(
        "run", str(pipeline), "--output", str(output), "--stage", "quality", "--workers", "2", "--no-progress"
    )
    assert all(done_records(output).get(name) == key for name, key in done.items())
    assert len([name for name in done_records(output) if name.startswith("_state/quality/")]) == shards
    for stage in ("quality", "rejected/quality"):
        assert sorted(p.name for p in (output / stage).glob("*.parquet")) == sorted(
            p.name for p in (tmp_path / "reference" / stage).glob("*.parquet")
        )
    expected, resumed = (read_stage(o, "quality") for o in (tmp_path / "reference", output))
    assert sorted(resumed["id"].to_pylist()) == sorted(expected["id"].to_pylist())


def worker_pids(driver: int) -> list[int]:
    """Pool workers: in the driver's session, children of the forkserver (itself the driver's child)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent, session = int(fields[1]), int(fields[3])
            if session == driver and int(entry.name) != driver and parent != driver:
                found.append(int(entry.name))
    return found


def test_a_worker_process_dying_fails_the_stage_and_a_rerun_completes(job, tmp_path):
    pipeline, expected = job
    output = tmp_path / "out"
    process = start(pipeline, output)
    assert wait_for(process, output / "_state" / "dedup" / "signatures", 1)
    workers = worker_pids(process.pid)
    assert workers
    os.kill(workers[0], signal.SIGKILL)  # as the out-of-memory killer would
    _, stderr = process.communicate()
    assert process.returncode == 1 and "worker process died" in stderr
    assert not (output / "stats" / "dedup.json").exists()
    curate_in_process("run", str(pipeline), "--output", str(output), "--workers", "2", "--no-progress")
    assert snapshot(output) == expected


def test_dedup_filter_never_reads_a_missing_assignment_as_no_duplicates(job, tmp_path):
    pipeline, _ = job
    output = tmp_path / "out"
    process = start(pipeline, output)
    assert wait_for(process, output / "_state" / "dedup" / "filter", 1)
    kill_group(process)
    shutil.rmtree(output / "_state" / "dedup" / "work" / "assign")  # what another run's cleanup did to this one
    failed = curate_in_process("run", str(pipeline), "--output", str(output), "--no-progress", check=False)
    # the shards not filtered before the kill fail, each naming its lost file
    assert failed.returncode == 1 and re.search(
        r"assign/(shard-\d+)\.parquet \(the clusters of shard \1\) is missing", failed.stderr
    )
    assert not (output / "stats" / "dedup.json").exists()


def test_a_shard_added_after_a_finished_dedup_is_an_error_naming_the_lost_signatures(job, tmp_path):
    """A finished dedup removed its signatures; a shard added to its input later cannot be compared with the
    others without them: the rerun fails naming the lost files and the way out, never dedups the new shard alone."""
    pipeline, _ = job
    output = tmp_path / "out"
    curate_in_process("run", str(pipeline), "--output", str(output), "--no-progress")
    shutil.copy(output / "extract" / "shard-00000.parquet", output / "extract" / "shard-00099.parquet")
    failed = curate_in_process(
        "run", str(pipeline), "--output", str(output), "--stage", "dedup", "--no-progress", check=False
    )
    assert failed.returncode == 1 and "delete" in failed.stderr and "to redo the stage" in failed.stderr
    # the band-local key files (one per shard) are what a finished run removed
    assert re.search(r"keys/(shard-\d+)\.parquet \(the keys of shard \1\) is missing", failed.stderr)
