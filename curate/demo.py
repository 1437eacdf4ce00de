"""`curate demo`: the whole pipeline that exists so far, on a small real sample.

By default it downloads a few real documents into a cache (a slice of one Common
Crawl WARC file by HTTP Range, three Project Gutenberg books; checksummed, fetched
once) and uses a slice of the Python standard library on this machine as the code
source; `--from DIR` uses a local copy laid out like shared/data (web/warc,
web/html, books) instead. It runs the shipped pipelines/*.yaml with --input and
--output overrides, so stages added to those files run in the demo too.

The demo is a list of steps (DEMO_STEPS); later steps (tokenize, mix, train)
append themselves there: each is a function of the DemoRun.
"""
from __future__ import annotations

import os
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
CC_WARC = ("https://data.commoncrawl.org/crawl-data/CC-MAIN-2023-23/segments/1685224643388.45/warc/"
           "CC-MAIN-20230527223515-20230528013515-00000.warc.gz")
DOWNLOADS = [
    # the first ~4 MB of a Common Crawl WARC file, cut back to whole records (one gzip member each)
    (Download("web/warc/cc-main-2023-23-slice.warc.gz", CC_WARC, byte_range=(0, 4_000_000 - 1)),
     "web/warc/resiliparse_warcfile.warc.gz"),
    (Download("books/pg1342.txt", "https://www.gutenberg.org/cache/epub/1342/pg1342.txt"), "books/en_pride_and_prejudice_pg1342.txt"),
    (Download("books/pg11.txt", "https://www.gutenberg.org/cache/epub/11/pg11.txt"), "books/en_alice_pg11.txt"),
    (Download("books/pg2701.txt", "https://www.gutenberg.org/cache/epub/2701/pg2701.txt"), "books/en_moby_dick_pg2701.txt"),
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
    reports: dict[str, list] = field(default_factory=dict)  # pipeline name -> its StageReports


def step_fetch(run: DemoRun) -> None:
    if run.data is not None:
        return  # --from DIR
    for download, mirror_path in DOWNLOADS:
        if run.base_url:
            download = Download(download.name, f"{run.base_url.rstrip('/')}/{mirror_path}", download.sha256, download.byte_range)
        print(f"fetch {download.url}" + (f" (bytes {download.byte_range[0]}-{download.byte_range[1]})" if download.byte_range else ""))
        fetch(download, run.cache)
    run.data = run.cache


def run_shipped_pipeline(run: DemoRun, name: str, inputs: list[str]) -> None:
    from curate.core.executor import LocalExecutor
    from curate.core.pipeline import load_pipeline
    from curate.core.runner import format_reports, run_pipeline

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


DEMO_STEPS: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("fetch", step_fetch),
    ("web", step_web),
    ("books", step_books),
    ("code", step_code),
]


def run_demo(run: DemoRun, steps: list[tuple[str, Callable[[DemoRun], None]]] | None = None) -> DemoRun:
    for name, step in steps or DEMO_STEPS:
        step(run)
    return run


def add_demo_parser(commands) -> None:
    demo = commands.add_parser(
        "demo", help="run the pipelines on a small real sample",
        description="Download a small real sample (a Common Crawl WARC slice, three Project Gutenberg books; cached "
                    "with checksums), take a slice of the Python standard library as code, and run "
                    "pipelines/web.yaml, books.yaml and code.yaml on them. Rerunning reuses the cache and the finished shards.")
    demo.add_argument("--from", dest="source", help="use this local folder (laid out like shared/data: web/warc, web/html, books) instead of downloading")
    demo.add_argument("--output", default="out/demo", help="output folder (default out/demo)")
    demo.add_argument("--cache", default=str(DEFAULT_CACHE), help=f"download cache (default {DEFAULT_CACHE})")
    demo.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    demo.add_argument("--base-url", default=os.environ.get(BASE_URL_ENV),
                      help=f"download from a mirror laid out like shared/data instead of the real sites (env {BASE_URL_ENV})")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    from curate.core.params import ConfigError

    data = Path(args.source) if args.source else None
    if data is not None and not data.is_dir():
        raise ConfigError(f"--from {data}: not a folder")
    run_demo(DemoRun(data, Path(args.output), Path(args.cache), args.workers, not args.no_progress, args.base_url))
    print(f"demo output: {args.output}")
    return 0
