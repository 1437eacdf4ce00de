"""Per-step metrics (JSONL) and the progress line (the spike detector is in train/policies.py).

metrics.jsonl holds one JSON object per line with a "kind" and a unix "time": "train" (step, tokens seen,
loss, lr, grad_norm, tokens_per_s, mfu, peak_mem_mb), "val" (step, val_loss and one val/SOURCE per source), "event"
(a skipped update, a rollback) or "plan" (written at start: planned_tokens of the manifest, max_steps,
tokens_per_step, so a reader can tell what part of the plan the run covers). After a rollback or a resume a
step may appear twice; readers keep the last.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path


class MetricsLog:
    """Appends metric records to RUN/metrics.jsonl (rank 0 only) and, if asked, to TensorBoard."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool = False):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        self.writer = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a")
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

                self.writer = SummaryWriter(str(self.path.parent / "tb"))

    def write(self, kind: str, **values) -> None:
        if not self.enabled:
            return
        try:
            self.file.write(json.dumps({"kind": kind, "time": round(time.time(), 3), **values}) + "\n")
            self.file.flush()
        except OSError as error:  # a full disk: say which file
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        if self.writer is not None and "step" in values:
            for key, value in values.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.writer.add_scalar(f"{kind}/{key}", value, values["step"])

    def close(self) -> None:
        if self.enabled:
            self.file.close()
            if self.writer is not None:
                self.writer.close()


def read_metrics(run_dir: Path) -> dict[str, list[dict]]:
    """{'train': [...], 'val': [...], 'event': [...], and any other kind such as 'eval'}, records of a kind
    other than event deduplicated by step (last record wins).
    A line torn by a kill mid-write is skipped with a warning."""
    kinds: dict[str, dict | list] = {"train": {}, "val": {}, "event": []}
    path = Path(run_dir) / "metrics.jsonl"
    with open(path) as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                warnings.warn(f"{path}:{number}: unreadable line skipped (torn by an interrupted write?)", stacklevel=2)
                continue
            kind = record.pop("kind", None)
            if kind is None:
                continue
            if kind == "event":
                kinds["event"].append(record)
            else:
                kinds.setdefault(kind, {})[record["step"]] = record  # e.g. "eval": held-out sets (train/eval.py)
    return {k: v if isinstance(v, list) else [v[s] for s in sorted(v)] for k, v in kinds.items()}


def short_count(n: float) -> str:
    """614400 -> '614k', 2000000 -> '2.0M', 3.2e9 -> '3.2B', 512 -> '512'."""
    for unit, size in (("B", 1e9), ("M", 1e6)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n / 1e3:.0f}k" if n >= 1e3 else f"{n:.0f}"


def share(fraction: float) -> str:
    """0.3072 -> '0.31'; 0.000344 -> '0.0003' (two decimals would say 0.00)."""
    return f"{fraction:.2f}" if fraction >= 0.01 or fraction == 0 else f"{fraction:.1g}"


def readable_seconds(seconds: float) -> str:
    """3725 -> '1h02m', 75 -> '1m15s', 8 -> '8s'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_line(
    step: int,
    total: int,
    loss: float,
    tokens_per_s: float,
    mfu: float | None,
    width: int = 24,
    eta_seconds: float | None = None,
) -> str:
    filled = int(width * step / max(total, 1))
    mfu_text = f" | mfu {mfu:.1%}" if mfu is not None else ""
    eta_text = f" | eta {readable_seconds(eta_seconds)}" if eta_seconds is not None else ""
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] step {step}/{total} | loss {loss:.4f} | "
        f"{tokens_per_s:,.0f} tok/s{mfu_text}{eta_text}"
    )


class Eta:
    """Seconds left, from the mean time per step since this process started training (evaluations and
    checkpoints included, as they will recur); None until a few steps have run."""

    def __init__(self, step: int, total: int, warmup: int = 3):
        self.total, self.first, self.started, self.warmup = total, step, time.perf_counter(), warmup

    def __call__(self, step: int) -> float | None:
        done = step - self.first
        if done < self.warmup:
            return None
        return (time.perf_counter() - self.started) / done * (self.total - step)


def print_progress(line: str, final: bool = False) -> None:
    """Redraw in place on a terminal; nothing otherwise (logs and pipes get metrics.jsonl and the
    evaluation lines instead)."""
    if sys.stderr.isatty():
        print("\r" + line, end="\n" if final else "", file=sys.stderr, flush=True)
