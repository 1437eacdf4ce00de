"""The `train eval | export` subcommands (registered by train/cli.py)."""

from __future__ import annotations


def cmd_eval(args) -> int:
    import json
    from train.eval import evaluate_checkpoint, format_report

    report = evaluate_checkpoint(
        args.checkpoint,
        args.set,
        args.tokenizer,
        args.max_tokens,
        args.batch_size,
        args.device,
        args.task,
        args.max_examples,
        progress=not args.no_progress,
    )
    print(format_report(report))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.out}")
    return 0


def cmd_export(args) -> int:
    from train.export import export_checkpoint

    print(f"exported to {export_checkpoint(args.checkpoint, args.out_dir, args.tokenizer)}")
    return 0


def add_eval_commands(commands) -> None:
    ev = commands.add_parser(
        "eval",
        help="loss and bits per byte on held-out sets; multiple-choice tasks",
        description="Score a checkpoint: mean loss and bits per byte (comparable across "
        "tokenizers) on held-out text, and accuracy on multiple-choice tasks. "
        "Prints a table; --out writes the figures as JSON.",
    )
    ev.add_argument("checkpoint", help="a ckpt-*.pt or best.pt file, or a ckpt-*.dcp folder")
    ev.add_argument(
        "--set",
        action="append",
        default=[],
        help="held-out set: PATH or NAME=PATH (text, .md, JSONL, "
        "Parquet file or folder, or a token directory); repeatable",
    )
    ev.add_argument(
        "--task",
        action="append",
        default=[],
        help="multiple-choice JSONL (context, choices, label): PATH or NAME=PATH; repeatable",
    )
    ev.add_argument("--tokenizer", help="tokenizer.json (default: the one the run trained with)")
    ev.add_argument("--max-tokens", type=int, default=65536, help="tokens scored per set (default 65536)")
    ev.add_argument("--max-examples", type=int, help="examples per task (default all)")
    ev.add_argument("--batch-size", type=int, default=8, help="windows per forward pass (default 8)")
    ev.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    ev.add_argument("--out", help="write the figures as JSON here")
    ev.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it is drawn only on a terminal anyway)"
    )
    ev.set_defaults(handler=cmd_eval)
    ex = commands.add_parser(
        "export",
        help="Hugging Face folder: safetensors, config.json, tokenizer, model card",
        description="Write a folder that transformers' AutoModelForCausalLM.from_pretrained "
        "loads (GPT2LMHeadModel or LlamaForCausalLM), with the tokenizer and a model "
        "card stating the data mix and what part of it was trained.",
    )
    ex.add_argument("checkpoint", help="a ckpt-*.pt or best.pt file, or a ckpt-*.dcp folder")
    ex.add_argument("out_dir", help="folder to write (AutoModelForCausalLM.from_pretrained reads it)")
    ex.add_argument("--tokenizer", help="tokenizer.json (default: the one the run trained with)")
    ex.set_defaults(handler=cmd_export)
