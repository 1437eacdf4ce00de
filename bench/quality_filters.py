"""Heuristic quality filters: curate's `quality` stage vs datatrove, same documents, same thresholds.

    python -m bench.quality_filters [--repeat 1] [--per-filter]

Documents: every web page of ../shared/data/web (WARC and HTML files through curate's web
extractor, once with its precision settings and once favouring recall with tables and
comments, which keeps more boilerplate; plus the JSONL web documents) and the books,
cut into passages of 80-400 words (hard-wrapped, as the books extractor gives them, plus
every third passage again with each paragraph on one line, as web text comes). Every
document is treated as English (datatrove's filters take one language per filter, its
default English).

datatrove runs GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter ->
FineWebQualityFilter (the FineWeb order; a document stops at its first failure, and C4
rewrites the text the FineWeb filter sees), calling each filter's `filter()` directly
(no pipeline, writer or stats overhead). curate runs QualityStage.process on Arrow
batches of 2048, computing every signal of every document. Both in this one process,
after a warm-up (spaCy's tokenizer loaded). Reports docs/s, the ratio, the fraction of
documents with the same keep/drop decision and, for the others, each side's first
failing rule. --per-filter also compares each filter alone.
"""

from __future__ import annotations

import argparse
import copy
import re
from collections import Counter
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent

from curate.core.schema import make_documents  # noqa: E402
from curate.extract import web  # noqa: E402
from curate.extract.stage import ExtractParams, Rejection  # noqa: E402
from curate.quality.stage import QualityParams, QualityStage  # noqa: E402
from bench.dedup_corpus import book_passages, web_texts  # noqa: E402
from bench.harness import Machine, Results, datatrove_documents, datatrove_reasons, timed  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
BATCH = 2048


def extracted_pages(params: ExtractParams) -> list[str]:
    files = web.list_inputs([str(SHARED / "web" / "warc"), str(SHARED / "web" / "html")], params)
    return [row["text"] for url in files for row in web.read(url, params) if not isinstance(row, Rejection)]


def corpus() -> list[tuple[str, str]]:
    """(kind, text) pairs: web pages and book passages."""
    precision = ExtractParams(source="web")
    recall = ExtractParams(
        source="web", favor_precision=False, include_tables=True, include_comments=True, deduplicate=False
    )
    pages = extracted_pages(precision) + extracted_pages(recall) + web_texts(SHARED)
    passages = book_passages(SHARED)
    unwrapped = [re.sub(r"(?<!\n)\n(?!\n)", " ", p) for p in passages[::3]]  # one line a paragraph, as on the web
    return [("web", t) for t in pages] + [("books", t) for t in passages] + [("books_unwrapped", t) for t in unwrapped]


def datatrove_filters():
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return [
        ("gopher_repetition", GopherRepetitionFilter()),
        ("gopher_quality", GopherQualityFilter()),
        ("c4", C4QualityFilter()),
        ("fineweb", FineWebQualityFilter()),
    ]


def run_datatrove(texts: list[str], filters) -> list[str | None]:
    """Per document, 'filter.reason' of the first failure or None."""
    return datatrove_reasons(filters, datatrove_documents(texts))


def run_curate(texts: list[str], stage: QualityStage) -> list[str | None]:
    reasons = []
    for start in range(0, len(texts), BATCH):
        table = make_documents(
            [{"id": str(i), "source": "web", "text": t} for i, t in enumerate(texts[start : start + BATCH])]
        )
        reasons += list(stage.process(table).reasons)
    return reasons


def compare(kinds, ours, theirs, label: str) -> None:
    same = [(o is None) == (t is None) for o, t in zip(ours, theirs)]
    print(f"\n{label}: same keep/drop decision on {sum(same)}/{len(same)} = {sum(same) / len(same):.1%}")
    for kind in sorted(set(kinds)):
        rows = [s for k, s in zip(kinds, same) if k == kind]
        print(f"  {kind}: {sum(rows)}/{len(rows)} = {sum(rows) / len(rows):.1%}")
    kept_ours, kept_theirs = sum(o is None for o in ours), sum(t is None for t in theirs)
    print(f"  kept: curate {kept_ours}, datatrove {kept_theirs} of {len(ours)}")
    disagreements = Counter((o or "kept", t or "kept") for o, t, s in zip(ours, theirs, same) if not s)
    print("  disagreements (curate's first failing rule | datatrove's):")
    for (o, t), count in disagreements.most_common(12):
        print(f"    {count:5d}  {o:40s} | {t}")


DATATROVE_COUNT = {"alpha_words_of": "tokens"}  # curate's default counts the paper's words (gopher_quality.py)


def per_filter(kinds, texts) -> None:
    """Each filter alone on every document (curate with only that filter enabled)."""
    for name, dt_filter in datatrove_filters():
        theirs = run_datatrove(texts, [(name, dt_filter)])
        only = {f: (f == name) for f in ("gopher_repetition", "gopher_quality", "c4", "fineweb")}
        if only["gopher_quality"]:
            only["gopher_quality"] = DATATROVE_COUNT
        stage = QualityStage("quality", QualityParams(**only))
        stage.setup()
        compare(kinds, run_curate(texts, stage), theirs, f"{name} alone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over the corpus (best is reported)")
    parser.add_argument("--per-filter", action="store_true", help="also compare each filter alone")
    parser.add_argument("--json", help="write the headline ratio here (for python -m bench.compare)")
    args = parser.parse_args()

    docs = corpus()
    kinds, texts = [k for k, _ in docs], [t for _, t in docs]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"{len(texts)} documents ({Counter(kinds)}), {mb:.1f} MB")

    stage = QualityStage("quality", QualityParams(gopher_quality=DATATROVE_COUNT))
    stage.setup()
    filters = datatrove_filters()
    run_datatrove(texts[:20], copy.deepcopy(filters))  # warm-up: load spaCy
    run_curate(texts[:20], stage)

    best = {"curate": float("inf"), "datatrove": float("inf")}
    for _ in range(args.repeat):
        ours, timing = timed(run_curate, texts, stage)
        best["curate"] = min(best["curate"], timing.wall)
        theirs, timing = timed(run_datatrove, texts, filters)
        best["datatrove"] = min(best["datatrove"], timing.wall)
    for tool, seconds in best.items():
        print(f"{tool:10s} {seconds:7.2f} s  {len(texts) / seconds:8.1f} docs/s  {mb / seconds:6.2f} MB/s")
    print(f"ratio curate/datatrove: {best['datatrove'] / best['curate']:.2f}x ({Machine.now()})")
    if args.json:
        results = Results()
        results.add(
            "quality.stage_vs_datatrove",
            best["datatrove"] / best["curate"],
            "docs/s of the quality stage / datatrove's four filters",
        )
        results.write(args.json)
    compare(kinds, ours, theirs, "all four filters")
    print("\nfirst failing rule, all documents:")
    for side, reasons in (("curate", ours), ("datatrove", theirs)):
        print(f"  {side}: {dict(Counter(r or 'kept' for r in reasons).most_common())}")
    if args.per_filter:
        per_filter(kinds, texts)


if __name__ == "__main__":
    main()
