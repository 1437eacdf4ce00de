"""The trainer under faults a user meets (issue 31, items 14-18): a blow-up right at the first evaluation, a
damaged best.pt, a kill between a checkpoint and marking it best, `--no-progress`, a run that diverges, a full
disk. Real runs of a tiny GPT on tokenized books; the faults are real (a weight blow-up, flipped bytes, a
kernel's ENOSPC)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess

import pytest
import torch
import yaml
from train_fixtures import PYTHON, REPO, python_env, tiny_overrides, token_data, write_manifest  # noqa: F401

from train import checkpoint
from train.config import load_config
from train.trainer import Trainer, run_training

UNIFORM = math.log(1024)  # the shards' vocabulary
pytestmark = pytest.mark.slow  # each test trains a model or runs `train` in a subprocess


@pytest.fixture
def manifest(tmp_path, token_data):  # noqa: F811
    return write_manifest(tmp_path / "m.yaml", token_data)


def config(manifest, run_dir, **extra):
    return load_config(None, tiny_overrides(manifest, run_dir, **extra))


class BlowsUpBeforeFirstEval(Trainer):
    """The update of step `break_step` blows the (tied) embedding up whenever the lr there is above `safe_lr`:
    too high an lr right after warmup, as AdamW at lr 3e-3 does in bench/train_vs_nanogpt.py's setup. With the
    first evaluation just after it, the blown-up model is what that evaluation measures. Replayed at the same lr
    it recurs (training is deterministic)."""

    break_step, safe_lr = -1, 0.0

    def train_step(self):
        verdict, record = super().train_step()
        if verdict.action.value == "ok" and self.state.step == self.break_step and record["lr"] > self.safe_lr:
            with torch.no_grad():
                self.raw_model.wte.weight.mul_(30)
        return verdict, record


def blow_up_run(manifest, run_dir, log, **extra):
    trainer = BlowsUpBeforeFirstEval(
        config(manifest, run_dir, max_steps=60, warmup_steps=10, eval_interval=15, ckpt_interval=100, **extra), log=log
    )
    trainer.break_step, trainer.safe_lr = 14, 0.75 * 3e-3
    return trainer, trainer.run()


def test_blow_up_at_the_first_evaluation_rolls_back_to_a_good_checkpoint(tmp_path, manifest):
    """Issue 31 item 14. Before: the blown-up evaluation at step 15 became the best validation loss, the checkpoint
    saved with it passed "not >10% above the best", and the guard rolled back to it six times, then stopped with
    "training diverged". Now it is refused (worse than uniform prediction), the run goes back to the initial
    weights, the break recurs there, so the lr is halved, and the run ends with a model that learned."""
    messages = []
    trainer, result = blow_up_run(manifest, tmp_path / "run", messages.append)
    first_eval = next(float(m.split()[-1]) for m in messages if m.startswith("step 15: val loss"))
    assert first_eval > UNIFORM  # the evaluation right after the blow-up measured it
    assert any("ckpt-00000015.pt: validation loss" in m and "uniformly" in m for m in messages)
    assert not any("resumed from" in m and "ckpt-00000015.pt" in m for m in messages)
    rollbacks = [e for e in result.events if e["event"] in ("rollback", "lr_lowered")]
    assert [e["event"] for e in rollbacks] == ["rollback", "rollback", "lr_lowered"]
    assert trainer.state.step == 60 and trainer.state.lr_scale == 0.5
    assert result.val_losses[60] < first_eval - 1.5 and result.val_losses[60] < UNIFORM - 0.5
    best = checkpoint.load(tmp_path / "run" / "best.pt")  # the replay's evaluations, not the blown-up one
    assert best["record"]["val_loss"] == min(result.val_losses.values())

    # the guard must not do worse than no guard: the same run with spikes never acted on
    unguarded = []
    _, free = blow_up_run(manifest, tmp_path / "free", unguarded.append, spike_z=1e9)
    assert not [e for e in free.events if e["event"] == "rollback"]
    assert result.val_losses[60] <= free.val_losses[60] + 0.05


def test_best_is_an_independent_verified_copy_and_damage_names_the_checksum(tmp_path, manifest):
    """Issue 31 item 15: best.pt was a hard link to the checkpoint: one damaged file was both the resume point
    and the best model, and the error blamed a size mismatch against the previous best entry."""
    run_dir = tmp_path / "run"
    run_training(config(manifest, run_dir, max_steps=30, eval_interval=10, ckpt_interval=10, keep_last=5))
    best_step = json.loads((run_dir / "best.json").read_text())["record"]["step"]
    source = run_dir / f"ckpt-{best_step:08d}.pt"
    assert os.stat(source).st_ino != os.stat(run_dir / "best.pt").st_ino
    assert source.read_bytes() == (run_dir / "best.pt").read_bytes()

    flip_byte(source)  # the checkpoint damaged: best.pt is untouched
    with pytest.raises(checkpoint.CheckpointError, match=f"{source.name}: sha256 differs .*corrupted"):
        checkpoint.load(source)
    assert checkpoint.load(run_dir / "best.pt")["state"]["step"] == best_step

    flip_byte(run_dir / "best.pt")  # best.pt damaged: the checksum is named, not a size
    with pytest.raises(checkpoint.CheckpointError, match="best.pt: sha256 differs from best.json \\(corrupted\\)"):
        checkpoint.load(run_dir / "best.pt")


def flip_byte(path, offset: int = 5000) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


class KilledBeforeMarkingBest(Trainer):
    """Stops (as a kill would) after the checkpoint of step `kill_at` is written, before it is marked best."""

    kill_at = -1

    def _finish_save(self):
        if self.pending_save and self.pending_save[2] and self.state.step == self.kill_at:
            raise KeyboardInterrupt("killed between the checkpoint and best.pt")
        super()._finish_save()


@pytest.mark.parametrize("max_steps", [10, 20])
def test_kill_between_a_checkpoint_and_marking_it_best_leaves_a_best_after_resume(tmp_path, manifest, max_steps):
    """Issue 31 item 16: the resumed run's state already counts the killed checkpoint's loss as the best, so no
    later evaluation marked it: no best.pt at all (10 steps), or a stale one (20)."""
    run_dir = tmp_path / "run"
    trainer = KilledBeforeMarkingBest(config(manifest, run_dir, max_steps=max_steps, eval_interval=10))
    trainer.kill_at = max_steps
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert (run_dir / f"ckpt-{max_steps:08d}.json").exists()
    before = (
        json.loads((run_dir / "best.json").read_text())["record"]["step"] if (run_dir / "best.json").exists() else None
    )
    assert before == (None if max_steps == 10 else 10)
    messages = []
    run_training(config(manifest, run_dir, max_steps=max_steps, eval_interval=10), resume=True, log=messages.append)
    assert checkpoint.load(run_dir / "best.pt")["state"]["step"] == max_steps
    assert any(f"ckpt-{max_steps:08d}.pt (validation loss" in m and "was not marked best" in m for m in messages)


def write_config(path, manifest, run_dir, **extra) -> str:
    values = tiny_overrides(manifest, run_dir, **extra)
    values.pop("progress")
    path.write_text(yaml.safe_dump(values))
    return str(path)


def train_cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "train.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env(),
        timeout=600,
        **kwargs,
    )


def test_no_progress_flag_works(tmp_path, manifest):
    """Issue 31 item 17: `train run --no-progress` failed with "progress: expected true or false, got 'false'"."""
    result = train_cli(
        "run",
        write_config(tmp_path / "c.yaml", manifest, tmp_path / "run", max_steps=3, eval_interval=100),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "done: step 3" in result.stdout and "step 3/3" not in result.stderr


def test_a_run_that_diverges_ends_in_one_line(tmp_path, manifest):
    """Issue 31 item 18: "training diverged" was a traceback. lr 1e30 makes the weights overflow to NaN at every
    replay, however often the rollbacks halve it."""
    result = train_cli(
        "run",
        write_config(
            tmp_path / "c.yaml", manifest, tmp_path / "run", max_steps=30, lr=1e30, min_lr=0.0, eval_interval=100
        ),
        "--no-progress",
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("train: error: training diverged: 6 rollbacks") and "lower the learning rate" in last


def can_mount_tmpfs(folder) -> bool:
    probe = (
        subprocess.run(
            ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {folder}"], capture_output=True
        )
        if shutil.which("unshare")
        else None
    )
    return probe is not None and probe.returncode == 0


def test_full_disk_is_one_line_naming_the_path_and_leaves_no_temporary_file(tmp_path, manifest):
    """Issue 31 item 18: a full disk. The run folder is a 3 MB tmpfs (mounted in a user namespace, no root
    needed): the step-0 checkpoint (about 2 MB with AdamW's moments) fits, the next does not. Where this machine
    cannot mount one, the next checkpoint's temporary file is a link to /dev/full, whose writes the kernel
    refuses with ENOSPC, as a full disk's."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    arguments = [
        PYTHON,
        "-m",
        "train.cli",
        "run",
        write_config(tmp_path / "c.yaml", manifest, run_dir, max_steps=20, eval_interval=100),
        "--no-progress",
    ]
    if can_mount_tmpfs(run_dir):
        command = [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f'mount -t tmpfs -o size=3m tmpfs {run_dir} && exec "$@"',
            "sh",
            *arguments,
        ]
        failing = None
    else:
        failing = run_dir / ".ckpt-00000010.pt.tmp"
        failing.symlink_to("/dev/full")
        command = arguments
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=python_env(), timeout=600)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("train: error: no space left on device writing ") and str(run_dir) in last, last
    assert "free some space, then continue with --resume" in last
    if failing is not None:
        assert not failing.is_symlink() and not failing.exists()  # the temporary file is removed
        assert (run_dir / "ckpt-00000000.pt").exists() and not (run_dir / "ckpt-00000010.pt").exists()
    # in the namespace the tmpfs is gone with the process; what it held cannot be inspected from here


def test_full_disk_removes_the_half_written_checkpoint(tmp_path):
    """The same in process on a real tmpfs where this machine allows one: the temporary file is removed and
    the error names the checkpoint."""
    folder = tmp_path / "small"
    folder.mkdir()
    script = (
        "import sys, torch; from pathlib import Path; from train import checkpoint\n"
        "path = Path(sys.argv[1]) / 'ckpt-00000010.pt'\n"
        "payload = {'state': {'step': 10}, 'model': {'w': torch.zeros(200_000)}}\n"
        "try:\n    checkpoint.save(payload, path)\n"
        "except OSError as error:\n    print(error.errno, error.filename)\n"
        "print(sorted(p.name for p in path.parent.iterdir()))\n"
    )
    if not can_mount_tmpfs(folder):
        pytest.skip("this machine cannot mount a tmpfs (no root, no user namespaces); the /dev/full test covers it")
    result = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f'mount -t tmpfs -o size=256k tmpfs {folder} && exec "$@"',
            "sh",
            PYTHON,
            "-c",
            script,
            str(folder),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"28 {folder / 'ckpt-00000010.pt'}", "[]"]


def test_partial_plan_is_said_at_start_and_recorded(tmp_path, manifest):
    """Issue 34 item 3: a step count that covers part of the manifest's plan is said at start, and what was
    trained is in the checkpoint, the plot's title and the model card."""
    messages = []
    run_dir = tmp_path / "run"
    # 20 steps x 8 sequences x 64 tokens = 10,240 of the manifest's 200,000 planned tokens
    run_training(config(manifest, run_dir, max_steps=20, eval_interval=10), log=messages.append)
    assert (
        "note: will train 10k of the 200k planned tokens: 0.05 of the plan; set max_steps 391 for all of it" in messages
    )
    payload = checkpoint.load(run_dir / "ckpt-00000020.pt")
    assert payload["plan"] == {"planned_tokens": 200_000, "max_steps": 20, "tokens_trained": 10_240}

    from train.metrics import read_metrics
    from train.plot import coverage

    assert coverage(read_metrics(run_dir)) == "\n10k of the 200k planned tokens trained (0.05 of the plan)"

    from train.export import model_card
    from train.model import GPTConfig

    card = model_card(payload, GPTConfig(**payload["model_config"]), "GPT2LMHeadModel")
    assert "| tokens trained | 10,240 of the 200,000 the data mix plans (0.05 of the plan) |" in card
    assert "trained on the first 10,240 tokens of this plan (0.05 of it)" in card

    from train.trainer import plan_notice

    assert plan_notice(200_000, 391, 512) is None  # max_steps 0 (the default): the plan rounded up to whole steps
    assert (
        plan_notice(200_000, 800, 512) == "note: will train 410k tokens, 2.05x the 200k the plan draws: the mix repeats"
    )
    assert "344k of the 1.0B planned tokens: 0.0003 of the plan" in plan_notice(10**9, 84, 4096)  # not "0.00"


def test_bench_setup_with_adamw_at_3e_3_recovers_as_nanogpt_does(tmp_path, token_data):  # noqa: F811
    """Issue 31 item 14 as found: bench/train_vs_nanogpt.py's model and data (4 layers, width 128, seq 256, 16
    sequences a step, the three English books), AdamW at lr 3e-3, 84 steps, evaluated every 12. On this
    project's dev machine the update of step 11 blows the model up, the evaluation at step 12 measures 9.0
    (uniform prediction: 6.93), and before the fix the guard rolled back to that checkpoint six times and
    stopped with "training diverged". Kernels differ between CPUs, so the test asserts the guarantees, not the
    trajectory: the run finishes, never resumes from a checkpoint worse than uniform, and ends no worse than
    the same run with the guard off (nanoGPT has none and recovers by itself)."""
    manifest = write_manifest(
        tmp_path / "m.yaml",
        token_data,
        seq_len=256,
        total_tokens=10**9,
        seed=0,
        sources=[
            {
                "name": "en",
                "path": str(token_data.dirs["en"]),
                "weight": 1.0,
                "validation": str(token_data.dirs["en-val"]),
            }
        ],
    )
    bench = dict(
        manifest=str(manifest),
        device="cpu",
        progress=False,
        micro_batch=16,
        max_steps=84,
        eval_interval=12,
        eval_batches=8,
        ckpt_interval=84,
        seed=0,
        n_layer=4,
        n_head=4,
        n_embd=128,
        optimizer="adamw",
        lr=3e-3,
        min_lr=3e-4,
        schedule="wsd",
        decay_frac=0.4,
        warmup_steps=10,
        weight_decay=0.0,
    )
    messages = []
    guarded = run_training(load_config(None, dict(bench, out_dir=str(tmp_path / "guarded"))), log=messages.append)
    latest_val = {}  # step -> the validation loss its checkpoint was saved with, as the log went
    for m in messages:
        if ": val loss " in m:
            latest_val[int(m.split()[1].rstrip(":"))] = float(m.split()[-1])
        if m.startswith("resumed from"):
            step = int(m.split("ckpt-")[1][:8])
            assert step == 0 or latest_val[step] < UNIFORM, m
    free = run_training(
        load_config(None, dict(bench, out_dir=str(tmp_path / "free"), spike_z=1e9)), log=lambda *a: None
    )
    assert guarded.val_losses[84] <= free.val_losses[84] + 0.05
