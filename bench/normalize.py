"""Text repair: curate's `normalize` stage vs datatrove's FTFYFormatter, same documents, same run, one process.

    python -m bench.normalize [--copies 5]

Documents: the web pages and book passages of ../shared/data as real text, and one in ten of
them damaged the commonest way (UTF-8 bytes decoded as Windows-1252: "für" -> "fÃ¼r"). The set
is repeated --copies times for timing. datatrove runs FTFYFormatter.format(text) per document
(ftfy.fix_text on every text, its default settings); curate runs NormalizeStage.process on Arrow
batches of 2048 (the same ftfy settings, plus NFC and its own control-character removal, and
pure-ASCII rows without '&' screened out in Arrow). Outputs are compared text by text on one copy.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from curate.core.schema import make_documents  # noqa: E402
from curate.normalize.stage import NormalizeParams, NormalizeStage  # noqa: E402
from bench.dedup_corpus import book_passages, html_texts, web_texts  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def corpus() -> list[str]:
    texts = html_texts(SHARED) + web_texts(SHARED) + book_passages(SHARED)
    rng = random.Random(0)
    return [t.encode("utf-8").decode("cp1252", errors="ignore") if rng.random() < 0.1 else t for t in texts]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=5)
    args = parser.parse_args()
    from datatrove.pipeline.formatters import FTFYFormatter

    texts = corpus()
    many = texts * args.copies
    formatter = FTFYFormatter()
    start = time.perf_counter()
    theirs = [formatter.format(t) for t in many]
    datatrove_s = time.perf_counter() - start

    stage = NormalizeStage("normalize", NormalizeParams())
    stage.setup()
    table = make_documents([{"id": str(i), "source": "web", "text": t} for i, t in enumerate(many)])
    start = time.perf_counter()
    ours = []
    for offset in range(0, table.num_rows, 2048):
        ours += stage.process(table.slice(offset, 2048)).table["text"].to_pylist()
    curate_s = time.perf_counter() - start

    one = len(texts)
    same = sum(a == b for a, b in zip(ours[:one], theirs[:one]))
    edited = sum(t != o for t, o in zip(theirs[:one], texts))
    print(f"documents: {one} x {args.copies} = {len(many)} ({sum(map(len, many)) / 1e6:.1f} M characters)")
    print(f"datatrove FTFYFormatter: {len(many) / datatrove_s:,.0f} docs/s")
    print(f"curate normalize:        {len(many) / curate_s:,.0f} docs/s  ({datatrove_s / curate_s:.2f}x)")
    print(f"same output: {same}/{one} ({100 * same / one:.2f}%); documents datatrove changed: {edited}")
    for i in [i for i in range(one) if ours[i] != theirs[i]][:5]:
        at = (
            next(k for k, (a, b) in enumerate(zip(ours[i], theirs[i])) if a != b)
            if ours[i][: len(theirs[i])] != theirs[i][: len(ours[i])]
            else min(len(ours[i]), len(theirs[i]))
        )
        print(
            f"  doc {i}: curate {ours[i][max(0, at - 20) : at + 20]!r} / datatrove {theirs[i][max(0, at - 20) : at + 20]!r}"
        )


if __name__ == "__main__":
    main()
