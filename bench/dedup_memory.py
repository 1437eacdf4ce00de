"""The dedup stage's announced memory estimate against its real peak, at a few corpus sizes.

    python -m bench.dedup_memory [--workers 2] [--docs 10000 100000]

Corpora: the books of ../shared/data, one document per file (few, long documents); the book
passages and web documents of dedup_quality's corpus (thousands of medium documents, 4 shards);
400 slices of 250 kB of the concatenated books (100 MB of long documents, 4 shards);
short documents as in dedup_scale.py (8 shards). Each run is the real `dedup` stage through the
pipeline runner in a subprocess; the estimate is what the stage prints before it starts (the
busiest parallel phase, driver included) and, once the candidate pairs are known, what the
components phase needs; the measured peak is the summed RSS of the subprocess and its workers,
sampled every 0.05 s.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

from bench import dedup_corpus  # noqa: E402
from bench import dedup_quality  # noqa: E402
from bench import dedup_scale  # noqa: E402

from curate.core.schema import doc_id, make_documents  # noqa: E402


def books_corpus(shared: Path, folder: Path) -> None:
    rows = [
        {"id": doc_id("books", p.name), "source": "books", "text": p.read_text(encoding="utf-8-sig")}
        for p in sorted((shared / "books").glob("*.txt"))
    ]
    dedup_quality.write_shards(make_documents(rows), folder, 1)


def passages_corpus(shared: Path, folder: Path) -> None:
    texts = [("books", t) for t in dedup_corpus.book_passages(shared)] + [
        ("web", t) for t in dedup_corpus.web_texts(shared)
    ]
    rows = [{"id": doc_id(source, str(i)), "source": source, "text": t} for i, (source, t) in enumerate(texts)]
    dedup_quality.write_shards(make_documents(rows), folder, 4)


def long_corpus(shared: Path, folder: Path, docs: int = 400, length: int = 250_000) -> None:
    """Long documents: random 250 kB slices of the concatenated books (about 100 MB of text)."""
    books = "\n\n".join(p.read_text(encoding="utf-8-sig") for p in sorted((shared / "books").glob("*.txt")))
    rng = random.Random(0)
    starts = [rng.randrange(len(books) - length) for _ in range(docs)]
    rows = [
        {"id": doc_id("books", str(i)), "source": "books", "text": books[s : s + length]} for i, s in enumerate(starts)
    ]
    dedup_quality.write_shards(make_documents(rows), folder, 4)


def measure(input_dir: Path, work: Path, workers: int) -> dict:
    command = [sys.executable, "-m", __spec__.name, "--child", str(input_dir), str(work), str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, stop = 0, threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, dedup_scale.tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(stderr[-3000:])
    parallel = float(re.search(r"peak memory: ([\d.]+) GiB", stdout).group(1))
    components = float(re.search(r"components need about ([\d.]+) GiB", stdout).group(1))
    docs, text = re.search(r"dedup plan: ([\d,]+) documents, ([\d,.]+) MB", stdout).groups()
    return {
        "docs": int(docs.replace(",", "")),
        "text_mb": float(text.replace(",", "")),
        "parallel_gib": parallel,
        "components_gib": components,
        "peak_gib": peak / 2**30,
    }


def child(input_dir: str, work: str, workers: str) -> None:
    from curate.core.executor import LocalExecutor
    from curate.core.pipeline import load_pipeline
    from curate.api import run_pipeline

    yaml = Path(work) / "dedup.yaml"
    yaml.write_text(f"name: memory\ninput: {input_dir}\noutput: {Path(work) / 'out'}\nstages:\n  - stage: dedup\n")
    executor = LocalExecutor(int(workers))
    try:
        run_pipeline(load_pipeline(str(yaml)), executor, progress=False)
    finally:
        executor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--docs", type=int, nargs="*", default=[10_000, 100_000], help="short-document corpus sizes")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    shared = Path(args.shared)
    corpora = [
        ("books, one document per file", lambda f: books_corpus(shared, f)),
        ("book passages + web documents", lambda f: passages_corpus(shared, f)),
        ("long documents (250 kB slices of the books)", lambda f: long_corpus(shared, f)),
    ]
    corpora += [("short documents", lambda f, n=n: dedup_scale.build_corpus(shared, n, f)) for n in args.docs]
    print(
        "| corpus | documents | text MB | estimate: parallel phases GiB | estimate: components GiB | "
        "measured peak RSS GiB | estimate / measured |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, build in corpora:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp) / "input")
            r = measure(Path(tmp) / "input", Path(tmp), args.workers)
        estimate = max(r["parallel_gib"], r["components_gib"])
        print(
            f"| {name} | {r['docs']:,} | {r['text_mb']:,.1f} | {r['parallel_gib']:.2f} | {r['components_gib']:.2f} | "
            f"{r['peak_gib']:.2f} | {estimate / r['peak_gib']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main()
