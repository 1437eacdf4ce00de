"""GPT-2 124M training throughput and MFU on one GPU, against nanoGPT's model in the same run.

    python -m bench.train_gpu [--nanogpt DIR] [--micro-batch 16] [--steps 30] [--optimizer muon|adamw]
    python -m bench.train_gpu --device cpu --tiny        # smoke test of the same code path without a GPU

Ours: seq_len 1024, bf16 autocast, each block compiled, chunked cross-entropy, fused AdamW (or Muon + AdamW),
the step `train run configs/gpt2-124m.yaml` makes. nanoGPT (DIR: a checkout of github.com/karpathy/nanoGPT,
only read from there): its model.py, whole-model torch.compile, fused AdamW, same batch, as its train.py runs.
Both are fed random tokens so only the GPU is measured (bench/train_throughput.py measures the loader). MFU
counts 6N plus attention FLOPs per token (train.model.GPT.flops_per_token) against the device's dense bf16
peak (train.parallel.peak_flops: SXM, PCIe and NVL told apart).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from train.config import TrainConfig  # noqa: E402
from train.model import GPT, GPTConfig  # noqa: E402
from train.optim import build_optimizer  # noqa: E402
from train.parallel import peak_flops  # noqa: E402


def timed_steps(step, steps: int, device: torch.device) -> float:
    """Median seconds per step after the first 10 (compilation and warm-up)."""
    times = []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[min(10, steps - 1) :])


def make_step(model, optimizer, tokens, device, dtype):
    x, y = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nanogpt", type=Path, help="nanoGPT checkout to measure in the same run")
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--optimizer", default="adamw", choices=["adamw", "muon"])
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="2 layers x 64, seq 128: a CPU smoke test")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "no CUDA device: this benchmark needs a GPU (H100 for the recorded figure); --device cpu --tiny "
            "checks the code path"
        )
        return 1
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    shape = (
        dict(n_layer=2, n_head=2, n_embd=64, seq_len=128)
        if args.tiny
        else dict(n_layer=12, n_head=12, n_embd=768, seq_len=1024)
    )
    seq = shape["seq_len"]
    torch.manual_seed(0)
    x = torch.randint(0, 50257, (args.micro_batch, seq + 1), device=device)
    results = {}

    model = GPT(GPTConfig(vocab_size=50304, **shape)).to(device)
    if not args.no_compile:
        for block in model.h:
            block.compile()
    config = TrainConfig(optimizer=args.optimizer, lr=6e-4, weight_decay=0.1)
    optimizer = build_optimizer(model, config, fused=cuda)
    results["rawtollm"] = timed_steps(make_step(model, optimizer, x, device, dtype), args.steps, device)
    flops_per_token = model.flops_per_token()
    peak_memory = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    del model, optimizer

    if args.nanogpt:
        sys.path.insert(0, str(args.nanogpt))
        from model import GPT as NanoGPT, GPTConfig as NanoConfig  # nanoGPT's model.py

        theirs = NanoGPT(
            NanoConfig(
                vocab_size=50304,
                block_size=seq,
                bias=True,
                dropout=0.0,
                **{k: v for k, v in shape.items() if k != "seq_len"},
            )
        ).to(device)
        their_optimizer = theirs.configure_optimizers(0.1, 6e-4, (0.9, 0.95), device.type)
        compiled = theirs if args.no_compile else torch.compile(theirs)
        results["nanoGPT"] = timed_steps(make_step(compiled, their_optimizer, x, device, dtype), args.steps, device)

    peak = peak_flops(device, dtype)
    name = torch.cuda.get_device_name() if cuda else "CPU"
    for who, seconds in results.items():
        tokens_per_s = args.micro_batch * seq / seconds
        mfu = f"{flops_per_token * tokens_per_s / peak:.1%}" if peak else "unknown peak"
        print(
            f"{name} {who}: {'tiny' if args.tiny else 'GPT-2 124M'}, seq {seq}, micro-batch {args.micro_batch}, "
            f"{dtype}, {'eager' if args.no_compile else 'compiled'}: {tokens_per_s:,.0f} tokens/s, MFU {mfu}"
        )
    if "nanoGPT" in results:
        print(f"tokens/s ratio rawtollm / nanoGPT: {results['nanoGPT'] / results['rawtollm']:.2f}x")
    if cuda:
        print(f"peak memory (ours) {peak_memory:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
