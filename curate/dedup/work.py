"""Dedup's scratch files: signatures picked by row, candidate-pair arrays, and the cluster
assignment of each document (who survives, who is a duplicate of whom)."""

from __future__ import annotations

import io

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.core import storage
from curate.dedup import clusters

ROW_MASK = np.int64((1 << clusters.ROW_BITS) - 1)
TAKE_BATCH_ROWS = 16384  # rows of a work file read at once when picking some of them


def assign_survivors(members: pa.Table, survivor: np.ndarray) -> pa.Table:
    """Per document in a cluster of two or more: its cluster (the survivor's id), the cluster's
    size, and for non-survivors the survivor's id and the reason (exact when the normalised
    texts are equal). `members` is in priority order and survivor[i] is the position of row i's
    survivor; documents left alone (size 1) are dropped, as they are kept unchanged."""
    n = members.num_rows
    sizes = np.bincount(survivor, minlength=n)[survivor] if n else np.zeros(0, np.int64)
    clustered = np.flatnonzero(sizes > 1)
    table, survivor, size = members.take(pa.array(clustered)), survivor[clustered], sizes[clustered]
    is_survivor = survivor == clustered
    survivor_id = members["id"].take(pa.array(survivor))
    h1, h2 = members["h1"].to_numpy(), members["h2"].to_numpy()
    exact = (h1[clustered] == h1[survivor]) & (h2[clustered] == h2[survivor])
    reason = np.where(is_survivor, None, np.where(exact, "exact_duplicate", "near_duplicate"))
    return pa.table(
        {
            "node": table["node"],
            "id": table["id"],
            "url": table["url"],
            "bytes": table["bytes"],
            "dup_cluster": survivor_id,
            "dup_cluster_size": pa.array(size, pa.int64()),
            "duplicate_of": pc.if_else(pa.array(is_survivor), pa.nulls(len(clustered), pa.string()), survivor_id),
            "reason": pa.array(reason.tolist(), pa.string()),
        }
    )


def batch_assignments(table: pa.Table, assigned: pa.Table | None, offset: int):
    """dup_cluster, dup_cluster_size, duplicate_of and reason for the rows [offset, offset + n) of a shard."""
    n = table.num_rows
    ids = table["id"].combine_chunks().cast(pa.string())
    if assigned is None or assigned.num_rows == 0:
        return ids, pa.array(np.ones(n, np.int64)), pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    rows = assigned["row"].to_numpy()
    position = np.searchsorted(rows, np.arange(offset, offset + n))
    found = position < len(rows)
    found[found] = rows[position[found]] == np.arange(offset, offset + n)[found]
    index = pa.array(np.where(found, position, 0), mask=~found)
    cluster = pc.coalesce(assigned["dup_cluster"].take(index), ids)
    size = pc.coalesce(assigned["dup_cluster_size"].take(index), pa.scalar(1, pa.int64()))
    return (
        cluster,
        size,
        assigned["duplicate_of"].take(index).combine_chunks(),
        assigned["reason"].take(index).combine_chunks(),
    )


def read_signatures(sig_urls, nodes: np.ndarray, num_perm: int) -> np.ndarray:
    """(len(nodes), num_perm) uint32: the MinHash signatures of these documents, in this order."""
    shard_numbers = nodes >> np.int64(clusters.ROW_BITS)
    sigs = np.empty((nodes.size, num_perm), np.uint32)
    for number in np.unique(shard_numbers):
        mine = np.flatnonzero(shard_numbers == number)
        rows = nodes[mine] & ROW_MASK
        order = np.argsort(rows, kind="stable")
        column = take_rows(sig_urls[number], ["signature"], rows[order])["signature"].combine_chunks()
        values = np.frombuffer(column.buffers()[1], np.uint32).reshape(-1, num_perm)[column.offset :]
        sigs[mine[order]] = values[: len(rows)]
    return sigs


def take_rows(url: str, columns: list[str], rows: np.ndarray) -> pa.Table:
    """These rows (ascending) of a Parquet file, read a batch at a time so that only they are held."""
    start = 0
    with fsspec.open(url, "rb") as f:
        parquet = pq.ParquetFile(f)
        parts = [parquet.schema_arrow.empty_table().select(columns)]
        for batch in parquet.iter_batches(batch_size=TAKE_BATCH_ROWS, columns=columns):
            lo, hi = np.searchsorted(rows, [start, start + batch.num_rows])
            if hi > lo:
                parts.append(pa.Table.from_batches([batch]).take(pa.array(rows[lo:hi] - start)))
            start += batch.num_rows
    return pa.concat_tables(parts)


def save_npy(url: str, array: np.ndarray) -> None:
    with storage.atomic_path(url) as temporary, fsspec.open(temporary, "wb") as f:
        np.save(f, array)


def load_npy(url: str) -> np.ndarray:
    with fsspec.open(url, "rb") as f:
        return np.load(io.BytesIO(f.read()))


def count_edges(edges_dir: str) -> int:
    fs, _ = storage.filesystem(edges_dir)
    files = storage.list_files(edges_dir, (".npy",)) if storage.exists(edges_dir) else []
    return sum(max(0, (fs.size(storage.filesystem(f)[1]) - 128) // 16) for f in files)
