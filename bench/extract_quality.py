"""Main-text quality and speed per engine on the 106 gold pages, beside the peers, one run.

Gold: ../shared/data/web/html/trafilatura_cache_gold.json (trafilatura's evaluation
snippets for the pages in trafilatura_cache/), scored as trafilatura's tests/eval_common.py
scores (curate.extract.engines_gold). Every system gets the same decoded HTML string
(curate's charset handling), one page at a time. Speed is pages per CPU-second (this process
plus any extraction process it waits on: per core, and robust to other jobs on a shared
machine), best of `--repeat` rounds, systems interleaved within a round; wall-clock
pages/s beside it. curate's in-process rows start each round with empty per-key memories
(first_sight()), so repeating the same pages does not make them look faster.

Systems: curate's engines (in this process, and trafilatura also through the watchdog
process the extract stage uses; and once with trafilatura's own tree walks instead of
curate/extract/engines_walks.py, to show that change in the same run); trafilatura favor_precision with tables on (FineWeb) and
off (curate's old web.yaml), and with no_fallback (stock, and with curate's faster discard
XPaths: the floor of any engine that runs trafilatura's main pass on every page); resiliparse main_content; datatrove's
Trafilatura step exactly as FineWeb configures it (defaults: favour_precision, 1 s timeout
in its sandbox process, deduplicate, tables on).

    python bench/extract_quality.py [--repeat 2]
    python bench/extract_quality.py --profile   # where the default engine's time goes
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import trafilatura  # noqa: E402
from resiliparse.extract.html2text import extract_plain_text  # noqa: E402

from curate.extract import engines_walks, engines_xpath  # noqa: E402
from curate.extract.engines import EngineOptions, extract_main_text, new_file  # noqa: E402
from curate.extract.engines_gold import load_gold, score_all  # noqa: E402
from curate.extract.engines_watchdog import Watchdog  # noqa: E402
from curate.extract.engines_xpath import faster_trafilatura  # noqa: E402
from curate.extract.web import decode_page  # noqa: E402

PAGES = REPO.parent / "shared" / "data" / "web" / "html" / "trafilatura_cache"
GOLD = PAGES.parent / "trafilatura_cache_gold.json"


def first_sight() -> None:
    """Empties curate's per-key memories (discard tests, readability's class/id regexes), so each
    round answers its pages as if seen for the first time; otherwise best-of-rounds measures
    lookups of keys the previous round stored (up to ~1.3x faster on these same 106 pages)."""
    engines_xpath.forget()
    engines_walks.unlikely.cache_clear()


def curate_engine(engine: str, **settings):
    options = EngineOptions(engine=engine, **settings)

    def run(pages):
        first_sight()
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
    best-of-rounds leaves them out. (Its memories are not emptied between rounds: this row
    answers pages seen before, unlike the in-process curate rows.)"""
    if WATCHDOG.process is None:
        WATCHDOG.start()
    options, out = EngineOptions(), {}
    child_start, own_start = cpu_seconds(WATCHDOG.process.pid), time.process_time()
    for name, html in pages.items():
        WATCHDOG.new_file()
        out[name] = WATCHDOG.extract(html, options, 10.0)[0]
    return out, cpu_seconds(WATCHDOG.process.pid) - child_start + time.process_time() - own_start


def stock_walks(system):
    """The same engine with trafilatura's own tree walks (without curate/extract/engines_walks.py)."""
    def run(pages):
        before, engines_walks.FAITHFUL = engines_walks.FAITHFUL, False
        try:
            return system(pages)
        finally:
            engines_walks.FAITHFUL = before
    return run


def trafilatura_direct(**settings):
    def run(pages):
        return {name: trafilatura.extract(html, favor_precision=True, include_comments=False, **settings) for name, html in pages.items()}
    return run


def no_fallback_fast_xpaths(pages):
    """The floor of any engine that runs trafilatura's main pass on every page."""
    first_sight()
    with faster_trafilatura():
        return trafilatura_direct(no_fallback=True)(pages)


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
    "curate engine=auto": curate_engine("auto"),
    "curate engine=trafilatura, deduplicate: false": curate_engine("trafilatura", deduplicate=False),
    "curate engine=trafilatura, deduplicate: false, trafilatura's own tree walks": stock_walks(curate_engine("trafilatura", deduplicate=False)),
    "curate engine=auto, deduplicate: false": curate_engine("auto", deduplicate=False),
    "curate engine=resiliparse": curate_engine("resiliparse"),
    "trafilatura favor_precision, tables on (FineWeb)": trafilatura_direct(),
    "trafilatura favor_precision, tables off (old web.yaml)": trafilatura_direct(include_tables=False),
    "trafilatura favor_precision, no_fallback": trafilatura_direct(no_fallback=True),
    "trafilatura favor_precision, no_fallback, with curate's faster XPaths and parser": no_fallback_fast_xpaths,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="instead: where curate's default engine spends its time")
    args = parser.parse_args()
    gold = load_gold(GOLD)
    pages = {entry["file"]: decode_page({}, (PAGES / entry["file"]).read_bytes(), None) for entry in gold}
    if args.profile:
        return profile(curate_engine("trafilatura"), pages)
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
    print(f"{n} gold pages; best of {args.repeat}; speed per CPU-second relative to: {PEER}")
    print("| system | precision | recall | F1 | pages per CPU-s | speed vs FineWeb trafilatura | wall pages/s |\n|---|---|---|---|---|---|---|")
    for name, score in scores.items():
        print(f"| {name} | {score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f} | {n / cpu[name]:.1f} | "
              f"{cpu[PEER] / cpu[name]:.2f}x | {n / wall[name]:.1f} |")
    WATCHDOG.stop()


if __name__ == "__main__":
    main()
