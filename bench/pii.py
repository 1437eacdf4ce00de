"""PII: curate's `pii` stage vs datatrove's PIIFormatter, same documents, same run, one process.

    python -m bench.pii [--copies 20]

Documents: the web pages of ../shared/data (HTML through trafilatura, the JSONL web documents) and
book passages, as real text; a third of them get a planted line with a personal address and a
public IP ("Write to jane.roe7@mail.example.net from 93.184.216.8."), and 100 more copies of pages
get a precision trap instead: a version string and a private IP ("firmware version 4.19.2.1 on
192.168.0.1"); agreement is reported for the two groups apart. The corpus is repeated --copies
times for timing. datatrove runs PIIFormatter.format(text) per document (as its pipeline does);
curate runs PiiStage.process on Arrow batches of 2048. Edits are compared as the set of
(start, end, kind) spans each side replaces in each document of one copy.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


from curate.core.schema import make_documents  # noqa: E402
from curate.pii.stage import KINDS, PiiParams, PiiStage  # noqa: E402
from bench.dedup_corpus import book_passages, html_texts, web_texts  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
PLANTED = "Write to {name}@mail.example.net from 93.184.216.{i}."
TRAP = "Install firmware version 4.19.2.{i} on the router at 192.168.0.{i}."


def corpus() -> tuple[list[str], list[str]]:
    """Real texts (a third with a planted address and IP), and 100 pages with a precision trap."""
    texts = html_texts(SHARED) + web_texts(SHARED) + book_passages(SHARED)
    rng = random.Random(0)
    planted = [
        t + "\n" + PLANTED.format(name=f"jane.roe{i}", i=i % 250 + 1) if rng.random() < 1 / 3 else t
        for i, t in enumerate(texts)
    ]
    return planted, [t + "\n" + TRAP.format(i=i + 1) for i, t in enumerate(texts[:100])]


def curate_spans(texts: list[str]) -> list[set]:
    found = []
    for text in texts:
        spans = set()
        for column in ("pii_emails", "pii_ips"):
            for finder in KINDS[column].finders:
                spans |= {(m.start(), m.end(), column) for m in finder.pattern.finditer(text) if finder.valid(m)}
        found.append(spans)
    return found


def datatrove_spans(formatter, texts: list[str]) -> list[set]:
    found = []
    for text in texts:
        spans = set()
        for replacer, kind in ((formatter.emails_replacer, "pii_emails"), (formatter.ip_replacer, "pii_ips")):
            spans |= {
                (m.start(), m.end(), kind)
                for m in replacer.regex.finditer(text)
                if not replacer.validator or replacer.validator(m.group(0))
            }
        found.append(spans)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    from datatrove.pipeline.formatters import PIIFormatter

    texts, traps = corpus()
    many = (texts + traps) * args.copies
    formatter = PIIFormatter()
    start = time.perf_counter()
    for text in many:
        formatter.format(text)
    datatrove_s = time.perf_counter() - start

    stage = PiiStage("pii", PiiParams())
    stage.setup()
    table = make_documents([{"id": f"d{i}", "source": "web", "text": t} for i, t in enumerate(many)])
    start = time.perf_counter()
    for offset in range(0, table.num_rows, 2048):
        stage.process(table.slice(offset, 2048))
    curate_s = time.perf_counter() - start

    mb = sum(map(len, many)) / 1e6
    print(f"documents: {len(texts) + len(traps)} x {args.copies} = {len(many)} ({mb:.1f} MB of text)")
    print(f"datatrove PIIFormatter: {len(many) / datatrove_s:,.0f} docs/s")
    print(f"curate pii:             {len(many) / curate_s:,.0f} docs/s  ({datatrove_s / curate_s:.2f}x)")
    for label, group in (("real + planted addresses", texts), ("precision traps", traps)):
        ours, theirs = curate_spans(group), datatrove_spans(formatter, group)
        same = sum(a == b for a, b in zip(ours, theirs))
        edits = sum(map(len, theirs))
        only_theirs = sorted({(text[s:e], k) for text, a, b in zip(group, ours, theirs) for s, e, k in b - a})
        only_ours = sorted({(text[s:e], k) for text, a, b in zip(group, ours, theirs) for s, e, k in a - b})
        print(
            f"{label}: same edits in {same}/{len(group)} documents ({100 * same / len(group):.2f}%), datatrove edits {edits}"
        )
        print(f"  only datatrove: {len(only_theirs)} {only_theirs[:5]}")
        print(f"  only curate: {len(only_ours)} {only_ours[:5]}")


if __name__ == "__main__":
    main()
