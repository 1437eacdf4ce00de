"""`train plot RUN_DIR`: a PNG of training and validation loss against steps, with matplotlib.

The plot shades the three phases a reader should see in a healthy run, found on the smoothed training loss:
rapid decrease (the first 60% of the total drop), steady improvement (up to 90%), diminishing returns (the
last 10%); skipped spikes are red crosses and rollbacks red vertical lines. The title says how many of the
tokens the data mix plans the run trained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.colours import BLUE, GREEN, ORANGE, RED
from train.data import DataError
from train.metrics import read_metrics, share, short_count

PHASE_COLOURS = ("#e8f4e8", "#e8eefa", "#faf0e4")
PHASE_NAMES = ("rapid decrease", "steady improvement", "diminishing returns")


def phase_bounds(steps: np.ndarray, losses: np.ndarray) -> tuple[float, float] | None:
    """Steps where the smoothed loss has made 60% and 90% of its total drop; None if it did not fall."""
    if len(losses) < 10:
        return None
    k = max(len(losses) // 20, 1)
    smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
    drop = losses[0] - smooth.min()
    if drop <= 0:
        return None
    reached = lambda fraction: steps[k - 1 + int(np.argmax(smooth <= losses[0] - fraction * drop))]
    return float(reached(0.6)), float(reached(0.9))


def coverage(metrics: dict) -> str:
    """'\n614k of the 2.0M planned tokens trained (0.31 of the plan)' from the run's plan record and its last
    training step; '' for runs without a plan record (older versions)."""
    plans = metrics.get("plan", [])
    if not plans or not metrics["train"]:
        return ""
    plan, last = plans[-1], metrics["train"][-1]
    trained, planned = last.get("tokens", (last["step"] + 1) * plan["tokens_per_step"]), plan["planned_tokens"]
    return f"\n{short_count(trained)} of the {short_count(planned)} planned tokens trained ({share(trained / planned)} of the plan)"


def plot_run(run_dir, out_path=None, log_scale: bool = False) -> Path:
    """Draw RUN_DIR/metrics.jsonl to a PNG (default RUN_DIR/loss.png) and return its path."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    out_path = Path(out_path) if out_path else run_dir / "loss.png"
    metrics = read_metrics(run_dir)
    train = np.array([(r["step"], r["loss"]) for r in metrics["train"]], dtype=float).reshape(-1, 2)
    val = np.array([(r["step"], r["val_loss"]) for r in metrics["val"]], dtype=float).reshape(-1, 2)
    held_out = np.array([(r["step"], r["eval/macro/loss"]) for r in metrics.get("eval", [])], float).reshape(-1, 2)
    spikes = np.array(
        [(e["step"], e["loss"]) for e in metrics["event"] if e["event"] == "spike_skipped"], float
    ).reshape(-1, 2)
    rollbacks = [e["step"] for e in metrics["event"] if e["event"] == "rollback"]
    if not len(train):
        raise DataError(f"{run_dir}/metrics.jsonl has no training steps to plot")
    finite = lambda a: a[np.isfinite(a[:, 1]) & (a[:, 1] > 0)] if len(a) else a
    train, val, spikes, held_out = finite(train), finite(val), finite(spikes), finite(held_out)
    figure, axes = plt.subplots(figsize=(9, 5.2), dpi=100)
    bounds = phase_bounds(train[:, 0], train[:, 1])
    if bounds:
        edges = [0.0, bounds[0], bounds[1], max(train[:, 0].max(), 1.0)]
        for i, (name, colour) in enumerate(zip(PHASE_NAMES, PHASE_COLOURS)):
            axes.axvspan(edges[i], edges[i + 1], color=colour, zorder=0, label=name)
    for i, step in enumerate(rollbacks):
        axes.axvline(step, color=RED, linewidth=1, label="rollback" if i == 0 else None)
    axes.plot(train[:, 0], train[:, 1], color=BLUE, linewidth=1.5, label="train")
    if len(val):
        axes.plot(val[:, 0], val[:, 1], color=ORANGE, linewidth=1.5, marker="o", markersize=3, label="validation")
    if len(held_out):  # eval_sets: macro-average loss over the held-out sets
        axes.plot(held_out[:, 0], held_out[:, 1], color=GREEN, linewidth=1.5, label="held-out")
    if len(spikes):
        axes.scatter(spikes[:, 0], spikes[:, 1], color=RED, marker="x", s=40, zorder=3, label="spike skipped")
    if log_scale:
        axes.set_yscale("log")
    axes.set(
        xlabel="step",
        ylabel="loss",
        title=f"loss{' (log scale)' if log_scale else ''}: {run_dir.name}{coverage(metrics)}",
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize=8)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out_path)
    plt.close(figure)
    return out_path
