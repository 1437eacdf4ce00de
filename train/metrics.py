"""Per-step metrics (JSONL), loss-spike detection and the progress line.

metrics.jsonl holds one JSON object per line with a "kind": "train" (step, loss, lr, grad_norm, tokens_per_s,
mfu, peak_mem_mb), "val" (step, val_loss and one val/SOURCE per source) or "event" (a skipped update, a
rollback). After a rollback or a resume a step may appear twice; readers keep the last.
"""
from __future__ import annotations

import json
import math
import sys
from collections import deque
from pathlib import Path


class SpikeDetector:
    """z-score of a loss against a running window of recent accepted losses (llm.c's outlier detector).

    Spikes are not added to the window, so a run of bad batches cannot drag the statistics up to meet them.
    """

    def __init__(self, window: int, z_threshold: float, min_count: int = 10):
        self.losses: deque[float] = deque(maxlen=window)
        self.z_threshold, self.min_count = z_threshold, min_count

    def zscore(self, loss: float) -> float:
        if len(self.losses) < self.min_count:
            return 0.0
        mean = sum(self.losses) / len(self.losses)
        std = math.sqrt(sum((x - mean) ** 2 for x in self.losses) / len(self.losses))
        return (loss - mean) / max(std, 1e-8 * abs(mean), 1e-12)

    def is_spike(self, loss: float) -> bool:
        return self.zscore(loss) > self.z_threshold

    def accept(self, loss: float) -> None:
        self.losses.append(loss)

    def state(self) -> list[float]:
        return list(self.losses)

    def load(self, losses: list[float]) -> None:
        self.losses.clear()
        self.losses.extend(losses)


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
        self.file.write(json.dumps({"kind": kind, **values}) + "\n")
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
    """{'train': [...], 'val': [...], 'event': [...]}, train and val deduplicated by step (last record wins)."""
    kinds: dict[str, dict | list] = {"train": {}, "val": {}, "event": []}
    with open(Path(run_dir) / "metrics.jsonl") as f:
        for line in f:
            record = json.loads(line)
            kind = record.pop("kind")
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
