"""Token shards in the Megatron-LM indexed-dataset layout (numpy + stdlib only; `curate` writes, `train` reads).

A shard is a pair of files. `PREFIX.bin` holds the raw tokens of every document back to back. `PREFIX.idx`:

    magic b"MMIDIDX\\x00\\x00" | version uint64 = 1 | dtype code uint8 | sequence count uint64 |
    document count uint64 | sequence_lengths int32[n] | sequence_pointers int64[n] | document_indices int64[d]

exactly as Megatron-LM's `IndexedDataset` writes it, so shards load in Megatron and vice versa. As in Megatron,
the "document count" field is the length of `document_indices` (documents + 1: it starts with 0 and holds one
entry per document end). Every sequence we write is one document. Documents are expected to end with the
tokenizer's end-of-text id (the trainer packs them back to back and relies on it to separate them).

A token directory is a folder of shards plus `tokens.json`, the summary that says which tokenizer made them.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER = struct.Struct("<9sQBQQ")
# Megatron-LM's DType enum.
DTYPE_CODES = {
    1: np.uint8,
    2: np.int8,
    3: np.int16,
    4: np.int32,
    5: np.int64,
    6: np.float64,
    7: np.float32,
    8: np.uint16,
}
CODE_OF_DTYPE = {np.dtype(t): code for code, t in DTYPE_CODES.items()}
TOKEN_DIR_FORMAT = "megatron-mmidx-v1"
SUMMARY_NAME = "tokens.json"


class ShardFormatError(ValueError):
    """A shard or token directory that does not follow the format; the message names the file."""


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """uint16 holds ids 0..65535, so a vocabulary of up to 65536 entries; beyond that int32."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.int32)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ShardWriter:
    """Streams documents to `prefix.bin` and, on close, publishes `prefix.bin` then `prefix.idx`.

    Both are written under temporary names and renamed, .bin first: a reader that finds the .idx finds a
    complete shard. Leaving the `with` block by an exception publishes nothing.
    """

    def __init__(self, prefix: str | os.PathLike, vocab_size: int):
        self.prefix = Path(prefix)
        self.vocab_size = vocab_size
        self.dtype = dtype_for_vocab(vocab_size)
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp_bin = tempfile.mkstemp(dir=self.prefix.parent, prefix=f".{self.prefix.name}.bin.", suffix=".tmp")
        self._bin = os.fdopen(fd, "wb")
        self._lengths: list[int] = []
        self.num_tokens = 0
        self.closed = False

    @property
    def num_documents(self) -> int:
        return len(self._lengths)

    def add_document(self, tokens: np.ndarray) -> None:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or (tokens.size and tokens.dtype.kind not in "iu"):
            raise ValueError(
                f"{self.prefix}: a document must be a 1-D array of integer token ids, got {tokens.dtype} {tokens.shape}"
            )
        if tokens.size and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(
                f"{self.prefix}: token ids must lie in [0, {self.vocab_size}), got "
                f"[{int(tokens.min())}, {int(tokens.max())}] in document {self.num_documents}"
            )
        self._bin.write(tokens.astype(self.dtype, copy=False).tobytes())
        self._lengths.append(int(tokens.size))
        self.num_tokens += int(tokens.size)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bin.flush()
        os.fsync(self._bin.fileno())
        self._bin.close()
        n = len(self._lengths)
        lengths = np.asarray(self._lengths, dtype=np.int32)
        pointers = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1].astype(np.int64) * self.dtype.itemsize, out=pointers[1:])
        document_indices = np.arange(n + 1, dtype=np.int64)
        header = HEADER.pack(MAGIC, VERSION, CODE_OF_DTYPE[self.dtype], n, n + 1)
        os.replace(self._tmp_bin, self.prefix.with_name(self.prefix.name + ".bin"))
        _atomic_write_bytes(
            self.prefix.with_name(self.prefix.name + ".idx"),
            header + lengths.tobytes() + pointers.tobytes() + document_indices.tobytes(),
        )

    def abort(self) -> None:
        self.closed = True
        self._bin.close()
        Path(self._tmp_bin).unlink(missing_ok=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.abort() if exc_type else self.close()


class IndexedShard:
    """A memory-mapped shard; `shard[i]` is document i as a view into the .bin file."""

    def __init__(self, prefix: str | os.PathLike):
        self.prefix = Path(prefix)
        self.name = self.prefix.name
        idx_path, bin_path = (self.prefix.with_name(self.name + ext) for ext in (".idx", ".bin"))
        for path in (idx_path, bin_path):
            if not path.exists():
                raise ShardFormatError(f"{path}: missing")
        raw = idx_path.read_bytes()
        if len(raw) < HEADER.size:
            raise ShardFormatError(f"{idx_path}: truncated header ({len(raw)} bytes)")
        magic, version, code, n, n_doc_idx = HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise ShardFormatError(f"{idx_path}: bad magic {magic!r}, expected {MAGIC!r}")
        if version != VERSION:
            raise ShardFormatError(f"{idx_path}: version {version}, expected {VERSION}")
        if code not in DTYPE_CODES:
            raise ShardFormatError(f"{idx_path}: unknown dtype code {code}")
        self.dtype = np.dtype(DTYPE_CODES[code])
        expected = HEADER.size + 4 * n + 8 * n + 8 * n_doc_idx
        if len(raw) != expected:
            raise ShardFormatError(f"{idx_path}: {len(raw)} bytes, expected {expected} for {n} sequences")
        seq_lengths = np.frombuffer(raw, np.int32, n, HEADER.size)
        pointers = np.frombuffer(raw, np.int64, n, HEADER.size + 4 * n)
        doc_idx = np.frombuffer(raw, np.int64, n_doc_idx, HEADER.size + 12 * n)
        self._validate(idx_path, bin_path, seq_lengths, pointers, doc_idx)
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(seq_lengths, out=starts[1:])
        self.num_tokens = int(starts[-1])
        self.offsets = starts[doc_idx[:-1]]
        self.lengths = starts[doc_idx[1:]] - self.offsets
        self.tokens = (
            np.memmap(bin_path, dtype=self.dtype, mode="r") if self.num_tokens else np.empty(0, dtype=self.dtype)
        )

    def _validate(self, idx_path, bin_path, seq_lengths, pointers, doc_idx) -> None:
        if (seq_lengths < 0).any():
            raise ShardFormatError(f"{idx_path}: negative sequence length")
        expected_pointers = np.concatenate([[0], np.cumsum(seq_lengths[:-1], dtype=np.int64)]) * self.dtype.itemsize
        if len(seq_lengths) and not np.array_equal(pointers, expected_pointers):
            raise ShardFormatError(f"{idx_path}: sequence pointers are not the running sum of the lengths")
        if len(doc_idx) == 0 or doc_idx[0] != 0 or doc_idx[-1] != len(seq_lengths) or (np.diff(doc_idx) < 0).any():
            raise ShardFormatError(
                f"{idx_path}: document indices must rise from 0 to the sequence count {len(seq_lengths)}"
            )
        expected_bytes = int(seq_lengths.sum(dtype=np.int64)) * self.dtype.itemsize
        actual_bytes = bin_path.stat().st_size
        if actual_bytes != expected_bytes:
            raise ShardFormatError(
                f"{bin_path}: {actual_bytes} bytes, expected {expected_bytes} "
                f"({expected_bytes // self.dtype.itemsize} {self.dtype} tokens per {idx_path.name})"
            )

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = self.offsets[i]
        return self.tokens[start : start + self.lengths[i]]


@dataclass
class TokenDir:
    path: Path
    format: str
    tokenizer_hash: str
    vocab_size: int
    eot_id: int
    dtype: str
    num_tokens: int
    num_documents: int
    shards: list[IndexedShard] = field(repr=False)


def _scan_shards(directory: Path) -> list[IndexedShard]:
    return [IndexedShard(idx.with_suffix("")) for idx in sorted(directory.glob("*.idx"))]


def write_token_dir_summary(
    directory: str | os.PathLike, tokenizer_hash: str, vocab_size: int, eot_id: int, allow_empty: bool = False
) -> dict:
    """Scan the shards of a token directory and write its tokens.json atomically; returns the summary.
    With allow_empty, a directory without shards (an empty source) gets a summary counting 0 tokens;
    read_token_dir still refuses it, so a mix cannot draw from it."""
    directory = Path(directory)
    shards = _scan_shards(directory)
    if not shards and not allow_empty:
        raise ShardFormatError(f"{directory}: no shards (*.idx/*.bin) to summarise")
    dtype = dtype_for_vocab(vocab_size)
    for shard in shards:
        if shard.dtype != dtype:
            raise ShardFormatError(
                f"{shard.prefix}.idx: dtype {shard.dtype}, expected {dtype} for vocab size {vocab_size}"
            )
    summary = token_dir_summary([(s.name, s.num_tokens, len(s)) for s in shards], tokenizer_hash, vocab_size, eot_id)
    _atomic_write_bytes(directory / SUMMARY_NAME, (json.dumps(summary, indent=1) + "\n").encode())
    return summary


def token_dir_summary(shards: list[tuple[str, int, int]], tokenizer_hash: str, vocab_size: int, eot_id: int) -> dict:
    """tokens.json's contents for shards given as (name, tokens, documents), in name order."""
    return {
        "format": TOKEN_DIR_FORMAT,
        "tokenizer_hash": tokenizer_hash,
        "vocab_size": int(vocab_size),
        "eot_id": int(eot_id),
        "dtype": dtype_for_vocab(vocab_size).name,
        "num_tokens": sum(tokens for _, tokens, _ in shards),
        "num_documents": sum(docs for _, _, docs in shards),
        "shards": [{"name": name, "tokens": tokens, "documents": docs} for name, tokens, docs in shards],
    }


def index_counts(raw: bytes) -> tuple[int, int]:
    """(tokens, documents) of a shard from its .idx bytes alone (a shard we wrote: one sequence per document)."""
    n = HEADER.unpack_from(raw)[3]
    return int(np.frombuffer(raw, np.int32, n, HEADER.size).sum(dtype=np.int64)), n


def read_token_dir(directory: str | os.PathLike) -> TokenDir:
    """Open every shard of a token directory, checking them against tokens.json."""
    directory = Path(directory)
    summary_path = directory / SUMMARY_NAME
    if not directory.is_dir():
        raise ShardFormatError(f"{directory}: token directory not found")
    if not summary_path.exists():
        raise ShardFormatError(
            f"{summary_path}: missing (a token directory needs the summary written by write_token_dir_summary)"
        )
    try:
        summary = json.loads(summary_path.read_text())
        listed = {s["name"]: s for s in summary["shards"]}
        fields = {
            k: summary[k]
            for k in ("format", "tokenizer_hash", "vocab_size", "eot_id", "dtype", "num_tokens", "num_documents")
        }
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ShardFormatError(f"{summary_path}: unreadable summary ({error!r})") from None
    if fields["format"] != TOKEN_DIR_FORMAT:
        raise ShardFormatError(f"{summary_path}: format {fields['format']!r}, expected {TOKEN_DIR_FORMAT!r}")
    shards = _scan_shards(directory)
    if not shards:
        empty = " (its tokens.json counts 0 tokens: an empty source)" if fields["num_tokens"] == 0 else ""
        raise ShardFormatError(f"{directory}: no shards (*.idx/*.bin){empty}")
    on_disk = {s.name for s in shards}
    if on_disk != set(listed):
        raise ShardFormatError(
            f"{summary_path}: lists shards {sorted(set(listed) - on_disk)} missing on disk and "
            f"does not list {sorted(on_disk - set(listed))} found on disk"
        )
    for shard in shards:
        entry = listed[shard.name]
        if (entry["tokens"], entry["documents"]) != (shard.num_tokens, len(shard)) or shard.dtype.name != fields[
            "dtype"
        ]:
            raise ShardFormatError(
                f"{shard.prefix}.idx: holds {shard.num_tokens} {shard.dtype} tokens in {len(shard)} "
                f"documents; {summary_path} says {entry['tokens']} {fields['dtype']} tokens in "
                f"{entry['documents']} documents"
            )
    if fields["num_tokens"] != sum(s.num_tokens for s in shards):
        raise ShardFormatError(f"{summary_path}: num_tokens {fields['num_tokens']} is not the sum over its shards")
    return TokenDir(path=directory, shards=shards, **fields)
