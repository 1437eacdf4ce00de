"""Tokenization throughput: the real `tokenize` stage with 1 and 2 workers versus raw
`Tokenizer.encode_batch_fast` on the same text in the same run, and tokenizer training time.

    python -m bench.tokenize_throughput [--train-mb 100] [--encode-mb 40] [--vocab-size 32768]

The corpus is real text: the books, web documents, Rust book chapters, GSM8K and self-instruct tasks of
../shared/data plus the Python standard library (about 31 MB), repeated until the size asked for (each
repeat gets new document ids; repetition makes BPE training cheaper than on 100 MB of distinct text, since
the word counts it merges over stop growing after the first copy). Every measurement runs in a fresh
subprocess, so the tokenizer's thread pool has exactly the threads asked for. The raw rate excludes reading
Parquet and writing shards (the text is in memory first): it is the practical limit of the stage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))

RAW_SCRIPT = """
import json, sys, time
import pyarrow.parquet as pq
from pathlib import Path
from tokenizers import Tokenizer
tokenizer = Tokenizer.from_file(sys.argv[1])
tokenizer.encode_special_tokens = True
texts = [t for p in sorted(Path(sys.argv[2]).glob("*.parquet")) for t in pq.read_table(p, columns=["text"]).column("text").to_pylist()]
method = getattr(tokenizer, sys.argv[3])
start, tokens = time.perf_counter(), 0
for i in range(0, len(texts), 512):
    tokens += sum(len(e.ids) for e in method(texts[i:i + 512], add_special_tokens=False))
print(json.dumps({"seconds": time.perf_counter() - start, "tokens": tokens}))
"""


def real_documents() -> list[tuple[str, str]]:
    """(kind, text) of every real document we have."""
    docs = [("book", p.read_text(encoding="utf-8-sig")) for p in sorted((SHARED / "books").glob("*.txt"))]
    for path in sorted((SHARED / "web" / "jsonl").glob("*.jsonl")):
        docs += [("web", json.loads(line)["text"]) for line in path.open(encoding="utf-8")]
    docs += [
        ("markdown", p.read_text(encoding="utf-8"))
        for p in sorted((SHARED / "quality" / "positives" / "rust_book").rglob("*.md"))
    ]
    for path in sorted((SHARED / "quality" / "positives").rglob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            record = json.loads(line)
            docs.append(("task", "\n\n".join(str(v) for v in record.values() if isinstance(v, str))))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    docs += [
        ("code", p.read_bytes().decode("utf-8", errors="replace"))
        for p in sorted(stdlib.rglob("*.py"))
        if "site-packages" not in p.parts
    ]
    return [(kind, text) for kind, text in docs if text]


def write_corpus(folder: Path, megabytes: float, shards: int = 16) -> int:
    """Real documents repeated to `megabytes` of UTF-8 text, shuffled (so shards are alike) into `shards`
    Parquet files; returns the bytes."""
    import random

    import pyarrow.parquet as pq

    from curate.core.schema import doc_id, make_documents

    base, rows, size, copy = real_documents(), [], 0, 0
    while size < megabytes * 1e6:
        for n, (kind, text) in enumerate(base):
            rows.append({"id": doc_id(kind, f"{copy}:{n}"), "source": "web", "text": text})
            size += len(text.encode("utf-8"))
            if size >= megabytes * 1e6:
                break
        copy += 1
    random.Random(0).shuffle(rows)
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(rows) // shards)
    for s in range(shards):
        pq.write_table(make_documents(rows[s * per : (s + 1) * per]), folder / f"part-{s:05d}.parquet")
    return size


def raw_rate(tokenizer: Path, corpus: Path, threads: int, method: str = "encode_batch_fast") -> dict:
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", RAW_SCRIPT, str(tokenizer), str(corpus), method],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def stage_rate(tokenizer: Path, corpus: Path, work: Path, workers: int, threads: int | None) -> dict:
    import yaml

    name = f"stage-w{workers}-t{threads}"
    stage = {"stage": "tokenize", "tokenizer": str(tokenizer), "validation_fraction": 0.01}
    if threads:
        stage["threads"] = threads
    pipeline = work / f"{name}.yaml"
    pipeline.write_text(
        yaml.safe_dump({"name": name, "input": str(corpus), "output": str(work / name), "stages": [stage]})
    )
    subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--workers", str(workers), "--no-progress"],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    stats = json.loads((work / name / "stats" / "tokenize.json").read_text())
    tokens = sum(
        json.loads((work / name / "tokenize" / part / "tokens.json").read_text())["num_tokens"]
        for part in ("train", "val")
    )
    return {"seconds": stats["wall_seconds"], "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-mb", type=float, default=100)
    parser.add_argument("--encode-mb", type=float, default=40)
    parser.add_argument("--vocab-size", type=int, default=32768)
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    from curate.tokenize.bpe import train_tokenizer

    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        train_bytes = write_corpus(work / "train-corpus", args.train_mb)
        start = time.perf_counter()
        trained = train_tokenizer(
            [str(work / "train-corpus")],
            str(work / "tokenizer.json"),
            args.vocab_size,
            sample_bytes=int(args.train_mb * 1e6),
        )
        train_seconds = time.perf_counter() - start
        print(
            f"tokenizer training: {trained.sample_bytes / 1e6:.1f} MB sampled of {train_bytes / 1e6:.1f} MB, "
            f"vocab {trained.vocab_size}, {train_seconds:.1f} s",
            flush=True,
        )
        encode_bytes = write_corpus(work / "encode-corpus", args.encode_mb)
        tokenizer = work / "tokenizer.json"
        runs = [
            ("raw encode_batch_fast, 1 thread", lambda: raw_rate(tokenizer, work / "encode-corpus", 1)),
            ("raw encode_batch, 1 thread", lambda: raw_rate(tokenizer, work / "encode-corpus", 1, "encode_batch")),
            ("stage, 1 worker x 1 thread", lambda: stage_rate(tokenizer, work / "encode-corpus", work, 1, 1)),
            ("stage, 2 workers x 1 thread", lambda: stage_rate(tokenizer, work / "encode-corpus", work, 2, None)),
            ("raw encode_batch_fast, 2 threads", lambda: raw_rate(tokenizer, work / "encode-corpus", 2)),
            ("stage, 1 worker x 2 threads", lambda: stage_rate(tokenizer, work / "encode-corpus", work, 1, None)),
        ]
        results = {}
        print(
            f"\nencoding {encode_bytes / 1e6:.1f} MB ({os.cpu_count()} cores)\n\n| run | seconds | MB/s | M tokens/s |\n|---|---|---|---|"
        )
        for label, run in runs:
            result = run()
            results[label] = encode_bytes / 1e6 / result["seconds"]
            print(
                f"| {label} | {result['seconds']:.1f} | {results[label]:.2f} | {result['tokens'] / 1e6 / result['seconds']:.2f} |",
                flush=True,
            )
        one, two = results["stage, 1 worker x 1 thread"], results["stage, 2 workers x 1 thread"]
        print(f"\nstage 1 worker / raw 1 thread: {one / results['raw encode_batch_fast, 1 thread']:.1%} (goal >= 85%)")
        print(f"stage 2 workers / stage 1 worker: {two / one:.2f}x (goal >= 1.8x)")
        print(f"stage 2 workers / raw 2 threads: {two / results['raw encode_batch_fast, 2 threads']:.1%}")


if __name__ == "__main__":
    main()
