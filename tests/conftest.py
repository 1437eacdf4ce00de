"""Shared fixtures: the real sample data in ../shared/data and small helpers.

Markers (declared in pyproject.toml). `slow`: a test that runs a pipeline (`curate run`, in this process
or not, Pipeline.run, run_pipeline, the extract helper), a demo, a trainer (a language model or a
classifier is trained), or a `curate`/`train` command in a subprocess, or that takes a fixture doing so,
is marked slow: `pytestmark = pytest.mark.slow` when the whole module is such, else `@pytest.mark.slow`
on the test. The session fixtures below that do so mark their tests themselves. Everything else (a
stage's process() on an inline table, parsers, configuration errors caught before any work) is the
fast lane: `python -m pytest -m "not slow"`."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import pty
import socket
import struct
import subprocess
import sys
import termios
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
S3_BUCKET = "curate-test"  # made by the s3 fixture


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


@pytest.fixture(scope="session")
def curate_demo(shared_data, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One real `curate demo --from ../shared/data` (its output folder and the finished command), shared by the
    demo's and the report's tests: a demo run is the suite's most expensive command, and they only read it."""
    output = tmp_path_factory.mktemp("demo") / "demo"
    result = run_curate(
        "demo", "--from", str(shared_data), "--output", str(output), "--no-progress", "--train-steps", "50"
    )  # a quarter of the default: the loss has fallen ~1.5 by then (the tests ask 1.0)
    return output, result


@pytest.fixture(scope="session")
def web_extracted(shared_data, tmp_path_factory) -> Path:
    """The sample web pages and WARCs through `curate run` (extract, two files per shard: 60 shards), the output
    folder: documents for the runner's tests and their reference extraction (they only read it)."""
    from extract_fixtures import write_pipeline

    folder = tmp_path_factory.mktemp("web-extracted")
    inputs = [shared_data / "web" / "html", shared_data / "web" / "warc"]
    curate_in_process(
        "run",
        str(write_pipeline(folder, "web", inputs, folder / "out", files_per_shard=2)),
        "--workers",
        "2",
        "--no-progress",
    )
    return folder / "out"


@pytest.fixture(scope="session")
def jigsaw_model(shared_data, tmp_path_factory) -> Path:
    """The small real toxicity model of classify_fixtures.train_jigsaw, trained once for the classify and
    toxicity tests (they only read it)."""
    from classify_fixtures import train_jigsaw

    return train_jigsaw(shared_data, tmp_path_factory.mktemp("models"))


SLOW_FIXTURES = {"curate_demo", "web_extracted", "jigsaw_model"}  # a demo, a pipeline, a classifier's training


def pytest_collection_modifyitems(items):
    """Every test that takes the shared_data fixture carries the `data` marker (-m 'not data' runs the rest),
    and every test that takes one of SLOW_FIXTURES, directly or through another fixture, the `slow` one."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "shared_data" in fixtures:
            item.add_marker(pytest.mark.data)
        if fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI every skip is a failure: an optional package missing from the test extra (Ray, transformers,
    datasets, chromium) must not turn into a green run that never ran those tests."""
    report = (yield).get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI ({reason}); CI is set, so a skip fails: install what the test needs"


def read_stage(output: Path, stage: str):
    """All kept documents of a stage as one table (rows in shard order)."""
    files = sorted((output / stage).glob("*.parquet"))
    return pq.ParquetDataset(files).read() if files else None


def read_rejected(output: Path, stage: str):
    files = sorted((output / "rejected" / stage).glob("*.parquet"))
    return pq.ParquetDataset(files).read() if files else None


def on_a_terminal(command: list[str], env: dict | None = None, cwd: Path = REPO) -> str:
    """Run `command` with stdout and stderr on a pseudo-terminal, as in an interactive shell (progress bars are
    drawn only there); all it printed. Fails if the command does."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 24 x 120, as a terminal window
    process = subprocess.Popen(command, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    output = b"".join(chunks).decode(errors="replace")
    assert process.wait(timeout=600) == 0, output[-3000:]
    return output


def run_curate(*args: str, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    """The real `curate` command line (the console script: studies.cli.curate) in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "studies.cli", "curate", *args], cwd=cwd, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise AssertionError(f"curate {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


_EXTRACTED: dict[str, list] = {}


def web_rows(path: Path) -> list:
    """curate.extract.web.read(path) with the web defaults (documents as dicts, and Rejections), extracted once
    per session: several modules score the same real pages and trafilatura is the slow part. Each call gets
    its own dicts, so a test may change them."""
    if str(path) not in _EXTRACTED:
        from curate.extract import web
        from curate.extract.stage import ExtractParams

        _EXTRACTED[str(path)] = list(web.read(str(path), ExtractParams(source="web")))
    return [dict(row) if isinstance(row, dict) else row for row in _EXTRACTED[str(path)]]


def curate_in_process(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`curate ARGS` through the console script's function (studies.cli.curate) in this process: the same parser, handlers, messages and exit codes
    as run_curate, without starting an interpreter and importing curate again (a second or more per call).
    For tests of what a command does; what only a real process shows (tracebacks, signals) stays with run_curate."""
    from studies.cli import curate as main

    stdout, stderr, cwd = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(REPO)  # as run_curate: relative paths are the repository's
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(args))
            except SystemExit as error:  # argparse's usage errors
                code = error.code
    finally:
        os.chdir(cwd)
    result = subprocess.CompletedProcess(["curate", *args], code, stdout.getvalue(), stderr.getvalue())
    if check and code != 0:
        raise AssertionError(f"curate {' '.join(args)} failed ({code}):\n{result.stdout}\n{result.stderr}")
    return result


def dead_pid() -> int:
    """The pid of a process that has exited (for stale locks and partial downloads)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on the loopback address; every process started after this (Ray nodes, the CLI) finds it
    through the environment (fsspec's FSSPEC_S3 configuration, botocore's AWS_ENDPOINT_URL)."""
    pytest.importorskip("s3fs", reason="the test extra's s3fs")
    server_module = pytest.importorskip("moto.server", reason="the test extra's moto[server]")
    import fsspec

    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its buckets in this process, across servers: a module started earlier left its bucket there
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "FSSPEC_S3": json.dumps({"endpoint_url": endpoint}),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    fsspec.config.conf["s3"] = {"endpoint_url": endpoint}
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(S3_BUCKET)
    yield fs
    server.stop()
    fsspec.config.conf.pop("s3", None)
    for k, v in saved.items():
        os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
