"""`curate mix MANIFEST`: check a dataset-mix manifest and print the plan training will draw by."""

from __future__ import annotations


def add_mix_parser(commands) -> None:
    parser = commands.add_parser(
        "mix",
        help="check a dataset-mix manifest and print its plan",
        description="Check a data_manifests/*.yaml file (keys, token directories, one tokenizer for all shards, "
        "weights) and print the plan: tokens available per source, tokens drawn, share and epochs. "
        "The trainer computes the same plan from the same file (common.mix), so this is what "
        "training draws. Warns when a source repeats more than 4 epochs.",
    )
    parser.add_argument("manifest", help="manifest YAML, e.g. data_manifests/demo.yaml")
    parser.add_argument(
        "--plot",
        nargs="?",
        const="",
        metavar="PNG",
        help="also draw the plan (share per source, epochs) to this PNG (default: MANIFEST beside it, as .png)",
    )
    parser.set_defaults(handler=cmd_mix)


def cmd_mix(args) -> int:
    from common.mix import format_plan, load_manifest, plan_mix

    plan = plan_mix(load_manifest(args.manifest))  # a bad manifest raises ConfigError, which the CLI prints
    print(format_plan(plan))
    if args.plot is not None:
        from pathlib import Path

        from curate.report.mix_plot import plot_mix

        print(f"plot: {plot_mix(plan, args.plot or Path(args.manifest).with_suffix('.png'))}")
    return 0
