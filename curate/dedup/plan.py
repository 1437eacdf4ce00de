"""Sizing a dedup run before it starts: documents, text and batch sizes from Parquet metadata,
for the memory plan (curate/dedup/memory.py), and reading input in batches of bounded text."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from curate.core import storage
from curate.core.stage import Shard
from curate.dedup import memory
from curate.dedup.params import DedupParams


def plan_for(shards: list[Shard], workers: int, params: DedupParams) -> memory.Estimate:
    docs = text = size = signature_batch = filter_batch = 0
    for shard in shards:
        for url in shard.inputs:
            with fsspec.open(url, "rb") as f:
                meta = pq.ParquetFile(f).metadata
            file_text = text_column_bytes(meta)
            docs += meta.num_rows
            text += file_text
            size += storage.filesystem(url)[0].size(storage.filesystem(url)[1]) or 0
            signature_batch = max(
                signature_batch, batch_text_bytes(meta.num_rows, file_text, memory.SIGNATURE_BATCH_DOCS)
            )
            filter_batch = max(filter_batch, batch_text_bytes(meta.num_rows, file_text, memory.FILTER_BATCH_DOCS))
    return memory.Estimate(
        docs,
        text,
        size,
        workers,
        params.bands if params.fuzzy else 0,
        params.num_perm,
        params.fuzzy and params.verify_threshold is not None,
        len(shards),
        signature_batch,
        filter_batch,
    )


def batch_text_bytes(rows: int, text: int, max_rows: int) -> int:
    """Text bytes of one read batch of a file (see read_columns), if its documents are of average length."""
    if not rows:
        return 0
    return min(text, int(memory.batch_rows(text / rows, max_rows) * text / rows))


def text_column_bytes(meta: pq.FileMetaData) -> int:
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            if group.column(c).path_in_schema == "text":
                total += group.column(c).total_uncompressed_size
    return total


def read_columns(urls, columns: list[str] | None, max_rows: int):
    """Batches of at most max_rows rows and about memory.BATCH_TEXT_BYTES of text (fewer rows for
    files of long documents, judged from the file's metadata), as tables, file after file."""
    for url in urls:
        with fsspec.open(url, "rb") as f:
            parquet = pq.ParquetFile(f)
            rows = parquet.metadata.num_rows
            average = text_column_bytes(parquet.metadata) / rows if rows else 0
            for batch in parquet.iter_batches(batch_size=memory.batch_rows(average, max_rows), columns=columns):
                yield pa.Table.from_batches([batch])
