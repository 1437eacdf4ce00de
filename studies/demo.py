"""`curate demo`: the whole pipeline that exists so far, on a small real sample.

By default it downloads a few real documents into a cache (a slice of one Common
Crawl WARC file by HTTP Range, three Project Gutenberg books; checksummed, fetched
once) and uses a slice of the Python standard library on this machine as the code
source; `--from DIR` uses a local copy laid out like shared/data (web/warc,
web/html, books) instead. It runs the shipped pipelines/*.yaml with --input and
--output overrides, so stages added to those files run in the demo too.

The demo is a list of steps (DEMO_STEPS), each a function of the DemoRun: fetch,
the three pipelines, then tokenizer + token shards + mix plan, then a short CPU
training run on that mix, so one command goes from raw text to a loss curve.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from curate.download import Download, fetch

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curate" / "demo"
BASE_URL_ENV = "CURATE_DEMO_BASE_URL"  # serve a mirror (laid out like shared/data) instead of the real sites
STDLIB_PACKAGES = ("json", "email", "asyncio")

# (download, where the file lives in a mirror laid out like shared/data)
CC_WARC = (
    "https://data.commoncrawl.org/crawl-data/CC-MAIN-2023-23/segments/1685224643388.45/warc/"
    "CC-MAIN-20230527223515-20230528013515-00000.warc.gz"
)
DOWNLOADS = [
    # the first ~4 MB of a Common Crawl WARC file, cut back to whole records (one gzip member each)
    (
        Download("web/warc/cc-main-2023-23-slice.warc.gz", CC_WARC, byte_range=(0, 4_000_000 - 1)),
        "web/warc/resiliparse_warcfile.warc.gz",
    ),
    (
        Download("books/pg1342.txt", "https://www.gutenberg.org/cache/epub/1342/pg1342.txt"),
        "books/en_pride_and_prejudice_pg1342.txt",
    ),
    (Download("books/pg11.txt", "https://www.gutenberg.org/cache/epub/11/pg11.txt"), "books/en_alice_pg11.txt"),
    (
        Download("books/pg2701.txt", "https://www.gutenberg.org/cache/epub/2701/pg2701.txt"),
        "books/en_moby_dick_pg2701.txt",
    ),
]


@dataclass
class DemoRun:
    """What the steps share: where the sample data is, where output goes, what ran."""

    data: Path | None  # a folder laid out like shared/data, once fetched or given with --from
    output: Path
    cache: Path
    workers: int = 1
    progress: bool = True
    base_url: str | None = None
    train_steps: int = 200
    reports: dict[str, list] = field(default_factory=dict)  # pipeline name -> its StageReports
    manifest: Path | None = None  # the mix manifest the tokenize step wrote
    training: dict | None = None  # demo_run's result


def step_fetch(run: DemoRun) -> None:
    if run.data is not None:
        return  # --from DIR
    for download, mirror_path in DOWNLOADS:
        if run.base_url:
            download = Download(
                download.name, f"{run.base_url.rstrip('/')}/{mirror_path}", download.sha256, download.byte_range
            )
        print(
            f"fetch {download.url}"
            + (f" (bytes {download.byte_range[0]}-{download.byte_range[1]})" if download.byte_range else "")
        )
        fetch(download, run.cache)
    run.data = run.cache


def run_shipped_pipeline(run: DemoRun, name: str, inputs: list[str]) -> None:
    from curate.core.executor import LocalExecutor
    from curate.core.pipeline import load_pipeline
    from curate.api import run_pipeline
    from curate.core.stats import format_reports

    pipeline = load_pipeline(str(PIPELINES / f"{name}.yaml"), inputs, str(run.output / name))
    executor = LocalExecutor(run.workers)
    try:
        run.reports[name] = run_pipeline(pipeline, executor, progress=run.progress)
    finally:
        executor.close()
    print(f"\n{name}: {pipeline.output}\n{format_reports(run.reports[name])}\n")


def existing(*paths: Path) -> list[str]:
    return [str(p) for p in paths if p.exists()]


def step_web(run: DemoRun) -> None:
    run_shipped_pipeline(run, "web", existing(run.data / "web" / "warc", run.data / "web" / "html"))


def step_books(run: DemoRun) -> None:
    run_shipped_pipeline(run, "books", existing(run.data / "books"))


def step_code(run: DemoRun) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    run_shipped_pipeline(run, "code", existing(*(stdlib / package for package in STDLIB_PACKAGES)))


def step_tokenize(run: DemoRun) -> None:
    """A tokenizer trained on what the three pipelines kept, token shards per source, and the mix plan."""
    from common.mix import format_plan
    from curate.core.executor import LocalExecutor
    from curate.core.stats import format_reports
    from curate.tokenize.demo import tokenize_demo

    curated = {name: str(run.output / name / reports[-1].name) for name, reports in run.reports.items()}
    executor = LocalExecutor(run.workers)
    try:
        tokens = tokenize_demo(run.output, curated, executor, progress=run.progress)
    finally:
        executor.close()
    run.reports["tokenize"] = tokens.reports
    run.manifest = tokens.manifest
    print(
        f"\ntokenizer: {tokens.tokenizer} (sha256 {tokens.tokenizer_sha256[:12]})\n{format_reports(tokens.reports)}\n"
    )
    print(f"mix plan ({tokens.manifest}):\n{format_plan(tokens.plan)}\n")


def step_train(run: DemoRun) -> None:
    """A short CPU run of the tiny model on the mix: the loss falls, loss.png is written."""
    if run.train_steps <= 0:
        return
    print(f"training the tiny-cpu model for {run.train_steps} steps on {run.manifest}")
    run.training = demo_run(run.manifest, run.output / "train", steps=run.train_steps)
    print(
        f"train loss {run.training['first_loss']:.3f} -> {run.training['final_loss']:.3f}; loss curve: {run.training['plot']}"
    )


def demo_run(manifest_path, out_dir, steps: int = 200, log=print) -> dict:
    """Train the tiny preset for `steps` steps, print the loss falling, write loss.png.

    Starts afresh in `out_dir` (its previous checkpoints and metrics are removed). Returns
    {"first_loss", "final_loss", "val_loss" (None without validation shards), "plot", "run_dir"}.
    """
    from train.config import load_config
    from train.plot import plot_run
    from train.trainer import run_training

    out_dir = Path(out_dir)
    for stale in [*out_dir.glob("ckpt-*"), *out_dir.glob("best.*"), out_dir / "metrics.jsonl"]:
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    shutil.rmtree(out_dir / "tb", ignore_errors=True)
    config = load_config(
        None,
        {
            "preset": "tiny-cpu",
            "manifest": str(manifest_path),
            "out_dir": str(out_dir),
            "max_steps": steps,
            "warmup_steps": min(20, steps // 10),
            "progress": False,
            "eval_interval": max(steps // 4, 1),
            "ckpt_interval": steps,
        },
    )
    result = run_training(config, log=log)
    every = max(steps // 10, 1)
    for step in sorted(result.losses)[::every] + [max(result.losses)]:
        log(f"step {step:5d}  train loss {result.losses[step]:.4f}")
    plot = plot_run(out_dir, out_dir / "loss.png")
    log(f"loss curve: {plot}")
    first, final = result.losses[min(result.losses)], result.losses[max(result.losses)]
    val = result.val_losses[max(result.val_losses)] if result.val_losses else None
    return {"first_loss": first, "final_loss": final, "val_loss": val, "plot": plot, "run_dir": out_dir}


DEMO_STEPS: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("fetch", step_fetch),
    ("web", step_web),
    ("books", step_books),
    ("code", step_code),
    ("tokenize", step_tokenize),
    ("train", step_train),
]


def run_demo(run: DemoRun, steps: list[tuple[str, Callable[[DemoRun], None]]] | None = None) -> DemoRun:
    for name, step in steps or DEMO_STEPS:
        step(run)
    return run


def add_demo_parser(commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="run the pipelines on a small real sample",
        description="Download a small real sample (a Common Crawl WARC slice, three Project Gutenberg books; cached "
        "with checksums), take a slice of the Python standard library as code, run "
        "pipelines/web.yaml, books.yaml and code.yaml on them, train a BPE tokenizer on what they kept, "
        "write token shards and a mix manifest, print the mix plan, and train a tiny GPT on it for a few "
        "hundred CPU steps (loss curve in OUTPUT/train/loss.png). Rerunning reuses the cache and the finished shards.",
    )
    demo.add_argument(
        "--from",
        dest="source",
        help="use this local folder (laid out like shared/data: web/warc, web/html, books) instead of downloading",
    )
    demo.add_argument("--output", default="out/demo", help="output folder (default out/demo)")
    demo.add_argument("--cache", default=str(DEFAULT_CACHE), help=f"download cache (default {DEFAULT_CACHE})")
    demo.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    demo.add_argument(
        "--base-url",
        default=os.environ.get(BASE_URL_ENV),
        help=f"download from a mirror laid out like shared/data instead of the real sites (env {BASE_URL_ENV})",
    )
    demo.add_argument(
        "--train-steps", type=int, default=200, help="steps of the closing CPU training run (default 200; 0 skips it)"
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    from curate.core.params import ConfigError

    data = Path(args.source).resolve() if args.source else None
    if data is not None and not data.is_dir():
        raise ConfigError(f"--from {data}: not a folder")
    output, cache = Path(args.output).resolve(), Path(args.cache).resolve()
    os.chdir(PIPELINES.parent)  # the shipped pipelines name their lists relative to the repository root
    from curate.core.lock import RunLock

    with RunLock(str(output)):  # one run per output folder
        run_demo(DemoRun(data, output, cache, args.workers, not args.no_progress, args.base_url, args.train_steps))
    print(f"demo output: {args.output}")
    return 0
