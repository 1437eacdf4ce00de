"""Tokens to a target loss: this trainer (Muon + AdamW) against nanoGPT's train.py on the same tokens, CPU.

    python -m bench.train_vs_nanogpt --nanogpt DIR [--iters 600] [--seeds 0 1 2] [--out bench/out/nanogpt]

DIR is a checkout of github.com/karpathy/nanoGPT (train.py, model.py, configurator.py); nothing of it is
imported into this repository. Data: the three English books of ../shared/data/books, byte-level BPE vocab 1024
(as the tests), documents 95/5 train/validation. nanoGPT gets the same tokens as train.bin / val.bin (the shards
concatenated). Same model: GPT-2 style, 4 layers, 4 heads, width 128, seq 256, 16 sequences a step, fp32.

Per seed: nanoGPT runs `--iters` steps (AdamW lr 1e-3, cosine, its defaults otherwise); its final model is
scored on this trainer's fixed validation windows (128 x 256 held-out tokens), giving the target. Ours runs
0.7 x iters steps with Muon and must end at or below the target: <= 0.7x the tokens. tokens/s is the median
step rate after 10 warm-up steps; the two run at the same time, one thread each, so they share the
machine's load (the dev VM is shared), and nanoGPT's rate is taken over its steps 10 to 0.7 x iters only,
the ones it ran while ours ran (alone on the machine afterwards it would be faster).
Writes a table (stdout, JSON) and a loss-curve PNG per seed.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
from tests.train_fixtures import build_token_data, write_manifest  # noqa: E402

from common.mix import load_manifest, plan_mix  # noqa: E402
from common.shards import read_token_dir  # noqa: E402
from train.config import load_config  # noqa: E402
from train.data import validation_sets  # noqa: E402
from train.trainer import run_training  # noqa: E402

MODEL = dict(n_layer=4, n_head=4, n_embd=128)
SEQ, BATCH = 256, 16
EVAL_BATCHES = 8  # 128 windows of 256 held-out tokens, the same for both trainers
OURS = dict(
    optimizer="muon",
    muon_lr=0.02,
    lr=3e-3,
    min_lr=3e-4,
    schedule="wsd",
    decay_frac=0.4,
    warmup_steps=10,
    weight_decay=0.0,
)
# runs nanoGPT's train.py unchanged, with its fixed seed 1337 offset by SEED so that seeds can differ
SEEDED_RUNNER = (
    "import os, runpy, sys, torch; seed = int(sys.argv[1]); manual_seed = torch.manual_seed; "
    "torch.manual_seed = lambda s: manual_seed(s + seed); sys.argv = [sys.argv[2]] + sys.argv[3:]; "
    "sys.path.insert(0, os.path.dirname(sys.argv[0])); "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def concatenated(directory: Path) -> np.ndarray:
    return np.concatenate([np.asarray(s.tokens) for s in read_token_dir(directory).shards]).astype(np.uint16)


def start_nanogpt(nanogpt: Path, work: Path, data_dirs: dict, seed: int, iters: int, threads: int) -> subprocess.Popen:
    data = work / "data" / "books"
    data.mkdir(parents=True, exist_ok=True)
    concatenated(data_dirs["en"]).tofile(data / "train.bin")
    concatenated(data_dirs["en-val"]).tofile(data / "val.bin")
    (data / "meta.pkl").write_bytes(pickle.dumps({"vocab_size": 1024}))
    (work / "configurator.py").write_text((nanogpt / "configurator.py").read_text())  # it reads it from the cwd
    args = dict(
        dataset="books",
        out_dir=str(work / "out"),
        device="cpu",
        compile=False,
        dtype="float32",
        n_layer=MODEL["n_layer"],
        n_head=MODEL["n_head"],
        n_embd=MODEL["n_embd"],
        block_size=SEQ,
        batch_size=BATCH,
        gradient_accumulation_steps=1,
        bias=True,
        dropout=0.0,
        learning_rate=1e-3,
        min_lr=1e-4,
        max_iters=iters,
        lr_decay_iters=iters,
        warmup_iters=iters // 20,
        eval_interval=iters,
        eval_iters=20,
        log_interval=1,
        always_save_checkpoint=True,
        wandb_log=False,
    )
    command = [sys.executable, "-c", SEEDED_RUNNER, str(seed), str(nanogpt / "train.py")] + [
        f"--{k}={v}" for k, v in args.items()
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    return subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def nanogpt_result(process: subprocess.Popen, work: Path, concurrent_steps: int) -> dict:
    out, err = process.communicate()
    if process.returncode:
        raise RuntimeError(f"nanoGPT's train.py failed:\n{err[-3000:]}")
    times = {int(i): float(ms) for i, ms in re.findall(r"iter (\d+): loss [\d.]+, time ([\d.]+)ms", out)}
    losses = {int(i): float(v) for i, v in re.findall(r"iter (\d+): loss ([\d.]+)", out)}
    return {
        "tokens_per_s": statistics.median(BATCH * SEQ / (times[i] / 1000) for i in times if 10 <= i < concurrent_steps),
        "losses": losses,
        "checkpoint": work / "out" / "ckpt.pt",
    }


@torch.no_grad()
def score_nanogpt(nanogpt: Path, checkpoint: Path, windows: np.ndarray) -> float:
    """nanoGPT's final model on our fixed validation windows (its own model class, its own loss)."""
    sys.path.insert(0, str(nanogpt))
    from model import GPT, GPTConfig  # nanoGPT's model.py

    sys.path.remove(str(nanogpt))
    payload = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = GPT(GPTConfig(**payload["model_args"]))
    model.load_state_dict(payload["model"])
    model.eval()
    total = 0.0
    for start in range(0, len(windows), BATCH):
        rows = torch.from_numpy(windows[start : start + BATCH])
        _, loss = model(rows[:, :-1].contiguous(), rows[:, 1:].contiguous())
        total += loss.item() * len(rows)
    return total / len(windows)


def run_ours(manifest: Path, run_dir: Path, seed: int, steps: int, eval_batches: int) -> dict:
    config = load_config(
        None,
        dict(
            manifest=str(manifest),
            out_dir=str(run_dir),
            device="cpu",
            progress=False,
            micro_batch=BATCH,
            max_steps=steps,
            eval_interval=max(steps // 7, 1),
            eval_batches=eval_batches,
            ckpt_interval=steps,
            seed=seed,
            **MODEL,
            **OURS,
        ),
    )
    result = run_training(config, log=lambda *a: None)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [r["tokens_per_s"] for r in records if r["kind"] == "train" and r["step"] >= 10]
    return {"tokens_per_s": statistics.median(rates), "losses": result.losses, "val": result.val_losses}


def plot(path: Path, seed: int, theirs: dict, ours: dict, target: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    tokens = BATCH * SEQ / 1e6
    steps = sorted(theirs["losses"])
    axes.plot(
        [s * tokens for s in steps],
        [theirs["losses"][s] for s in steps],
        color="#999999",
        lw=0.8,
        label="nanoGPT train",
    )
    steps = sorted(ours["losses"])
    axes.plot(
        [s * tokens for s in steps],
        [ours["losses"][s] for s in steps],
        color="#1f77b4",
        lw=0.8,
        label="rawtollm (Muon) train",
    )
    steps = sorted(ours["val"])
    axes.plot(
        [s * tokens for s in steps],
        [ours["val"][s] for s in steps],
        "o-",
        color="#ff7f0e",
        ms=3,
        label="rawtollm validation",
    )
    axes.axhline(target, color="#d62728", ls="--", lw=1, label=f"nanoGPT final validation {target:.3f}")
    axes.set(
        xlabel="training tokens (M)",
        ylabel="loss",
        title=f"same tokens, same model, seed {seed}",
        ylim=(target - 1, 7.2),
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nanogpt", required=True, type=Path, help="a nanoGPT checkout (train.py, model.py)")
    parser.add_argument("--iters", type=int, default=600)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fraction", type=float, default=0.7, help="our token budget as a fraction of nanoGPT's")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "nanogpt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = build_token_data(tmp / "data")
        en = {"en": data.dirs["en"], "en-val": data.dirs["en-val"]}
        for seed in args.seeds:
            manifest = write_manifest(
                tmp / f"m{seed}.yaml",
                data,
                seq_len=SEQ,
                total_tokens=10**9,
                seed=seed,
                sources=[{"name": "en", "path": str(en["en"]), "weight": 1.0, "validation": str(en["en-val"])}],
            )
            plan = plan_mix(load_manifest(manifest))
            windows = validation_sets(plan, SEQ, EVAL_BATCHES, BATCH, seed)["en"]  # fixed held-out windows
            # both at once, one thread each: they share whatever load the machine has
            process = start_nanogpt(args.nanogpt, tmp / f"nano{seed}", en, seed, args.iters, threads=1)
            steps = int(args.fraction * args.iters)
            ours = run_ours(manifest, tmp / f"ours{seed}", seed, steps, eval_batches=EVAL_BATCHES)
            theirs = nanogpt_result(process, tmp / f"nano{seed}", steps)
            target = score_nanogpt(args.nanogpt, theirs["checkpoint"], windows)
            reached = min((s for s, v in ours["val"].items() if v <= target), default=None)
            row = {
                "seed": seed,
                "nanogpt_steps": args.iters,
                "nanogpt_val": round(target, 4),
                "ours_steps": steps,
                "ours_val": round(ours["val"][steps], 4),
                "first_step_at_target": reached,
                "token_ratio": round(reached / args.iters, 3) if reached is not None else None,
                "nanogpt_tokens_per_s": round(theirs["tokens_per_s"]),
                "ours_tokens_per_s": round(ours["tokens_per_s"]),
                "speed_ratio": round(ours["tokens_per_s"] / theirs["tokens_per_s"], 3),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            plot(args.out / f"loss-seed{seed}.png", seed, theirs, ours, target)
    print(
        f"\n| seed | nanoGPT val @ {args.iters} steps | ours val @ {int(args.fraction * args.iters)} steps | "
        "ours first at target (step, token ratio) | tokens/s nanoGPT | tokens/s ours | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seed']} | {r['nanogpt_val']:.4f} | {r['ours_val']:.4f} | {r['first_step_at_target']}, "
            f"{r['token_ratio']} | {r['nanogpt_tokens_per_s']:,} | {r['ours_tokens_per_s']:,} | {r['speed_ratio']:.3f} |"
        )
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
