"""Decontamination: curate's `decontaminate` stage vs datatrove's NGramsDecontFilter, same run, one process.

    python -m bench.decontaminate [--copies 3]

Benchmark: GSM8K test (../shared/data/quality/positives/gsm8k/test.jsonl, 1,319 items), question
and answer each indexed on its own, 13-word n-grams on both sides. datatrove's indexer needs
lighteval to load tasks, so its index file is written here the way NGramsDecontIndexer.compute_hashes
does it (datatrove's tokenizer, simplify_text, hash function; find_query_ngrams on, overlap
n-grams off, matching curate's per-field n-grams); the timed part is datatrove's own
NGramsDecontFilter.filter(doc) per Document. curate runs DecontaminateStage.process on Arrow
batches of 2048 (index built in setup(), not timed on either side).

Documents: real web pages and book passages from ../shared/data, plus 300 of them with a GSM8K
test question planted verbatim or changed (upper case, extra whitespace, other punctuation,
curly apostrophes); the whole set repeated --copies times for timing. Decisions (drop/keep)
are compared on one copy.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

from curate.core.params import build_params  # noqa: E402
from curate.core.schema import make_documents  # noqa: E402
from curate.decontaminate.stage import DecontaminateParams, DecontaminateStage  # noqa: E402
from bench.dedup_corpus import book_passages, html_texts, web_texts  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
GSM8K = SHARED / "quality" / "positives" / "gsm8k" / "test.jsonl"
N = 13
CHANGES = (
    lambda q: q,
    str.upper,
    lambda q: "  \n ".join(q.split()),
    lambda q: q.replace(",", ";").replace("?", " ?"),
    lambda q: q.replace("'", "\u2019"),
)


def corpus() -> tuple[list[str], int]:
    texts = html_texts(SHARED) + web_texts(SHARED) + book_passages(SHARED)
    questions = [json.loads(line)["question"] for line in GSM8K.open()]
    rng = random.Random(0)
    planted = []
    for i, question in enumerate(rng.sample(questions, 300)):
        page = texts[i % len(texts)]
        planted.append(page[: len(page) // 2] + "\n" + CHANGES[i % 5](question) + "\n" + page[len(page) // 2 :])
    return texts + planted, len(texts)


def datatrove_filter(folder: str):
    from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter
    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.text import ngrams, simplify_text
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    config = NGramsDecontConfig(n_grams=N, find_query_ngrams=True, find_overlap_ngrams=False)
    tokenizer, hash_func = load_word_tokenizer("en"), create_hash_func(config.hash_config)
    hashes = set()
    for line in GSM8K.open():
        item = json.loads(line)
        for text in (item["question"], item["answer"]):  # compute_hashes(label, query) without the overlap
            tokens = tokenizer.word_tokenize(simplify_text(text, config.norm_config))
            hashes.update(hash_func(" ".join(gram)) for gram in ngrams(tokens, N))
    np.array(sorted(hashes), dtype=config.hash_config.np_descr).tofile(f"{folder}/gsm8k.index.hashes")
    decont = NGramsDecontFilter(index_folder=folder, config=config)
    decont.load_index_hashes()
    return decont


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    from datatrove.data import Document

    texts, n_real = corpus()
    many = texts * args.copies
    with tempfile.TemporaryDirectory() as folder:
        decont = datatrove_filter(folder)
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(many)]
        start = time.perf_counter()
        theirs = [decont.filter(doc) is not True for doc in docs]
        datatrove_s = time.perf_counter() - start

    params = build_params(
        DecontaminateParams,
        {"n": N, "benchmarks": [{"name": "gsm8k", "path": str(GSM8K), "fields": ["question", "answer"]}]},
        "bench",
    )
    stage = DecontaminateStage("decontaminate", params)
    stage.check()
    stage.setup()
    table = make_documents([{"id": str(i), "source": "web", "text": t} for i, t in enumerate(many)])
    start = time.perf_counter()
    ours = []
    for offset in range(0, table.num_rows, 2048):
        ours += [r is not None for r in stage.process(table.slice(offset, 2048)).reasons]
    curate_s = time.perf_counter() - start

    one = len(texts)
    ours, theirs = ours[:one], theirs[:one]
    same = sum(a == b for a, b in zip(ours, theirs))
    print(
        f"documents: {one} ({n_real} real, {one - n_real} with a planted GSM8K question) x {args.copies} = {len(many)}"
    )
    print(
        f"index: curate {len(stage.index.hashes):,} n-grams ({stage.index.hashes.nbytes + stage.index.owners.nbytes:,} bytes of arrays)"
    )
    print(f"datatrove NGramsDecontFilter: {len(many) / datatrove_s:,.1f} docs/s")
    print(f"curate decontaminate:         {len(many) / curate_s:,.1f} docs/s  ({datatrove_s / curate_s:.2f}x)")
    print(f"same decision: {same}/{one} ({100 * same / one:.2f}%)")
    print(f"planted found: curate {sum(ours[n_real:])}/{one - n_real}, datatrove {sum(theirs[n_real:])}/{one - n_real}")
    print(f"real documents dropped: curate {sum(ours[:n_real])}, datatrove {sum(theirs[:n_real])}")
    for i in [i for i in range(one) if ours[i] != theirs[i]][:5]:
        print(
            f"  differs on doc {i}: curate {'drop' if ours[i] else 'keep'}, datatrove {'drop' if theirs[i] else 'keep'}"
            f" (datatrove's n-gram: {docs[i].metadata.get('contaminated_ngram')!r})"
        )


if __name__ == "__main__":
    main()
