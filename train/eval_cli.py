"""The `train eval | export` subcommands (registered by train/cli.py)."""
from __future__ import annotations


def cmd_eval(args) -> int:
    import json
    from train.eval import evaluate_checkpoint, format_report
    report = evaluate_checkpoint(args.checkpoint, args.set, args.tokenizer, args.max_tokens, args.batch_size,
                                 args.device, args.task, args.max_examples)
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
    ev = commands.add_parser("eval", help="loss and bits per byte on held-out sets; multiple-choice tasks")
    ev.add_argument("checkpoint", help="a ckpt-*.pt or best.pt file, or a ckpt-*.dcp folder")
    ev.add_argument("--set", action="append", default=[], help="held-out set: PATH or NAME=PATH (text, .md, JSONL, "
                    "Parquet file or folder, or a token directory); repeatable")
    ev.add_argument("--task", action="append", default=[], help="multiple-choice JSONL (context, choices, label): "
                    "PATH or NAME=PATH; repeatable")
    ev.add_argument("--tokenizer", help="tokenizer.json (default: the one the run trained with)")
    ev.add_argument("--max-tokens", type=int, default=65536, help="tokens scored per set (default 65536)")
    ev.add_argument("--max-examples", type=int, help="examples per task (default all)")
    ev.add_argument("--batch-size", type=int, default=8)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--out", help="write the figures as JSON here")
    ev.set_defaults(handler=cmd_eval)
    ex = commands.add_parser("export", help="Hugging Face folder: safetensors, config.json, tokenizer, model card")
    ex.add_argument("checkpoint", help="a ckpt-*.pt or best.pt file, or a ckpt-*.dcp folder")
    ex.add_argument("out_dir", help="folder to write (AutoModelForCausalLM.from_pretrained reads it)")
    ex.add_argument("--tokenizer", help="tokenizer.json (default: the one the run trained with)")
    ex.set_defaults(handler=cmd_export)
