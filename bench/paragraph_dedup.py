"""Paragraph dedup: curate's `paragraph_dedup` stage vs datatrove's sentence dedup (SentenceDedupSignature,
SentenceFindDedups, SentenceDedupFilter), same documents, same run, one worker each.

    python -m bench.paragraph_dedup [--copies 3]

Documents: the extracted pages of the dolma WARC sample, the trafilatura cache pages (extracted by
trafilatura), the CCNet documents and book passages of ../shared/data: real text with real repeated
boilerplate (the allenai.org captures, a blog's disclaimer and sidebar). Each further copy adds new
documents made of real lines: document i of copy k is document i's lines shuffled (new spans) followed
by the last 3 lines of document i+k (a real span repeated elsewhere, as a footer is): edits, not only
whole-copy drops. Both sides use spans of 3 lines (datatrove: split_sentences=False, n_sentences=3) and keep the
first occurrence (datatrove: lowest document index; curate: lowest id, the ids sort as the indices);
datatrove's min_doc_words and min_num_sentences are 0, so only the span removal is compared.
curate runs the whole stage through the runner (Parquet in and out, three phases, one worker process);
datatrove runs its three steps in this process, signatures on local disk.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent

from curate.api import LocalExecutor, Pipeline, Stage  # noqa: E402
from curate.core.schema import make_documents  # noqa: E402
from curate.dedup.paragraphs import line_keys  # noqa: E402
from bench.dedup_corpus import book_passages, html_texts, web_texts  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def warc_texts(tmp: Path) -> list[str]:
    Pipeline.of(str(SHARED / "web" / "warc"), str(tmp / "warc"), [Stage("extract", source="web")]).run(progress=False)
    table = pq.ParquetDataset(sorted((tmp / "warc" / "extract").glob("*.parquet"))).read()
    return [t for t in table["text"].to_pylist() if t]


def corpus(tmp: Path, copies: int) -> list[str]:
    texts = warc_texts(tmp) + html_texts(SHARED) + web_texts(SHARED) + book_passages(SHARED)
    # datatrove counts blank lines as lines of a span, curate skips them: without blank lines the
    # two rules see the same spans (the blank-line difference is described in bench/RESULTS.md)
    texts = ["\n".join(line for line in t.split("\n") if line.strip()) for t in texts]
    mixed = []
    for k in range(1, copies):
        for i, text in enumerate(texts):
            lines = text.split("\n")
            random.Random(k * 1_000_003 + i).shuffle(lines)
            mixed.append("\n".join(lines + texts[(i + k) % len(texts)].split("\n")[-3:]))
    return texts + mixed


def run_datatrove(texts: list[str], work: Path) -> tuple[dict[str, str], float]:
    from datatrove.data import Document
    from datatrove.pipeline.dedup.sentence_dedup import (
        SentDedupConfig,
        SentenceDedupFilter,
        SentenceDedupSignature,
        SentenceFindDedups,
    )

    config = SentDedupConfig(n_sentences=3, split_sentences=False, min_doc_words=0, min_num_sentences=0)
    docs = lambda: (Document(text=t, id=f"{i:08d}") for i, t in enumerate(texts))  # noqa: E731
    start = time.perf_counter()
    SentenceDedupSignature(str(work / "sigs"), config=config).run(docs(), rank=0, world_size=1)
    SentenceFindDedups(str(work / "sigs"), str(work / "dups"), config=config).run(rank=0, world_size=1)
    kept = {
        d.id: d.text for d in SentenceDedupFilter(str(work / "dups"), config=config).run(docs(), rank=0, world_size=1)
    }
    return kept, time.perf_counter() - start


def run_curate(texts: list[str], work: Path) -> tuple[dict[str, str], float]:
    (work / "in").mkdir(parents=True)
    table = make_documents([{"id": f"{i:08d}", "source": "web", "text": t} for i, t in enumerate(texts)])
    per = 2000
    for s, offset in enumerate(range(0, table.num_rows, per)):
        pq.write_table(table.slice(offset, per), work / "in" / f"part-{s:03d}.parquet")
    executor = LocalExecutor(1)
    start = time.perf_counter()
    try:
        Pipeline.of(str(work / "in"), str(work / "out"), [Stage("paragraph_dedup")]).run(executor, progress=False)
    finally:
        executor.close()
    seconds = time.perf_counter() - start
    out = pq.ParquetDataset(sorted((work / "out" / "paragraph_dedup").glob("*.parquet"))).read()
    return dict(zip(out["id"].to_pylist(), out["text"].to_pylist())), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_paragraph_dedup_"))
    try:
        texts = corpus(tmp, args.copies)
        theirs, datatrove_s = run_datatrove(texts, tmp / "datatrove")
        ours, curate_s = run_curate(texts, tmp / "curate")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ids = [f"{i:08d}" for i in range(len(texts))]
    norm = lambda t: "\n".join(line for line in (t or "").split("\n") if line.strip())  # noqa: E731 - blank lines aside
    same = sum(norm(ours.get(i)) == norm(theirs.get(i)) for i in ids)
    edited_theirs = {i for i, t in zip(ids, texts) if theirs.get(i) != t}
    edited_ours = {i for i, t in zip(ids, texts) if ours.get(i) != t}
    decisions = sum((i in edited_ours) == (i in edited_theirs) for i in ids)
    print(f"documents: {len(texts)} ({sum(map(len, texts)) / 1e6:.1f} M characters), copies {args.copies}")
    print(f"datatrove sentence dedup (3 steps): {len(texts) / datatrove_s:,.0f} docs/s ({datatrove_s:.1f} s)")
    print(
        f"curate paragraph_dedup (runner):    {len(texts) / curate_s:,.0f} docs/s ({curate_s:.1f} s, "
        f"{datatrove_s / curate_s:.2f}x)"
    )
    print(
        f"edited or dropped: datatrove {len(edited_theirs)}, curate {len(edited_ours)}; same decision "
        f"{decisions}/{len(ids)} ({100 * decisions / len(ids):.2f}%); same text {same}/{len(ids)} ({100 * same / len(ids):.2f}%)"
    )
    print(f"dropped (left empty): datatrove {len(ids) - len(theirs)}, curate {len(ids) - len(ours)}")
    differ = [i for i in ids if norm(ours.get(i)) != norm(theirs.get(i))]
    inside = [i for i in differ if repeats_inside(texts[int(i)])]
    print(
        f"different text: {len(differ)} documents; {len(inside)} of them repeat a span inside themselves "
        f"(datatrove cuts the later copy, curate counts documents and keeps the owner whole)"
    )
    for i in [i for i in differ if i not in inside][:5]:
        mine, their = set((ours.get(i) or "").split("\n")), set((theirs.get(i) or "").split("\n"))
        print(
            f"  doc {i}: curate {len(ours.get(i) or '')} chars, datatrove {len(theirs.get(i) or '')}, input "
            f"{len(texts[int(i)])}; cut by datatrove only {[g[:30] for g in sorted(mine - their)[:3]]}, "
            f"by curate only {[g[:30] for g in sorted(their - mine)[:3]]}"
        )


def repeats_inside(text: str) -> bool:
    keys = line_keys(text)[0]
    windows = ["\n".join(keys[j : j + 3]) for j in range(len(keys) - 2)]
    return len(set(windows)) < len(windows)


if __name__ == "__main__":
    main()
