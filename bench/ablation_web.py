"""Is curation better per token? Curated web text (pipelines/web.yaml as shipped) against the same crawl only
extracted (the web pipeline's extract stage output: every language, no quality filter, no dedup), each mixed
50/50 with the same two books, equal tokens, one tokenizer, 3 seeds; scored on held-out clean text no arm saw:
Pride and Prejudice (not among the training books), CCNet/dolma "cc_en_head" web documents (not in the crawl
the arms were curated from) and two tasks built from Pride and Prejudice paragraphs: the true continuation
against passages of other paragraphs, and against its own words shuffled (train/tasks.py).

    python bench/ablation_web.py prepare --work out/ablation-web     # pipelines, tokenizer, shards, manifests
    train ablate ablations/curated-vs-extracted.yaml                  # 2 arms x 3 seeds, then the comparison

`prepare` writes out/ablation-web/{curated,extracted}.yaml and the held-out files that
ablations/curated-vs-extracted.yaml names. Everything is resumable (existing outputs are kept).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
TRAIN_BOOKS = ["en_moby_dick_pg2701.txt", "en_alice_pg11.txt"]
HELD_OUT_BOOK = "en_pride_and_prejudice_pg1342.txt"
SEQ_LEN = 128


def curate(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "curate.cli", *args, "--no-progress"], check=True, cwd=REPO,
                   env=dict(os.environ, PYTHONPATH=str(REPO)))


def tokenize(folder: Path, tokenizer: Path, out: Path) -> Path:
    from curate.api import make_executor
    from curate.core.pipeline import Pipeline
    from curate.core.runner import run_pipeline
    from curate.tokenize.stage import TokenizeParams, TokenizeStage
    if not (out / "tokenize" / "train" / "tokens.json").exists():
        params = TokenizeParams(tokenizer=str(tokenizer), validation_fraction=0.0, min_validation_docs=0)
        pipeline = Pipeline(out.name, "(ablation)", [str(folder)], str(out), [TokenizeStage("tokenize", params)])
        run_pipeline(pipeline, make_executor("local", 1), progress=False)
    return out / "tokenize" / "train"


def book_paragraphs(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    start, end = text.find("*** START"), text.find("*** END")
    body = text[text.find("\n", start) + 1:end] if start >= 0 and end > start else text
    return [p for p in (re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", body)) if len(p) > 40]


def prepare(work: Path) -> None:
    from curate.tokenize.bpe import train_tokenizer
    from train.tasks import continuation_task, write_task
    work.mkdir(parents=True, exist_ok=True)
    web, books = work / "web", work / "books"
    if not (web / "toxicity").exists():
        curate("run", "pipelines/web.yaml", "--output", str(web))
    if not (books / "dedup").exists():
        inputs = [arg for name in TRAIN_BOOKS for arg in ("--input", str(SHARED / "books" / name))]
        curate("run", "pipelines/books.yaml", *inputs, "--output", str(books))
    tokenizer = work / "tokenizer" / "tokenizer.json"
    if not tokenizer.exists():   # one tokenizer for both arms, trained on everything they draw from
        train_tokenizer([str(web / "extract"), str(web / "toxicity"), str(books / "dedup")], str(tokenizer),
                        vocab_size=4096, sample_bytes=50_000_000)
    dirs = {"curated": tokenize(web / "toxicity", tokenizer, work / "tok-web-curated"),
            "extracted": tokenize(web / "extract", tokenizer, work / "tok-web-extracted"),
            "books": tokenize(books / "dedup", tokenizer, work / "tok-books")}
    for arm in ("curated", "extracted"):
        manifest = {"name": f"web-{arm}-plus-books", "tokenizer": {"path": "tokenizer/tokenizer.json"},
                    "seq_len": SEQ_LEN, "seed": 1234, "total_tokens": 102_400,   # = the ablation budget
                    "sources": [{"name": "web", "path": os.path.relpath(dirs[arm], work), "weight": 0.5},
                                {"name": "books", "path": os.path.relpath(dirs["books"], work), "weight": 0.5}]}
        (work / f"{arm}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    held = work / "held_out"
    held.mkdir(exist_ok=True)
    paragraphs = book_paragraphs((SHARED / "books" / HELD_OUT_BOOK).read_text(encoding="utf-8"))
    (held / "pride_and_prejudice.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    with open(held / "cc_en_head.jsonl", "w", encoding="utf-8") as out:
        for path in sorted((SHARED / "web" / "jsonl").glob("dolma_cc_en_head-*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                out.write(json.dumps({"text": json.loads(line)["text"]}, ensure_ascii=False) + "\n")
    # documents of ~8 paragraphs, so distractors come from elsewhere in the novel
    docs = [" ".join(paragraphs[i:i + 8]) for i in range(0, len(paragraphs), 8)]
    write_task(continuation_task(docs, examples=300, choices=4, seed=0), held / "continuation.jsonl")
    write_task(continuation_task(docs, examples=300, choices=4, seed=0, distractors="shuffled"), held / "word_order.jsonl")
    print(f"prepared {work}: manifests curated.yaml, extracted.yaml; held-out sets in {held}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["prepare"])
    parser.add_argument("--work", default=str(REPO / "out" / "ablation-web"))
    args = parser.parse_args()
    prepare(Path(args.work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
