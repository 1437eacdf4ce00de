"""URL blocklist at full size: curate's toxicity stage vs datatrove's URLFilter, same lists, same URLs.

    python -m bench.url_blocklist [--repeat 3] [--checks domains fineweb]

The list is the one datatrove ships in its wheel (assets/url_filterblacklistsv0_3_0.tar.gz:
UT1-derived, 4.56M domains, what FineWeb filtered with); it is unpacked to a temporary folder,
never into the repository. URLs: the real page URLs of ../shared/data/web (WARC records and
JSONL documents), the 19,586 listed URLs of the same tarball, one `www.` URL for each of
10,000 listed domains drawn at random, a `www.` URL for another 10,000, and 20,000 URLs on
unlisted hosts: 59,669 distinct URLs, each once (no host repeats beyond the listed URLs' own), so
curate's per-host cache gets no help it would get from a crawl, where pages of a host come in
runs; it is cleared before each pass. Best of --repeat passes.

Two sets of checks: `domains` (the domain list alone) and `fineweb` (the domain list plus
the banned-word, soft-banned-word and banned-subword lists of datatrove's assets folder, soft
threshold 2: FineWeb's URL filter). Each side runs in its own subprocess (so peak RSS is its
own): curate builds ToxicityStage with `blocklist:` (and the `url_*` lists) and calls
process() on Arrow batches of 2048 documents; datatrove builds URLFilter(extra_domains=...,
banned_words=..., use_integrated_lists=False) and calls filter() per Document (its
tldextract reads the suffix list snapshot bundled with tldextract, no network). Reports list
load time, the memory the lists add, peak RSS, URLs/s, the ratios, and each kind of URL the
two decide differently.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import SHARED, datatrove_documents

BATCH = 2048


WORD_LISTS = {
    "url_banned_words": "banned_words",
    "url_soft_banned_words": "soft_banned_words",
    "url_banned_subwords": "banned_subwords",
}  # curate parameter: datatrove URLFilter argument


def word_list(name: str) -> str:
    from datatrove.utils._import_utils import ASSETS_PATH

    return os.path.join(ASSETS_PATH, f"{name}.txt")


def unpack_datatrove_list(folder: Path) -> tuple[Path, Path]:
    from datatrove.utils._import_utils import ASSETS_PATH

    with tarfile.open(os.path.join(ASSETS_PATH, "url_filterblacklistsv0_3_0.tar.gz"), "r:gz") as tar:
        tar.extractall(folder, filter="data")
    return folder / "domains", folder / "urls"


def shared_page_urls() -> list[str]:
    from warcio.archiveiterator import ArchiveIterator

    urls = []
    for path in sorted((SHARED / "web" / "warc").glob("*.warc.gz")):
        with open(path, "rb") as f:
            try:
                for record in ArchiveIterator(f):
                    if record.rec_type == "response":
                        urls.append(record.rec_headers.get_header("WARC-Target-URI"))
            except Exception:  # the clipped capture ends early: keep what came before
                pass
    for path in sorted((SHARED / "web" / "jsonl").iterdir()):
        with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as f:
            docs = [json.loads(line) for line in f if line.strip()]
        urls += [doc.get("url") or doc.get("metadata", {}).get("url") for doc in docs]
    return [u for u in urls if u]


def workload(domains: Path, listed_urls: Path) -> list[str]:
    rng = random.Random(0)
    names = domains.read_text(encoding="utf-8").split()
    urls = shared_page_urls() + listed_urls.read_text(encoding="utf-8").split()
    urls += [f"https://{d}/index.html" for d in rng.sample(names, 10_000)]
    urls += [f"https://www.{d}/index.html" for d in rng.sample(names, 10_000)]  # a subdomain of a listed one
    urls += [f"https://www.site{rng.randrange(10**9)}.example.org/page/{i}" for i in range(20_000)]
    urls = [u if "://" in u else "http://" + u for u in urls]
    urls = list(dict.fromkeys(urls))
    rng.shuffle(urls)
    return urls


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measured(load_s: float, filter_s: float, reasons: list[str | None], list_mb: float) -> dict:
    """The figures of one side; list_mb is what loading the lists added to resident memory."""
    return {
        "load_s": load_s,
        "filter_s": filter_s,
        "reasons": reasons,
        "list_mb": list_mb,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_curate(domains: str, urls: list[str], repeat: int, fineweb: bool) -> dict:
    import pyarrow as pa

    from curate.core.params import build_params
    from curate.toxicity.blocklist import host_suffixes
    from curate.toxicity.stage import ToxicityParams, ToxicityStage

    before = rss_mb()
    params = {"blocklist": domains, **({key: word_list(name) for key, name in WORD_LISTS.items()} if fineweb else {})}
    stage = ToxicityStage(
        "toxicity", build_params(ToxicityParams, params, "bench")
    )  # checks the lists once, in the parent
    start = time.perf_counter()
    stage.setup()  # what each worker does
    loaded = time.perf_counter()
    list_mb = rss_mb() - before
    batches = [
        pa.table({"text": [""] * len(urls[i : i + BATCH]), "url": urls[i : i + BATCH]})
        for i in range(0, len(urls), BATCH)
    ]
    seconds = []
    for _ in range(repeat):
        host_suffixes.cache_clear()
        begin = time.perf_counter()
        reasons = [reason for batch in batches for reason in stage.process(batch).reasons]
        seconds.append(time.perf_counter() - begin)
    return measured(loaded - start, min(seconds), reasons, list_mb)


def run_datatrove(domains: str, urls: list[str], repeat: int, fineweb: bool) -> dict:
    from datatrove.pipeline.filters import URLFilter
    from tldextract import TLDExtract

    before = rss_mb()
    start = time.perf_counter()
    words = (
        {name: open(word_list(name), encoding="utf-8").read().splitlines() for name in WORD_LISTS.values()}
        if fineweb
        else {}
    )
    with open(domains, encoding="utf-8") as f:
        url_filter = URLFilter(extra_domains=f, use_integrated_lists=False, **words)
    url_filter.tldextractor = TLDExtract(suffix_list_urls=(), cache_dir=None)  # bundled snapshot, offline
    loaded = time.perf_counter()
    list_mb = rss_mb() - before
    docs = datatrove_documents([""] * len(urls), urls)
    seconds = []
    for _ in range(repeat):
        begin = time.perf_counter()
        verdicts = [url_filter.filter(doc) for doc in docs]
        seconds.append(time.perf_counter() - begin)
    return measured(loaded - start, min(seconds), [None if v is True else v[1] for v in verdicts], list_mb)


def side(name: str, domains: str, urls_file: str, out: str, repeat: int, checks: str) -> None:
    urls = json.loads(Path(urls_file).read_text())
    run = run_curate if name == "curate" else run_datatrove
    Path(out).write_text(json.dumps(run(domains, urls, repeat, checks == "fineweb")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--checks", nargs="+", choices=["domains", "fineweb"], default=["domains", "fineweb"])
    parser.add_argument("--side", choices=["curate", "datatrove"], help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        return side(args.side, *args.files, args.repeat, args.checks[0])
    with tempfile.TemporaryDirectory(prefix="url-blocklist-") as tmp:
        domains, listed = unpack_datatrove_list(Path(tmp))
        urls = workload(domains, listed)
        urls_file = Path(tmp) / "urls.json"
        urls_file.write_text(json.dumps(urls))
        listed = sum(1 for _ in open(domains, encoding="utf-8"))
        print(f"{len(urls):,} URLs, {listed:,} listed domains")
        for checks in args.checks:
            results = {}
            for name in ("curate", "datatrove"):
                out = Path(tmp) / f"{name}.json"
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        __spec__.name,
                        "--side",
                        name,
                        "--files",
                        str(domains),
                        str(urls_file),
                        str(out),
                        "--repeat",
                        str(args.repeat),
                        "--checks",
                        checks,
                    ],
                    check=True,
                )
                results[name] = json.loads(out.read_text())
            report(checks, results, urls)


def report(checks: str, results: dict, urls: list[str]) -> None:
    ours, theirs = results["curate"], results["datatrove"]
    print(f"\nchecks: {checks}")
    print(f"{'':10} {'load s':>8} {'list MB':>8} {'peak MB':>8} {'URLs/s':>10} {'blocked':>8}")
    for name, r in results.items():
        print(
            f"{name:10} {r['load_s']:8.2f} {r['list_mb']:8.0f} {r['peak_mb']:8.0f} "
            f"{len(urls) / r['filter_s']:10,.0f} {sum(x is not None for x in r['reasons']):8,}"
        )
    print(
        f"datatrove time / curate time: filter {theirs['filter_s'] / ours['filter_s']:.2f}x, load {theirs['load_s'] / ours['load_s']:.2f}x; "
        f"curate list memory / datatrove's: {ours['list_mb'] / theirs['list_mb']:.2f}x"
    )
    differ = [(u, a, b) for u, a, b in zip(urls, ours["reasons"], theirs["reasons"]) if (a is None) != (b is None)]
    print(f"same decision on {1 - len(differ) / len(urls):.4%} of URLs; {len(differ):,} differ:")
    kinds = Counter((a, b, kind_of(u) if a == "toxicity.url_blocklist" else "") for u, a, b in differ)
    for (a, b, kind), count in kinds.most_common():
        example = next(u for u, x, y in differ if (x, y) == (a, b) and (not kind or kind_of(u) == kind))
        print(
            f"  {count:,} curate {a or 'keeps'}, datatrove {b or 'keeps'}{' (' + kind + ')' if kind else ''}, e.g. {example}"
        )


def kind_of(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host.replace(".", "").isdigit():
        return "a listed IP address: tldextract gives it no domain"
    if host.startswith("www."):
        return "under a listed subdomain: datatrove checks only the host and the registered domain"
    return "other hosts"


if __name__ == "__main__":
    main()
