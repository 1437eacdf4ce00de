"""GPT-2 124M training throughput and MFU on one GPU: seq_len 1024, bf16 autocast, torch.compile, fused AdamW.

    python bench/train_gpu.py [--micro-batch 16] [--steps 30]

The same model, optimizer and step as `train run configs/gpt2-124m.yaml`, fed random tokens so that only the
GPU is measured (the data loader is measured on its own by bench/train_throughput.py). MFU counts 6N plus
attention FLOPs per token (train.model.GPT.flops_per_token) against the GPU's dense bf16 peak.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from train.model import GPT, GPTConfig  # noqa: E402
from train.parallel import peak_flops  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs a GPU (H100 for the recorded figure)")
        return 1
    torch.backends.cuda.matmul.allow_tf32 = True
    device = torch.device("cuda")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50304, seq_len=1024, n_layer=12, n_head=12, n_embd=768)).to(device)
    optimizer = torch.optim.AdamW(model.optimizer_groups(0.1), lr=6e-4, betas=(0.9, 0.95), fused=True)
    step_model = model if args.no_compile else torch.compile(model)
    x = torch.randint(0, 50257, (args.micro_batch, 1025), device=device)
    times = []
    for step in range(args.steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, loss = step_model(x[:, :-1], x[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times[10:])     # the first steps compile and warm up
    tokens_per_s = args.micro_batch * 1024 / seconds
    peak = peak_flops(device, torch.bfloat16)
    mfu = f"{model.flops_per_token() * tokens_per_s / peak:.1%}" if peak else "unknown peak"
    print(f"{torch.cuda.get_device_name()}: GPT-2 124M, seq 1024, micro-batch {args.micro_batch}, bf16, "
          f"{'eager' if args.no_compile else 'compiled'}: {tokens_per_s:,.0f} tokens/s, MFU {mfu}, "
          f"peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
