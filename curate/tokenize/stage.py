"""The `tokenize` stage: documents (Parquet) to token shards in the Megatron-LM indexed-dataset layout.

    - stage: tokenize
      tokenizer: out/demo/tokenizer/tokenizer.json
      validation_fraction: 0.01

Output, under the pipeline's output folder (local or mounted: the trainer memory-maps it):

    tokenize/train/shard-00003-000.bin/.idx   one or more token shards per input shard
    tokenize/train/tokens.json                token and document counts, tokenizer hash, vocabulary size
    tokenize/val/val-000.bin/.idx, tokens.json the held-out documents, gathered into shards of their own

Every document is encoded with the fast batch API (the whole batch in Rust, on `threads` threads) and
followed by the end-of-text token. Special-token strings inside a document ("<|endoftext|>" on a web page)
are encoded as ordinary text, so only the appended token ever marks a document end.

Shard size: a shard is closed as soon as it holds at least max_shard_tokens tokens, so it exceeds that by
less than one document; a document is never split, and one longer than max_shard_tokens is written whole.

Validation split: a document is held out when xxh64(id) < validation_fraction * 2^64. When that holds out
fewer than min_validation_docs documents of the source (a small source), the min_validation_docs documents
with the smallest hashes are held out instead; the document with the largest hash always stays in training.
The split depends only on the document ids: the same on every run, whatever the sharding or worker count.
An empty text is not tokenized; it goes to rejected/ with reason tokenize.empty_text.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from curate.core import storage
from curate.core.params import ConfigError, require_fraction
from curate.core.stage import Shard, ShardStats, Stage, sink, text_bytes
from curate.core.registry import register_stage
from curate.core.schema import with_rejection
from curate.tokenize.bpe import read_tokenizer
from train.format import ShardWriter, dtype_for_vocab, write_token_dir_summary

SPLIT_FILE = "validation_split.json"
HASH_RANGE = 2**64
# When the footers promise this many expected held-out documents per required one, skip the id scan:
# the chance that the hash rule alone holds out too few is then below 1e-40.
SCAN_SKIP_FACTOR = 100


@dataclass
class TokenizeParams:
    tokenizer: str                      # tokenizer.json (path or URL), e.g. from `curate train-tokenizer`
    eot_token: str = "<|endoftext|>"    # appended after every document
    validation_fraction: float = 0.01   # share of documents held out, by id hash; 0: no validation split
    min_validation_docs: int = 1        # hold out at least this many (small sources), never all
    max_shard_tokens: int = 100_000_000
    batch_docs: int = 512               # documents per encode_batch call
    threads: int | None = None          # tokenizer threads per worker; default: CPU cores / workers

    def __post_init__(self):
        require_fraction("validation_fraction", self.validation_fraction)
        if self.validation_fraction == 1.0:
            raise ValueError("parameter 'validation_fraction' must be below 1 (training needs documents)")
        for name in ("max_shard_tokens", "batch_docs"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter '{name}' must be at least 1, got {getattr(self, name)}")
        if self.min_validation_docs < 0:
            raise ValueError(f"parameter 'min_validation_docs' must not be negative, got {self.min_validation_docs}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"parameter 'threads' must be at least 1, got {self.threads}")


@register_stage("tokenize")
class TokenizeStage(Stage):
    Params = TokenizeParams

    def __init__(self, name: str, params: TokenizeParams):
        super().__init__(name, params)
        self._tokenizer_sha256: str | None = None
        self._tokenizer = None

    def __getstate__(self):
        return {**self.__dict__, "_tokenizer": None}  # workers load it in setup()

    @property
    def config_hash(self) -> str:
        """The parameters and the tokenizer file's contents: a resumed run never mixes two tokenizers."""
        if self._tokenizer_sha256 is None:
            self._tokenizer_sha256 = self._load()[1]
        payload = f"{super().config_hash}:{self._tokenizer_sha256}"
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _load(self):
        try:
            return read_tokenizer(self.params.tokenizer)
        except (FileNotFoundError, ValueError) as error:
            raise ConfigError(f"stage '{self.name}': parameter 'tokenizer': {error}") from None

    def check(self) -> None:
        self.setup()  # the tokenizer file loads and knows the end-of-text token, before any stage runs

    def setup(self) -> None:
        tokenizer, self._tokenizer_sha256 = self._load()
        tokenizer.encode_special_tokens = True  # "<|endoftext|>" in a document's text is just text
        self._tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        self.eot_id = tokenizer.token_to_id(self.params.eot_token)
        if self.eot_id is None:
            raise ConfigError(f"stage '{self.name}': parameter 'eot_token': {self.params.eot_token!r} is not a token "
                              f"of {self.params.tokenizer}")
        self.dtype = dtype_for_vocab(self.vocab_size)

    # driver side

    def run(self, ctx) -> ShardStats:
        if "://" in ctx.output_dir:
            raise ConfigError(f"stage '{self.name}': writes memory-mappable token shards and needs a local "
                              f"(or mounted) output folder, not {ctx.output_dir}")
        self.setup()  # checks the tokenizer and end-of-text token before any work starts
        shards = self.shards(ctx)
        storage.write_json(ctx.work_url(SPLIT_FILE), {**validation_split(shards, self.params), "shards": len(shards)})
        stats = ctx.map_shards(self, "main", "run_shard", shards)
        self.gather_validation(ctx)
        return stats

    def gather_validation(self, ctx) -> None:
        """Gather the held-out pieces into val/ and write tokens.json for train/ and val/."""
        output = Path(ctx.output_dir)
        (output / "train").mkdir(parents=True, exist_ok=True)
        gather_shards(Path(ctx.work_url("val")), output / "val", "val", self.vocab_size, self.params.max_shard_tokens)
        for part in ("train", "val"):
            write_token_dir_summary(output / part, self._tokenizer_sha256, self.vocab_size, self.eot_id, allow_empty=True)

    # worker side

    def run_shard(self, shard: Shard, ctx) -> ShardStats:
        start = time.perf_counter()
        split = storage.read_json(ctx.work_url(SPLIT_FILE))
        limit_threads(self.params.threads, min(ctx.node_workers, split["shards"]))
        threshold = split["threshold"]
        for url in shard.inputs:
            missing = {"id", "text"} - set(storage.parquet_schema(url).names)
            if missing:
                raise ValueError(f"{url}: not a document Parquet file (no column {', '.join(sorted(missing))})")
        stats = ShardStats()
        train = RollingShardWriter(Path(ctx.output_dir) / "train", shard.name, self.vocab_size, self.params.max_shard_tokens)
        val = RollingShardWriter(Path(ctx.work_url("val")), shard.name, self.vocab_size, self.params.max_shard_tokens)
        rejected = sink(ctx.rejected_url(shard.name))
        try:
            for table in storage.iter_parquet(shard.inputs, self.params.batch_docs):
                self._tokenize_batch(table, threshold, train, val, rejected, stats)
            train.close()
            val.close()
            rejected.close()
        except BaseException:
            train.abort()
            val.abort()
            rejected.abort()
            raise
        stats.bytes_out = (train.num_tokens + val.num_tokens) * self.dtype.itemsize
        stats.seconds = time.perf_counter() - start
        return stats

    def _tokenize_batch(self, table: pa.Table, threshold: int, train, val, rejected, stats: ShardStats) -> None:
        stats.docs_in += table.num_rows
        stats.bytes_in += text_bytes(table)
        empty = pc.equal(pc.binary_length(table.column("text")), 0)
        if pc.any(empty).as_py():
            dropped = table.filter(empty)
            rejected.write(with_rejection(dropped, self.name, ["tokenize.empty_text"] * dropped.num_rows))
            stats.drop("tokenize.empty_text", dropped.num_rows)
            table = table.filter(pc.invert(empty))
        held_out = id_hashes(table.column("id")) < np.uint64(min(threshold, HASH_RANGE - 1))
        encodings = self._tokenizer.encode_batch_fast(table.column("text").to_pylist(), add_special_tokens=False)
        eot = [self.eot_id]
        for encoding, to_val in zip(encodings, held_out):
            tokens = np.array(encoding.ids + eot, dtype=self.dtype)
            (val if to_val else train).add(tokens)
        stats.docs_out += table.num_rows


class RollingShardWriter:
    """Writes documents to folder/<base>-000, -001, ... starting a new shard once one holds max_tokens.
    Opening it deletes what an earlier, interrupted attempt at the same base name left behind."""

    def __init__(self, folder: Path, base: str, vocab_size: int, max_tokens: int):
        self.folder, self.base, self.vocab_size, self.max_tokens = folder, base, vocab_size, max_tokens
        self.count = 0
        self.num_tokens = 0
        self.writer: ShardWriter | None = None
        folder.mkdir(parents=True, exist_ok=True)
        ours = re.compile(rf"\.?{re.escape(base)}-\d{{3,}}\.(bin|idx)(\..*\.tmp)?")  # shards and their temporary files
        for stale in folder.iterdir():
            if ours.fullmatch(stale.name):
                stale.unlink()

    def add(self, tokens: np.ndarray) -> None:
        if self.writer is None:
            self.writer = ShardWriter(self.folder / f"{self.base}-{self.count:03d}", self.vocab_size)
            self.count += 1
        self.writer.add_document(tokens)
        self.num_tokens += len(tokens)
        if self.writer.num_tokens >= self.max_tokens:
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None


def id_hashes(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """xxh64 of every document id as uint64: the validation split's coin."""
    return np.fromiter((xxhash.xxh64_intdigest(i.encode()) for i in ids.to_pylist()), dtype=np.uint64, count=len(ids))


def validation_split(shards: list[Shard], params: TokenizeParams) -> dict:
    """The source-wide hash threshold: documents whose id hash is below it are held out (see the module
    docstring). Reads only the footers, or the id column when the source is small enough to need it."""
    fraction_threshold = int(params.validation_fraction * HASH_RANGE)
    wanted = params.min_validation_docs if params.validation_fraction > 0 else 0
    files = [url for shard in shards for url in shard.inputs]
    documents = sum(storage.parquet_rows(url) for url in files)
    if wanted == 0 or documents * params.validation_fraction >= SCAN_SKIP_FACTOR * wanted:
        return {"threshold": fraction_threshold, "documents": documents, "scanned": False}
    smallest, largest = np.empty(0, np.uint64), None
    for url in files:
        with fsspec.open(url, "rb") as f:
            for batch in pq.ParquetFile(f).iter_batches(columns=["id"]):
                hashes = id_hashes(batch.column("id"))
                if len(hashes):
                    smallest = np.sort(np.concatenate([smallest, hashes]))[:wanted]
                    largest = max(int(hashes.max()), largest or 0)
    if largest is None:
        return {"threshold": fraction_threshold, "documents": 0, "scanned": True}
    threshold = max(fraction_threshold, int(smallest[-1]) + 1)  # at least the `wanted` smallest ...
    return {"threshold": min(threshold, largest), "documents": documents, "scanned": True}  # ... never the largest




def gather_shards(pieces: Path, target: Path, base: str, vocab_size: int, max_tokens: int) -> None:
    """Copy every document of the shards in `pieces` (in name order) into fresh shards target/<base>-NNN:
    the held-out documents of many input shards become a few shards of useful size."""
    from train.format import IndexedShard

    target.mkdir(parents=True, exist_ok=True)
    for old in list(target.glob("*.bin")) + list(target.glob("*.idx")):
        old.unlink()
    writer = RollingShardWriter(target, base, vocab_size, max_tokens)
    try:
        for idx in sorted(pieces.glob("*.idx")) if pieces.exists() else []:
            shard = IndexedShard(idx.with_suffix(""))
            for i in range(len(shard)):
                writer.add(np.asarray(shard[i]))
        writer.close()
    except BaseException:
        writer.abort()
        raise


def limit_threads(threads: int | None, workers: int) -> None:
    """Give each worker process its share of the cores for the tokenizer's Rayon pool, so N workers do not
    start N x cores threads. Takes effect if set before this process first encodes a batch."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    count = threads or max(1, cores // max(workers, 1))
    os.environ["RAYON_NUM_THREADS"] = str(count)
    os.environ["RAYON_RS_NUM_CPUS"] = str(count)  # the name older tokenizers releases read
