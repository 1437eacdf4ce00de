"""Where a CPU training step goes: this trainer (Muon, AdamW) against nanoGPT's model + AdamW, same size and batch.

    python -m bench.train_step_profile --nanogpt DIR [--rounds 8] [--profile]

Same model as bench/train_vs_nanogpt.py (4 layers, 4 heads, width 128, seq 256, 16 sequences, fp32, one
thread), same batches. The three steps run in one process, interleaved in rounds of 5, and are timed in
process CPU time, so the load of a shared machine changes their wall time but not their ratio. --profile
prints torch.profiler's operator table of 5 steps of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from tests.train_fixtures import build_token_data, write_manifest  # noqa: E402

from train.config import load_config  # noqa: E402
from train.trainer import Trainer  # noqa: E402


def our_step(manifest: Path, run_dir: Path, optimizer: str):
    config = load_config(
        None,
        dict(
            manifest=str(manifest),
            out_dir=str(run_dir),
            device="cpu",
            progress=False,
            micro_batch=16,
            max_steps=10**4,
            eval_interval=10**4,
            eval_batches=8,
            ckpt_interval=10**4,
            n_layer=4,
            n_head=4,
            n_embd=128,
            optimizer=optimizer,
            lr=3e-3,
            min_lr=3e-4,
            warmup_steps=10,
            weight_decay=0.0,
        ),
    )
    trainer = Trainer(config, log=lambda *a: None)
    trainer._start(resume=False, restart=False)

    def step():
        trainer.train_step()
        trainer.state.step, trainer.state.cursor = trainer.state.step + 1, trainer.state.cursor + 1

    return step, trainer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nanogpt", required=True, type=Path, help="a nanoGPT checkout (model.py)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = build_token_data(tmp / "data")
        manifest = write_manifest(
            tmp / "m.yaml",
            data,
            seq_len=256,
            total_tokens=10**9,
            seed=0,
            sources=[
                {"name": "en", "path": str(data.dirs["en"]), "weight": 1.0, "validation": str(data.dirs["en-val"])}
            ],
        )
        muon, trainer = our_step(manifest, tmp / "muon", "muon")
        adamw, _ = our_step(manifest, tmp / "adamw", "adamw")
        sys.path.insert(0, str(args.nanogpt))
        from model import GPT, GPTConfig  # nanoGPT's model.py

        model = GPT(GPTConfig(block_size=256, vocab_size=1024, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=True))
        optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
        cursor = iter(range(10**6))

        def nanogpt():
            x, y = (t.contiguous() for t in trainer.batch(next(cursor), 0))
            _, loss = model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss.item()

        steps = {"nanoGPT (AdamW)": nanogpt, "ours (Muon)": muon, "ours (AdamW)": adamw}
        seconds = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                for _ in range(5):
                    started = time.process_time()
                    step()
                    seconds[name].append(time.process_time() - started)
        reference = statistics.median(seconds["nanoGPT (AdamW)"][5:])
        for name, values in seconds.items():
            median = statistics.median(values[5:])  # the first round warms up
            print(f"{name:16s} {1000 * median:7.1f} ms CPU/step   speed vs nanoGPT {reference / median:.3f}x")
        if args.profile:
            from torch.profiler import profile

            for name, step in steps.items():
                with profile() as prof:
                    for _ in range(5):
                        step()
                print(f"\n{name}\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
