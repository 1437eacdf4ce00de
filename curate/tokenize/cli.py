"""`curate train-tokenizer`: a byte-level BPE tokenizer from a sample of curated documents."""

from __future__ import annotations

import re

from curate.core.params import ConfigError
from curate.tokenize.bpe import DEFAULT_SPECIAL_TOKENS

SIZE_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def parse_size(text: str) -> int:
    """'100MB', '1G', '250000' -> bytes (decimal units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", text.upper())
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 500MB, 2GB, 100000)")
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2)])


def add_train_tokenizer_parser(commands) -> None:
    parser = commands.add_parser(
        "train-tokenizer",
        help="train a byte-level BPE tokenizer on curated documents",
        description="Train a GPT-4-style byte-level BPE tokenizer (HF tokenizers) on a deterministic sample of the "
        "documents in the given stage output folders or files (Parquet, or a pipeline's .jsonl.gz output), and write tokenizer.json "
        "(loadable by tokenizers and transformers). Prints the file's sha256, the hash token "
        "shards and mix manifests refer to.",
    )
    parser.add_argument(
        "inputs", nargs="+", help="stage folders or files, e.g. out/web/dedup out/books/extract (Parquet or .jsonl.gz)"
    )
    parser.add_argument("--output", required=True, help="where to write tokenizer.json")
    parser.add_argument(
        "--vocab-size", type=int, default=32768, help="vocabulary size incl. special tokens (default 32768)"
    )
    parser.add_argument(
        "--sample-bytes",
        type=parse_size,
        default=parse_size("1GB"),
        help="text to train on, spread evenly over all inputs (default 1GB; e.g. 200MB)",
    )
    parser.add_argument(
        "--special-token",
        action="append",
        dest="special_tokens",
        help=f"a special token, repeatable; the first ids go to them (default {DEFAULT_SPECIAL_TOKENS[0]})",
    )
    parser.add_argument("--min-frequency", type=int, default=2, help="merge only pairs seen this often (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the document sample (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (drawn only on a terminal anyway)")
    parser.set_defaults(handler=cmd_train_tokenizer)


def cmd_train_tokenizer(args) -> int:
    from curate.tokenize.bpe import train_tokenizer

    try:
        result = train_tokenizer(
            args.inputs,
            args.output,
            args.vocab_size,
            args.sample_bytes,
            args.special_tokens or DEFAULT_SPECIAL_TOKENS,
            args.seed,
            args.min_frequency,
            progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(str(error)) from None
    print(
        f"tokenizer: {result.path}\nsha256: {result.sha256}\nvocab size: {result.vocab_size}\n"
        f"trained on {result.sample_documents} documents, {result.sample_bytes / 1e6:.1f} MB, in {result.seconds:.1f} s"
    )
    if result.vocab_size < args.vocab_size:  # the trainer stops when no pair is left that is seen often enough
        print(
            f"note: {result.vocab_size} tokens, not the {args.vocab_size} asked: the sample has no more pairs seen "
            f"--min-frequency ({args.min_frequency}) times; give more text or a smaller --vocab-size"
        )
    return 0
