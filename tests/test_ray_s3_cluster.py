"""A multi-node Ray run against an S3 API, simulated on this machine: three Ray nodes of different
sizes and custom resources (ray.cluster_utils.Cluster) run extract -> langid -> quality -> dedup ->
tokenize with input, output and completion records on moto's S3 server (127.0.0.1 only, started
here). Checks: the output equals a local-executor run's; a worker node removed mid-stage and the run
finishing on the others with the same output; the run lock refusing a second driver on the same S3
prefix; completion records holding the inputs' ETags, so a rerun skips every finished shard.
Needs the test extra's moto[server] and s3fs; small on purpose (a few book pieces): the machine is shared."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, S3_BUCKET as BUCKET
from curate.core.executor import LocalExecutor
from curate.core.pipeline import load_pipeline
from curate.api import run_pipeline
from test_ray_executor import demo_stages, stage_contents, token_files

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]
STAGES = ("extract", "langid", "quality", "dedup")


@pytest.fixture(scope="module")
def cluster(s3):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    small = {"object_store_memory": 80 * 2**20}
    for attempt in range(
        3
    ):  # Ray gives a raylet 30 s to register; on a loaded machine a start may miss that: start again
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"head": 1}, **small})
        try:
            big = cluster.add_node(num_cpus=2, resources={"big": 1}, **small)
            cluster.add_node(num_cpus=1, resources={"spot": 1}, **small)
            break
        except Exception as error:
            if "timed out during startup" not in str(error) or attempt == 2:
                raise
            cluster.shutdown()
    ray.init(address=cluster.address, logging_level="warning")
    cluster.wait_for_nodes()
    yield cluster, big
    ray.shutdown()
    cluster.shutdown()


def upload_pieces(shared: Path, fs, prefix: str, lines: int = 600) -> int:
    """Three books cut into pieces (several shard tasks per stage), plus an exact copy of one piece for dedup."""
    count = 0
    for name in ("en_alice_pg11.txt", "kalamine_de_faust_1.txt"):
        text = (shared / "books" / name).read_text(encoding="utf-8-sig").splitlines(keepends=True)
        for start in range(0, len(text), lines):
            fs.pipe(
                f"{prefix}/{Path(name).stem}-{start // lines:03d}.txt", "".join(text[start : start + lines]).encode()
            )
            count += 1
    fs.copy(f"{prefix}/en_alice_pg11-001.txt", f"{prefix}/mirror-alice-001.txt")
    return count + 1


def write_pipeline(path: Path, output: str, stages: list[dict]) -> Path:
    path.write_text(
        yaml.safe_dump({"name": path.stem, "input": [f"s3://{BUCKET}/input"], "output": output, "stages": stages})
    )
    return path


def download(fs, prefix: str, folder: Path) -> Path:
    fs.get(f"{BUCKET}/{prefix}/", str(folder), recursive=True)
    return folder


@pytest.fixture(scope="module")
def local_run(s3, shared_data, tmp_path_factory):
    """The reference: the local executor, same S3 input, its own S3 output; a tokenizer trained on its dedup output."""
    from curate.tokenize.bpe import train_tokenizer

    root = tmp_path_factory.mktemp("ray_s3")
    upload_pieces(shared_data, s3, f"{BUCKET}/input")
    stages = [dict(s, files_per_shard=1) if s["stage"] == "extract" else s for s in demo_stages("books")]
    run_pipeline(
        load_pipeline(str(write_pipeline(root / "first.yaml", f"s3://{BUCKET}/local", stages))),
        LocalExecutor(1),
        progress=False,
    )
    tokenizer = root / "tokenizer.json"
    train_tokenizer(
        [str(download(s3, "local/dedup", root / "dedup"))], str(tokenizer), vocab_size=300, sample_bytes=2_000_000
    )
    stages.append({"stage": "tokenize", "tokenizer": str(tokenizer), "validation_fraction": 0.2})
    run_pipeline(
        load_pipeline(str(write_pipeline(root / "local.yaml", f"s3://{BUCKET}/local", stages))),
        LocalExecutor(1),
        progress=False,
    )
    return root, stages, download(s3, "local", root / "local")


def records(fs, prefix: str) -> dict[str, str]:
    """Every completion record under the run's _state/, with its ETag (a rewritten record gets a new one)."""
    return {
        p: fs.info(p)["ETag"] for p in fs.find(f"{BUCKET}/{prefix}/_state") if p.endswith(".json") and "/work/" not in p
    }


def test_three_node_cluster_on_s3_matches_local_survives_a_lost_node_and_resumes(s3, cluster, local_run):
    import ray

    from curate.core.lock import RunLock
    from curate.core.ray_executor import RayExecutor

    the_cluster, big = cluster
    root, stages, local = local_run
    assert {n["Resources"].get("CPU") for n in ray.nodes() if n["Alive"]} == {1.0, 2.0}
    pipeline = write_pipeline(root / "ray.yaml", f"s3://{BUCKET}/ray", stages)

    removed = {}

    def remove_node_mid_stage(deadline: float) -> None:
        """Once the first shard of the first pass is recorded done, take the 2-CPU node away (no graceful drain)."""
        while time.monotonic() < deadline:
            done = (
                [p for p in s3.find(f"{BUCKET}/ray/_state", refresh=True) if p.endswith(".json")]
                if s3.exists(f"{BUCKET}/ray/_state")
                else []
            )
            if done:
                removed["finished_already"] = s3.exists(f"{BUCKET}/ray/stats/tokenize.json")
                the_cluster.remove_node(big, allow_graceful=False)
                removed["at"] = len(done)
                return
            time.sleep(0.05)

    remover = threading.Thread(target=remove_node_mid_stage, args=(time.monotonic() + 600,))
    remover.start()
    executor = RayExecutor(4, max_retries=3)
    try:
        run_pipeline(load_pipeline(str(pipeline)), executor, progress=False)
    finally:
        executor.close()
        remover.join()
    assert removed and not removed["finished_already"], "the node was not removed while the run was going"
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2

    on_ray = download(s3, "ray", root / "ray")
    for stage in STAGES:
        assert stage_contents(on_ray, stage) == stage_contents(local, stage), stage
    assert set(stage_contents(local, "dedup")["stats"]["dropped"]) >= {"exact_duplicate"}
    assert token_files(on_ray / "tokenize") == token_files(local / "tokenize")

    # completion records name each input object with its ETag; a rerun finds them all and rewrites none
    extract_records = [json.loads(s3.cat(p)) for p in records(s3, "ray") if "/extract" in p]
    inputs = [i for r in extract_records for i in r["inputs"] if i[0].startswith("s3://")]
    assert inputs and all(i[2] == s3.info(i[0])["ETag"] for i in inputs)
    before = records(s3, "ray")
    executor = RayExecutor(4)
    try:
        run_pipeline(load_pipeline(str(pipeline)), executor, progress=False)
    finally:
        executor.close()
    assert records(s3, "ray") == before

    # a second driver on the same S3 prefix is refused while the first holds the run lock
    lock = RunLock(f"s3://{BUCKET}/ray")
    lock.acquire()
    try:
        second = subprocess.run(
            [sys.executable, "-m", "studies.cli", "curate", "run", str(pipeline), "--no-progress"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        lock.release()
    assert second.returncode != 0
    assert "another run is writing this output folder" in second.stderr
    assert records(s3, "ray") == before
