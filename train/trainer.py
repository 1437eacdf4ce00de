"""The training loop: one process on a CPU up to many GPUs under torchrun.

A step draws `tokens_per_step` tokens (global batch), split over ranks and gradient-accumulation micro-steps,
and makes one AdamW update with a clipped gradient at the scheduled learning rate. Around it: validation on a
fixed set of batches, checkpoints, and loss-spike handling:

  * a loss far above the recent ones (z-score over a window, as llm.c) skips that update and is logged;
  * `spike_patience` such steps in a row, or a NaN/inf loss or gradient, roll the run back to the last good
    checkpoint and mark the offending batches (by data cursor) to be skipped from then on.

The data cursor counts batches drawn; it equals the step until a rollback skips some batches. Both are saved,
so a resumed run draws exactly the batches it would have drawn.
"""
from __future__ import annotations

import contextlib
import math
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from train import checkpoint, parallel
from train.config import ConfigError, TrainConfig, load_config, to_dict
from train.data import MixSampler, batch_indices, validation_sets
from train.eval import PeriodicEval
from train.metrics import MetricsLog, SpikeDetector, print_progress, progress_line
from train.mix import load_manifest, plan_mix
from train.model import GPT, GPTConfig

MAX_ROLLBACKS = 5


def lr_at(step: int, c: TrainConfig, max_steps: int) -> float:
    """Linear warmup, then cosine decay to min_lr, or WSD: constant, then 1 - sqrt decay over the final
    decay_frac of the run (Hägele et al. 2024), which lets a run be extended from any stable-phase checkpoint."""
    if step < c.warmup_steps:
        return c.lr * (step + 1) / c.warmup_steps
    if c.schedule == "cosine":
        progress = (step - c.warmup_steps) / max(1, max_steps - c.warmup_steps)
        return c.min_lr + 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) * (c.lr - c.min_lr)
    decay_start = max_steps - int(c.decay_frac * max_steps)
    if step < decay_start:
        return c.lr
    progress = (step - decay_start) / max(1, max_steps - decay_start)
    return c.min_lr + (c.lr - c.min_lr) * (1 - math.sqrt(min(progress, 1.0)))


@dataclass
class RunResult:
    run_dir: Path
    losses: dict[int, float] = field(default_factory=dict)       # step -> training loss (last attempt wins)
    val_losses: dict[int, float] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)


class Trainer:
    def __init__(self, config: TrainConfig, log=print):
        self.c = config
        self.d = parallel.setup(config.device)
        self.log = log if self.d.is_main else (lambda *a, **k: None)
        self.run_dir = Path(config.out_dir)
        manifest = load_manifest(config.manifest)
        self.plan = plan_mix(manifest)
        self.seq_len, self.tokenizer_hash = manifest.seq_len, manifest.tokenizer_hash or ""
        if not self.tokenizer_hash:
            self.tokenizer_hash = manifest.sources[0].data.tokenizer_hash
        self.tokenizer_path = str(manifest.tokenizer_path or "")
        self._set_batch_geometry(manifest.vocab_size)
        self.sampler = MixSampler(self.plan, self.seq_len, manifest.seed)
        self.val_sets = validation_sets(self.plan, self.seq_len, config.eval_batches, config.micro_batch, manifest.seed)
        if not self.val_sets:
            self.log("note: no source of the manifest has validation shards; validation loss is not measured")
        self._build_model()
        self.periodic_eval = PeriodicEval(config.eval_sets, self.tokenizer_path, self.tokenizer_hash, self.seq_len,
                                          self.vocab_size, config.eval_tokens, config.micro_batch) if config.eval_sets else None
        self.spikes = SpikeDetector(config.spike_window, config.spike_z)
        self.step, self.cursor, self.skip, self.best_val, self.rollbacks = 0, 0, set(), math.inf, 0
        self.saved_step = None
        self.metrics = MetricsLog(self.run_dir, self.d.is_main, config.tensorboard)
        self.result = RunResult(self.run_dir)

    def _set_batch_geometry(self, data_vocab: int) -> None:
        c, world = self.c, self.d.world
        self.vocab_size = c.vocab_size or 64 * math.ceil(data_vocab / 64)
        if self.vocab_size < data_vocab:
            raise ConfigError(f"config: vocab_size: the model has {self.vocab_size} entries but the manifest's shards "
                              f"were made with a vocabulary of {data_vocab}; set vocab_size >= {data_vocab} or 0")
        per_pass = c.micro_batch * self.seq_len * world
        self.tokens_per_step = c.tokens_per_step or per_pass
        if self.tokens_per_step % per_pass:
            raise ConfigError(f"config: tokens_per_step: {self.tokens_per_step} is not a multiple of micro_batch x seq_len "
                              f"x processes = {c.micro_batch} x {self.seq_len} x {world} = {per_pass}")
        self.global_batch = self.tokens_per_step // self.seq_len
        self.accum = self.tokens_per_step // per_pass
        self.max_steps = c.max_steps or math.ceil(self.plan.total_tokens / self.tokens_per_step)
        if c.warmup_steps >= self.max_steps:
            raise ConfigError(f"config: warmup_steps: {c.warmup_steps} is not below the run's {self.max_steps} steps")

    def _build_model(self) -> None:
        c, d = self.c, self.d
        self.model_config = GPTConfig(vocab_size=self.vocab_size, seq_len=self.seq_len, n_layer=c.n_layer,
                                      n_head=c.n_head, n_embd=c.n_embd, style=c.style, dropout=c.dropout)
        torch.manual_seed(c.seed)
        self.raw_model = GPT(self.model_config).to(d.device)
        self.model = parallel.wrap(self.raw_model, d, c.parallel)
        if c.compile:
            self.model = torch.compile(self.model)
        cuda = d.device.type == "cuda"
        self.optimizer = torch.optim.AdamW(self.raw_model.optimizer_groups(c.weight_decay), lr=c.lr,
                                           betas=(c.beta1, c.beta2), fused=cuda or None)
        dtype = {"auto": torch.bfloat16 if cuda else torch.float32, "float32": torch.float32,
                 "bfloat16": torch.bfloat16}[c.dtype]
        self.dtype = dtype
        self.autocast = (lambda: torch.autocast(d.device.type, dtype=dtype)) if dtype != torch.float32 else contextlib.nullcontext
        self.peak_flops = parallel.peak_flops(d.device, dtype)
        self.flops_per_token = self.raw_model.flops_per_token()

    # ---- data ----
    def batch(self, cursor: int, micro_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and next-token targets of this rank's micro-batch of batch `cursor`."""
        g = batch_indices(cursor, micro_step, self.d.rank, self.d.world, self.c.micro_batch, self.global_batch)
        tokens = torch.from_numpy(self.sampler.samples(g))
        if self.d.device.type == "cuda":
            tokens = tokens.pin_memory().to(self.d.device, non_blocking=True)
        return tokens[:, :-1], tokens[:, 1:]

    # ---- one step ----
    def forward_backward(self) -> tuple[float, float]:
        """Accumulate gradients over the micro-steps of batch `cursor`; the global mean loss and gradient norm."""
        total = torch.zeros((), device=self.d.device)
        sharded = self.d.enabled and self.c.parallel == "fsdp"
        for micro in range(self.accum):
            last = micro == self.accum - 1
            x, y = self.batch(self.cursor, micro)
            if sharded:
                self.raw_model.set_requires_gradient_sync(last)
            sync = contextlib.nullcontext() if last or sharded or not self.d.enabled else self.model.no_sync()
            with sync:
                with self.autocast():
                    _, loss = self.model(x, y)
                (loss / self.accum).backward()
            total += loss.detach()
        loss = parallel.mean_across(total / self.accum, self.d).item()
        norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.c.grad_clip or math.inf)
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
        return loss, norm.item()

    def train_step(self) -> dict:
        lr = lr_at(self.step, self.c, self.max_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        started = time.perf_counter()
        loss, grad_norm = self.forward_backward()
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            self.optimizer.zero_grad(set_to_none=True)
            return {"outcome": "nonfinite", "loss": loss, "grad_norm": grad_norm}
        z = self.spikes.zscore(loss)
        if z > self.c.spike_z:
            self.optimizer.zero_grad(set_to_none=True)
            return {"outcome": "spike", "loss": loss, "grad_norm": grad_norm, "z": z}
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.spikes.accept(loss)
        if self.d.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        tokens_per_s = self.tokens_per_step / seconds
        mfu = self.flops_per_token * tokens_per_s / (self.peak_flops * self.d.world) if self.peak_flops else None
        return {"outcome": "ok", "loss": loss, "grad_norm": grad_norm, "lr": lr, "tokens_per_s": tokens_per_s,
                "mfu": mfu, "peak_mem_mb": self._peak_memory_mb()}

    def _peak_memory_mb(self) -> float:
        if self.d.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.d.device) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux reports KiB

    # ---- the loop ----
    def run(self, resume: bool = False, stop_at: int | None = None) -> RunResult:
        """Train to max_steps, or only up to step `stop_at` (a slice of the schedule, saved for --resume)."""
        self._start(resume)
        end = min(self.max_steps, stop_at or self.max_steps)
        bad_streak: list[int] = []
        while self.step < end:
            if self.cursor in self.skip:
                self.cursor += 1
                continue
            record = self.train_step()
            outcome = record.pop("outcome")
            if outcome == "nonfinite" or (outcome == "spike" and len(bad_streak) + 1 >= self.c.spike_patience):
                self._rollback(bad_streak + [self.cursor], outcome, record)
                bad_streak = []
                continue
            if outcome == "spike":
                bad_streak.append(self.cursor)
                self._event("spike_skipped", loss=record["loss"], z=round(record["z"], 2), cursor=self.cursor)
            else:
                bad_streak = []
            self.result.losses[self.step] = record["loss"]
            if outcome == "ok":
                self.metrics.write("train", step=self.step, **record)
                if self.step % self.c.log_interval == 0 or self.step == self.max_steps - 1:
                    line = progress_line(self.step + 1, self.max_steps, record["loss"], record["tokens_per_s"], record["mfu"])
                    if self.d.is_main and self.c.progress:
                        print_progress(line, final=self.step == self.max_steps - 1)
            self.step, self.cursor = self.step + 1, self.cursor + 1
            self._after_step()
        if self.saved_step != self.step:
            self._save()
        self.metrics.close()
        parallel.barrier(self.d)
        return self.result

    def _start(self, resume: bool) -> None:
        existing = checkpoint.checkpoints(self.run_dir)
        if resume:
            payload, path = checkpoint.load_latest(self.run_dir, self.log)
            if payload is not None:
                self._restore(payload, path)
                return
            self.log(f"resume: no usable checkpoint in {self.run_dir}; starting from scratch")
        elif existing:
            raise ConfigError(f"out_dir: {self.run_dir} already holds checkpoints; pass --resume to continue "
                              "that run or choose another out_dir")
        self.log(f"training {self.raw_model.num_params():,} parameters for {self.max_steps} steps of "
                 f"{self.tokens_per_step:,} tokens ({self.accum} micro-steps x {self.d.world} processes) on {self.d.device}")
        self._save()   # step 0: a good state to roll back to before the first periodic checkpoint

    def _after_step(self) -> None:
        last = self.step == self.max_steps
        improved = False
        if self.val_sets and (self.step % self.c.eval_interval == 0 or last):
            val = self.evaluate()
            self.result.val_losses[self.step] = val["val_loss"]
            self.metrics.write("val", step=self.step, **val)
            self.log(f"step {self.step}: val loss {val['val_loss']:.4f}")
            improved = val["val_loss"] < self.best_val
            self.best_val = min(self.best_val, val["val_loss"])
        if self.periodic_eval and (self.step % self.c.eval_interval == 0 or last):   # held-out sets: loss, bpb
            self.metrics.write("eval", step=self.step, **self.periodic_eval(self.raw_model, self.d.device, self.autocast))
        if improved or self.step % self.c.ckpt_interval == 0 or last:
            path = self._save()
            if improved and self.d.is_main:
                checkpoint.save_best(path, self.run_dir)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Mean loss per validation source over its fixed windows; val_loss pools every window of every source.
        Rank r takes batches r, r + world, ...; every rank runs the same number of forward passes (FSDP needs it)."""
        self.raw_model.eval()
        b, world = self.c.micro_batch, self.d.world
        results, pooled_sum, pooled_n = {}, 0.0, 0
        for name, windows in self.val_sets.items():
            n_batches = math.ceil(len(windows) / b)
            sums = torch.zeros(2, dtype=torch.float64)
            for j in range(self.d.rank, math.ceil(n_batches / world) * world, world):
                rows = torch.from_numpy(windows[(j % n_batches) * b:(j % n_batches + 1) * b]).to(self.d.device)
                with self.autocast():
                    _, loss = self.raw_model(rows[:, :-1], rows[:, 1:])
                if j < n_batches:
                    sums += torch.tensor([loss.item() * len(rows), len(rows)], dtype=torch.float64)
            sums = parallel.sum_across(sums.to(self.d.device), self.d).cpu()
            results[f"val/{name}"] = (sums[0] / sums[1]).item()
            pooled_sum, pooled_n = pooled_sum + sums[0].item(), pooled_n + sums[1].item()
        self.raw_model.train()
        return {"val_loss": pooled_sum / pooled_n, **results}

    # ---- checkpoints and rollback ----
    def _save(self) -> Path | None:
        model_state, optim_state = checkpoint.gather_states(self.model, self.optimizer)
        path = None
        if self.d.is_main:
            payload = {
                "model": model_state, "optimizer": optim_state, "step": self.step, "cursor": self.cursor,
                "skip": sorted(self.skip), "best_val": self.best_val, "spike_window": self.spikes.state(),
                "rollbacks": self.rollbacks, "config": to_dict(self.c), "model_config": asdict(self.model_config),
                "tokens_per_step": self.tokens_per_step, "tokenizer_hash": self.tokenizer_hash,
                "tokenizer_path": self.tokenizer_path, "rng": torch.get_rng_state(),
            }
            if self.d.device.type == "cuda":
                payload["cuda_rng"] = torch.cuda.get_rng_state(self.d.device)
            path = checkpoint.save_rotating(payload, self.run_dir, self.c.keep_last)
        self.saved_step = self.step
        parallel.barrier(self.d)
        return path

    def _restore(self, payload: dict, path: Path) -> None:
        if payload["model_config"] != asdict(self.model_config):
            raise ConfigError(f"{path}: the checkpoint's model {payload['model_config']} differs from this config's "
                              f"{asdict(self.model_config)}")
        if payload["tokenizer_hash"] != self.tokenizer_hash:
            raise ConfigError(f"{path}: trained on shards of tokenizer {payload['tokenizer_hash'][:16]}..., but the "
                              f"manifest's shards come from {self.tokenizer_hash[:16]}...")
        if payload["tokens_per_step"] != self.tokens_per_step:
            raise ConfigError(f"{path}: tokens_per_step was {payload['tokens_per_step']}, now {self.tokens_per_step}; "
                              "set --tokens-per-step to the old value so the data order carries on")
        checkpoint.restore_states(self.model, self.optimizer, payload)
        self.step, self.cursor, self.skip = payload["step"], payload["cursor"], self.skip | set(payload["skip"])
        self.saved_step = self.step
        self.best_val, self.rollbacks = payload["best_val"], max(self.rollbacks, payload["rollbacks"])
        self.spikes.load(payload["spike_window"])
        torch.set_rng_state(payload["rng"])
        if "cuda_rng" in payload and self.d.device.type == "cuda":
            torch.cuda.set_rng_state(payload["cuda_rng"], self.d.device)
        self.log(f"resumed from {path} at step {self.step} (data cursor {self.cursor})")

    def _rollback(self, bad_cursors: list[int], reason: str, record: dict) -> None:
        self.rollbacks += 1
        self._event("rollback", reason=reason, loss=record["loss"], skipped_cursors=bad_cursors)
        if self.rollbacks > MAX_ROLLBACKS:
            raise RuntimeError(f"training diverged: {self.rollbacks} rollbacks (last at step {self.step}, {reason}); "
                               "lower the learning rate or inspect the data")
        parallel.barrier(self.d)
        payload, path = checkpoint.load_latest(self.run_dir, self.log)
        if payload is None:
            raise RuntimeError(f"cannot roll back at step {self.step}: no usable checkpoint in {self.run_dir}")
        self.skip |= set(bad_cursors)
        self._restore(payload, path)

    def _event(self, event: str, **values) -> None:
        record = {"step": self.step, "event": event, **values}
        self.result.events.append(record)
        self.metrics.write("event", **record)
        self.log(f"step {self.step}: {event} {values}")


def run_training(config: TrainConfig, resume: bool = False, stop_at: int | None = None, log=print) -> RunResult:
    trainer = Trainer(config, log=log)
    try:
        return trainer.run(resume=resume, stop_at=stop_at)
    finally:
        parallel.teardown(trainer.d)


def demo_run(manifest_path, out_dir, steps: int = 200, log=print) -> dict:
    """A short CPU run of the tiny preset on a manifest's shards: prints the loss falling, writes loss.png.

    Starts afresh in `out_dir` (its previous checkpoints and metrics are removed). Returns
    {"first_loss", "final_loss", "val_loss" (None without validation shards), "plot", "run_dir"}.
    """
    from train.plot import plot_run
    out_dir = Path(out_dir)
    for stale in [*out_dir.glob("ckpt-*"), *out_dir.glob("best.*"), out_dir / "metrics.jsonl"]:
        stale.unlink(missing_ok=True)
    shutil.rmtree(out_dir / "tb", ignore_errors=True)
    config = load_config(None, {"preset": "tiny-cpu", "manifest": str(manifest_path), "out_dir": str(out_dir),
                                "max_steps": steps, "warmup_steps": min(20, steps // 10), "progress": False,
                                "eval_interval": max(steps // 4, 1), "ckpt_interval": steps})
    result = run_training(config, log=log)
    every = max(steps // 10, 1)
    for step in sorted(result.losses)[::every] + [max(result.losses)]:
        log(f"step {step:5d}  train loss {result.losses[step]:.4f}")
    plot = plot_run(out_dir, out_dir / "loss.png")
    log(f"loss curve: {plot}")
    first, final = result.losses[min(result.losses)], result.losses[max(result.losses)]
    val = result.val_losses[max(result.val_losses)] if result.val_losses else None
    return {"first_loss": first, "final_loss": final, "val_loss": val, "plot": plot, "run_dir": out_dir}
