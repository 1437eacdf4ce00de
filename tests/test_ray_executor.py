"""The Ray executor on a real local Ray cluster (2 CPUs, shared by every test here):
the same output as the local executor, a worker killed mid-stage is retried without
losing or duplicating a document, and a clear message when Ray is not installed."""

from __future__ import annotations

import json
import os
import signal
import sys
import sysconfig
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from conftest import REPO, read_rejected, read_stage, run_curate
from curate.cli import main as curate_main
from curate.core.executor import LocalExecutor
from curate.core.pipeline import load_pipeline
from curate.api import run_pipeline

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: one local Ray cluster at a time, and the module's reference runs made once
pytestmark = pytest.mark.xdist_group("ray")

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TASK_TITLE = b"ray::curate_shard_task"  # the process title of a Ray worker running a shard task


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install '.[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 2**20, logging_level="warning")
    yield ray
    ray.shutdown()


def write_pipeline(path: Path, inputs: list[str], output: Path, stages: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"name": path.stem, "input": inputs, "output": str(output), "stages": stages}))
    return path


def run(pipeline_file: Path, executor) -> None:
    try:
        run_pipeline(load_pipeline(str(pipeline_file)), executor, progress=False)
    finally:
        executor.close()


def stage_contents(output: Path, stage: str) -> dict:
    """Everything a user reads of a stage's result: kept and rejected rows (in id order) and stats."""

    def rows(table: pa.Table | None):
        if table is None:
            return None
        # NaN (a signal that does not apply) never equals itself; compare it as a marker
        unified = [{k: "NaN" if v != v else v for k, v in row.items()} for row in table.to_pylist()]
        return sorted(unified, key=lambda row: (row["id"], row.get("reason") or ""))

    stats = json.loads((output / "stats" / f"{stage}.json").read_text())
    for timing in ("seconds", "wall_seconds", "docs_per_second"):
        stats.pop(timing)
    return {"kept": rows(read_stage(output, stage)), "rejected": rows(read_rejected(output, stage)), "stats": stats}


def token_files(folder: Path) -> dict[str, bytes]:
    """The token shards and their summaries (completion records, which hold timings, are under _state/)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def demo_stages(source: str) -> list[dict]:
    """The stages of the shipped pipelines/<source>.yaml (what `curate demo` runs; they end with dedup)."""
    stages = yaml.safe_load((REPO / "pipelines" / f"{source}.yaml").read_text())["stages"]
    assert any(stage["stage"] == "dedup" for stage in stages)
    return stages


@pytest.fixture(scope="module")
def books_demo(tmp_path_factory, shared_data):
    """The books plus an exact and an edited copy of two of them (so dedup removes something),
    then tokenize with a tokenizer trained on the deduplicated text."""
    from curate.tokenize.bpe import train_tokenizer

    root = tmp_path_factory.mktemp("ray_demo")
    books, mirror = root / "books", root / "mirror"
    books.mkdir()
    mirror.mkdir()
    for book in shared_data.joinpath("books").iterdir():  # the two long novels only make the test slower
        if "moby_dick" not in book.name and "pride_and_prejudice" not in book.name:
            (books / book.name).write_bytes(book.read_bytes())
    (mirror / "alice_copy.txt").write_bytes((books / "en_alice_pg11.txt").read_bytes())
    faust = (books / "kalamine_de_faust_1.txt").read_text(encoding="utf-8")
    (mirror / "faust_edited.txt").write_text(faust.replace("Faust", "Fausto", 3), encoding="utf-8")
    inputs = [str(books), str(mirror)]
    stages = demo_stages("books")
    local = root / "local"
    run(write_pipeline(root / "extract_dedup.yaml", inputs, local, stages), LocalExecutor(1))
    tokenizer = root / "tokenizer.json"
    train_tokenizer([str(local / "dedup")], str(tokenizer), vocab_size=400, sample_bytes=10_000_000)
    stages.append({"stage": "tokenize", "tokenizer": str(tokenizer), "validation_fraction": 0.2})
    pipeline = write_pipeline(root / "demo.yaml", inputs, local, stages)
    run(pipeline, LocalExecutor(1))  # the stages before tokenize resume from their completion records
    return root, pipeline, local


@pytest.mark.slow
def test_books_pipeline_on_ray_matches_the_local_executor(ray_cluster, books_demo):
    from curate.core.ray_executor import RayExecutor

    root, pipeline, local = books_demo
    on_ray = root / "ray"
    run_pipeline(load_pipeline(str(pipeline), output_override=str(on_ray)), RayExecutor(2), progress=False)
    for stage in ("extract", "dedup"):
        assert stage_contents(on_ray, stage) == stage_contents(local, stage), stage
    assert stage_contents(local, "extract")["stats"]["dropped"] == {"license_text": 2}
    assert set(stage_contents(local, "dedup")["stats"]["dropped"]) == {"exact_duplicate", "near_duplicate"}
    assert token_files(on_ray / "tokenize") == token_files(local / "tokenize")
    assert stage_contents(on_ray, "tokenize")["stats"] == stage_contents(local, "tokenize")["stats"]


@pytest.mark.slow
@pytest.mark.parametrize("source", ["web", "code"])
def test_web_and_code_pipelines_on_ray_match_the_local_executor(ray_cluster, shared_data, tmp_path, source):
    """The WARC files (trafilatura, with its per-page time limit, inside Ray workers)
    and two standard-library packages as code, through the shipped pipelines (filters and dedup included)."""
    from curate.core.ray_executor import RayExecutor

    inputs = {"web": [shared_data / "web" / "warc"], "code": [STDLIB / "json", STDLIB / "email"]}[source]
    stages = demo_stages(source)
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    run(write_pipeline(tmp_path / "local.yaml", [str(f) for f in inputs], local, stages), LocalExecutor(1))
    run(write_pipeline(tmp_path / "ray.yaml", [str(f) for f in inputs], on_ray, stages), RayExecutor(2))
    for stage in (s.get("name", s["stage"]) for s in stages):
        assert stage_contents(on_ray, stage) == stage_contents(local, stage), stage
    assert stage_contents(local, "extract")["stats"]["docs_out"] > 20


@pytest.mark.slow
def test_curate_run_joins_a_running_cluster_with_ray_address(ray_cluster, books_demo, tmp_path):
    root, _, local = books_demo
    pipeline = write_pipeline(
        tmp_path / "books.yaml", [str(root / "books"), str(root / "mirror")], tmp_path / "out", demo_stages("books")[:1]
    )
    address = ray_cluster.get_runtime_context().gcs_address
    result = run_curate("run", str(pipeline), "--executor", "ray", "--ray-address", address, "--no-progress")
    assert "extract" in result.stdout and "license_text 2" in result.stdout
    assert stage_contents(tmp_path / "out", "extract") == stage_contents(local, "extract")


# ---- a worker killed in the middle of a stage -----------------------------------------------


def book_pieces(shared: Path, folder: Path, lines_per_piece: int = 250) -> int:
    """The real books cut into many small text files: many short shard tasks to kill one of."""
    folder.mkdir()
    count = 0
    for book in sorted((shared / "books").glob("*.txt")):
        lines = book.read_text(encoding="utf-8-sig").splitlines(keepends=True)
        for start in range(0, len(lines), lines_per_piece):
            (folder / f"{book.stem}-{start // lines_per_piece:04d}.txt").write_text(
                "".join(lines[start : start + lines_per_piece])
            )
            count += 1
    return count


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state is the parent pid
        if pid == ancestor:
            return True
    return False


def busy_workers() -> list[int]:
    """Ray workers of this test's cluster (they descend from this process) running a shard task."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(TASK_TITLE) and descends_from(int(entry.name), os.getpid()):
                found.append(int(entry.name))
    return found


def kill_a_worker_mid_stage(done_folder: Path, killed: list[int], deadline: float) -> None:
    """Once a first shard is recorded done, SIGKILL a worker that is running another one."""
    while time.monotonic() < deadline:
        if done_folder.exists() and any(done_folder.iterdir()):
            for pid in busy_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.002)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray worker processes through /proc")
def test_a_killed_worker_is_retried_and_nothing_is_lost_or_duplicated(ray_cluster, shared_data, tmp_path):
    from curate.core.ray_executor import RayExecutor

    pieces = book_pieces(shared_data, tmp_path / "pieces")
    stages = [{"stage": "extract", "source": "books", "files_per_shard": 1}]
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    run(write_pipeline(tmp_path / "local.yaml", [str(tmp_path / "pieces")], local, stages), LocalExecutor(1))

    killed: list[int] = []
    killer = threading.Thread(
        target=kill_a_worker_mid_stage, args=(on_ray / "_state" / "extract" / "main", killed, time.monotonic() + 60)
    )
    killer.start()
    try:
        run(
            write_pipeline(tmp_path / "ray.yaml", [str(tmp_path / "pieces")], on_ray, stages),
            RayExecutor(2, max_retries=3),
        )
    finally:
        killer.join()
    assert len(killed) == 1, "no Ray worker was caught running a shard task"
    assert stage_contents(on_ray, "extract") == stage_contents(local, "extract")
    result = stage_contents(on_ray, "extract")
    ids = [row["id"] for row in result["kept"] + result["rejected"]]
    assert len(ids) == len(set(ids)) == pieces  # every piece once: kept, or rejected (license text)
    assert len(list((on_ray / "_state" / "extract" / "main").iterdir())) == pieces
    assert not [p for p in on_ray.rglob("*") if ".tmp-" in p.name]


def test_without_ray_the_cli_says_how_to_install_it(monkeypatch, capsys, shared_data, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if Ray were not installed
    code = curate_main(
        [
            "run",
            str(REPO / "pipelines" / "books.yaml"),
            "--input",
            str(shared_data / "books"),
            "--output",
            str(tmp_path / "out"),
            "--executor",
            "ray",
        ]
    )
    error = capsys.readouterr().err
    assert code == 2
    assert "pip install 'rawtollm[ray]'" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()
