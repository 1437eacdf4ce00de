"""train.optim.Muon against PyTorch's torch.optim.Muon: CPU time of a step and agreement of the updates.

    python -m bench.muon_vs_torch [--rounds 20] [--widths 128 768]

Per width W: the hidden matrices of one GPT-2 block (c_attn 3W x W, attn c_proj W x W, c_fc 4W x W, mlp c_proj
W x 4W) times `--layers`, random gradients, the same hyper-parameters (lr 0.02, momentum 0.95, Nesterov, weight
decay 0). The two optimizers step alternately in one process on one thread and are timed in process CPU time,
so the load of a shared machine changes wall time but not the ratio. Agreement: cosine similarity of the two
updates of every matrix after 3 steps (torch runs Newton-Schulz in bf16 everywhere; ours in fp32 on CPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
from train.optim import Muon  # noqa: E402


def shapes(width: int, layers: int) -> list[tuple[int, int]]:
    return [(3 * width, width), (width, width), (4 * width, width), (width, 4 * width)] * layers


def make(width: int, layers: int, kind: str):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s) * 0.02) for s in shapes(width, layers)]
    if kind == "ours":
        return params, Muon(params, lr=0.02, momentum=0.95, weight_decay=0.0)
    return params, torch.optim.Muon(params, lr=0.02, momentum=0.95, weight_decay=0.0)


def cpu_seconds(step) -> float:
    started = time.process_time()
    step()
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--widths", type=int, nargs="+", default=[128, 768])
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for width in args.widths:
        runs = {kind: make(width, args.layers, kind) for kind in ("ours", "torch")}
        grads = [torch.randn(s) for s in shapes(width, args.layers)]
        before = {kind: [p.detach().clone() for p in params] for kind, (params, _) in runs.items()}
        for _ in range(3):  # same gradients into both; compare the updates they make
            for params, optimizer in runs.values():
                for p, g in zip(params, grads):
                    p.grad = g.clone()
                optimizer.step()
        deltas = {k: [p.detach() - b for p, b in zip(runs[k][0], before[k])] for k in runs}
        cosine = min(
            torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()
            for a, b in zip(deltas["ours"], deltas["torch"])
        )
        times = {kind: [] for kind in runs}
        for _ in range(args.rounds):
            for kind, (params, optimizer) in runs.items():
                for p, g in zip(params, grads):
                    p.grad = g
                times[kind].append(cpu_seconds(optimizer.step))
        ours, theirs = statistics.median(times["ours"]), statistics.median(times["torch"])
        row = {
            "width": width,
            "matrices": len(grads),
            "ours_ms": round(ours * 1e3, 1),
            "torch_ms": round(theirs * 1e3, 1),
            "torch_over_ours": round(theirs / ours, 2),
            "min_update_cosine": round(cosine, 4),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
