"""PII: the planted forms and near-misses of tests/pii_forms.py, each planted in real pages, and the IPs
taken in real release notes.

    python -m bench.pii_forms [--pages 20]

Each form's sentence is planted in --pages real texts of ../shared/data (web pages and book passages,
at the start, the middle or the end); a placement counts as replaced when every secret is gone and every
kept piece (the URL around an address, the words around it) is still there. The rate per form is
printed with the defaults and with `phones: true`, then the share of forms at 100%. Near-misses: a
placement is wrong when the planted sentence is not in the output verbatim. Last, real release notes:
every Debian changelog and NEWS file under /usr/share/doc on this machine (when there), with the
dotted quads and IPv6 addresses the stage takes in them, grouped by line shape, for a reader to check.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import random
import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from curate.core.schema import make_documents  # noqa: E402
from curate.pii.stage import KINDS, PiiParams, PiiStage  # noqa: E402
from bench.dedup_corpus import book_passages, html_texts  # noqa: E402
from tests.pii_forms import FORMS, NEAR_MISSES, PHONE_FORMS  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def plant(sentence: str, page: str, where: int) -> str:
    cut = (0, len(page) // 2, len(page))[where % 3]
    cut = page.rfind("\n", 0, cut) + 1 if where % 3 == 1 else cut
    return page[:cut] + ("\n" if cut else "") + sentence + "\n" + page[cut:]


def run(stage: PiiStage, texts: list[str]) -> list[str]:
    table = make_documents([{"id": f"d{i}", "source": "web", "text": t} for i, t in enumerate(texts)])
    return stage.process(table).table["text"].to_pylist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    pages = random.Random(0).sample(html_texts(SHARED) + book_passages(SHARED), args.pages)
    stages = {}
    for label, phones in (("defaults", False), ("phones", True)):
        stages[label] = PiiStage("pii", PiiParams(phones=phones))
        stages[label].setup()
    print(f"{'form':<42} {'defaults':>9} {'phones':>7}")
    full = Counter()
    for name, sentence, secrets, kept in FORMS + PHONE_FORMS:
        texts = [plant(sentence, page, i) for i, page in enumerate(pages)]
        rates = []
        for label, stage in stages.items():
            good = sum(not any(s in out for s in secrets) and all(k in out for k in kept) for out in run(stage, texts))
            rates.append(good / len(texts))
            full[label] += good == len(texts)
        print(f"{name:<42} {rates[0]:>9.0%} {rates[1]:>7.0%}")
    for label in stages:
        print(
            f"forms replaced in every placement, {label}: {full[label]}/{len(FORMS) + len(PHONE_FORMS)} "
            f"({full[label] / len(FORMS + PHONE_FORMS):.1%}); of the {len(FORMS)} non-phone forms: "
            f"{full[label] - (label == 'phones') * len(PHONE_FORMS)}"
            if label == "phones"
            else f"forms replaced in every placement, {label}: {full[label]}/{len(FORMS)} non-phone forms ({full[label] / len(FORMS):.1%})"
        )
    wrong = Counter()
    for name, sentence in NEAR_MISSES:
        texts = [plant(sentence, page, i) for i, page in enumerate(pages)]
        for label, stage in stages.items():
            wrong[label] += sum(sentence not in out for out in run(stage, texts)) > 0
    print(
        f"near-misses rewritten in any placement: defaults {wrong['defaults']}/{len(NEAR_MISSES)}, phones {wrong['phones']}/{len(NEAR_MISSES)}"
    )
    release_notes()


def release_notes() -> None:
    files = sorted(glob.glob("/usr/share/doc/*/changelog*.gz") + glob.glob("/usr/share/doc/*/NEWS*.gz"))
    if not files:
        print("release notes: no /usr/share/doc changelogs on this machine")
        return
    taken, chars, shapes = [], 0, Counter()
    for file in files:
        with gzip.open(file, "rt", errors="replace") as f:
            text = f.read()
        chars += len(text)
        for finder in KINDS["pii_ips"].finders:
            for m in finder.pattern.finditer(text):
                if finder.valid(m):
                    line = text[text.rfind("\n", 0, m.start()) + 1 : text.find("\n", m.end())]
                    header = re.match(
                        r"\S+ \(\S+\) [\w-]+(?: [\w-]+)*; urgency=", line
                    )  # Debian's "pkg (version) dist; urgency=" line
                    shapes["debian header 'pkg (1.16.4.3) unstable; urgency='" if header else "other"] += 1
                    if not header:
                        taken.append(line.strip()[:110])
    print(
        f"release notes: {len(files)} Debian changelog/NEWS files, {chars / 1e6:.0f} MB: {sum(shapes.values())} addresses taken"
    )
    for shape, count in shapes.most_common():
        print(f"  {shape}: {count}")
    for line in taken:
        print(f"    {line}")


if __name__ == "__main__":
    main()
