"""The `curate` command. The console script `curate` is studies.cli.curate, which adds the subcommands that
also run train (demo); this module never imports them."""

from __future__ import annotations

import argparse
import errno
import sys

from common.version import package_version
from curate.classify.cli import add_train_classifier_parser
from curate.core.context import StageFailed
from curate.core.lock import LockHeld
from curate.core.params import ConfigError
from curate.export import add_export_parser
from curate.mix.cli import add_mix_parser
from curate.report.cli import add_report_parsers
from curate.tokenize.cli import add_train_tokenizer_parser


def add_run_parser(commands) -> None:
    run = commands.add_parser(
        "run",
        help="run a pipeline YAML",
        description="Run every stage of a pipeline (or one with --stage). Input is split into shards processed "
        "in parallel; each finished shard is recorded, so a killed run started again redoes only "
        "unfinished shards. Kept documents go to OUTPUT/<stage>/, dropped ones to "
        "OUTPUT/rejected/<stage>/ with a reason, stats to OUTPUT/stats/.",
    )
    run.add_argument("pipeline", help="pipeline YAML file, e.g. pipelines/web.yaml")
    run.add_argument(
        "--stage", help="run only the stage with this name: it reads the previous stage's output, or --input when given"
    )
    run.add_argument(
        "--input",
        action="append",
        help="input path or URL, replacing the YAML's 'input' (repeatable); "
        "with --stage, that stage's input (documents)",
    )
    run.add_argument(
        "--materialize",
        action="store_true",
        help="write every stage's kept output to OUTPUT/<stage>/ (default: consecutive document stages "
        "run fused in one pass and only the last one's output is written)",
    )
    run.add_argument(
        "--allow-changed-inputs",
        action="store_true",
        help="redo the finished shards whose input files changed since (default: refuse)",
    )
    run.add_argument(
        "--redo",
        metavar="STAGE",
        help="first delete what STAGE and every stage after it wrote in OUTPUT (documents, rejected, "
        "reports, stats, completion records), say what was removed, then run: for a changed parameter",
    )
    run.add_argument(
        "--overwrite", action="store_true", help="--redo the first stage: delete every stage's output first"
    )
    run.add_argument("--output", help="output folder or URL, replacing the YAML's 'output'")
    run.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    run.add_argument(
        "--executor", choices=["local", "ray"], default="local", help="local processes (default) or a Ray cluster"
    )
    run.add_argument("--ray-address", help="Ray cluster to join: 'auto' or HOST:PORT (default: start a local one)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(handler=cmd_run)


def cmd_run(args) -> int:
    from curate.api import RunOptions, make_executor, run_pipeline
    from curate.core.lock import RunLock
    from curate.core.pipeline import load_pipeline
    from curate.core.runner import remove_from
    from curate.core.stats import format_reports

    if args.workers < 1:
        raise ConfigError(f"{args.pipeline}: --workers must be at least 1, got {args.workers}")
    pipeline = load_pipeline(args.pipeline, args.input, args.output)
    if args.redo:
        pipeline.stage_named(args.redo)  # an unknown name is a config error before anything is removed
    # --stage NAME --input PATH: NAME reads PATH, never an older output of the stage before it
    stage_input = args.input if args.stage and pipeline.stages.index(pipeline.stage_named(args.stage)) > 0 else None
    options = RunOptions(not args.no_progress, args.materialize, args.allow_changed_inputs, stage_input)
    executor = make_executor(args.executor, args.workers, args.ray_address)
    try:
        with RunLock(pipeline.output):  # one run per output folder
            if args.redo or args.overwrite:
                removed = remove_from(pipeline, args.redo or pipeline.stages[0].name)
                print(
                    f"removed {len(removed)} path(s) of '{args.redo or pipeline.stages[0].name}' and the stages after it"
                    + "".join(f"\n  {path}" for path in removed),
                    flush=True,
                )
            reports = run_pipeline(pipeline, executor, args.stage, options=options)
    finally:
        executor.close()
    print(format_reports(reports))
    print(f"\noutput: {pipeline.output}")
    return 0


def main(argv: list[str] | None = None, extra_commands=()) -> int:
    """`curate ARGS`; each of `extra_commands` adds one more subcommand (a function of the subparsers)."""
    parser = argparse.ArgumentParser(
        prog="curate", description="Turn raw web crawls, books and code into clean training data."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (rawtollm) {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_run_parser(commands)
    add_train_tokenizer_parser(commands)
    add_mix_parser(commands)
    add_train_classifier_parser(commands)
    add_export_parser(commands)
    add_report_parsers(commands)
    for add_command in extra_commands:
        add_command(commands)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"curate: error: {error}", file=sys.stderr)
        return 2
    except StageFailed as error:  # it carries the failed shards' tracebacks itself
        print(f"curate: {error}", file=sys.stderr)
        return 1
    except (LockHeld, OSError) as error:  # the machine's or another run's doing, not a bug: no traceback
        print(f"curate: error: {os_error_line(error)}", file=sys.stderr)
        return 1


def os_error_line(error: Exception) -> str:
    """'no space left on device: /out/extract/shard-00000.parquet (...)': what happened, then where."""
    if not isinstance(error, OSError) or error.strerror is None:
        return str(error)
    what = error.strerror[0].lower() + error.strerror[1:]
    where = f": {error.filename}" if error.filename else ""
    hint = {
        errno.ENOSPC: "; free some space or write elsewhere",
        errno.EACCES: "; write elsewhere (--output) or fix its permissions",
        errno.EROFS: "; write elsewhere (--output)",
    }.get(error.errno, "")
    return f"{what}{where}{hint}"


if __name__ == "__main__":
    sys.exit(main())
