"""Data parallelism through the real torchrun launcher, two gloo processes on CPU.

Each torchrun launch costs three torch imports and a process-group start (seconds each on 2 cores), so the two
2-process runs every test compares are launched once (`launched`), and the tests that resume on another process
count start from a copy of them as a kill after a given checkpoint leaves it. 1-process runs go through
`train.cli.main` in this process: the same command line and trainer, without another interpreter."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from train_fixtures import PYTHON, REPO, python_env, read_losses, tiny_overrides, token_data, write_manifest  # noqa: F401

from train import checkpoint
from train.cli import main

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)

STEPS = 10


def torchrun(config_path, *args: str) -> list[str]:
    return [
        PYTHON,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        "-m",
        "train.cli",
        "run",
        str(config_path),
        *args,
    ]


def train(config_path, processes: int, *args: str) -> None:
    if processes == 1:
        assert main(["run", str(config_path), *args]) == 0
        return
    command = torchrun(config_path, *args)
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=python_env(), timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr[-4000:]}"


def config_maker(folder, token_data):  # noqa: F811
    manifest = write_manifest(folder / "m.yaml", token_data)

    def make(name: str, **extra):
        values = tiny_overrides(
            manifest,
            folder / name,
            **{**dict(max_steps=STEPS, tokens_per_step=1024, eval_interval=5, ckpt_interval=5), **extra},
        )
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(values))
        return path, folder / name

    return make


@pytest.fixture
def configs(tmp_path, token_data):  # noqa: F811
    return config_maker(tmp_path, token_data)


@pytest.fixture(scope="module")
def single_losses(tmp_path_factory, token_data) -> dict:  # noqa: F811
    """The losses of the uninterrupted 1-process run every test here compares with (the same config in each)."""
    single, single_dir = config_maker(tmp_path_factory.mktemp("single"), token_data)("single")
    train(single, 1)
    return read_losses(single_dir)


@pytest.fixture(scope="module")
def launched(tmp_path_factory, token_data) -> dict:  # noqa: F811
    """Two uninterrupted 2-process runs of the single run's config: DDP (file checkpoints every 5 steps), and FSDP2
    writing DCP checkpoints in the background after every step (all kept, for the tests that resume from them)."""
    make = config_maker(tmp_path_factory.mktemp("launched"), token_data)
    runs = {
        "ddp": make("ddp"),
        "fsdp": make("fsdp", parallel="fsdp", ckpt_format="dcp", ckpt_async=True, ckpt_interval=1, keep_last=STEPS + 1),
    }
    # side by side: one launch's serial start (the launcher's torch import, the rendezvous) overlaps the other's work
    launches = {
        name: subprocess.Popen(
            torchrun(config), cwd=REPO, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for name, (config, _) in runs.items()
    }
    for name, process in launches.items():
        output = process.communicate(timeout=300)[0]
        assert process.returncode == 0, f"{name} launch failed:\n{output[-4000:]}"
    return {name: run_dir for name, (_, run_dir) in runs.items()}


def running(pid: str) -> bool:
    """The process exists and is not a zombie (a dead child its new parent has not reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def killed_after(run_dir: Path, step: int, copy: Path) -> Path:
    """A copy of a finished run as a kill right after its step-`step` checkpoint leaves it: later checkpoints and
    metrics are gone, so a resume must go on from that checkpoint."""
    shutil.copytree(run_dir, copy)
    for path in checkpoint.checkpoints(copy):
        if int(path.stem.split("-")[1]) > step:
            checkpoint.remove(path)
    records = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()]
    kept = [r for r in records if r.get("step", 0) < step or (r["kind"] != "train" and r.get("step") == step)]
    (copy / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    return copy


def assert_close(a: dict, b: dict, rel: float = 1e-4) -> None:
    assert sorted(a) == sorted(b) == list(range(STEPS))
    for step in a:
        assert a[step] == pytest.approx(b[step], rel=rel), f"step {step}: {a[step]} vs {b[step]}"


def test_two_processes_match_one_with_the_same_global_batch(launched, single_losses):
    # single_losses: 1 process, 2 micro-steps of 8 sequences; launched: 2 processes, 1 micro-step of 8 sequences each
    assert_close(single_losses, read_losses(launched["ddp"]))
    assert_close(single_losses, read_losses(launched["fsdp"]))


def test_resume_on_a_different_process_count_keeps_the_data_order(configs, launched, single_losses):
    changed, _ = configs("changed")
    changed_dir = killed_after(launched["ddp"], 5, changed.parent / "changed")  # 2 processes, to step 5
    train(changed, 1, "--resume")
    assert_close(single_losses, read_losses(changed_dir))


def test_sharded_checkpoint_resumes_on_another_process_count(configs, launched, single_losses):
    """FSDP2 on 2 processes writes DCP checkpoints (each rank its shards); one process resumes from them, and
    2 FSDP processes with Muon resume from a 1-process DCP checkpoint; both match the uninterrupted runs."""
    sharded, _ = configs("sharded", parallel="fsdp")
    sharded_dir = killed_after(launched["fsdp"], 5, sharded.parent / "sharded")
    assert (sharded_dir / "ckpt-00000005.dcp" / "train_state.pt").exists()
    assert len(list((sharded_dir / "ckpt-00000005.dcp").glob("*.distcp"))) == 2
    train(sharded, 1, "--resume", "--ckpt-format", "dcp")
    assert_close(single_losses, read_losses(sharded_dir))

    muon_single, muon_single_dir = configs("muon-single", optimizer="muon")
    train(muon_single, 1)
    grown, grown_dir = configs("grown", optimizer="muon", ckpt_format="dcp", parallel="fsdp")
    train(grown, 1, "--stop-at", "5")
    train(grown, 2, "--resume")
    assert_close(read_losses(muon_single_dir), read_losses(grown_dir))


def test_async_sharded_checkpoints_survive_a_kill_and_resume_on_another_process_count(configs, launched, single_losses):
    """ckpt_async: 2 FSDP processes write DCP checkpoints in the background; a run that ends waits for its last
    one to be recorded; a run killed (SIGKILL, checkpoint writes possibly in flight) resumes on 1 process from
    the newest recorded one, and the losses are those of the uninterrupted run."""
    finished = launched["fsdp"]  # ckpt_async, a checkpoint after every step
    assert (finished / f"ckpt-{STEPS:08d}.json").exists() and len(
        list((finished / f"ckpt-{STEPS:08d}.dcp").glob("*.distcp"))
    ) == 2
    run, _ = configs("async", parallel="fsdp", ckpt_format="dcp", ckpt_async=True, ckpt_interval=1)
    run_dir = killed_after(finished, 4, run.parent / "async")
    process = subprocess.Popen(
        torchrun(run, "--resume"),
        cwd=REPO,
        env=python_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while max(read_losses(run_dir), default=0) < 7 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()  # torchrun's workers
    os.killpg(process.pid, signal.SIGKILL)  # torchrun only: it starts each worker in a session of its own
    process.wait()
    assert max(read_losses(run_dir)) >= 7  # killed mid-run, past the copied checkpoints
    gone = time.monotonic() + 0.5  # SIGKILL at its death: at once (left alone they trained on for 1.5 s)
    while any(map(running, workers)) and time.monotonic() < gone:
        time.sleep(0.1)
    assert workers and not any(map(running, workers))  # they died with torchrun
    train(run, 1, "--resume")
    assert_close(single_losses, read_losses(run_dir))
