"""Held-out evaluation speed: tokens/s of train/eval.py's scoring (forward, per-token loss, byte counts) against
the training pass on the same model and windows (forward + loss + backward, as in a step), and against the bare
forward with loss, measured in the same run. Input: a held-out text set tokenized with a real tokenizer.

    python -m bench.eval_throughput --tokenizer out/ablation-web/tokenizer/tokenizer.json \
        --text out/ablation-web/held_out/pride_and_prejudice.txt
"""

from __future__ import annotations

import argparse
import time

import torch

from train.eval import TextTokenizer, load_eval_set, score_windows
from train.model import GPT, GPTConfig


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--text", required=True)
    parser.add_argument("--tokens", type=int, default=16384)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    tokenizer = TextTokenizer(args.tokenizer, 0)
    vocab = 64 * -(-len(tokenizer.token_bytes) // 64)
    model = GPT(GPTConfig(vocab_size=vocab, seq_len=args.seq_len, n_layer=2, n_head=4, n_embd=128))
    s = load_eval_set("text", args.text, tokenizer, args.seq_len, max_tokens=args.tokens)
    windows = torch.from_numpy(s.windows).clamp(min=0)
    n_tokens = s.windows.shape[0] * args.seq_len

    def train_pass():
        for i in range(0, len(windows), args.batch):
            rows = windows[i : i + args.batch]
            _, loss = model(rows[:, :-1], rows[:, 1:])
            loss.backward()
        model.zero_grad(set_to_none=True)

    @torch.no_grad()
    def forward_only():
        for i in range(0, len(windows), args.batch):
            rows = windows[i : i + args.batch]
            model(rows[:, :-1], rows[:, 1:])

    eval_s = timed(lambda: score_windows(model, s.windows, tokenizer.token_bytes, args.batch), args.repeats)
    train_s = timed(train_pass, args.repeats)
    fwd_s = timed(forward_only, args.repeats)
    print(
        f"{n_tokens} tokens, seq_len {args.seq_len}, batch {args.batch}, {model.num_params():,} parameters, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"eval (score_windows, bpb)     {n_tokens / eval_s:>10,.0f} tokens/s")
    print(f"forward with loss, no grad    {n_tokens / fwd_s:>10,.0f} tokens/s   eval / this = {fwd_s / eval_s:.2f}")
    print(f"training pass (fwd + bwd)     {n_tokens / train_s:>10,.0f} tokens/s   eval / this = {train_s / eval_s:.2f}")


if __name__ == "__main__":
    main()
