"""The `train eval | ablate | export` subcommands (registered by train/cli.py)."""
from __future__ import annotations


def cmd_eval(args) -> int:
    import json
    from train.eval import evaluate_checkpoint, format_report
    report = evaluate_checkpoint(args.checkpoint, args.set, args.tokenizer, args.max_tokens, args.batch_size,
                                 args.device, args.task, args.max_examples, progress=not args.no_progress)
    print(format_report(report))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.out}")
    return 0


def cmd_ablate(args) -> int:
    from train.ablate import run_ablation
    print(run_ablation(args.ablation, arms=args.arm, seeds=args.seed, report_only=args.report))
    return 0


def cmd_export(args) -> int:
    from train.export import export_checkpoint
    print(f"exported to {export_checkpoint(args.checkpoint, args.out_dir, args.tokenizer)}")
    return 0


def add_eval_commands(commands) -> None:
    ev = commands.add_parser("eval", help="loss and bits per byte on held-out sets; multiple-choice tasks",
                             description="Score a checkpoint: mean loss and bits per byte (comparable across "
                                         "tokenizers) on held-out text, and accuracy on multiple-choice tasks. "
                                         "Prints a table; --out writes the figures as JSON.")
    ev.add_argument("checkpoint", help="a ckpt-*.pt or best.pt file, or a ckpt-*.dcp folder")
    ev.add_argument("--set", action="append", default=[], help="held-out set: PATH or NAME=PATH (text, .md, JSONL, "
                    "Parquet file or folder, or a token directory); repeatable")
    ev.add_argument("--task", action="append", default=[], help="multiple-choice JSONL (context, choices, label): "
                    "PATH or NAME=PATH; repeatable")
    ev.add_argument("--tokenizer", help="tokenizer.json (default: the one the run trained with)")
    ev.add_argument("--max-tokens", type=int, default=65536, help="tokens scored per set (default 65536)")
    ev.add_argument("--max-examples", type=int, help="examples per task (default all)")
    ev.add_argument("--batch-size", type=int, default=8, help="windows per forward pass (default 8)")
    ev.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    ev.add_argument("--out", help="write the figures as JSON here")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar (it is drawn only on a terminal anyway)")
    ev.set_defaults(handler=cmd_eval)
    ab = commands.add_parser("ablate", help="train proxy models on each data arm and compare them",
                             description="Train the same small model on each arm (data mix) of an ablation YAML, "
                                         "for each seed, and compare their held-out losses with the spread across "
                                         "seeds. Finished runs are reused; --arm and --seed split the work.")
    ab.add_argument("ablation", help="ablation YAML, e.g. ablations/curated-vs-extracted.yaml")
    ab.add_argument("--arm", action="append", help="run only this arm (repeatable; one arm per GPU or node)")
    ab.add_argument("--seed", action="append", type=int, help="run only this seed (repeatable)")
    ab.add_argument("--report", action="store_true", help="train nothing; compare the finished runs")
    ab.set_defaults(handler=cmd_ablate)
    ex = commands.add_parser("export", help="Hugging Face folder: safetensors, config.json, tokenizer, model card",
                             description="Write a folder that transformers' AutoModelForCausalLM.from_pretrained "
                                         "loads (GPT2LMHeadModel or LlamaForCausalLM), with the tokenizer and a model "
                                         "card stating the data mix and what part of it was trained.")
    ex.add_argument("checkpoint", help="a ckpt-*.pt or best.pt file, or a ckpt-*.dcp folder")
    ex.add_argument("out_dir", help="folder to write (AutoModelForCausalLM.from_pretrained reads it)")
    ex.add_argument("--tokenizer", help="tokenizer.json (default: the one the run trained with)")
    ex.set_defaults(handler=cmd_export)
