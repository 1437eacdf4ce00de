"""The training loop: one process on a CPU up to many GPUs under torchrun.

A step draws `tokens_per_step` tokens (global batch), split over ranks and gradient-accumulation micro-steps,
and makes one update (AdamW, or Muon + AdamW) with a clipped gradient at the scheduled learning rate. Around
it: validation on a fixed set of batches, checkpoints, and loss-spike handling:

  * a loss far above the recent trend (train.metrics.SpikeDetector) skips that update and is logged;
  * `spike_patience` such steps in a row, or a NaN/inf loss or gradient, roll the run back to the newest
    checkpoint that is trusted (verified, finite weights, finite validation loss not far above the best) and
    mark the offending batches (by data cursor) to be skipped from then on (PaLM: bad data is usually the cause);
  * a rollback that lands on the same checkpoint as the one before it, or an earlier one, shows the instability
    came back without those batches: the model and learning rate are the cause (typically the first steps at the
    peak lr right after warmup), and replaying is deterministic, so the run would break the same way again. It
    halves the learning rate for the rest of the run (as the OPT-175B and BLOOM logbooks did after repeated
    divergences), at most MAX_ROLLBACKS times; the factor is part of the saved state.

The data cursor counts batches drawn; it equals the step until a rollback skips some batches. Both are part
of the TrainState saved in every checkpoint, so a resumed run draws exactly the batches it would have drawn.
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
import torch.distributed as dist

from common.mix import load_manifest, plan_mix
from train import checkpoint, parallel
from train.config import ConfigError, TrainConfig, to_dict
from train.data import MixSampler, batch_indices, validation_sets
from train.eval import PeriodicEval
from train.metrics import MetricsLog, SpikeDetector, print_progress, progress_line
from train.model import GPT, GPTConfig
from train.optim import build_optimizer
from train.state import Outcome, TrainState

MAX_ROLLBACKS = 5
# A checkpoint whose validation loss is more than this fraction above the best one so far is not rolled back
# to: the run had already started to diverge when it was saved.
ROLLBACK_MAX_VAL_RISE = 0.1


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
        # validation windows stay the manifest's: a data-order seed changes what is drawn, not what is scored
        self.sampler = MixSampler(self.plan, self.seq_len, manifest.seed if config.data_seed is None else config.data_seed)
        self.val_sets = validation_sets(self.plan, self.seq_len, config.eval_batches, config.micro_batch, manifest.seed)
        if not self.val_sets:
            self.log("note: no source of the manifest has validation shards; validation loss is not measured")
        self._build_model()
        self.periodic_eval = PeriodicEval(config.eval_sets, self.tokenizer_path, self.tokenizer_hash, self.seq_len,
                                          self.vocab_size, config.eval_tokens, config.micro_batch) if config.eval_sets else None
        self.spikes = SpikeDetector(config.spike_window, config.spike_z)
        self.state = TrainState()
        self.saved_step = None
        self._pinned, self._prefetched = None, None
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
        cuda = d.device.type == "cuda"
        bf16 = cuda and torch.cuda.is_bf16_supported()   # V100 and older have no bf16: fp32 (TF32 off) there
        self.dtype = {"auto": torch.bfloat16 if bf16 else torch.float32, "float32": torch.float32,
                      "bfloat16": torch.bfloat16}[c.dtype]
        self.model_config = GPTConfig(vocab_size=self.vocab_size, seq_len=self.seq_len, n_layer=c.n_layer,
                                      n_head=c.n_head, n_embd=c.n_embd, style=c.style, dropout=c.dropout)
        torch.manual_seed(c.seed)
        self.raw_model = GPT(self.model_config).to(d.device)
        self.raw_model.checkpoint_blocks = c.activation_checkpointing
        if c.compile:   # block by block: small graphs compile fast, and FSDP2 shards each compiled block
            for block in self.raw_model.h:
                block.compile()
        self.model = parallel.wrap(self.raw_model, d, c.parallel, self.dtype)
        self.optimizer = build_optimizer(self.raw_model, c, fused=cuda)
        self.sharded_checkpoints = c.ckpt_format == "dcp" or (c.ckpt_format == "auto" and d.enabled and c.parallel == "fsdp")
        if c.ckpt_async and not self.sharded_checkpoints:
            raise ConfigError("config: ckpt_async: only DCP checkpoints are written in the background; set "
                              "ckpt_format: dcp (or run FSDP with ckpt_format auto)")
        # the background writers' collectives get a gloo group of their own, apart from training's
        self.ckpt_group = dist.new_group(backend="gloo") if c.ckpt_async and d.enabled else None
        self.pending_save = None   # (finish, path, best) of a checkpoint being written in the background
        # under FSDP2 mixed precision the parameters are already bf16 in the forward; autocast covers the rest
        dtype = self.dtype
        self.autocast = (lambda: torch.autocast(d.device.type, dtype=dtype)) if dtype != torch.float32 else contextlib.nullcontext
        self.peak_flops = parallel.peak_flops(d.device, dtype)
        self.flops_per_token = self.raw_model.flops_per_token()

    # ---- data ----
    def _load(self, cursor: int, micro_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather a micro-batch from the shards; on GPU through one of two reused pinned buffers and a
        non-blocking copy (a buffer is refilled only after its previous copy has finished)."""
        g = batch_indices(cursor, micro_step, self.d.rank, self.d.world, self.c.micro_batch, self.global_batch)
        tokens = torch.from_numpy(self.sampler.samples(g))
        if self.d.device.type == "cuda":
            if self._pinned is None:
                self._pinned = [[torch.empty(tokens.shape, dtype=tokens.dtype).pin_memory(), None] for _ in range(2)]
            self._pinned.reverse()
            buffer, copied = self._pinned[0]
            if copied is not None:
                copied.synchronize()
            buffer.copy_(tokens)
            tokens = buffer.to(self.d.device, non_blocking=True)
            self._pinned[0][1] = torch.cuda.Event()
            self._pinned[0][1].record()
        return tokens[:, :-1], tokens[:, 1:]

    def batch(self, cursor: int, micro_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and next-token targets of this rank's micro-batch of batch `cursor` (prefetched if it was)."""
        if self._prefetched is not None and self._prefetched[0] == (cursor, micro_step):
            return self._prefetched[1]
        return self._load(cursor, micro_step)

    def _prefetch_after(self, cursor: int, micro_step: int) -> None:
        """Prepare the micro-batch that follows while the GPU still works on this one's backward."""
        if micro_step + 1 < self.accum:
            key = (cursor, micro_step + 1)
        else:
            following = cursor + 1
            while following in self.state.skip:
                following += 1
            key = (following, 0)
        self._prefetched = (key, self._load(*key))

    # ---- one step ----
    def forward_backward(self) -> tuple[float, float]:
        """Accumulate gradients over the micro-steps of batch `cursor`; the global mean loss and gradient norm."""
        total = torch.zeros((), device=self.d.device)
        sharded = self.d.enabled and self.c.parallel == "fsdp"
        cursor = self.state.cursor
        for micro in range(self.accum):
            last = micro == self.accum - 1
            x, y = self.batch(cursor, micro)
            if sharded:
                self.raw_model.set_requires_gradient_sync(last)
            sync = contextlib.nullcontext() if last or sharded or not self.d.enabled else self.model.no_sync()
            with sync:
                with self.autocast():
                    _, loss = self.model(x, y)
                (loss / self.accum).backward()
            self._prefetch_after(cursor, micro)
            total += loss.detach()
        loss = parallel.mean_across(total / self.accum, self.d).item()
        norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.c.grad_clip or math.inf)
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
        return loss, norm.item()

    def train_step(self) -> tuple[Outcome, dict]:
        step = self.state.step
        lr = lr_at(step, self.c, self.max_steps) * self.state.lr_scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        started = time.perf_counter()
        loss, grad_norm = self.forward_backward()
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            self.optimizer.zero_grad(set_to_none=True)
            return Outcome.NONFINITE, {"loss": loss, "grad_norm": grad_norm}
        z = self.spikes.zscore(step, loss)
        if z > self.c.spike_z:
            self.optimizer.zero_grad(set_to_none=True)
            return Outcome.SPIKE, {"loss": loss, "grad_norm": grad_norm, "z": z}
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.spikes.accept(step, loss)
        if self.d.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        tokens_per_s = self.tokens_per_step / seconds
        mfu = self.flops_per_token * tokens_per_s / (self.peak_flops * self.d.world) if self.peak_flops else None
        return Outcome.OK, {"tokens": (step + 1) * self.tokens_per_step, "loss": loss, "grad_norm": grad_norm, "lr": lr,
                            "tokens_per_s": tokens_per_s, "mfu": mfu, "peak_mem_mb": self._peak_memory_mb()}

    def _peak_memory_mb(self) -> float:
        if self.d.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.d.device) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux reports KiB

    # ---- the loop ----
    def run(self, resume: bool = False, stop_at: int | None = None, restart: bool = False) -> RunResult:
        """Train to max_steps, or only up to step `stop_at` (a slice of the schedule, saved for --resume)."""
        self._start(resume, restart)
        s = self.state
        end = min(self.max_steps, stop_at or self.max_steps)
        bad_streak: list[int] = []
        while s.step < end:
            if s.cursor in s.skip:
                s.cursor += 1
                continue
            outcome, record = self.train_step()
            if outcome is Outcome.NONFINITE or (outcome is Outcome.SPIKE and len(bad_streak) + 1 >= self.c.spike_patience):
                self._rollback(bad_streak + [s.cursor], outcome.value, record)
                bad_streak = []
                s = self.state
                continue
            if outcome is Outcome.SPIKE:
                bad_streak.append(s.cursor)
                self._event("spike_skipped", loss=record["loss"], z=round(record["z"], 2), cursor=s.cursor)
            else:
                bad_streak = []
            self.result.losses[s.step] = record["loss"]
            if outcome is Outcome.OK:
                self.metrics.write("train", step=s.step, **record)
                if s.step % self.c.log_interval == 0 or s.step == self.max_steps - 1:
                    line = progress_line(s.step + 1, self.max_steps, record["loss"], record["tokens_per_s"], record["mfu"])
                    if self.d.is_main and self.c.progress:
                        print_progress(line, final=s.step == self.max_steps - 1)
            s.step, s.cursor = s.step + 1, s.cursor + 1
            self._after_step()
            if self.pending_save and self._all_ranks(self.pending_save[0].done()):
                self._finish_save()
        if self.saved_step != s.step:
            self._save()
        self._finish_save()   # a run that ends waits for its last checkpoint
        self.metrics.close()
        parallel.barrier(self.d)
        return self.result

    def _start(self, resume: bool, restart: bool) -> None:
        existing = checkpoint.checkpoints(self.run_dir)
        if resume and existing and not restart:
            payload, path = checkpoint.load_latest(self.run_dir, self.log)
            if payload is None:
                raise checkpoint.CheckpointError(
                    f"resume: none of the {len(existing)} checkpoints in {self.run_dir} is usable (reasons above); "
                    "pass --restart to set them aside and train from scratch")
            self._restore(payload, path)
            return
        if existing and not restart:
            raise ConfigError(f"out_dir: {self.run_dir} already holds checkpoints; pass --resume to continue "
                              "that run, --restart to set them aside and start afresh, or choose another out_dir")
        if existing:
            self._set_aside()
        self.log(f"training {self.raw_model.num_params():,} parameters for {self.max_steps} steps of "
                 f"{self.tokens_per_step:,} tokens ({self.accum} micro-steps x {self.d.world} processes) on {self.d.device}")
        self._save()   # step 0: a good state to roll back to before the first periodic checkpoint

    def _set_aside(self) -> None:
        """--restart: move the old run's checkpoints, best and metrics into RUN/previous-N/ (nothing deleted)."""
        if self.d.is_main:
            n = 1 + sum(1 for _ in self.run_dir.glob("previous-*"))
            aside = self.run_dir / f"previous-{n}"
            aside.mkdir()
            for path in [*self.run_dir.glob("ckpt-*"), *self.run_dir.glob("best.*"), self.run_dir / "metrics.jsonl"]:
                if path.exists():
                    shutil.move(str(path), aside / path.name)
            self.metrics.close()
            self.metrics = MetricsLog(self.run_dir, True, self.c.tensorboard)
            self.log(f"restart: the previous checkpoints are in {aside}")
        parallel.barrier(self.d)

    def _after_step(self) -> None:
        s = self.state
        last = s.step == self.max_steps
        improved = False
        if self.val_sets and (s.step % self.c.eval_interval == 0 or last):
            val = self.evaluate()
            self.result.val_losses[s.step] = val["val_loss"]
            self.metrics.write("val", step=s.step, tokens=s.step * self.tokens_per_step, **val)
            self.log(f"step {s.step}: val loss {val['val_loss']:.4f}")
            s.val_loss, s.val_step = val["val_loss"], s.step
            improved = val["val_loss"] < s.best_val
            s.best_val = min(s.best_val, val["val_loss"])
        if self.periodic_eval and (s.step % self.c.eval_interval == 0 or last):   # held-out sets: loss, bpb
            self.metrics.write("eval", step=s.step, **self.periodic_eval(self.raw_model, self.d.device, self.autocast))
        if improved or s.step % self.c.ckpt_interval == 0 or last:
            self._save(best=improved)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Mean loss per validation source over its fixed windows; val_loss pools every window of every source.
        Rank r takes batches r, r + world, ...; every rank runs the same number of forward passes (FSDP needs it).
        Runs the same (per-block compiled, if asked) model as training."""
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
    def _all_ranks(self, flag: bool) -> bool:
        if not self.d.enabled:
            return flag
        value = torch.tensor([float(flag)], device=self.d.device)
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return bool(value.item())

    def _finish_save(self) -> None:
        """Wait for the checkpoint being written in the background (if any), then record, mark best, rotate."""
        if self.pending_save is None:
            return
        finish, path, best = self.pending_save
        self.pending_save = None
        if finish is not None:
            finish()
        if self.d.is_main:
            if best:
                checkpoint.mark_best(path, self.run_dir)
            checkpoint.rotate(self.run_dir, self.c.keep_last)
        parallel.barrier(self.d)

    def _save(self, best: bool = False) -> Path:
        self._finish_save()   # one background write at a time
        s = self.state
        s.spike_history = self.spikes.state()
        val = s.val_loss if s.val_step == s.step else None
        train_state = {
            "state": s.to_dict(), "config": to_dict(self.c), "model_config": asdict(self.model_config),
            "tokens_per_step": self.tokens_per_step, "tokenizer_hash": self.tokenizer_hash,
            "tokenizer_path": self.tokenizer_path, "rng": torch.get_rng_state(),
        }
        if self.d.device.type == "cuda":
            train_state["cuda_rng"] = torch.cuda.get_rng_state(self.d.device)
        parts = self.optimizer.parts
        if self.sharded_checkpoints:
            path = self.run_dir / f"ckpt-{s.step:08d}.dcp"
            finish = checkpoint.save_sharded(self.model, parts, train_state, path, self.d.is_main, val,
                                             lambda: parallel.barrier(self.d), self.c.ckpt_async, self.ckpt_group)
        else:
            path, finish = self.run_dir / f"ckpt-{s.step:08d}.pt", None
            model_state, optim_state = checkpoint.gather_states(self.model, parts)
            if self.d.is_main:
                checkpoint.save({**train_state, "model": model_state, "optimizer": optim_state}, path, val)
        self.pending_save = (finish, path, best)
        if finish is None:   # written and recorded already
            self._finish_save()
        self.saved_step = s.step
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
        if path.is_dir():
            checkpoint.load_sharded(self.model, self.optimizer.parts, path)
        else:
            checkpoint.restore_states(self.model, self.optimizer.parts, payload)
        restored = TrainState.from_dict(payload["state"])
        restored.skip |= self.state.skip                      # batches marked bad since that checkpoint stay skipped
        restored.rollbacks = max(restored.rollbacks, self.state.rollbacks)
        restored.rolled_back_to = max(restored.rolled_back_to, self.state.rolled_back_to)
        restored.lr_scale = min(restored.lr_scale, self.state.lr_scale)
        self.state = restored
        self.saved_step = restored.step
        self.spikes.load(restored.spike_history)
        torch.set_rng_state(payload["rng"])
        if "cuda_rng" in payload and self.d.device.type == "cuda":
            torch.cuda.set_rng_state(payload["cuda_rng"], self.d.device)
        self.log(f"resumed from {path} at step {restored.step} (data cursor {restored.cursor})")

    @staticmethod
    def _rollback_refusal(payload: dict) -> str | None:
        """Why a verified checkpoint is still no place to roll back to (None: it is)."""
        state, val = payload["state"], payload["record"].get("val_loss")
        if val is not None and math.isfinite(state["best_val"]) and val > (1 + ROLLBACK_MAX_VAL_RISE) * state["best_val"]:
            return f"validation loss {val:.4f} is more than {ROLLBACK_MAX_VAL_RISE:.0%} above the best {state['best_val']:.4f}"
        return None

    def _rollback(self, bad_cursors: list[int], reason: str, record: dict) -> None:
        s = self.state
        s.rollbacks += 1
        self._event("rollback", reason=reason, loss=record["loss"], skipped_cursors=bad_cursors)
        if s.rollbacks > MAX_ROLLBACKS:
            raise RuntimeError(f"training diverged: {s.rollbacks} rollbacks (last at step {s.step}, {reason}; the lr "
                               f"was already scaled by {s.lr_scale:g}); lower the learning rate or inspect the data")
        self._finish_save()   # the checkpoint being written may be the newest good one
        parallel.barrier(self.d)
        payload, path = checkpoint.load_latest(self.run_dir, self.log, accept=self._rollback_refusal)
        if payload is None:
            raise RuntimeError(f"cannot roll back at step {s.step}: no trusted checkpoint in {self.run_dir}")
        s.skip |= set(bad_cursors)
        to_step = payload["state"]["step"]
        if to_step <= s.rolled_back_to:   # broke again from the same start: the batches were not the cause
            s.lr_scale /= 2
            self._event("lr_lowered", lr_scale=s.lr_scale, checkpoint_step=to_step)
        s.rolled_back_to = to_step
        self._restore(payload, path)

    def _event(self, event: str, **values) -> None:
        record = {"step": self.state.step, "event": event, **values}
        self.result.events.append(record)
        self.metrics.write("event", **record)
        self.log(f"step {self.state.step}: {event} {values}")


def run_training(config: TrainConfig, resume: bool = False, stop_at: int | None = None, log=print,
                 restart: bool = False) -> RunResult:
    trainer = Trainer(config, log=log)
    try:
        return trainer.run(resume=resume, stop_at=stop_at, restart=restart)
    finally:
        parallel.teardown(trainer.d)
