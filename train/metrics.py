"""Per-step metrics (JSONL), loss-spike detection and the progress line.

metrics.jsonl holds one JSON object per line with a "kind" and a unix "time": "train" (step, tokens seen,
loss, lr, grad_norm, tokens_per_s, mfu, peak_mem_mb), "val" (step, val_loss and one val/SOURCE per source) or "event" (a skipped update, a
rollback). After a rollback or a resume a step may appear twice; readers keep the last.
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from collections import deque
from pathlib import Path

import numpy as np


class SpikeDetector:
    """How far a loss lies above the recent level, in robust standard deviations of the detrended noise.

    The level is the median of the last `recent` accepted losses; on a falling curve it lags above the trend,
    which errs toward not flagging. The noise is 1.4826 x the median absolute deviation of the residuals from
    a Theil-Sen line (median of pairwise slopes) through the last `window` accepted (step, loss) pairs: the
    fall of the loss is not counted as spread, and one past outlier cannot tilt the line. It is floored at 1% of
    the loss so a smooth curve does not flag its own noise. A z-score over the raw window (llm.c) fails early in
    a run: while the loss falls fast the window's spread is large and a batch of random tokens hides in it.
    Spikes are not added to the window, so a run of bad batches cannot drag the statistics up to meet them.
    """

    def __init__(self, window: int, z_threshold: float, min_count: int = 10, recent: int = 5):
        self.points: deque[tuple[int, float]] = deque(maxlen=window)
        self.z_threshold, self.min_count, self.recent = z_threshold, min_count, recent

    def zscore(self, step: int, loss: float) -> float:
        if len(self.points) < self.min_count:
            return 0.0
        steps, losses = (np.array(v, dtype=np.float64) for v in zip(*self.points))
        i, j = np.triu_indices(len(steps), k=1)
        slope = np.median((losses[j] - losses[i]) / (steps[j] - steps[i]))
        residuals = losses - slope * steps
        noise = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
        level = float(np.median(losses[-self.recent:]))
        return (loss - level) / max(noise, 0.01 * abs(level), 1e-12)

    def accept(self, step: int, loss: float) -> None:
        self.points.append((step, loss))

    def state(self) -> list[list]:
        return [list(p) for p in self.points]

    def load(self, points: list) -> None:
        self.points.clear()
        self.points.extend((int(s), float(v)) for s, v in points)


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
                from torch.utils.tensorboard import SummaryWriter   # needs the tensorboard package
                self.writer = SummaryWriter(str(self.path.parent / "tb"))

    def write(self, kind: str, **values) -> None:
        if not self.enabled:
            return
        self.file.write(json.dumps({"kind": kind, "time": round(time.time(), 3), **values}) + "\n")
        self.file.flush()
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
                kinds.setdefault(kind, {})[record["step"]] = record   # e.g. "eval": held-out sets (train/eval.py)
    return {k: v if isinstance(v, list) else [v[s] for s in sorted(v)] for k, v in kinds.items()}


def progress_line(step: int, total: int, loss: float, tokens_per_s: float, mfu: float | None, width: int = 24) -> str:
    filled = int(width * step / max(total, 1))
    mfu_text = f" | mfu {mfu:.1%}" if mfu is not None else ""
    return (f"[{'#' * filled}{'.' * (width - filled)}] step {step}/{total} | loss {loss:.4f} | "
            f"{tokens_per_s:,.0f} tok/s{mfu_text}")


def print_progress(line: str, final: bool = False) -> None:
    """Redraw in place on a terminal; one line per call otherwise (logs, pipes)."""
    if sys.stderr.isatty():
        print("\r" + line, end="\n" if final else "", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)
