"""The training loop on real tokenized books: learning, bitwise resume, checkpoints, loss-spike handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_fixtures import read_losses, tiny_overrides, token_data, write_manifest, write_token_dir  # noqa: F401

from train import checkpoint
from train.config import TrainConfig, load_config
from train.data import DataError
from train.metrics import read_metrics
from train.trainer import Trainer, lr_at, run_training


@pytest.fixture
def manifest(tmp_path, token_data):  # noqa: F811
    return write_manifest(tmp_path / "m.yaml", token_data)


def config(manifest, run_dir, **extra):
    return load_config(None, tiny_overrides(manifest, run_dir, **extra))


@pytest.mark.slow
def test_tiny_model_learns_real_text(tmp_path, manifest):
    result = run_training(
        config(
            manifest,
            tmp_path / "run",
            max_steps=300,
            eval_interval=100,
            warmup_steps=20,
            micro_batch=16,
            n_head=4,
            n_embd=128,
        )
    )
    losses = [result.losses[s] for s in sorted(result.losses)]
    assert np.mean(losses[:5]) > 6.5  # about log(1024) = 6.93 at initialisation
    assert np.mean(losses[-10:]) < np.mean(losses[:5]) - 1.5
    val = [result.val_losses[s] for s in sorted(result.val_losses)]
    assert val == sorted(val, reverse=True) and val[-1] < 5.8
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [m for m in metrics if m["kind"] == "train"]
    assert {"loss", "lr", "grad_norm", "tokens_per_s", "mfu", "peak_mem_mb"} <= set(train[0])
    assert any("val/en" in m and "val/defr" in m for m in metrics if m["kind"] == "val")
    assert (tmp_path / "run" / "best.pt").exists()


@pytest.mark.slow
def test_resume_is_bitwise_identical(tmp_path, manifest):
    straight = run_training(config(manifest, tmp_path / "a", max_steps=20, eval_interval=5))
    run_training(config(manifest, tmp_path / "b", max_steps=20, eval_interval=5), stop_at=10)
    resumed = run_training(config(manifest, tmp_path / "b", max_steps=20, eval_interval=5), resume=True)
    assert sorted(resumed.losses) == list(range(10, 20))
    assert read_losses(tmp_path / "a") == read_losses(tmp_path / "b")  # exact float equality, all 20 steps
    assert straight.val_losses[20] == resumed.val_losses[20]


@pytest.mark.slow
def test_corrupt_checkpoint_falls_back_to_the_previous(tmp_path, manifest):
    run_dir = tmp_path / "run"
    run_training(config(manifest, run_dir, max_steps=30, ckpt_interval=10, eval_interval=100), stop_at=20)
    newest = checkpoint.checkpoints(run_dir)[-1]
    assert newest.name == "ckpt-00000020.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    with pytest.raises(checkpoint.CheckpointError, match="ckpt-00000020.pt: .* bytes, .* says .* \\(truncated\\?\\)"):
        checkpoint.load(newest)
    messages = []
    resumed = run_training(
        config(manifest, run_dir, max_steps=30, ckpt_interval=10, eval_interval=100), resume=True, log=messages.append
    )
    assert any("checkpoint skipped" in m and "ckpt-00000020.pt" in m for m in messages)
    assert min(resumed.losses) == 10


@pytest.mark.slow
def test_checkpoint_loads_with_weights_only(tmp_path, manifest):
    run_training(config(manifest, tmp_path / "run", max_steps=10, eval_interval=100, ckpt_interval=10))
    payload = torch.load(tmp_path / "run" / "ckpt-00000010.pt", weights_only=True)
    assert payload["state"]["step"] == 10 and payload["state"]["cursor"] == 10 and "wte.weight" in payload["model"]


class CorruptBatches(Trainer):
    """Test double for the data only: batches at the given cursors are uniform random tokens."""

    corrupt: set[int] = set()

    def batch(self, cursor, micro_step):
        x, y = super().batch(cursor, micro_step)
        if cursor in self.corrupt:
            generator = torch.Generator().manual_seed(cursor)
            y = torch.randint(0, 1024, y.shape, generator=generator)
        return x, y


class PoisonedStep(Trainer):
    """At the given cursor the batch arrives with the model's weights overwritten by NaN (a hardware fault)."""

    poison_at = -1

    def batch(self, cursor, micro_step):
        if cursor == self.poison_at:
            with torch.no_grad():
                self.raw_model.h[0].attn.c_attn.weight.fill_(float("nan"))
        return super().batch(cursor, micro_step)


@pytest.mark.slow
def test_spike_from_a_corrupt_batch_is_skipped(tmp_path, manifest):
    trainer = CorruptBatches(config(manifest, tmp_path / "run", max_steps=60, eval_interval=100, spike_z=4.0))
    trainer.corrupt = {45}
    result = trainer.run()
    assert [(e["event"], e["cursor"]) for e in result.events] == [("spike_skipped", 45)]
    assert result.losses[45] > result.losses[44] + 1.0
    assert max(result.losses) == 59


@pytest.mark.slow
def test_sustained_spike_rolls_back_and_skips_the_batches(tmp_path, manifest):
    trainer = CorruptBatches(
        config(
            manifest, tmp_path / "run", max_steps=60, eval_interval=100, ckpt_interval=20, spike_z=4.0, spike_patience=3
        )
    )
    trainer.corrupt = {45, 46, 47}
    result = trainer.run()
    rollback = [e for e in result.events if e["event"] == "rollback"]
    assert len(rollback) == 1 and rollback[0]["skipped_cursors"] == [45, 46, 47]
    assert trainer.state.skip == {45, 46, 47} and trainer.state.step == 60 and trainer.state.cursor == 63
    assert all(np.isfinite(list(result.losses.values())))


@pytest.mark.slow
def test_nan_rolls_back_to_the_last_good_checkpoint(tmp_path, manifest):
    trainer = PoisonedStep(config(manifest, tmp_path / "run", max_steps=40, eval_interval=100, ckpt_interval=10))
    trainer.poison_at = 25
    result = trainer.run()
    assert [(e["event"], e["reason"], e["step"]) for e in result.events] == [("rollback", "nonfinite", 25)]
    assert trainer.state.skip == {25} and trainer.state.step == 40
    assert all(np.isfinite([result.losses[s] for s in range(20, 40)]))  # steps 20.. replayed after the rollback


def test_empty_validation_set_is_a_clear_error(tmp_path, token_data):  # noqa: F811
    empty = write_token_dir(tmp_path / "empty", [], token_data.tokenizer_hash, token_data.eot_id, shards=1)
    manifest = write_manifest(
        tmp_path / "m.yaml",
        token_data,
        sources=[{"name": "en", "path": str(token_data.dirs["en"]), "weight": 1.0, "validation": str(empty)}],
    )
    with pytest.raises(DataError, match="validation set of source 'en' is empty"):
        Trainer(config(manifest, tmp_path / "run"))


def test_schedules():
    c = TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, schedule="cosine")
    assert lr_at(0, c, 110) == pytest.approx(0.1) and lr_at(9, c, 110) == pytest.approx(1.0)
    assert lr_at(60, c, 110) == pytest.approx(0.55) and lr_at(110, c, 110) == pytest.approx(0.1)
    c.schedule, c.decay_frac = "wsd", 0.2
    assert lr_at(50, c, 110) == 1.0 and lr_at(88, c, 110) == 1.0
    assert lr_at(99, c, 110) == pytest.approx(1 - 0.9 * np.sqrt(11 / 22)) and lr_at(110, c, 110) == pytest.approx(0.1)


@pytest.mark.slow
def test_clean_run_flags_nothing_and_early_spikes_are_caught(tmp_path, manifest):
    """Random-token batches at step 15 (loss still falling fast) and 45 are flagged at the default threshold; the
    other steps of the same run, noisy and falling, are not."""
    trainer = CorruptBatches(config(manifest, tmp_path / "run", max_steps=60, eval_interval=100))
    trainer.corrupt = {15, 45}
    result = trainer.run()
    assert [(e["event"], e["cursor"]) for e in result.events] == [("spike_skipped", 15), ("spike_skipped", 45)]
    assert result.losses[2] - result.losses[14] > 0.3  # step 15 falls in the fast-falling phase


class NanAfterUpdate(Trainer):
    """The update of the given step leaves NaN weights (a hardware fault): the evaluation and checkpoint that
    follow it see them before any training loss does."""

    nan_after = -1

    def train_step(self):
        outcome, record = super().train_step()
        if self.state.step == self.nan_after:
            self.nan_after = -1  # one fault; the replay after the rollback is clean
            with torch.no_grad():
                self.raw_model.h[1].mlp.c_fc.weight.fill_(float("nan"))
        return outcome, record


@pytest.mark.slow
def test_checkpoint_with_nan_weights_is_never_rolled_back_to(tmp_path, manifest):
    run_dir = tmp_path / "run"
    messages = []
    trainer = NanAfterUpdate(
        config(manifest, run_dir, max_steps=40, eval_interval=10, ckpt_interval=10), log=messages.append
    )
    trainer.nan_after = 19  # checkpoint 20 is saved with NaN weights and validation loss nan
    result = trainer.run()
    assert [(e["event"], e["reason"], e["step"]) for e in result.events] == [("rollback", "nonfinite", 20)]
    assert any("ckpt-00000020.pt: holds non-finite weights" in m for m in messages)
    assert any("resumed from" in m and "ckpt-00000010.pt" in m for m in messages)
    assert trainer.state.step == 40 and all(np.isfinite(list(result.losses.values())))
    assert np.isfinite(result.val_losses[40])
    assert checkpoint.load(run_dir / "best.pt")["state"]["step"] in (10, 30, 40)


class BreaksAtPeakLr(Trainer):
    """An instability of the model, not of a batch: the update of step `break_step` blows the (tied) embedding
    up whenever the lr there is above `safe_lr`, as a too-high peak lr does right after warmup. Replayed at the
    same lr it recurs; no batch skip can prevent it."""

    break_step, safe_lr = -1, 0.0

    def train_step(self):
        outcome, record = super().train_step()
        if outcome.action.value == "ok" and self.state.step == self.break_step and record["lr"] > self.safe_lr:
            with torch.no_grad():
                self.raw_model.wte.weight.mul_(30)
        return outcome, record


@pytest.mark.slow
def test_instability_that_recurs_after_a_rollback_halves_the_lr(tmp_path, manifest):
    run_dir = tmp_path / "run"
    trainer = BreaksAtPeakLr(
        config(manifest, run_dir, max_steps=50, warmup_steps=20, eval_interval=100, ckpt_interval=100)
    )
    trainer.break_step, trainer.safe_lr = 25, 0.75 * 3e-3
    result = trainer.run()
    events = [
        (e["event"], e["step"], e.get("skipped_cursors"), e.get("lr_scale"))
        for e in result.events
        if e["event"] != "spike_skipped"
    ]
    # the first rollback blames the batches (PaLM); the break recurs from the same checkpoint: the lr is halved
    assert events == [
        ("rollback", 28, [26, 27, 28], None),
        ("rollback", 28, [29, 30, 31], None),
        ("lr_lowered", 28, None, 0.5),
    ]
    assert trainer.state.step == 50 and trainer.state.lr_scale == 0.5 and trainer.state.skip == set(range(26, 32))
    train = {r["step"]: r for r in read_metrics(run_dir)["train"]}
    assert train[30]["lr"] == pytest.approx(0.5 * lr_at(30, trainer.c, 50))
    assert all(np.isfinite(list(result.losses.values()))) and result.losses[49] < result.losses[0] - 0.5
    assert checkpoint.load(run_dir / "ckpt-00000050.pt")["state"]["lr_scale"] == 0.5  # a resume keeps it


@pytest.mark.slow
def test_resume_without_a_usable_checkpoint_is_an_error_until_restart(tmp_path, manifest):
    run_dir = tmp_path / "run"
    run_training(config(manifest, run_dir, max_steps=30, keep_last=1, eval_interval=100), stop_at=20)
    assert [p.name for p in checkpoint.checkpoints(run_dir)] == ["ckpt-00000020.pt"]
    newest = run_dir / "ckpt-00000020.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    with pytest.raises(checkpoint.CheckpointError, match="none of the 1 checkpoints .* pass --restart"):
        run_training(config(manifest, run_dir, max_steps=30, keep_last=1, eval_interval=100), resume=True)
    result = run_training(
        config(manifest, run_dir, max_steps=30, keep_last=1, eval_interval=100, ckpt_interval=10),
        resume=True,
        restart=True,
    )
    assert min(result.losses) == 0 and max(result.losses) == 29
    assert [p.name for p in checkpoint.checkpoints(run_dir)] == ["ckpt-00000030.pt"]
    assert (run_dir / "previous-1" / "ckpt-00000020.pt").exists()  # set aside, not deleted


@pytest.mark.slow
def test_best_checkpoint_survives_a_kill_between_its_renames(tmp_path, manifest):
    run_dir = tmp_path / "run"
    run_training(config(manifest, run_dir, max_steps=30, eval_interval=10, ckpt_interval=10, keep_last=5))
    best = json.loads((run_dir / "best.json").read_text())
    assert checkpoint.load(run_dir / "best.pt")["state"]["step"] == best["record"]["step"] == 30
    # a kill after best.json was replaced but before best.pt was: best.pt is still the previous best
    (run_dir / "best.pt").unlink()
    previous = run_dir / f"ckpt-{best['previous']['step']:08d}.pt"
    (run_dir / "best.pt").write_bytes(previous.read_bytes())
    assert checkpoint.load(run_dir / "best.pt")["state"]["step"] == best["previous"]["step"] == 20


def test_token_ids_outside_the_vocabulary_name_the_shard(tmp_path, token_data):  # noqa: F811
    from common.shards import read_token_dir
    import shutil

    broken = tmp_path / "en"
    shutil.copytree(token_data.dirs["en"], broken)
    shard = sorted(broken.glob("*.bin"))[0]
    tokens = np.fromfile(shard, dtype=np.uint16)
    tokens[500] = 60000
    tokens.tofile(shard)
    assert read_token_dir(broken).num_tokens > 0  # the shard's framing is intact; only an id is wrong
    manifest = write_manifest(
        tmp_path / "m.yaml", token_data, sources=[{"name": "en", "path": str(broken), "weight": 1.0}]
    )
    with pytest.raises(DataError, match=f"{shard.name}: 1 token id\\(s\\) up to 60000, outside the vocabulary of 1024"):
        Trainer(config(manifest, tmp_path / "run"))
    summary = json.loads((token_data.dirs["en"] / "tokens.json").read_text())
    understated = tmp_path / "understated"
    shutil.copytree(token_data.dirs["en"], understated)
    (understated / "tokens.json").write_text(json.dumps({**summary, "vocab_size": 500}))
    manifest = write_manifest(
        tmp_path / "m2.yaml", token_data, sources=[{"name": "en", "path": str(understated), "weight": 1.0}]
    )
    with pytest.raises(DataError, match="outside the vocabulary of 500 that .*understated/tokens.json declares"):
        Trainer(config(manifest, tmp_path / "run2"))


@pytest.mark.slow
def test_muon_run_learns_and_resumes_bitwise(tmp_path, manifest):
    straight = run_training(config(manifest, tmp_path / "a", max_steps=20, eval_interval=10, optimizer="muon"))
    run_training(config(manifest, tmp_path / "b", max_steps=20, eval_interval=10, optimizer="muon"), stop_at=10)
    run_training(config(manifest, tmp_path / "b", max_steps=20, eval_interval=10, optimizer="muon"), resume=True)
    assert read_losses(tmp_path / "a") == read_losses(tmp_path / "b")
    assert straight.losses[19] < straight.losses[0] - 0.5


@pytest.mark.slow
def test_async_dcp_checkpoint_is_trusted_only_once_written_and_holds_its_step(tmp_path, manifest):
    """ckpt_async: the weights are copied when the save starts, so training may change them during the write;
    until the write has finished and been checked there is no record, so a run killed meanwhile resumes from
    an older checkpoint; a run that ends waits for its last checkpoint."""
    run_dir = tmp_path / "run"
    trainer = Trainer(
        config(manifest, run_dir, max_steps=20, ckpt_format="dcp", ckpt_async=True, ckpt_interval=5, eval_interval=100)
    )
    trainer._start(resume=False, restart=False)  # the step-0 checkpoint, written in the background
    saved = {k: v.clone() for k, v in trainer.raw_model.state_dict().items()}
    with torch.no_grad():
        for p in trainer.raw_model.parameters():
            p.add_(1.0)  # training goes on while it is written
    assert trainer.pending_save is not None and checkpoint.load_latest(run_dir, log=lambda *a: None) == (None, None)
    trainer._finish_save()
    payload, path = checkpoint.load_latest(run_dir)
    assert path.name == "ckpt-00000000.dcp" and payload["state"]["step"] == 0
    fresh = Trainer(config(manifest, tmp_path / "other", max_steps=20, ckpt_format="dcp", eval_interval=100, seed=7))
    checkpoint.load_sharded(fresh.raw_model, fresh.optimizer.parts, path)
    assert all(torch.equal(fresh.raw_model.state_dict()[k], v) for k, v in saved.items())

    result = run_training(
        config(
            manifest,
            tmp_path / "full",
            max_steps=20,
            ckpt_format="dcp",
            ckpt_async=True,
            ckpt_interval=5,
            eval_interval=10,
            keep_last=2,
        )
    )
    assert sorted(p.name for p in (tmp_path / "full").glob("ckpt-*.json")) == [
        "ckpt-00000015.json",
        "ckpt-00000020.json",
    ]
    assert checkpoint.load(tmp_path / "full" / "best.dcp")["state"]["step"] == 20
    synchronous = run_training(
        config(manifest, tmp_path / "sync", max_steps=20, ckpt_format="dcp", ckpt_interval=5, eval_interval=10)
    )
    assert result.losses == synchronous.losses
