"""Held-out sets of different kinds for ablations, built offline from the shared sample, each kept apart from the
training text: a held-out document that shares any 12-word sequence with a training source is dropped (and
counted), so no arm can have seen it.

| set | kind | source (../shared/data) | why it is not in training |
|---|---|---|---|
| books | 19th-century novel | Pride and Prejudice (Gutenberg) | the arms train on Moby-Dick and Alice only |
| web | English web pages | dolma cc_en_head JSONL (CCNet) | a different crawl from web/warc + web/html |
| math | maths word problems with worked answers | gsm8k test split | no arm draws from quality/positives |
| instructions | instructions with answers | self_instruct user-oriented tasks | same |
| technical | technical prose with code | The Rust Programming Language chapters | same |
| talk | discussion comments | Jigsaw Wikipedia talk comments, the clean (label 0) half | no arm draws from toxicity/ |

Each set is written as JSONL ({"text"}) to HELD/NAME.jsonl; HELD/overlap.json records per set the documents
read, dropped for a 12-word overlap, and kept.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

SHINGLE = 12  # words: the overlap checks of GPT-3 / the Pile use 13; 12 is stricter
MAX_DOCS = 400  # per set: more than the final evaluation scores (it stops at its token budget)


def book_paragraphs(text: str) -> list[str]:
    """A Gutenberg book's paragraphs, without the licence header and footer."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    start, end = text.find("*** START"), text.find("*** END")
    body = text[text.find("\n", start) + 1 : end] if start >= 0 and end > start else text
    return [p for p in (re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", body)) if len(p) > 40]


def _jsonl(path: Path):
    with open(path, encoding="utf-8") as f:
        yield from (json.loads(line) for line in f if line.strip())


def _books(shared: Path):
    paragraphs = book_paragraphs((shared / "books" / "en_pride_and_prejudice_pg1342.txt").read_text(encoding="utf-8"))
    return ["\n\n".join(paragraphs[i : i + 8]) for i in range(0, len(paragraphs), 8)]


def _web(shared: Path):
    return [
        row["text"]
        for path in sorted((shared / "web" / "jsonl").glob("dolma_cc_en_head-*.jsonl"))
        for row in _jsonl(path)
    ]


def _math(shared: Path):
    return [
        f"{r['question']}\n{r['answer']}" for r in _jsonl(shared / "quality" / "positives" / "gsm8k" / "test.jsonl")
    ]


def _instructions(shared: Path):
    rows = _jsonl(shared / "quality" / "positives" / "self_instruct" / "user_oriented_instructions.jsonl")
    return [
        "\n".join([r["instruction"]] + [part for i in r["instances"] for part in (i["input"], i["output"]) if part])
        for r in rows
    ]


def _technical(shared: Path):
    return [
        p.read_text(encoding="utf-8")
        for p in sorted((shared / "quality" / "positives" / "rust_book" / "src").glob("ch*.md"))
    ]


def _talk(shared: Path):
    with open(shared / "toxicity" / "jigsaw_robtest" / "jigsaw_binary_balanced.csv", encoding="utf-8", newline="") as f:
        return [text for text, label in csv.reader(f) if label == "0" and len(text.split()) >= 20]


SETS = {
    "books": _books,
    "web": _web,
    "math": _math,
    "instructions": _instructions,
    "technical": _technical,
    "talk": _talk,
}


def shingles(text: str) -> set[int]:
    words = re.findall(r"\w+", text.lower())
    return {hash(" ".join(words[i : i + SHINGLE])) for i in range(len(words) - SHINGLE + 1)}


def training_shingles(texts) -> set[int]:
    seen: set[int] = set()
    for text in texts:
        seen |= shingles(text)
    return seen


def write_held_out(shared: Path, held: Path, training_texts) -> dict:
    """Build every set, drop documents that overlap the training text, write HELD/NAME.jsonl and overlap.json."""
    held.mkdir(parents=True, exist_ok=True)
    seen = training_shingles(training_texts)
    record = {}
    for name, build in SETS.items():
        docs = build(shared)[:MAX_DOCS]
        kept = [d for d in docs if not (shingles(d) & seen)]
        with open(held / f"{name}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in kept)
        record[name] = {"read": len(docs), "dropped_for_overlap": len(docs) - len(kept), "kept": len(kept)}
    (held / "overlap.json").write_text(json.dumps({"shingle_words": SHINGLE, "sets": record}, indent=1) + "\n")
    return record
