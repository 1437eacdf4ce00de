"""Training a byte-level BPE tokenizer with HF `tokenizers` on a sample of curated documents (Parquet, or
a pipeline's .jsonl.gz output).

The tokenizer is GPT-4 style: text is first split by the cl100k regex (letters with an optional leading
space or punctuation mark, digits in groups of one to three, punctuation runs, newlines, runs of spaces kept
whole so code indentation gets its own tokens), then every piece is mapped to bytes, so any text encodes
without unknown tokens and decodes back exactly. The result is a plain `tokenizer.json` that
`tokenizers.Tokenizer.from_file` and `transformers.PreTrainedTokenizerFast(tokenizer_file=...)` load.

The sample is deterministic and streamed: a document is taken when a seeded hash of its id falls below
sample_bytes / (text bytes of all inputs, from the Parquet footers; JSON lines are read to count them), so the sample is spread evenly over all
inputs, and reading stops once sample_bytes of text are taken.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass
from typing import Iterator

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from curate.core import storage
from curate.core.jsonl_sink import read_jsonl_output

# The cl100k (GPT-4) pre-tokenizer split.
GPT4_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
DEFAULT_SPECIAL_TOKENS = ("<|endoftext|>",)
READ_BATCH_ROWS = 256


@dataclass
class TrainedTokenizer:
    path: str
    sha256: str
    vocab_size: int
    sample_documents: int
    sample_bytes: int
    seconds: float


def new_tokenizer():
    """An untrained GPT-4-style byte-level BPE tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT4_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def document_inputs(urls: list[str]) -> list[str]:
    """Every document file (Parquet, or a pipeline's .jsonl.gz output) under the given files/folders, sorted,
    skipping folders whose name starts with '_' (a stage's `_done`/`_work` bookkeeping) so a stage output
    folder can be passed as it is. An input holding none of them is an error naming it, never passed over."""
    files = []
    for url in urls:
        if not storage.exists(url):
            raise FileNotFoundError(f"{url}: input not found")
        found = [
            f
            for f in storage.list_files(url, storage.OUTPUT_SUFFIXES)
            if not any(part.startswith("_") for part in f[len(url.rstrip("/")) :].split("/")[:-1])
        ]
        if not found:
            raise ValueError(f"{url}: no document files (.parquet or a pipeline's .jsonl.gz output)")
        files += found
    return sorted(set(files))


def id_text_batches(url: str) -> Iterator[pa.Table]:
    """The id and text columns of a document file, in batches: Parquet streamed column by column, JSON lines
    parsed whole (they have no columns to read apart)."""
    if url.endswith(".jsonl.gz"):
        table = read_jsonl_output(url)
        require_document_columns(url, table.column_names)
        yield from (pa.Table.from_batches([b]).select(["id", "text"]) for b in table.to_batches(READ_BATCH_ROWS))
        return
    with fsspec.open(url, "rb") as f:
        parquet = pq.ParquetFile(f)
        require_document_columns(url, parquet.schema_arrow.names)
        for batch in parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=["id", "text"]):
            yield pa.Table.from_batches([batch])


def require_document_columns(url: str, names: list[str]) -> None:
    missing = {"id", "text"} - set(names)
    if missing:
        raise ValueError(f"{url}: not a document file (no column {', '.join(sorted(missing))})")


def text_bytes_estimate(files: list[str]) -> int:
    """Size of the `text` column: from the Parquet footers (no data read); JSON lines are read to count it."""
    total = 0
    for url in files:
        if url.endswith(".jsonl.gz"):
            total += sum(int(pc.sum(pc.binary_length(t["text"])).as_py() or 0) for t in id_text_batches(url))
            continue
        with fsspec.open(url, "rb") as f:
            metadata = pq.ParquetFile(f).metadata
        for g in range(metadata.num_row_groups):
            group = metadata.row_group(g)
            total += sum(
                group.column(c).total_uncompressed_size
                for c in range(group.num_columns)
                if group.column(c).path_in_schema == "text"
            )
    return total


def id_hash_fraction(ids: pa.Array, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per document id, the same on every run for the same seed."""
    return np.array([xxhash.xxh64_intdigest(i.encode(), seed) for i in ids.to_pylist()], dtype=np.float64) / 2.0**64


def sample_texts(files: list[str], sample_bytes: int, seed: int = 0, stats: dict | None = None) -> Iterator[str]:
    """Stream a deterministic sample of about sample_bytes of document text (see the module docstring)."""
    keep_fraction = min(1.0, sample_bytes / max(text_bytes_estimate(files), 1))
    taken_bytes = taken_docs = 0
    for url in files:
        for batch in id_text_batches(url):
            chosen = batch.filter(pa.array(id_hash_fraction(batch.column("id"), seed) < keep_fraction))
            for text, size in zip(
                chosen.column("text").to_pylist(), pc.binary_length(chosen.column("text")).to_pylist()
            ):
                yield text
                taken_bytes += size
                taken_docs += 1
                if stats is not None:
                    stats.update(documents=taken_docs, bytes=taken_bytes)
                if taken_bytes >= sample_bytes:
                    return


def train_tokenizer(
    inputs: list[str],
    output: str,
    vocab_size: int = 32768,
    sample_bytes: int = 1_000_000_000,
    special_tokens: tuple[str, ...] | list[str] = DEFAULT_SPECIAL_TOKENS,
    seed: int = 0,
    min_frequency: int = 2,
    progress: bool = False,
) -> TrainedTokenizer:
    """Train on a sample of the documents in `inputs` (Parquet files or folders) and write tokenizer.json to
    `output` atomically. Special tokens get the first ids, in the order given. progress: the tokenizers
    library's bars (reading, counting pairs, merges), drawn on a terminal only."""
    from tokenizers import pre_tokenizers, trainers

    if vocab_size < 256 + len(special_tokens):
        raise ValueError(
            f"vocab_size {vocab_size} is too small: a byte-level BPE needs 256 byte tokens "
            f"plus {len(special_tokens)} special tokens"
        )
    if sample_bytes <= 0:
        raise ValueError(f"sample_bytes must be positive, got {sample_bytes}")
    files = document_inputs(inputs)
    start = time.perf_counter()
    tokenizer = new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        show_progress=progress and sys.stderr.isatty(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    taken = {"documents": 0, "bytes": 0}
    tokenizer.train_from_iterator(sample_texts(files, sample_bytes, seed, taken), trainer)
    if taken["documents"] == 0:
        raise ValueError(f"no documents to train on in {', '.join(inputs)}")
    data = tokenizer.to_str(pretty=True).encode("utf-8")
    with storage.atomic_path(output) as temporary, fsspec.open(temporary, "wb") as f:
        f.write(data)
    write_hf_tokenizer_files(output, special_tokens[0] if special_tokens else None)
    return TrainedTokenizer(
        output,
        hashlib.sha256(data).hexdigest(),
        tokenizer.get_vocab_size(with_added_tokens=True),
        taken["documents"],
        taken["bytes"],
        time.perf_counter() - start,
    )


def write_hf_tokenizer_files(tokenizer_url: str, eot: str | None) -> None:
    """tokenizer_config.json + special_tokens_map.json beside tokenizer.json (the first special token as
    bos/eos/pad), so transformers' AutoTokenizer loads the folder with eos_token set."""
    import json
    import posixpath

    from common.tokenizer import hf_tokenizer_files

    if eot is None:
        return
    folder = posixpath.dirname(tokenizer_url)
    for name, content in hf_tokenizer_files(eot).items():
        target = posixpath.join(folder, name) if folder else name
        with storage.atomic_path(target) as temporary, fsspec.open(temporary, "w") as f:
            f.write(json.dumps(content, indent=1) + "\n")


def read_tokenizer(url: str):
    """Load a tokenizer.json (path or URL) and its sha256, the hash token directories record."""
    from tokenizers import Tokenizer

    try:
        with fsspec.open(url, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{url}: tokenizer file not found") from None
    try:
        tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as error:  # noqa: BLE001 - tokenizers raises a bare Exception for a bad file
        raise ValueError(f"{url}: not a tokenizers tokenizer.json ({error})") from None
    return tokenizer, hashlib.sha256(data).hexdigest()
