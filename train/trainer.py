"""The training loop: one process on a CPU up to many GPUs under torchrun.

Read `Trainer.run` (the loop) and `Trainer.train_step` (one update) top to bottom, as nanoGPT's train.py:
a step draws `tokens_per_step` tokens (global batch), split over ranks and gradient-accumulation micro-steps:
schedule -> batch -> forward -> loss -> backward -> clip -> the spike guard's verdict -> optimizer step (AdamW,
or Muon + AdamW). After it: validation on a fixed set of batches, checkpoints (train/checkpoint.py).

The safety policies are small units in train/policies.py, each called from here at one place:
  * spike skip (SpikeGuard, in train_step): a loss far above the recent trend skips that update; `spike_patience`
    such steps in a row, or a NaN/inf loss or gradient, ask for a rollback (PaLM: bad data is usually the cause);
  * rollback target (RollbackPolicy.refusal, in _rollback): the newest checkpoint that is actually good, the
    offending batches (by data cursor) skipped from then on;
  * lr halving (RollbackPolicy.lr_scale_after, in _rollback): an instability that recurs from the same
    checkpoint is the model's and the lr's, not the data's: the lr is halved; after MAX_ROLLBACKS the run stops
    with TrainingDiverged.
docs/reliability.md ("Training") says what each one does for a user and where it fails.

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
from train.metrics import Eta, MetricsLog, print_progress, progress_line, share, short_count
from train.model import GPT, GPTConfig
from train.optim import build_optimizer
from train.policies import Action, RollbackPolicy, SpikeGuard, TrainingDiverged, Verdict
from train.state import TrainState

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
    losses: dict[int, float] = field(default_factory=dict)  # step -> training loss (last attempt wins)
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
        self.sampler = MixSampler(
            self.plan, self.seq_len, manifest.seed if config.data_seed is None else config.data_seed
        )
        self.val_sets = validation_sets(self.plan, self.seq_len, config.eval_batches, config.micro_batch, manifest.seed)
        if not self.val_sets:
            self.log("note: no source of the manifest has validation shards; validation loss is not measured")
        self._build_model()
        self.periodic_eval = (
            PeriodicEval(
                config.eval_sets,
                self.tokenizer_path,
                self.tokenizer_hash,
                self.seq_len,
                self.vocab_size,
                config.eval_tokens,
                config.micro_batch,
            )
            if config.eval_sets
            else None
        )
        self.guard = SpikeGuard(config.spike_window, config.spike_z, config.spike_patience)
        self.rollback_policy = RollbackPolicy(uniform_loss=math.log(manifest.vocab_size), max_rollbacks=MAX_ROLLBACKS)
        self.state = TrainState()
        self.saved_step = None
        self._pinned, self._prefetched = None, None
        self.metrics = MetricsLog(self.run_dir, self.d.is_main, config.tensorboard)
        self.result = RunResult(self.run_dir)

    def _set_batch_geometry(self, data_vocab: int) -> None:
        c, world = self.c, self.d.world
        self.vocab_size = c.vocab_size or 64 * math.ceil(data_vocab / 64)
        if self.vocab_size < data_vocab:
            raise ConfigError(
                f"config: vocab_size: the model has {self.vocab_size} entries but the manifest's shards "
                f"were made with a vocabulary of {data_vocab}; set vocab_size >= {data_vocab} or 0"
            )
        per_pass = c.micro_batch * self.seq_len * world
        self.tokens_per_step = c.tokens_per_step or per_pass
        if self.tokens_per_step % per_pass:
            raise ConfigError(
                f"config: tokens_per_step: {self.tokens_per_step} is not a multiple of micro_batch x seq_len "
                f"x processes = {c.micro_batch} x {self.seq_len} x {world} = {per_pass}"
            )
        self.global_batch = self.tokens_per_step // self.seq_len
        self.accum = self.tokens_per_step // per_pass
        self.max_steps = c.max_steps or math.ceil(self.plan.total_tokens / self.tokens_per_step)
        if c.warmup_steps >= self.max_steps:
            raise ConfigError(f"config: warmup_steps: {c.warmup_steps} is not below the run's {self.max_steps} steps")

    def _build_model(self) -> None:
        c, d = self.c, self.d
        cuda = d.device.type == "cuda"
        bf16 = cuda and torch.cuda.is_bf16_supported()  # V100 and older have no bf16: fp32 (TF32 off) there
        self.dtype = {
            "auto": torch.bfloat16 if bf16 else torch.float32,
            "float32": torch.float32,
            "bfloat16": torch.bfloat16,
        }[c.dtype]
        self.model_config = GPTConfig(
            vocab_size=self.vocab_size,
            seq_len=self.seq_len,
            n_layer=c.n_layer,
            n_head=c.n_head,
            n_embd=c.n_embd,
            style=c.style,
            dropout=c.dropout,
        )
        torch.manual_seed(c.seed)
        self.raw_model = GPT(self.model_config).to(d.device)
        self.raw_model.checkpoint_blocks = c.activation_checkpointing
        if c.compile:  # block by block: small graphs compile fast, and FSDP2 shards each compiled block
            for block in self.raw_model.h:
                block.compile()
        self.model = parallel.wrap(self.raw_model, d, c.parallel, self.dtype)
        self.optimizer = build_optimizer(self.raw_model, c, fused=cuda, sharded=d.enabled and c.parallel == "fsdp")
        self.sharded_checkpoints = c.ckpt_format == "dcp" or (
            c.ckpt_format == "auto" and d.enabled and c.parallel == "fsdp"
        )
        if c.ckpt_async and not self.sharded_checkpoints:
            raise ConfigError(
                "config: ckpt_async: only DCP checkpoints are written in the background; set "
                "ckpt_format: dcp (or run FSDP with ckpt_format auto)"
            )
        # the background writers' collectives get a gloo group of their own, apart from training's
        self.ckpt_group = dist.new_group(backend="gloo") if c.ckpt_async and d.enabled else None
        self.pending_save = None  # (finish, path, best) of a checkpoint being written in the background
        # under FSDP2 mixed precision the parameters are already bf16 in the forward; autocast covers the rest
        dtype = self.dtype
        self.autocast = (
            (lambda: torch.autocast(d.device.type, dtype=dtype)) if dtype != torch.float32 else contextlib.nullcontext
        )
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
    def train_step(self) -> tuple[Verdict, dict]:
        """One update of batch `cursor`, top to bottom: schedule -> batch -> forward -> loss -> backward -> clip
        -> the spike guard's verdict -> optimizer step. Returns the verdict and the step's figures."""
        s, started = self.state, time.perf_counter()
        lr = lr_at(s.step, self.c, self.max_steps) * s.lr_scale  # schedule, times the lr-halving policy's scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        total = torch.zeros((), device=self.d.device)
        for micro in range(self.accum):  # gradient accumulation
            x, y = self.batch(s.cursor, micro)  # batch
            with self._gradient_sync(last=micro == self.accum - 1):
                with self.autocast():
                    _, loss = self.model(x, y)  # forward, loss
                (loss / self.accum).backward()  # backward
            self._prefetch_after(s.cursor, micro)
            total += loss.detach()
        loss = parallel.mean_across(total / self.accum, self.d).item()
        norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.c.grad_clip or math.inf)  # clip
        grad_norm = (norm.full_tensor() if hasattr(norm, "full_tensor") else norm).item()
        verdict = self.guard.decide(s.step, s.cursor, loss, grad_norm)  # spike skip or rollback (train/policies.py)
        if verdict.action is Action.APPLY:
            self.optimizer.step()  # step
        self.optimizer.zero_grad(set_to_none=True)
        record = {"loss": loss, "grad_norm": grad_norm}
        if verdict.action is Action.APPLY:
            if self.d.device.type == "cuda":
                torch.cuda.synchronize()
            tokens_per_s = self.tokens_per_step / (time.perf_counter() - started)
            mfu = self.flops_per_token * tokens_per_s / (self.peak_flops * self.d.world) if self.peak_flops else None
            record = {
                "tokens": (s.step + 1) * self.tokens_per_step,
                **record,
                "lr": lr,
                "tokens_per_s": tokens_per_s,
                "mfu": mfu,
                "peak_mem_mb": self._peak_memory_mb(),
            }
        return verdict, record

    def _gradient_sync(self, last: bool):
        """Gradients are reduced across ranks on the last micro-step only (DDP's no_sync; FSDP2 is told)."""
        if self.d.enabled and self.c.parallel == "fsdp":
            self.raw_model.set_requires_gradient_sync(last)
            return contextlib.nullcontext()
        return contextlib.nullcontext() if last or not self.d.enabled else self.model.no_sync()

    def _peak_memory_mb(self) -> float:
        if self.d.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.d.device) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

    # ---- the loop ----
    def run(self, resume: bool = False, stop_at: int | None = None, restart: bool = False) -> RunResult:
        """Train to max_steps, or only up to step `stop_at` (a slice of the schedule, saved for --resume)."""
        self._start(resume, restart)
        end = min(self.max_steps, stop_at or self.max_steps)
        while self.state.step < end:
            s = self.state
            if s.cursor in s.skip:  # marked bad by an earlier spike or rollback: never trained on
                s.cursor += 1
                continue
            verdict, record = self.train_step()
            if verdict.action is Action.ROLLBACK:
                self._rollback(verdict, record)  # self.state is now the newest good checkpoint's
                continue
            if verdict.action is Action.SKIP:
                self._event("spike_skipped", loss=record["loss"], z=round(verdict.z, 2), cursor=s.cursor)
            else:
                self._log_step(record)
            self.result.losses[s.step] = record["loss"]
            s.step, s.cursor = s.step + 1, s.cursor + 1
            if self._due(self.c.eval_interval) or self._due(self.c.ckpt_interval):
                self._validate_and_checkpoint()
            if self.pending_save and self._all_ranks(self.pending_save[0].done()):
                self._finish_save()
        if self.saved_step != self.state.step:  # the end of a --stop-at slice
            self._validate_and_checkpoint(force=True)
        self._finish_save()  # a run that ends waits for its last checkpoint
        if self.d.is_main:
            checkpoint.repair_best(self.run_dir, self.log)
        self.metrics.close()
        parallel.barrier(self.d)
        return self.result

    def _due(self, interval: int) -> bool:
        return self.state.step % interval == 0 or self.state.step == self.max_steps

    def _log_step(self, record: dict) -> None:
        step = self.state.step
        self.metrics.write("train", step=step, **record)
        if self.d.is_main and self.c.progress and (step % self.c.log_interval == 0 or step == self.max_steps - 1):
            line = progress_line(
                step + 1,
                self.max_steps,
                record["loss"],
                record["tokens_per_s"],
                record["mfu"],
                eta_seconds=self.eta(step + 1),
            )
            print_progress(line, final=step == self.max_steps - 1)

    def _start(self, resume: bool, restart: bool) -> None:
        existing = checkpoint.checkpoints(self.run_dir)
        if resume and existing and not restart:
            payload, path = checkpoint.load_latest(self.run_dir, self.log)
            if payload is None:
                raise checkpoint.CheckpointError(
                    f"resume: none of the {len(existing)} checkpoints in {self.run_dir} is usable (reasons above); "
                    "pass --restart to set them aside and train from scratch"
                )
            self._restore(payload, path)
            if self.d.is_main:
                checkpoint.repair_best(self.run_dir, self.log)  # a kill between a checkpoint and marking it best
            self._begin()
            return
        if existing and not restart:
            raise ConfigError(
                f"out_dir: {self.run_dir} already holds checkpoints; pass --resume to continue "
                "that run, --restart to set them aside and start afresh, or choose another out_dir"
            )
        if existing:
            self._set_aside()
        self.log(
            f"training {self.raw_model.num_params():,} parameters for {self.max_steps} steps of "
            f"{self.tokens_per_step:,} tokens ({self.accum} micro-steps x {self.d.world} processes) on {self.d.device}"
        )
        self._begin()
        self._save()  # step 0: a good state to roll back to before the first periodic checkpoint

    def _begin(self) -> None:
        """Say what part of the manifest's plan the step count covers, and record it (plot, model card)."""
        notice = plan_notice(self.plan.total_tokens, self.max_steps, self.tokens_per_step)
        if notice:
            self.log(notice)
        self.metrics.write(
            "plan",
            step=self.state.step,
            planned_tokens=self.plan.total_tokens,
            max_steps=self.max_steps,
            tokens_per_step=self.tokens_per_step,
        )
        self.eta = Eta(self.state.step, self.max_steps)

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

    def _validate_and_checkpoint(self, force: bool = False) -> None:
        """Validation every eval_interval steps and at the end; a checkpoint every ckpt_interval steps, at the
        end, and whenever the validation loss improved (marked best)."""
        s = self.state
        improved = False
        if self.val_sets and self._due(self.c.eval_interval) and s.val_step != s.step:
            val = self.evaluate()
            self.result.val_losses[s.step] = val["val_loss"]
            self.metrics.write("val", step=s.step, tokens=s.step * self.tokens_per_step, **val)
            self.log(f"step {s.step}: val loss {val['val_loss']:.4f}")
            s.val_loss, s.val_step = val["val_loss"], s.step
            improved = val["val_loss"] < s.best_val
            s.best_val = min(s.best_val, val["val_loss"])
        if self.periodic_eval and self._due(self.c.eval_interval):  # held-out sets: loss, bpb
            self.metrics.write("eval", step=s.step, **self.periodic_eval(self.raw_model, self.d.device, self.autocast))
        if improved or force or self._due(self.c.ckpt_interval):
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
                rows = torch.from_numpy(windows[(j % n_batches) * b : (j % n_batches + 1) * b]).to(self.d.device)
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
        self._finish_save()  # one background write at a time
        s = self.state
        s.spike_history = self.guard.detector.state()
        val = s.val_loss if s.val_step == s.step else None
        train_state = {
            "state": s.to_dict(),
            "config": to_dict(self.c),
            "model_config": asdict(self.model_config),
            "tokens_per_step": self.tokens_per_step,
            "tokenizer_hash": self.tokenizer_hash,
            "tokenizer_path": self.tokenizer_path,
            "rng": torch.get_rng_state(),
            "plan": {
                "planned_tokens": self.plan.total_tokens,
                "max_steps": self.max_steps,
                "tokens_trained": s.step * self.tokens_per_step,
            },  # what the model has seen, against the plan
        }
        if self.d.device.type == "cuda":
            train_state["cuda_rng"] = torch.cuda.get_rng_state(self.d.device)
        parts = self.optimizer.parts
        if self.sharded_checkpoints:
            path = self.run_dir / f"ckpt-{s.step:08d}.dcp"
            finish = checkpoint.save_sharded(
                self.model,
                parts,
                train_state,
                path,
                self.d.is_main,
                val,
                lambda: parallel.barrier(self.d),
                self.c.ckpt_async,
                self.ckpt_group,
            )
        else:
            path, finish = self.run_dir / f"ckpt-{s.step:08d}.pt", None
            model_state, optim_state = checkpoint.gather_states(self.model, parts)
            if self.d.is_main:
                checkpoint.save({**train_state, "model": model_state, "optimizer": optim_state}, path, val)
        self.pending_save = (finish, path, best)
        if finish is None:  # written and recorded already
            self._finish_save()
        self.saved_step = s.step
        parallel.barrier(self.d)
        return path

    def _restore(self, payload: dict, path: Path) -> None:
        if payload["model_config"] != asdict(self.model_config):
            raise ConfigError(
                f"{path}: the checkpoint's model {payload['model_config']} differs from this config's "
                f"{asdict(self.model_config)}"
            )
        if payload["tokenizer_hash"] != self.tokenizer_hash:
            raise ConfigError(
                f"{path}: trained on shards of tokenizer {payload['tokenizer_hash'][:16]}..., but the "
                f"manifest's shards come from {self.tokenizer_hash[:16]}..."
            )
        if payload["tokens_per_step"] != self.tokens_per_step:
            raise ConfigError(
                f"{path}: tokens_per_step was {payload['tokens_per_step']}, now {self.tokens_per_step}; "
                "set --tokens-per-step to the old value so the data order carries on"
            )
        if path.is_dir():
            checkpoint.load_sharded(self.model, self.optimizer.parts, path)
        else:
            checkpoint.restore_states(self.model, self.optimizer.parts, payload)
        restored = TrainState.from_dict(payload["state"])
        restored.skip |= self.state.skip  # batches marked bad since that checkpoint stay skipped
        restored.rollbacks = max(restored.rollbacks, self.state.rollbacks)
        restored.rolled_back_to = max(restored.rolled_back_to, self.state.rolled_back_to)
        restored.lr_scale = min(restored.lr_scale, self.state.lr_scale)
        self.state = restored
        self.saved_step = restored.step
        self.guard.detector.load(restored.spike_history)
        torch.set_rng_state(payload["rng"])
        if "cuda_rng" in payload and self.d.device.type == "cuda":
            torch.cuda.set_rng_state(payload["cuda_rng"], self.d.device)
        self.log(f"resumed from {path} at step {restored.step} (data cursor {restored.cursor})")

    def _rollback(self, verdict: Verdict, record: dict) -> None:
        """Back to the newest checkpoint the rollback policy accepts, the streak's batches marked never to be
        trained on; the lr halved if the instability recurred from the same checkpoint (train/policies.py)."""
        s, policy = self.state, self.rollback_policy
        s.rollbacks += 1
        self._event("rollback", reason=verdict.reason, loss=record["loss"], skipped_cursors=verdict.bad_cursors)
        policy.check_budget(s.rollbacks, s.step, verdict.reason, s.lr_scale)
        self._finish_save()  # the checkpoint being written may be the newest good one
        parallel.barrier(self.d)
        # a checkpoint saved between evaluations is judged by the last validation loss before it
        refusal = lambda payload: policy.refusal(
            payload["state"]["step"], payload["state"]["val_loss"], payload["state"]["best_val"]
        )
        payload, path = checkpoint.load_latest(self.run_dir, self.log, accept=refusal)
        if payload is None:
            raise TrainingDiverged(
                f"training diverged: cannot roll back at step {s.step}, no checkpoint in "
                f"{self.run_dir} is trusted (reasons above)"
            )
        s.skip |= set(verdict.bad_cursors)
        to_step = payload["state"]["step"]
        lr_scale = policy.lr_scale_after(to_step, s.rolled_back_to, s.lr_scale)
        if lr_scale != s.lr_scale:
            s.lr_scale = lr_scale
            self._event("lr_lowered", lr_scale=lr_scale, checkpoint_step=to_step)
        s.rolled_back_to = to_step
        self._restore(payload, path)

    def _event(self, event: str, **values) -> None:
        record = {"step": self.state.step, "event": event, **values}
        self.result.events.append(record)
        self.metrics.write("event", **record)
        self.log(f"step {self.state.step}: {event} {values}")


def plan_notice(planned_tokens: int, max_steps: int, tokens_per_step: int) -> str | None:
    """What a user must know at start when the step count does not cover the manifest's plan."""
    trained = max_steps * tokens_per_step
    if trained < planned_tokens:
        needed = math.ceil(planned_tokens / tokens_per_step)
        return (
            f"note: will train {short_count(trained)} of the {short_count(planned_tokens)} planned tokens: "
            f"{share(trained / planned_tokens)} of the plan; set max_steps {needed} for all of it"
        )
    if trained - planned_tokens >= tokens_per_step:  # more than rounding up to whole steps
        return (
            f"note: will train {short_count(trained)} tokens, {trained / planned_tokens:.2f}x the "
            f"{short_count(planned_tokens)} the plan draws: the mix repeats"
        )
    return None


def run_training(
    config: TrainConfig, resume: bool = False, stop_at: int | None = None, log=print, restart: bool = False
) -> RunResult:
    trainer = Trainer(config, log=log)
    try:
        return trainer.run(resume=resume, stop_at=stop_at, restart=restart)
    finally:
        parallel.teardown(trainer.d)
