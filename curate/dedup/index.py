"""A persistent dedup index: the keys and signatures of every document kept so far, so that the
next crawl is deduplicated against everything before it without reading or hashing old text again.

Layout under the index folder or URL (`index:` in the dedup stage):

    manifest.json                      the committed segments, and the parameters the keys were made with
    segments/<name>/sig/<shard>.parquet   id, url, bytes, score, h1, h2 (and signature) of the kept documents
    segments/<name>/keys/<shard>.parquet  their exact and band keys, band-local (curate/dedup/keys.py)

A run reads the manifest when it plans, takes part in candidates and components with the index's
documents (their rows come from these files only), writes its own kept documents as a new
segment in a task per shard, and commits the segment by rewriting manifest.json (one atomic
file write) once its filter pass has finished. A killed add leaves the manifest as it was: the
half-written segment folder is never listed, and the rerun writes it again under the same name.

Keep rule across runs: a document already in the index always survives; a new document that is a
near or exact duplicate of one is removed with duplicate_of = the indexed document's id. Among
the new documents the stage's own rule holds (highest score, then lowest id). So a run on crawl
A, then a run on B against the index, keeps what one run on A + B keeps when A's documents rank
before B's (tests/test_dedup_index.py). Where they can differ (bench/dedup_incremental.py:
22 of 82,685 documents at 50k + 50k): (1) a new document whose only candidate link to a kept A
document ran through an A document that A's run removed (removed documents are not in the
index): one run reaches the kept document through it and removes the new one, the incremental
run keeps it; (2) a B document that links two A documents A's run kept apart: one run may then
remove the second A document and keep the B one, while the incremental run never removes an
indexed document, so it keeps both A documents and removes the B one.

One writer at a time: the commit refuses when the manifest gained segments this run did not
dedup against (another run committed meanwhile); its new segment is then not added.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core import storage
from curate.core.params import ConfigError
from curate.dedup import keys

MANIFEST = "manifest.json"
KEY_PARAMS = ("fuzzy", "ngram", "bands", "rows", "seed", "tokens", "lowercase", "strip_punctuation", "normalize_digits")


def key_params(params) -> dict:
    """What the stored keys depend on; an index only serves runs with the same values."""
    return {**{name: getattr(params, name) for name in KEY_PARAMS}, "signatures": params.verify_threshold is not None}


def read_manifest(index: str, params) -> dict:
    url = storage.join(index, MANIFEST)
    if not storage.exists(url):
        return {"params": key_params(params), "segments": []}
    manifest = storage.read_json(url)
    if manifest["params"] != key_params(params):
        differ = {
            k: (manifest["params"].get(k), v) for k, v in key_params(params).items() if manifest["params"].get(k) != v
        }
        raise ConfigError(
            f"dedup: the index {index} was made with other parameters (index, this stage): {differ}; "
            f"use the index's values or another index"
        )
    return manifest


def sig_urls(index: str, manifest: dict) -> list[str]:
    return [
        storage.join(index, "segments", seg["name"], "sig", s + ".parquet")
        for seg in manifest["segments"]
        for s in seg["shards"]
    ]


def segment_name(state_dir: str, shard_names: list[str]) -> str:
    """Stable across reruns of one run (so a resumed add writes the same segment), new for another."""
    return hashlib.sha256(json.dumps([state_dir, sorted(shard_names)]).encode()).hexdigest()[:16]


def write_shard(index: str, segment: str, shard: str, sig_url: str, removed_rows: np.ndarray) -> int:
    """Copy a shard's kept, eligible documents (signature rows and keys) into the segment; returns how many."""
    meta = storage.read_table(sig_url)
    kept = meta["eligible"].to_numpy(zero_copy_only=False).copy()
    kept[removed_rows] = False
    new_row = np.cumsum(kept) - 1
    target = storage.join(index, "segments", segment)
    sink = storage.ParquetSink(storage.join(target, "sig", shard + ".parquet"), always=True)
    sink.write(meta.filter(pa.array(kept)).drop_columns(["eligible"]))
    sink.close()
    bits, slots = keys.read_all(keys.keys_url_of(sig_url))
    copied = []
    for rows, key, key2 in slots:
        mine = kept[rows]
        copied.append((rows[mine], key[mine], key2[mine]))
    # rows of every slot are the same set; store them aligned with slot 0's order
    order = [np.argsort(rows, kind="stable") for rows, _, _ in copied]
    rows = copied[0][0][order[0]]
    keys.write_keys(
        storage.join(target, "keys", shard + ".parquet"),
        new_row[rows],
        [(key[o], key2[o] if s == 0 else None) for s, ((_, key, key2), o) in enumerate(zip(copied, order))],
        bits,
    )
    return int(kept.sum())


def commit(index: str, params, segment: str, shards: list[str], documents: int, seen: list[str]) -> bool:
    """Add the segment to the manifest (atomic). False when it was already there (a rerun)."""
    url = storage.join(index, MANIFEST)
    manifest = read_manifest(index, params)
    names = [s["name"] for s in manifest["segments"]]
    if segment in names:
        return False
    if names != seen:
        raise ConfigError(
            f"dedup: the index {index} changed during this run (segments {sorted(set(names) - set(seen))} "
            f"were added by another run); this run's documents were not checked against them, so its "
            f"segment {segment} is not added. Rerun the dedup against the index as it is now"
        )
    manifest["segments"].append({"name": segment, "shards": shards, "documents": documents})
    manifest["documents"] = sum(s["documents"] for s in manifest["segments"])
    storage.write_json(url, manifest)
    return True


def removed_in(assign_url: str) -> np.ndarray:
    """Rows of a shard that the components phase removed."""
    table = storage.read_table(assign_url, ["row", "reason"])
    return table["row"].filter(pc.is_valid(table["reason"])).to_numpy()
