"""The `tokenize` stage: documents (Parquet) to token shards in the Megatron-LM indexed-dataset layout.

    - stage: tokenize
      tokenizer: out/demo/tokenizer/tokenizer.json
      validation_fraction: 0.01

Output, under the pipeline's output folder:

    tokenize/train/shard-00003-000.bin/.idx   one or more token shards per input shard
    tokenize/train/tokens.json                token and document counts, tokenizer hash, vocabulary size
    tokenize/val/val-000.bin/.idx, tokens.json the held-out documents, gathered into shards of their own

The output may be a URL (s3://, gs://, file://): each shard is written to a local temporary folder and
uploaded once finished (RollingShardWriter). `train` memory-maps its shards, so it needs them in a local or
mounted folder: copy them down (or mount the bucket) before training.

Phases (the runner runs them, each resumable): the validation split is planned on the driver; 'main'
tokenizes each input shard (one task each, on `threads` threads); 'gather' collects the held-out documents
into val/ and writes both tokens.json files, again whenever a rerun redid a shard.

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
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from common.shards import (
    SUMMARY_NAME,
    ShardWriter,
    dtype_for_vocab,
    index_counts,
    token_dir_summary,
    write_token_dir_summary,
)
from curate.core import storage
from curate.core.params import ConfigError, require_fraction
from curate.core.stage import Phase, Shard, ShardOutput, ShardStats, Stage
from curate.tokenize.bpe import read_tokenizer

SPLIT_FILE = "validation_split.json"
HASH_RANGE = 2**64
# When the footers promise this many expected held-out documents per required one, skip the id scan:
# the chance that the hash rule alone holds out too few is then below 1e-40.
SCAN_SKIP_FACTOR = 100
COPY_BYTES = 16 << 20  # buffer of one upload or download of a shard file


@dataclass
class TokenizeParams:
    tokenizer: str  # tokenizer.json (path or URL), e.g. from `curate train-tokenizer`
    eot_token: str = "<|endoftext|>"  # appended after every document
    validation_fraction: float = 0.01  # share of documents held out, by id hash; 0: no validation split
    min_validation_docs: int = 1  # hold out at least this many (small sources), never all
    max_shard_tokens: int = 100_000_000
    batch_docs: int = 512  # documents per encode_batch call
    threads: int | None = None  # tokenizer threads per worker; default: CPU cores / workers

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


class TokenizeStage(Stage):
    Params = TokenizeParams
    writes_documents = False  # token shards in train/ and val/

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
            raise ConfigError(
                f"stage '{self.name}': parameter 'eot_token': {self.params.eot_token!r} is not a token "
                f"of {self.params.tokenizer}"
            )
        self.dtype = dtype_for_vocab(self.vocab_size)

    # driver side

    def phases(self, ctx, shards: list[Shard]) -> list[Phase]:
        """Plans the validation split here, on the driver, before any work (SPLIT_FILE in scratch); then
        'main', a task per input shard (its train shards, its held-out documents as pieces in scratch,
        its rejected rows), and 'gather', one task: the pieces into val/, tokens.json for train/ and val/."""
        storage.write_json(ctx.work_url(SPLIT_FILE), {**validation_split(shards, self.params), "shards": len(shards)})
        return [
            Phase("main", run=self.tokenize_shard, tasks=lambda done: shards, stage_stats=True),
            Phase("gather", run=self.gather_validation, tasks=lambda done: [Shard("gather", ())]),
        ]

    # worker side

    def tokenize_shard(self, shard: Shard, ctx) -> ShardStats:
        split = storage.read_json(ctx.work_url(SPLIT_FILE))
        limit_threads(self.params.threads, min(ctx.node_workers, split["shards"]))
        for url in shard.inputs:
            missing = {"id", "text"} - set(storage.parquet_schema(url).names)
            if missing:
                raise ValueError(f"{url}: not a document Parquet file (no column {', '.join(sorted(missing))})")
        size = (self.vocab_size, self.params.max_shard_tokens)
        with (
            ShardOutput(self.name, None, ctx.rejected_url(shard.name)) as output,
            RollingShardWriter(storage.join(ctx.output_dir, "train"), shard.name, *size) as train,
            RollingShardWriter(ctx.work_url("val"), shard.name, *size) as val,
        ):
            for table in storage.iter_parquet(shard.inputs, self.params.batch_docs):
                self._tokenize_batch(table, split["threshold"], train, val, output)
            output.stats.bytes_out = (train.num_tokens + val.num_tokens) * self.dtype.itemsize
        return output.stats

    def _tokenize_batch(self, table: pa.Table, threshold: int, train, val, output: ShardOutput) -> None:
        output.read(table)
        empty = pc.equal(pc.binary_length(table.column("text")), 0)
        if pc.any(empty).as_py():
            dropped = table.filter(empty)
            output.reject(dropped, ["tokenize.empty_text"] * dropped.num_rows)
            table = table.filter(pc.invert(empty))
        held_out = id_hashes(table.column("id")) < np.uint64(min(threshold, HASH_RANGE - 1))
        encodings = self._tokenizer.encode_batch_fast(table.column("text").to_pylist(), add_special_tokens=False)
        eot = [self.eot_id]
        for encoding, to_val in zip(encodings, held_out):
            tokens = np.array(encoding.ids + eot, dtype=self.dtype)
            (val if to_val else train).add(tokens)
        output.stats.docs_out += table.num_rows

    def gather_validation(self, task: Shard, ctx) -> ShardStats:
        """Gather the held-out pieces into val/ and write tokens.json for train/ and val/."""
        start = time.perf_counter()
        documents = gather_shards(
            ctx.work_url("val"),
            storage.join(ctx.output_dir, "val"),
            "val",
            self.vocab_size,
            self.params.max_shard_tokens,
        )
        for part in ("train", "val"):
            write_summary(storage.join(ctx.output_dir, part), self._tokenizer_sha256, self.vocab_size, self.eot_id)
        return ShardStats(docs_in=documents, docs_out=documents, seconds=time.perf_counter() - start)


class RollingShardWriter:
    """Writes documents to <url>/<base>-000, -001, ... (a folder or a URL), starting a new shard once one
    holds max_tokens. Opening it deletes what an earlier, interrupted attempt at the same base name left
    behind. Leaving its `with` block by an exception publishes no further shard. Under a URL (an object
    store) each shard is written to a local temporary folder and uploaded as soon as it is finished,
    .bin before .idx (a reader that finds the .idx finds the whole shard), each file under a temporary
    name moved into place (storage.atomic_path: a rename, or a copy on stores without one)."""

    def __init__(self, url: str, base: str, vocab_size: int, max_tokens: int):
        self.url, self.base, self.vocab_size, self.max_tokens = url, base, vocab_size, max_tokens
        self.remote = "://" in url
        self.folder = Path(tempfile.mkdtemp(prefix="curate-tokens-")) if self.remote else Path(url)
        self.count = 0
        self.num_tokens = 0
        self.writer: ShardWriter | None = None
        self.folder.mkdir(parents=True, exist_ok=True)
        # its shards and their temporary files
        remove_files(url, re.compile(rf"\.?{re.escape(base)}-\d{{3,}}\.(bin|idx)(\..*\.tmp)?"))

    def __enter__(self) -> "RollingShardWriter":
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is None:
                self.finish()
            elif self.writer is not None:
                self.writer.abort()
        finally:
            if self.remote:
                shutil.rmtree(self.folder, ignore_errors=True)

    def add(self, tokens: np.ndarray) -> None:
        if self.writer is None:
            self.writer = ShardWriter(self.folder / f"{self.base}-{self.count:03d}", self.vocab_size)
            self.count += 1
        self.writer.add_document(tokens)
        self.num_tokens += len(tokens)
        if self.writer.num_tokens >= self.max_tokens:
            self.finish()

    def finish(self) -> None:
        """Publish the open shard, if any (under a URL: upload it)."""
        if self.writer is None:
            return
        self.writer.close()
        if self.remote:
            for suffix in (".bin", ".idx"):
                local = self.folder / (self.writer.prefix.name + suffix)
                with (
                    open(local, "rb") as source,
                    storage.atomic_path(storage.join(self.url, local.name)) as temporary,
                    fsspec.open(temporary, "wb") as target,
                ):
                    shutil.copyfileobj(source, target, COPY_BYTES)
                local.unlink()
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


def gather_shards(pieces: str, target: str, base: str, vocab_size: int, max_tokens: int) -> int:
    """Copy every document of the shards in `pieces` (in name order) into fresh shards target/<base>-NNN
    (folders or URLs; pieces under a URL are downloaded first): the held-out documents of many input
    shards become a few shards of useful size. Returns how many documents it copied."""
    from common.shards import IndexedShard

    documents = 0
    with tempfile.TemporaryDirectory(prefix="curate-pieces-") as scratch:
        local = download(pieces, Path(scratch)) if "://" in pieces else Path(pieces)
        remove_files(target, re.compile(r".*\.(bin|idx)"))
        with RollingShardWriter(target, base, vocab_size, max_tokens) as writer:
            for idx in sorted(local.glob("*.idx")) if local.exists() else []:
                shard = IndexedShard(idx.with_suffix(""))
                for i in range(len(shard)):
                    writer.add(np.asarray(shard[i]))
                documents += len(shard)
    return documents


def write_summary(url: str, tokenizer_sha256: str, vocab_size: int, eot_id: int) -> None:
    """Write tokens.json of the token folder at url: through common.shards for a folder; for a URL, from the
    shards' .idx files alone (no .bin is downloaded)."""
    if "://" not in url:
        Path(url).mkdir(parents=True, exist_ok=True)
        write_token_dir_summary(url, tokenizer_sha256, vocab_size, eot_id, allow_empty=True)
        return
    shards = []
    for idx in storage.list_files(url, (".idx",)):
        with fsspec.open(idx, "rb") as f:
            shards.append((storage.basename(idx)[: -len(".idx")], *index_counts(f.read())))
    summary = token_dir_summary(shards, tokenizer_sha256, vocab_size, eot_id)
    with storage.atomic_path(storage.join(url, SUMMARY_NAME)) as temporary, fsspec.open(temporary, "w") as f:
        f.write(json.dumps(summary, indent=1) + "\n")


def download(url: str, folder: Path) -> Path:
    """The shard files under url, copied into folder."""
    for remote in storage.list_files(url, (".bin", ".idx")):
        with fsspec.open(remote, "rb") as source, open(folder / storage.basename(remote), "wb") as target:
            shutil.copyfileobj(source, target, COPY_BYTES)
    return folder


def remove_files(url: str, names: re.Pattern) -> None:
    """Delete the files directly under url (a folder or URL) whose names match."""
    fs, path = storage.filesystem(url)
    if fs.exists(path):
        for found in fs.ls(path, detail=False):
            if names.fullmatch(found.rstrip("/").rsplit("/", 1)[-1]):
                fs.rm(found)


def limit_threads(threads: int | None, workers: int) -> None:
    """Give each worker process its share of the cores for the tokenizer's Rayon pool, so N workers do not
    start N x cores threads. Takes effect if set before this process first encodes a batch."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    count = threads or max(1, cores // max(workers, 1))
    os.environ["RAYON_NUM_THREADS"] = str(count)
    os.environ["RAYON_RS_NUM_CPUS"] = str(count)  # the name older tokenizers releases read
