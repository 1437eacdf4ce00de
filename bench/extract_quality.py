"""Main-text quality and speed per engine on the 106 gold pages, beside the peers, one run.

Gold: ../shared/data/web/html/trafilatura_cache_gold.json (trafilatura's evaluation
snippets for the pages in trafilatura_cache/), scored as trafilatura's tests/eval_common.py
scores (curate.extract.engines_gold). Every system gets the same decoded HTML string
(curate's charset handling), one page at a time. Speed is pages per CPU-second (this process
plus any extraction process it waits on: per core, and robust to other jobs on a shared
machine), best of `--repeat` rounds, systems interleaved within a round; wall-clock
pages/s beside it.

Systems: curate's engines (in this process, and trafilatura also through the watchdog process
the extract stage uses); trafilatura 2.x called directly with FineWeb's settings
(favor_precision, tables on: the peer every ratio is against) and with `fast` (no fallback
extractors); resiliparse main_content; datatrove's Trafilatura step exactly as FineWeb
configures it (defaults: favour_precision, 1 s timeout in its sandbox process, deduplicate,
tables on), when datatrove is installed (bench extra).

    python -m bench.extract_quality [--repeat 2]
    python -m bench.extract_quality --profile fast   # where one engine's time goes
    python -m bench.extract_quality --warc           # the shared crawl (web.yaml's inputs): pages with text per engine
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import trafilatura  # noqa: E402
from resiliparse.extract.html2text import extract_plain_text  # noqa: E402

from curate.extract.engines import EngineOptions, extract_main_text, new_file  # noqa: E402
from curate.extract.engines_gold import load_gold, score_all  # noqa: E402
from curate.extract.engines_watchdog import Watchdog  # noqa: E402
from curate.extract import web  # noqa: E402
from curate.extract.stage import ExtractParams, Rejection  # noqa: E402
from curate.extract.web import decode_page  # noqa: E402

PAGES = REPO.parent / "shared" / "data" / "web" / "html" / "trafilatura_cache"
GOLD = PAGES.parent / "trafilatura_cache_gold.json"
CRAWL = [str(REPO.parent / "shared" / "data" / "web" / "warc"), str(PAGES.parent)]  # pipelines/web.yaml's inputs


def curate_engine(engine: str, **settings):
    options = EngineOptions(engine=engine, **settings)

    def run(pages):
        out = {}
        for name, html in pages.items():
            new_file()  # each HTML file is a file of its own in the extract stage
            out[name] = extract_main_text(html, options)[0]
        return out

    return run


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time of this process and its ended children, or of process `pid` (Linux /proc)."""
    if pid is not None:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


WATCHDOG = Watchdog()


def curate_watchdog(pages):
    """The extract stage's path: each page sent to the worker's extraction process. As in the
    stage, one process serves every round (it lives as long as its worker): its start-up
    (imports) and first round (cold caches) are paid once per worker, not per page, and
    best-of-rounds leaves them out."""
    if WATCHDOG.process is None:
        WATCHDOG.start()
    options, out = EngineOptions(), {}
    child_start, own_start = cpu_seconds(WATCHDOG.process.pid), time.process_time()
    for name, html in pages.items():
        WATCHDOG.new_file()
        out[name] = WATCHDOG.extract(html, options, 10.0)[0]
    return out, cpu_seconds(WATCHDOG.process.pid) - child_start + time.process_time() - own_start


def trafilatura_direct(**settings):
    def run(pages):
        return {
            name: trafilatura.extract(html, favor_precision=True, include_comments=False, **settings)
            for name, html in pages.items()
        }

    return run


def resiliparse_direct(pages):
    return {name: extract_plain_text(html, main_content=True) for name, html in pages.items()}


def datatrove_fineweb(pages):
    from datatrove.data import Document
    from datatrove.pipeline.extractors import Trafilatura

    step = Trafilatura(favour_precision=True)  # FineWeb's call; defaults: timeout 1 s, deduplicate, tables on
    docs = [Document(text=html, id=name) for name, html in pages.items()]
    return {doc.id: doc.text for doc in step.run(iter(docs))}  # its sandbox: a fork, joined at the end


SYSTEMS = {
    "curate engine=trafilatura (default)": curate_engine("trafilatura"),
    "curate engine=trafilatura, watchdog process": curate_watchdog,
    "curate engine=trafilatura, deduplicate: false": curate_engine("trafilatura", deduplicate=False),
    "curate engine=auto": curate_engine("auto"),
    "curate engine=fast": curate_engine("fast"),
    "curate engine=resiliparse": curate_engine("resiliparse"),
    "trafilatura favor_precision, tables on (FineWeb)": trafilatura_direct(),
    "trafilatura favor_precision, fast (no fallback)": trafilatura_direct(fast=True),
    "resiliparse main_content": resiliparse_direct,
    "datatrove Trafilatura as FineWeb (1 s timeout)": datatrove_fineweb,
}
PEER = "trafilatura favor_precision, tables on (FineWeb)"


def profile(system, pages) -> None:
    """cProfile of one round after a warm-up round, the functions with the most time inside
    them and below them; CPU time, so other jobs on a shared machine do not count."""
    system(pages)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    system(pages)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def crawl_texts(engine: str) -> tuple[dict[str, str | None], Counter]:
    """Each HTML response of the shared crawl through the extract stage's reader (per-file dedup
    memory, as in a run): id -> text (None if rejected), and the rejections' reasons."""
    params = ExtractParams(source="web", engine=engine, timeout_seconds=0)
    texts, reasons = {}, Counter()
    for url in sorted(web.list_inputs(CRAWL, params)):
        for item in web.read(url, params):
            row = item.row if isinstance(item, Rejection) else item
            if isinstance(item, Rejection):
                if item.reason in ("not_html", "truncated_record", "truncated_file"):
                    continue
                reasons[f"{item.reason}: {item.detail}"] += 1
            texts[row["id"]] = None if isinstance(item, Rejection) else item["text"]
    return texts, reasons


def crawl_report() -> None:
    """Pages with text per engine on the shared crawl, and how much of the default's words each keeps."""
    reference, _ = crawl_texts("trafilatura")
    print(
        f"{len(reference)} HTML responses (pipelines/web.yaml's inputs); words: multiset overlap with engine=trafilatura"
    )
    print(
        "| engine | pages with text | characters | share of trafilatura's words kept | share of its words in trafilatura's |\n|---|---|---|---|---|"
    )
    for engine in ("trafilatura", "auto", "fast", "resiliparse"):
        texts, reasons = crawl_texts(engine)
        same = theirs = ours = 0
        for key, text in texts.items():
            mine, ref = Counter((text or "").split()), Counter((reference.get(key) or "").split())
            same, theirs, ours = (
                same + sum((mine & ref).values()),
                theirs + sum(ref.values()),
                ours + sum(mine.values()),
            )
        print(
            f"| {engine} | {sum(1 for t in texts.values() if t)} of {len(texts)} | {sum(len(t or '') for t in texts.values()):,} | "
            f"{same / max(1, theirs):.3f} | {same / max(1, ours):.3f} |"
        )
        for reason, count in reasons.items():
            print(f"|   {count} x {reason[:140]} | | | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", metavar="ENGINE", help="instead: where one of curate's engines spends its time")
    parser.add_argument(
        "--warc", action="store_true", help="instead: each engine on the shared crawl (pages with text)"
    )
    args = parser.parse_args()
    if args.warc:
        return crawl_report()
    gold = load_gold(GOLD)
    pages = {entry["file"]: decode_page({}, (PAGES / entry["file"]).read_bytes(), None) for entry in gold}
    if args.profile:
        return profile(curate_engine(args.profile), pages)
    cpu, wall, scores = {}, {}, {}
    for _ in range(args.repeat):
        for name, system in SYSTEMS.items():
            cpu_start, wall_start = cpu_seconds(), time.perf_counter()
            result = system(pages)
            texts, seconds = result if isinstance(result, tuple) else (result, cpu_seconds() - cpu_start)
            cpu[name] = min(cpu.get(name, float("inf")), seconds)
            wall[name] = min(wall.get(name, float("inf")), time.perf_counter() - wall_start)
            scores[name] = score_all(texts, gold)
    n = len(gold)
    print(
        f"{n} gold pages; best of {args.repeat}; speed per CPU-second relative to: {PEER}; "
        f"trafilatura {trafilatura.__version__}; load average before: {os.getloadavg()[0]:.1f}"
    )
    print(
        "| system | precision | recall | F1 | pages per CPU-s | speed vs FineWeb trafilatura | wall pages/s |\n|---|---|---|---|---|---|---|"
    )
    for name, score in scores.items():
        print(
            f"| {name} | {score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f} | {n / cpu[name]:.1f} | "
            f"{cpu[PEER] / cpu[name]:.2f}x | {n / wall[name]:.1f} |"
        )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    WATCHDOG.stop()


if __name__ == "__main__":
    main()
