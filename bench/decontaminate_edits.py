"""Decontamination of edited benchmark copies: how many lightly edited GSM8K test items planted in real
pages the `decontaminate` stage finds, with and without the coverage rule, and what it costs on clean text.

    python -m bench.decontaminate_edits [--items 300]

Benchmark: GSM8K test (1,319 items; question and answer each an item, calculator notes removed).
Edited copies, each planted in the middle of a real page of ../shared/data (seeded): one word in 12
edited, never 13 unchanged words in a row (the start offset drawn at random, then an edit after
every 8 to 12 unchanged words, mean about 1 in 11):
- substitute: the word replaced by another GSM8K word;
- insert: a GSM8K word inserted;
- delete: the word deleted;
- mixed: substitute, insert or delete at random;
- numbers: every number changed (the usual "new numbers, same problem" copy) plus the mixed edits:
  heavier than one word in 12, reported apart from the goal's aggregate;
- answer: the worked answer as a page shows it (no <<...>> notes), with the mixed edits.
Clean text: every real page and book passage (none may be dropped), and GSM8K's train items, 7,473
problems of the same kind and style but other problems, each question and each question + answer as
a page: the share dropped is the false-positive rate on the nearest text a benchmark has. The
coverage printed per kind is the median share of the item's words in shared 8-grams; the rule's
threshold (0.5) is compared with the clean items' highest coverages.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

from curate.core.params import build_params  # noqa: E402
from curate.core.schema import make_documents  # noqa: E402
from curate.decontaminate.stage import DecontaminateParams, DecontaminateStage, as_shown  # noqa: E402
from bench.dedup_corpus import book_passages, html_texts, web_texts  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
GSM8K = SHARED / "quality" / "positives" / "gsm8k"


def edit(text: str, rng: random.Random, vocabulary: list[str], how: str) -> str:
    words = text.split()
    out, gap = [], rng.randint(0, 11)
    for word in words:
        if gap > 0:
            out.append(word)
            gap -= 1
            continue
        kind = how if how in ("substitute", "insert", "delete") else rng.choice(("substitute", "insert", "delete"))
        if kind == "substitute":
            out.append(rng.choice([v for v in vocabulary[:50] if v.lower() != word.lower()]))
        elif kind == "insert":
            out += [word, rng.choice(vocabulary)]
        gap = rng.randint(8, 12)
    return " ".join(out)


def renumber(text: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.randint(1, 9)), text)


KINDS = {
    "substitute": lambda q, a, rng, v: edit(q, rng, v, "substitute"),
    "insert": lambda q, a, rng, v: edit(q, rng, v, "insert"),
    "delete": lambda q, a, rng, v: edit(q, rng, v, "delete"),
    "mixed": lambda q, a, rng, v: edit(q, rng, v, "mixed"),
    "numbers": lambda q, a, rng, v: edit(renumber(q, rng), rng, v, "mixed"),
    "answer": lambda q, a, rng, v: edit(as_shown(a), rng, v, "mixed"),
}


def stage(coverage: float | None) -> DecontaminateStage:
    spec = {"name": "gsm8k", "path": str(GSM8K / "test.jsonl"), "fields": ["question", "answer"]}
    result = DecontaminateStage(
        "decontaminate", build_params(DecontaminateParams, {"benchmarks": [spec], "coverage": coverage}, "bench")
    )
    result.setup()
    return result


def judge(stage: DecontaminateStage, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    dropped, shares = [], []
    for offset in range(0, len(texts), 2048):
        verdict = stage.process(
            make_documents(
                [{"id": str(i), "source": "web", "text": t} for i, t in enumerate(texts[offset : offset + 2048])]
            )
        )
        dropped += [r is not None for r in verdict.reasons]
        shares += verdict.table["decontaminate_coverage"].to_pylist()
    return np.array(dropped), np.array(shares)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=300)
    args = parser.parse_args()
    test = [json.loads(line) for line in (GSM8K / "test.jsonl").open()]
    train = [json.loads(line) for line in (GSM8K / "train.jsonl").open()]
    vocabulary = sorted({w for item in train[:500] for w in item["question"].split() if w.isalpha()})
    pages = html_texts(SHARED) + web_texts(SHARED) + book_passages(SHARED)
    rng = random.Random(0)
    sample = rng.sample(test, args.items)
    stages = {"13-gram only": stage(None), "13-gram + coverage 0.5": stage(0.5)}
    print(f"{'kind':<12} {'items':>5} {'median coverage':>16} " + " ".join(f"{name:>24}" for name in stages))
    caught = {name: [] for name in stages}
    for kind, make in KINDS.items():
        texts = []
        for i, item in enumerate(sample):
            page = pages[i % len(pages)]
            middle = page.rfind("\n", 0, len(page) // 2) + 1
            texts.append(page[:middle] + make(item["question"], item["answer"], rng, vocabulary) + "\n" + page[middle:])
        row = []
        for name, s in stages.items():
            dropped, shares = judge(s, texts)
            if kind != "numbers":
                caught[name] += list(dropped)
            row.append(f"{dropped.mean():>24.1%}")
        print(f"{kind:<12} {len(texts):>5} {np.median(shares):>16.2f} " + " ".join(row), flush=True)
    print(
        f"{'1 in 12':<12} {len(caught[next(iter(stages))]):>5} {'':>16} "
        + " ".join(f"{np.mean(v):>24.1%}" for v in caught.values())
    )
    clean = {
        "real pages and book passages": pages,
        "GSM8K train questions": [t["question"] for t in train],
        "GSM8K train question + answer": [t["question"] + "\n" + as_shown(t["answer"]) for t in train],
    }
    for label, texts in clean.items():
        row = []
        for name, s in stages.items():
            dropped, shares = judge(s, texts)
            row.append(f"{name}: {dropped.sum()} dropped")
        top = np.sort(shares)[-4:][::-1]
        print(
            f"clean, {label} ({len(texts)}): "
            + "; ".join(row)
            + f"; highest coverages {', '.join(f'{x:.2f}' for x in top)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
