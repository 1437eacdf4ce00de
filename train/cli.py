"""The `train` command: run | estimate | plot | sample | eval | export. The console script `train` is
studies.cli.train, which adds the subcommands that also run curate (ablate); this module never imports them."""

from __future__ import annotations

import argparse
import errno
import os
import sys

from common.version import package_version

RUN_HELP = """Train a GPT on the shards of a data manifest.

Checkpoints (verified, the last keep_last plus best.pt), metrics.jsonl and the loss plot's data go to the run
folder (out_dir). A run killed at any point continues with --resume and trains exactly what it would have.
Loss spikes skip their update; sustained ones roll back to the newest good checkpoint (docs/reliability.md).
At start it says how much of the manifest's planned tokens the step count covers.

Any config key can be overridden after the YAML: --lr 3e-4 --max-steps 100 --compile.
Many GPUs or CPU processes: torchrun --nproc-per-node 8 -m train.cli run configs/gpt2-124m.yaml"""
ESTIMATE_HELP = """Compute, GPU time, cost and energy of a training run from C = 6 N D (N parameters, D tokens).

Example: train estimate --params 124M --tokens 10B --gpu h100 --gpus 8 --price 2.5"""
PLOT_HELP = """Draw RUN_DIR/metrics.jsonl to a PNG: training and validation loss against steps, the phases of the
run shaded, skipped spikes and rollbacks marked, and how much of the planned tokens the run trained."""
SAMPLE_HELP = """Generate text from a checkpoint with the tokenizer the run trained with (temperature, top-k)."""


def cmd_run(args, overrides: list[str]) -> int:
    from train.config import load_config, parse_overrides
    from train.trainer import run_training

    overrides = parse_overrides(overrides)
    if args.no_progress:
        overrides["progress"] = False
    if args.output:
        overrides["out_dir"] = args.output
    config = load_config(args.config, overrides)
    result = run_training(config, resume=args.resume, stop_at=args.stop_at, restart=args.restart)
    if result.losses and os.environ.get("RANK", "0") == "0":
        print(
            f"done: step {max(result.losses) + 1}, final train loss {result.losses[max(result.losses)]:.4f}; "
            f"run folder {config.out_dir}"
        )
    return 0


def cmd_estimate(args) -> int:
    from train.estimate import estimate, format_estimate, parse_count

    params, tokens = parse_count(args.params), parse_count(args.tokens) if args.tokens else None
    print(
        format_estimate(estimate(params, tokens, args.gpu, args.gpus, args.mfu, args.price, args.watts), params, tokens)
    )
    return 0


def cmd_plot(args) -> int:
    from train.plot import plot_run

    print(plot_run(args.run_dir, args.output, log_scale=args.log))
    return 0


def cmd_sample(args) -> int:
    from train.sample import generate_text

    texts = generate_text(
        args.checkpoint,
        args.prompt,
        args.tokenizer,
        args.max_new_tokens,
        args.temperature,
        args.top_k or None,
        args.num_samples,
        args.seed,
        args.device,
    )
    for i, text in enumerate(texts):
        print(f"--- sample {i + 1}\n{text}")
    return 0


def build_parser(extra_commands=()) -> argparse.ArgumentParser:
    """`train`'s parser; each of `extra_commands` adds one more subcommand (a function of the subparsers)."""
    parser = argparse.ArgumentParser(
        prog="train",
        description="Pre-train a GPT on curated token shards: train, "
        "evaluate, sample, export to Hugging Face, estimate cost.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (rawtollm) {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="train (resumable; torchrun for many processes)",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("config", help="run config YAML, e.g. configs/tiny-cpu.yaml")
    run.add_argument("--output", help="run folder, replacing the config's out_dir")
    run.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint in out_dir")
    run.add_argument(
        "--restart",
        action="store_true",
        help="start afresh in an out_dir that holds checkpoints (they are moved to OUT/previous-N/)",
    )
    run.add_argument(
        "--no-progress", action="store_true", help="no progress line (it is drawn only on a terminal anyway)"
    )
    run.add_argument("--stop-at", type=int, help="stop after this step, keeping the full schedule (resume later)")
    run.set_defaults(handler=cmd_run)
    est = commands.add_parser(
        "estimate",
        help="compute, GPU time, cost and energy from C = 6 N D",
        description=ESTIMATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    est.add_argument("--params", required=True, help="parameters N, e.g. 175e9 or 175B")
    est.add_argument("--tokens", help="training tokens D, e.g. 300e9 or 300B (default: compute-optimal 20 x N)")
    est.add_argument(
        "--gpu",
        default="h100",
        help="h100 (= h100-sxm, default), h100-pcie, h100-nvl, h200, h200-nvl, b200, a100, l40s, a10, v100",
    )
    est.add_argument("--gpus", type=int, default=1, help="GPUs in parallel (default 1)")
    est.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilisation (default 0.4)")
    est.add_argument("--price", type=float, help="dollars per GPU-hour")
    est.add_argument("--watts", type=float, help="watts per GPU (default: the GPU's board power)")
    est.set_defaults(handler=cmd_estimate)
    plot = commands.add_parser("plot", help="PNG of train/val loss with phases and spikes", description=PLOT_HELP)
    plot.add_argument("run_dir", help="a run folder (holds metrics.jsonl)")
    plot.add_argument("--output", help="PNG path (default RUN_DIR/loss.png)")
    plot.add_argument("--log", action="store_true", help="logarithmic loss axis")
    plot.set_defaults(handler=cmd_plot)
    sample = commands.add_parser("sample", help="generate text from a checkpoint", description=SAMPLE_HELP)
    sample.add_argument("checkpoint", help="a ckpt-*.pt or best.pt file, or a ckpt-*.dcp folder")
    sample.add_argument("--prompt", default="", help="text to continue")
    sample.add_argument("--tokenizer", help="tokenizer.json (default: the one named by the run's manifest)")
    sample.add_argument("--max-new-tokens", type=int, default=100, help="tokens to generate per sample (default 100)")
    sample.add_argument("--temperature", type=float, default=0.8, help="softmax temperature; 0 = greedy (default 0.8)")
    sample.add_argument(
        "--top-k", type=int, default=50, help="sample among the k likeliest tokens; 0 = no cut (default 50)"
    )
    sample.add_argument("--num-samples", type=int, default=1, help="independent samples to print (default 1)")
    sample.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default 0)")
    sample.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    sample.set_defaults(handler=cmd_sample)
    from train.eval_cli import add_eval_commands  # eval | export

    add_eval_commands(commands)
    for add_command in extra_commands:
        add_command(commands)
    return parser


# Mistakes in the input, by the module that defines each. A command that never imported a module cannot have
# raised its error, so naming them imports nothing: `train estimate` and `train plot` start without torch.
INPUT_ERRORS = {
    "common.typed": "ConfigError",
    "common.shards": "ShardFormatError",
    "train.data": "DataError",
    "train.checkpoint": "CheckpointError",
    "train.eval": "EvalSetError",
    "train.tasks": "TaskError",
    "train.export": "ExportError",
}


def input_errors() -> tuple[type, ...]:
    return (
        FileNotFoundError,
        *(getattr(sys.modules[module], name) for module, name in INPUT_ERRORS.items() if module in sys.modules),
    )


# what the user can do about a write the operating system refused
STORAGE_ERRORS = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space or raise the quota",
    errno.EROFS: "choose a writable out_dir",
    errno.EACCES: "choose a writable out_dir",
}


def run_error(error: Exception) -> str | None:
    """The one line for a run that failed for a reason that is not a bug (exit 1): the safety policies gave up,
    or the disk is full or read-only (the path it was writing, whose temporary file is already removed)."""
    diverged = sys.modules.get("train.policies")
    if diverged is not None and isinstance(error, diverged.TrainingDiverged):
        return str(error)
    if isinstance(error, OSError) and error.errno in STORAGE_ERRORS:
        where = f" writing {error.filename}" if error.filename else ""
        return f"{os.strerror(error.errno).lower()}{where}; {STORAGE_ERRORS[error.errno]}, then continue with --resume"
    return None


def main(argv: list[str] | None = None, extra_commands=()) -> int:
    """Mistakes in the input (config, manifest, shards, checkpoints, arguments) are one line and exit 2; a run
    that diverged or filled the disk is one line and exit 1; anything else is a bug and keeps its traceback."""
    parser = build_parser(extra_commands)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.handler(args, extra) if args.command == "run" else args.handler(args)
    except Exception as error:
        if isinstance(error, input_errors()):
            print(f"train: error: {error}", file=sys.stderr)
            return 2
        message = run_error(error)
        if message is None:
            raise
        print(f"train: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
