"""Trainer throughput on CPU: the data loader alone (goal >= 20M tokens/s) and the tiny model's training tokens/s.

    python -m bench.train_throughput

Shards come from the real books in ../shared/data (BPE trained with `tokenizers`, as the tests do).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from tests.train_fixtures import build_token_data, write_manifest  # noqa: E402

from common.mix import load_manifest, plan_mix  # noqa: E402
from train.config import load_config  # noqa: E402
from train.data import MixSampler, batch_indices  # noqa: E402
from train.trainer import run_training  # noqa: E402


def loader_tokens_per_s(manifest: Path, seq_len: int, batch: int, seconds: float = 3.0) -> float:
    """Batches as the trainer takes them: indices -> windows from the memmaps -> an int64 torch tensor."""
    sampler = MixSampler(plan_mix(load_manifest(manifest)), seq_len, seed=0)
    step, tokens, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        rows = torch.from_numpy(sampler.samples(batch_indices(step, 0, 0, 1, batch, batch)))
        tokens += rows[:, :-1].numel()
        step += 1
    return tokens / (time.perf_counter() - start)


def model_tokens_per_s(manifest: Path, run_dir: Path) -> float:
    """Median tokens/s of the tiny-cpu preset's training steps, after 10 warm-up steps."""
    config = load_config(
        None,
        {
            "preset": "tiny-cpu",
            "manifest": str(manifest),
            "out_dir": str(run_dir),
            "max_steps": 60,
            "warmup_steps": 5,
            "eval_interval": 1000,
            "ckpt_interval": 1000,
            "progress": False,
        },
    )
    run_training(config, log=lambda *a: None)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["tokens_per_s"] for r in records if r["kind"] == "train" and r["step"] >= 10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = build_token_data(Path(tmp) / "data")
        print(f"loader (sampler + memmap gather + torch tensor), {torch.get_num_threads()} threads:")
        for seq_len, batch in ((1024, 16), (1024, 64), (256, 64)):
            manifest = write_manifest(Path(tmp) / f"m{seq_len}.yaml", data, seq_len=seq_len, total_tokens=10**9)
            rate = loader_tokens_per_s(manifest, seq_len, batch)
            print(f"  seq_len {seq_len:5d} batch {batch:3d}: {rate / 1e6:8.1f} M tokens/s")
        manifest = write_manifest(Path(tmp) / "m256.yaml", data, seq_len=256, total_tokens=10**7)
        rate = model_tokens_per_s(manifest, Path(tmp) / "run")
        print(
            f"tiny-cpu preset (2 layers, 4 heads, n_embd 128, vocab 1024, seq_len 256, batch 8, fp32) "
            f"training: {rate:,.0f} tokens/s"
        )


if __name__ == "__main__":
    main()
