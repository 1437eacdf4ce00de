"""Band-local key files: the exact-hash and LSH band keys of one shard, laid out so that a
candidates task (one key slot, one key-range partition) reads only its own bytes.

One Parquet file per shard, columns row (uint32: the document's row in the shard), key (uint64)
and key2 (uint64: the second half of the exact hash; 0 for bands). Row groups in slot-major
order: slot 0 is the exact hash, slot 1 + b is band b, and within a slot one row group per
partition, the partition being the key's top `bits` bits (2^bits partitions). A reader asks for
(slot, partition) at its own partition count: with as many or fewer bits than the file it reads
whole row groups and nothing else; with more (a file written by a smaller run, such as an index
segment) it reads the one row group that holds its range and drops the rest of it. Only eligible
documents (with words) are in the file. Parquet rather than one file per band: on object storage
15 x shards small objects cost more requests than range reads of one object each.
"""

from __future__ import annotations

import json
import math

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.core import storage

SCHEMA = pa.schema([("row", pa.uint32()), ("key", pa.uint64()), ("key2", pa.uint64())])
COMPRESSION = {"row": "zstd", "key": "none", "key2": "zstd"}  # random keys do not compress; rows and zeros do
ENCODING = {
    "row": "DELTA_BINARY_PACKED",
    "key": "PLAIN",
    "key2": "PLAIN",
}  # rows ascend within a row group: a bit or two each
META = b"curate.dedup.keys"


def keys_url_of(sig_url: str) -> str:
    """The keys file beside a signature file (work/sig/x -> work/keys/x; the same in an index segment)."""
    head, _, name = sig_url.rpartition("/sig/")
    return head + "/keys/" + name


def sig_url_of(keys_url: str) -> str:
    head, _, name = keys_url.rpartition("/keys/")
    return head + "/sig/" + name


def partition_bits(parts: int) -> int:
    """Bits of key prefix that make at least `parts` partitions."""
    return max(0, math.ceil(math.log2(max(parts, 1))))


def part_of(keys: np.ndarray, bits: int) -> np.ndarray:
    return (keys >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(keys.size, np.int64)


def write_keys(url: str, rows: np.ndarray, slots: list[tuple[np.ndarray, np.ndarray | None]], bits: int) -> None:
    """slots: (key, key2 or None) per slot, aligned with rows. Atomic (storage.atomic_path)."""
    rows = rows.astype(np.uint32)
    meta = {META: json.dumps({"slots": len(slots), "bits": bits}).encode()}
    with storage.atomic_path(url) as temporary, fsspec.open(temporary, "wb") as f:
        with pq.ParquetWriter(
            f, SCHEMA.with_metadata(meta), compression=COMPRESSION, use_dictionary=False, column_encoding=ENCODING
        ) as writer:
            for key, key2 in slots:
                part = part_of(key, bits)
                order = np.argsort(part, kind="stable")
                bounds = np.searchsorted(part[order], np.arange((1 << bits) + 1))
                second = key2 if key2 is not None else np.zeros(key.size, np.uint64)
                for p in range(1 << bits):
                    pick = order[bounds[p] : bounds[p + 1]]
                    writer.write_table(
                        pa.table({"row": rows[pick], "key": key[pick], "key2": second[pick]}, schema=SCHEMA),
                        row_group_size=max(1, pick.size),
                    )


class CountingFile:
    """A read-only file that counts the bytes and the read calls passed through it."""

    def __init__(self, f):
        self.f, self.bytes, self.calls = f, 0, 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.bytes += len(data)
        self.calls += 1
        return data

    def __getattr__(self, name):
        return getattr(self.f, name)


class ReadCounter:
    """Files opened and bytes read by one task: what it costs in requests and transfer on object storage."""

    def __init__(self):
        self.files = self.bytes = self.calls = 0

    def add(self, counting: CountingFile) -> None:
        self.files += 1
        self.bytes += counting.bytes
        self.calls += counting.calls

    def counters(self) -> dict[str, int]:
        return {"files_read": self.files, "bytes_read": self.bytes, "read_calls": self.calls}


def read_slot(
    url: str, slot: int, part: int, bits: int, counter: ReadCounter | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, key, key2) of one slot's partition `part` of 2^bits, reading only the row groups that hold it."""
    # no read-ahead cache: on object storage each read is one ranged GET of just the bytes asked for
    fs, path = storage.filesystem(url)
    with fs.open(path, "rb", cache_type="none") as raw:
        f = CountingFile(raw)
        parquet = pq.ParquetFile(f)
        layout = json.loads(parquet.schema_arrow.metadata[META])
        file_bits, groups_per_slot = layout["bits"], 1 << layout["bits"]
        if slot >= layout["slots"]:
            raise ValueError(
                f"dedup: {url} has {layout['slots']} key slots, not {slot + 1}: written with other parameters"
            )
        first = slot * groups_per_slot
        if file_bits >= bits:
            span = 1 << (file_bits - bits)
            groups = list(range(first + part * span, first + (part + 1) * span))
        else:
            groups = [first + (part >> (bits - file_bits))]
        table = parquet.read_row_groups(groups, columns=["row", "key", "key2"])
    if counter is not None:
        counter.add(f)
    rows, key, key2 = (table[c].to_numpy() for c in ("row", "key", "key2"))
    if file_bits < bits:
        mine = part_of(key, bits) == part
        rows, key, key2 = rows[mine], key[mine], key2[mine]
    return rows.astype(np.int64), key, key2


def read_all(url: str) -> tuple[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """(bits, [(rows, key, key2) of every slot]), for copying a shard's keys into an index segment."""
    with fsspec.open(url, "rb") as f:
        parquet = pq.ParquetFile(f)
        layout = json.loads(parquet.schema_arrow.metadata[META])
        table = parquet.read()
    per_slot = 1 << layout["bits"]
    counts = [parquet.metadata.row_group(g).num_rows for g in range(parquet.metadata.num_row_groups)]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    rows, key, key2 = (table[c].to_numpy() for c in ("row", "key", "key2"))
    slots = []
    for s in range(layout["slots"]):
        lo, hi = bounds[s * per_slot], bounds[(s + 1) * per_slot]
        slots.append((rows[lo:hi].astype(np.int64), key[lo:hi], key2[lo:hi]))
    return layout["bits"], slots
