"""Data parallelism through the real torchrun launcher, two gloo processes on CPU."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import yaml
from train_fixtures import PYTHON, REPO, python_env, read_losses, tiny_overrides, token_data, write_manifest  # noqa: F401

STEPS = 10


def train(config_path, processes: int, *args: str) -> None:
    launcher = ([PYTHON, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
                if processes > 1 else [PYTHON])
    command = launcher + ["-m", "train.cli", "run", str(config_path), *args]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=python_env(), timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr[-4000:]}"


def config_maker(folder, token_data):  # noqa: F811
    manifest = write_manifest(folder / "m.yaml", token_data)

    def make(name: str, **extra):
        values = tiny_overrides(manifest, folder / name, **{**dict(max_steps=STEPS, tokens_per_step=1024,
                                                                   eval_interval=5, ckpt_interval=5), **extra})
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


def assert_close(a: dict, b: dict, rel: float = 1e-4) -> None:
    assert sorted(a) == sorted(b) == list(range(STEPS))
    for step in a:
        assert a[step] == pytest.approx(b[step], rel=rel), f"step {step}: {a[step]} vs {b[step]}"


def test_two_processes_match_one_with_the_same_global_batch(configs, single_losses):
    # single_losses: 1 process, 2 micro-steps of 8 sequences
    ddp, ddp_dir = configs("ddp")                    # 2 processes, 1 micro-step of 8 sequences each
    train(ddp, 2)
    assert_close(single_losses, read_losses(ddp_dir))
    fsdp, fsdp_dir = configs("fsdp", parallel="fsdp")
    train(fsdp, 2)
    assert_close(single_losses, read_losses(fsdp_dir))


def test_resume_on_a_different_process_count_keeps_the_data_order(configs, single_losses):
    changed, changed_dir = configs("changed")
    train(changed, 2, "--stop-at", "5")
    train(changed, 1, "--resume")
    assert_close(single_losses, read_losses(changed_dir))


def test_sharded_checkpoint_resumes_on_another_process_count(configs, single_losses):
    """FSDP2 on 2 processes writes DCP checkpoints (each rank its shards); one process resumes from them, and
    2 FSDP processes with Muon resume from a 1-process DCP checkpoint; both match the uninterrupted runs."""
    sharded, sharded_dir = configs("sharded", parallel="fsdp")
    train(sharded, 2, "--stop-at", "5")
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


def test_async_sharded_checkpoints_survive_a_kill_and_resume_on_another_process_count(configs, single_losses):
    """ckpt_async: 2 FSDP processes write DCP checkpoints in the background; a run that ends waits for its last
    one to be recorded; a run killed (SIGKILL, checkpoint writes possibly in flight) resumes on 1 process from
    the newest recorded one, and the losses are those of the uninterrupted run."""
    run, run_dir = configs("async", parallel="fsdp", ckpt_format="dcp", ckpt_async=True, ckpt_interval=1)
    train(run, 2, "--stop-at", "4")
    assert (run_dir / "ckpt-00000004.json").exists() and len(list((run_dir / "ckpt-00000004.dcp").glob("*.distcp"))) == 2
    command = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "train.cli", "run",
               str(run), "--resume"]
    process = subprocess.Popen(command, cwd=REPO, env=python_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while max(read_losses(run_dir), default=0) < 7 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    train(run, 1, "--resume")
    assert_close(single_losses, read_losses(run_dir))
