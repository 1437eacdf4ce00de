"""`curate demo`'s training step: a short CPU run of the tiny preset on a manifest's shards."""
from __future__ import annotations

import shutil
from pathlib import Path

from train.config import load_config
from train.trainer import run_training


def demo_run(manifest_path, out_dir, steps: int = 200, log=print) -> dict:
    """Train the tiny preset for `steps` steps, print the loss falling, write loss.png.

    Starts afresh in `out_dir` (its previous checkpoints and metrics are removed). Returns
    {"first_loss", "final_loss", "val_loss" (None without validation shards), "plot", "run_dir"}.
    """
    from train.plot import plot_run
    out_dir = Path(out_dir)
    for stale in [*out_dir.glob("ckpt-*"), *out_dir.glob("best.*"), out_dir / "metrics.jsonl"]:
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
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
