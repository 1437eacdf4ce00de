"""The run lock: a second run on one output folder fails naming the holder; stale locks
(holder dead, or silent for too long on another host) are taken over by exactly one run."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, dead_pid, run_curate
from curate.core.lock import LOCK_NAME, LockHeld, RunLock
from extract_fixtures import write_pipeline


def write_lock(output, **fields):
    output.mkdir(parents=True, exist_ok=True)
    record = {
        "owner": "someone",
        "host": socket.gethostname(),
        "pid": 1,
        "token": "old",
        "command": "curate run x",
        "heartbeat": time.time(),
        **fields,
    }
    (output / LOCK_NAME).write_text(json.dumps(record))


@pytest.fixture
def books_pipeline(shared_data, tmp_path):
    return write_pipeline(tmp_path, "books", [shared_data / "books"], tmp_path / "out")


@pytest.mark.slow
def test_second_run_on_a_held_folder_fails_naming_the_holder(books_pipeline, tmp_path):
    output = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from curate.core.lock import RunLock\n"
            f"with RunLock({str(output)!r}):\n print('held', flush=True); sys.stdin.read()",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        second = run_curate("run", str(books_pipeline), "--no-progress", check=False)
        assert second.returncode == 1
        assert f"pid {holder.pid}" in second.stderr and "another run is writing" in second.stderr
        assert not (output / "extract").exists()  # it did no work
    finally:
        holder.communicate("")
    assert not (output / LOCK_NAME).exists()  # released on exit
    run_curate("run", str(books_pipeline), "--no-progress")
    assert not (output / LOCK_NAME).exists()


@pytest.mark.slow
def test_lock_of_a_dead_process_on_this_host_is_taken_over(books_pipeline, tmp_path):
    write_lock(tmp_path / "out", pid=dead_pid())
    (tmp_path / "out" / f".{LOCK_NAME}.tmp-0123456789ab").write_text("{")  # its heartbeat, killed mid-write
    result = run_curate("run", str(books_pipeline), "--no-progress")
    assert "taking over a stale lock" in result.stderr
    assert (tmp_path / "out" / "stats" / "extract.json").exists()
    assert not list((tmp_path / "out").glob(f"*{LOCK_NAME}*"))


def test_lock_from_another_host_is_stale_only_after_its_heartbeat_stops(tmp_path):
    write_lock(tmp_path, host="other-host", heartbeat=time.time() - 5)
    with pytest.raises(LockHeld, match="someone@other-host"):
        RunLock(str(tmp_path), stale_seconds=60).acquire()
    write_lock(tmp_path, host="other-host", heartbeat=time.time() - 120)
    with RunLock(str(tmp_path), stale_seconds=60) as lock:
        assert json.loads((tmp_path / LOCK_NAME).read_text())["token"] == lock.token


def test_exactly_one_of_several_runs_takes_over_a_stale_lock(tmp_path):
    for _ in range(20):  # the race is a matter of timing: take it many times
        write_lock(tmp_path, host="other-host", heartbeat=0)
        locks = [RunLock(str(tmp_path)) for _ in range(6)]
        outcomes = []

        def take(lock):
            try:
                lock.acquire()
                outcomes.append(lock)
            except LockHeld:
                outcomes.append(None)

        threads = [threading.Thread(target=take, args=(lock,)) for lock in locks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [lock for lock in outcomes if lock is not None]
        for lock in winners:
            lock.release()  # before asserting: a second winner's heartbeat would interrupt the test run
        assert len(winners) == 1
        assert not (tmp_path / (LOCK_NAME + ".takeover")).exists()


def test_lock_on_an_object_store_url():
    url = "memory://lock-test/out"
    with RunLock(url, heartbeat_seconds=0.05, stale_seconds=1) as lock:
        time.sleep(0.2)  # a few heartbeats rewrite it through fsspec
        with pytest.raises(LockHeld):
            RunLock(url).acquire()
        assert lock._thread.is_alive()
    with RunLock(url):  # released, so it can be taken again
        pass


def test_a_run_that_lost_its_lock_stops(tmp_path):
    lock = RunLock(str(tmp_path), heartbeat_seconds=0.05, stale_seconds=1)
    lock.acquire()
    write_lock(tmp_path, token="someone-else")
    with pytest.raises(KeyboardInterrupt):
        for _ in range(200):
            time.sleep(0.05)
    lock.release()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["token"] == "someone-else"  # not removed: not ours


@pytest.mark.slow
def test_demo_takes_the_lock_too(shared_data, tmp_path):
    with RunLock(str(tmp_path / "demo")):
        result = run_curate(
            "demo", "--from", str(shared_data), "--output", str(tmp_path / "demo"), "--no-progress", check=False
        )
        assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [LOCK_NAME]  # nothing else was written
    assert result.returncode == 1 and "another run is writing" in result.stderr


@pytest.mark.slow
def test_a_lock_naming_a_live_unrelated_pid_with_an_hour_old_heartbeat_is_taken_over(books_pipeline, tmp_path):
    """Issue #31 case 11: the pid was reused by another process (here a sleeping one) after the holder died;
    its heartbeat stopped an hour ago, so the lock is stale whatever the pid is."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        write_lock(tmp_path / "out", pid=sleeper.pid, heartbeat=time.time() - 3600)
        result = run_curate("run", str(books_pipeline), "--no-progress", check=False)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.returncode == 0, result.stderr
    assert "taking over a stale lock" in result.stderr and re.search(r"no heartbeat for 36\d\d s", result.stderr)
    assert (tmp_path / "out" / "stats" / "extract.json").exists() and not (tmp_path / "out" / LOCK_NAME).exists()


def test_a_lock_of_a_live_process_on_this_host_with_a_fresh_heartbeat_still_holds(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        write_lock(tmp_path, pid=sleeper.pid, heartbeat=time.time() - 5)
        with pytest.raises(LockHeld, match=f"pid {sleeper.pid}"):
            RunLock(str(tmp_path), stale_seconds=60).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
