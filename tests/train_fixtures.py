"""Real token shards for the trainer's tests: Gutenberg books from ../shared/data, a byte-level BPE trained here
with the `tokenizers` package (tests may use it; train/ may not), shards written with common.shards."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
BOOKS = {
    "en": ["en_alice_pg11.txt", "en_pride_and_prejudice_pg1342.txt", "en_moby_dick_pg2701.txt"],
    "defr": ["kalamine_de_faust_1.txt", "kalamine_fr_alice.txt"],
}
VOCAB = 1024
_CACHE: dict[str, "TokenData"] = {}


@dataclass
class TokenData:
    root: Path
    tokenizer_path: Path
    tokenizer_hash: str
    dirs: dict[str, Path]  # "en", "en-val", "defr", "defr-val"
    eot_id: int


def books_dir() -> Path:
    books = SHARED_DATA / "books"
    if not all((books / name).exists() for names in BOOKS.values() for name in names):
        why = f"real sample books not found in {books} (set SHARED_DATA or check out shared/ beside the repo)"
        if os.environ.get("CI"):  # as conftest's shared_data: a green CI run must have run the trainer's tests
            pytest.fail(why + "; CI is set, so this fails instead of skipping")
        pytest.skip(why)
    return books


def documents(text: str, size: int = 3000) -> list[str]:
    """Paragraphs grouped into documents of about `size` characters."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").lstrip("\ufeff")) if p.strip()]
    docs, current = [], ""
    for p in paragraphs:
        current = f"{current}\n\n{p}" if current else p
        if len(current) >= size:
            docs.append(current)
            current = ""
    return docs + ([current] if current else [])


def train_tokenizer(texts: list[str], path: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=["<|endoftext|>"],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(path))
    return tokenizer


def write_token_dir(
    directory: Path, docs: list[list[int]], tokenizer_hash: str, eot_id: int, shards: int = 2, vocab_size: int = VOCAB
) -> Path:
    from common.shards import ShardWriter, write_token_dir_summary

    directory.mkdir(parents=True, exist_ok=True)
    for s, part in enumerate(np.array_split(np.arange(len(docs)), shards)):
        with ShardWriter(directory / f"shard-00000-{s:03d}", vocab_size) as writer:
            for i in part:
                writer.add_document(np.asarray(docs[i], dtype=np.int64))
    write_token_dir_summary(directory, tokenizer_hash, vocab_size, eot_id)
    return directory


def build_token_data(root: Path) -> TokenData:
    """Train the tokenizer on every book, then write train/validation token directories per language group
    (the last 5% of each book's documents is validation)."""
    if str(root) in _CACHE:
        return _CACHE[str(root)]
    books = books_dir()
    root.mkdir(parents=True, exist_ok=True)
    texts = {group: [(books / n).read_text(encoding="utf-8") for n in names] for group, names in BOOKS.items()}
    tokenizer_path = root / "tokenizer.json"
    tokenizer = train_tokenizer([t for group in texts.values() for t in group], tokenizer_path)
    tokenizer_hash = hashlib.sha256(tokenizer_path.read_bytes()).hexdigest()
    eot = tokenizer.token_to_id("<|endoftext|>")
    dirs = {}
    for group, group_texts in texts.items():
        train_docs, val_docs = [], []
        for text in group_texts:
            docs = documents(text)
            cut = int(len(docs) * 0.95)
            encoded = [e.ids + [eot] for e in tokenizer.encode_batch(docs)]
            train_docs += encoded[:cut]
            val_docs += encoded[cut:]
        dirs[group] = write_token_dir(root / group / "train", train_docs, tokenizer_hash, eot)
        dirs[f"{group}-val"] = write_token_dir(root / group / "val", val_docs, tokenizer_hash, eot, shards=1)
    data = TokenData(root, tokenizer_path, tokenizer_hash, dirs, eot)
    _CACHE[str(root)] = data
    return data


def write_manifest(
    path: Path,
    data: TokenData,
    seq_len: int = 64,
    total_tokens: int = 200_000,
    seed: int = 1234,
    sources: list[dict] | None = None,
) -> Path:
    """A manifest over the test token directories (paths written relative to the manifest, as users do)."""
    rel = lambda p: os.path.relpath(p, path.parent)
    if sources is None:
        sources = [
            {"name": "en", "path": rel(data.dirs["en"]), "weight": 0.7, "validation": rel(data.dirs["en-val"])},
            {"name": "defr", "path": rel(data.dirs["defr"]), "weight": 0.3, "validation": rel(data.dirs["defr-val"])},
        ]
    manifest = {
        "name": "test",
        "tokenizer": {"path": rel(data.tokenizer_path), "hash": data.tokenizer_hash},
        "seq_len": seq_len,
        "seed": seed,
        "total_tokens": total_tokens,
        "sources": sources,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


def tiny_overrides(manifest: Path, out_dir: Path, **extra) -> dict:
    """A model small enough for many CPU test runs."""
    values = dict(
        manifest=str(manifest),
        out_dir=str(out_dir),
        n_layer=2,
        n_head=2,
        n_embd=64,
        micro_batch=8,
        max_steps=20,
        warmup_steps=2,
        lr=3e-3,
        min_lr=3e-4,
        eval_interval=10,
        eval_batches=2,
        ckpt_interval=10,
        keep_last=3,
        device="cpu",
        progress=False,
    )
    values.update(extra)
    return values


def python_env() -> dict:
    """Environment for subprocesses: the repository importable, two threads each."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return env


def read_losses(run_dir: Path) -> dict[int, float]:
    losses = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "train":
            losses[record["step"]] = record["loss"]
    return losses


PYTHON = sys.executable


@pytest.fixture(scope="session")
def token_data(tmp_path_factory) -> TokenData:
    return build_token_data(tmp_path_factory.getbasetemp() / "train-token-data")
