"""The dedup stage: exact and MinHash near-duplicate removal across every shard.

Four phases, each a parallel, resumable map over tasks (`ctx.map_shards`):

1. signatures  (one task per input shard): normalise, shingle, MinHash, band keys and
   the exact (xxh3-128) hash of the normalised text -> _work/sig/<shard>.parquet
2. candidates  (one task per band x key-range partition, plus the exact hash): sort
   the keys of every shard, join equal keys into edges -> _work/edges/<task>.npy
3. components  (one task): clusters over all edges and the survivor of each
   -> _work/assign/<shard>.parquet (only documents in a cluster of two or more)
4. filter      (one task per input shard): kept documents get dup_cluster and
   dup_cluster_size; the others go to rejected/ with reason exact_duplicate or
   near_duplicate, detail and duplicate_of = the id of the document kept instead.

Rules:
- Survivor of a cluster: the highest `score_column` value when that column exists
  (missing scores rank last), then the lowest document id.
- Clusters (with verify_threshold set, the default) are stars, decided in rounds: in each
  connected component of the candidate pairs between undecided documents, the best document
  by the rule above survives, and every document whose signature agrees with the survivor's
  on >= verify_threshold of the permutations is removed as its duplicate; the rest go to the
  next round (clusters.survivor_stars). So a removed document is itself close to the document
  kept instead of it, never only linked to it through a chain of similar texts; chain ends
  survive. With verify_threshold null, a cluster is a whole connected component (datatrove,
  FineWeb).
- A removed document is an exact_duplicate when its normalised text equals the survivor's,
  otherwise a near_duplicate.
- A document with no words after normalisation (empty, only punctuation) is never a
  duplicate and is kept; a document shorter than `ngram` words has one shingle made of
  all its words, so it matches its exact copies and little else.
- Components run as one task: vectorised numpy hook-and-compress over the candidate-pair
  array, then the survivor rounds; memory is a few arrays the size of the pair list plus the
  signatures of the documents in pairs (documents without candidates cost nothing). It runs
  on a worker, not on the driver, and is checked against max_memory_gb first. One task
  because a component can span every shard and band: partial forests per band would still
  need a final merge over all their edges, and the phase is a small part of the run time
  (bench/RESULTS.md).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import time
from dataclasses import dataclass
from typing import Literal, Optional

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.core import storage
from curate.core.params import ConfigError, require_fraction
from curate.core.registry import register_stage
from curate.core.stage import Shard, ShardOutput, ShardStats, Stage, text_bytes
from curate.dedup import clusters, memory, minhash, normalize, report

ROW_MASK = np.int64((1 << clusters.ROW_BITS) - 1)
TAKE_BATCH_ROWS = 16384  # rows of a work file read at once when picking some of them
ADDED_FIELDS = [pa.field("dup_cluster", pa.string()), pa.field("dup_cluster_size", pa.int64())]


@dataclass
class DedupParams:
    fuzzy: bool = True  # MinHash near-duplicates too; false: exact duplicates only
    ngram: int = 5  # words per shingle (tokens for code)
    bands: int = 14  # LSH bands x rows = permutations; 14 x 8 = 112 catches Jaccard >= ~0.72 (FineWeb's setting)
    rows: int = 8
    seed: int = 1  # datasketch's permutation seed
    tokens: Literal["auto", "words", "code"] = "auto"  # auto: code tokens for rows whose source is "code"
    lowercase: bool = True
    strip_punctuation: bool = True  # prose only; code keeps punctuation as tokens
    normalize_digits: bool = True  # every digit becomes 0
    # Candidate pairs, and each removed document against its survivor, must agree on at least this share of
    # their MinHash values (estimated Jaccard; standard error 0.038 at 0.8 with 112 permutations): 0.75 keeps
    # ~90% of pairs at exactly 0.8 and drops nearly all below 0.7. null: no checks, clusters are connected components.
    verify_threshold: Optional[float] = 0.75
    score_column: Optional[str] = None  # e.g. a quality score: the highest-scored copy survives
    max_memory_gb: float = 8.0  # refuse to start (or to cluster) above this estimated peak
    largest_clusters: int = 20  # how many the report lists

    def __post_init__(self):
        for name in ("ngram", "bands", "rows", "largest_clusters"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter '{name}' must be at least 1, got {getattr(self, name)}")
        if self.bands * self.rows > 1024:
            raise ValueError(f"bands x rows must be at most 1024 permutations, got {self.bands * self.rows}")
        if self.verify_threshold is not None:
            require_fraction("verify_threshold", self.verify_threshold)
        if self.max_memory_gb <= 0:
            raise ValueError(f"parameter 'max_memory_gb' must be positive, got {self.max_memory_gb}")

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def normalization(self) -> normalize.Normalization:
        return normalize.Normalization(self.lowercase, self.strip_punctuation, self.normalize_digits)


@register_stage("dedup")
class DedupStage(Stage):
    Params = DedupParams

    @property
    def config_hash(self) -> str:
        # The memory limit and the report length do not change results: a rerun with a higher
        # limit must resume, not refuse as "different parameters".
        params = {k: v for k, v in dataclasses.asdict(self.params).items() if k not in ("max_memory_gb", "largest_clusters")}
        payload = json.dumps([self.type_name, params], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    # ---- driver -------------------------------------------------------------------------

    def run(self, ctx) -> ShardStats:
        shards = self.shards(ctx)
        if not shards:
            return ShardStats()
        plan = plan_for(shards, ctx.node_workers, self.params)
        ctx.note("\n".join(plan.lines()))
        plan.check(self.params.max_memory_gb)
        sig_urls = tuple(ctx.work_url("sig", s.name + ".parquet") for s in shards)
        seconds = {}
        with timed(seconds, "signatures"):
            ctx.map_shards(self, "signatures", "sign_shard", shards)
        with timed(seconds, "candidates"):
            ctx.map_shards(self, "candidates", "bucket_task", self.candidate_tasks(plan.docs, sig_urls))
        if not storage.exists(ctx.done_url("components", "components")):
            edges = count_edges(ctx.work_url("edges"))
            need = plan.check_components(edges, self.params.max_memory_gb)
            ctx.note(f"dedup: {edges:,} candidate pairs; components need about {need / memory.GB:.2f} GiB")
        with timed(seconds, "components"):
            ctx.map_shards(self, "components", "cluster_task", [Shard("components", sig_urls)])
        with timed(seconds, "filter"):
            stats = ctx.map_shards(self, "filter", "filter_shard", shards)
        ctx.note("dedup phases: " + ", ".join(f"{name} {s:.1f}s" for name, s in seconds.items()))
        self.write_report(ctx, stats)
        storage.remove_tree(ctx.work_url())
        return stats

    def candidate_tasks(self, docs: int, sig_urls: tuple[str, ...]) -> list[Shard]:
        parts = memory.bucket_partitions(docs)
        keys = ["exact"] + ([f"band-{b:03d}" for b in range(self.params.bands)] if self.params.fuzzy else [])
        return [Shard(f"{key}.part-{p:04d}-of-{parts:04d}", sig_urls) for key in keys for p in range(parts)]

    def write_report(self, ctx, stats: ShardStats) -> None:
        report_dir = storage.join(ctx.output_dir, "report")
        summary = storage.read_json(storage.join(report_dir, "clusters.json"))
        summary.update(docs_in=stats.docs_in, docs_out=stats.docs_out, bytes_in=stats.bytes_in, bytes_out=stats.bytes_out)
        report.write_report(report_dir, summary)
        ctx.note("\n".join(report.summary_lines(summary)))

    # ---- phase 1: signatures ------------------------------------------------------------

    def sign_shard(self, shard: Shard, ctx) -> ShardStats:
        start, stats = time.perf_counter(), ShardStats()
        sink = storage.ParquetSink(ctx.work_url("sig", shard.name + ".parquet"), always=True)
        try:
            for table in read_columns(shard.inputs, self.input_columns(shard.inputs[0]), memory.SIGNATURE_BATCH_DOCS):
                sink.write(self.sign_batch(table))
                stats.docs_in += table.num_rows
                stats.bytes_in += text_bytes(table)
            sink.close(self.sign_batch(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.large_string())})).schema)
        except BaseException:
            sink.abort()
            raise
        stats.docs_out, stats.bytes_out = stats.docs_in, stats.bytes_in
        stats.seconds = time.perf_counter() - start
        return stats

    def input_columns(self, url: str) -> list[str]:
        names = storage.parquet_schema(url).names
        wanted = ["id", "text", "url", "source", self.params.score_column]
        return [c for c in wanted if c and c in names]

    def sign_batch(self, table: pa.Table) -> pa.Table:
        p = self.params
        words = normalize.batch_words(table["text"].combine_chunks(), self.code_rows(table), p.normalization)
        n = table.num_rows
        exact = minhash.exact_hashes(words)
        columns = {
            "id": table["id"].combine_chunks().cast(pa.string()),
            "url": table["url"].combine_chunks().cast(pa.string()) if "url" in table.column_names else pa.nulls(n, pa.string()),
            "bytes": pc.binary_length(table["text"].combine_chunks()).cast(pa.int64()),
            "score": self.scores(table),
            "eligible": pc.greater(pc.list_value_length(words), 0),
            "h1": pa.array(exact[:, 0]), "h2": pa.array(exact[:, 1]),
        }
        if p.fuzzy:
            hashes, rows, _ = minhash.shingles(words, p.ngram)
            sig = minhash.signatures(hashes, rows, n, p.num_perm, p.seed)
            keys = minhash.band_keys(sig, p.bands, p.rows)
            columns.update({f"band-{b:03d}": pa.array(keys[:, b]) for b in range(p.bands)})
            if p.verify_threshold is not None:
                columns["signature"] = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * p.num_perm), n, [None, pa.py_buffer(sig.tobytes())])
        return pa.table(columns)

    def code_rows(self, table: pa.Table) -> pa.Array | None:
        if self.params.tokens == "words":
            return None
        if self.params.tokens == "code":
            return pa.array(np.ones(table.num_rows, bool))
        if "source" not in table.column_names:
            return None
        return pc.fill_null(pc.equal(table["source"].combine_chunks(), "code"), False)

    def scores(self, table: pa.Table) -> pa.Array:
        column = self.params.score_column
        if not column or column not in table.column_names:
            return pa.nulls(table.num_rows, pa.float64())
        try:
            return table[column].combine_chunks().cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise ConfigError(f"dedup: score_column '{column}' is {table[column].type}, not a number: {error}") from None

    # ---- phase 2: candidate pairs -------------------------------------------------------

    def bucket_task(self, task: Shard, ctx) -> ShardStats:
        start = time.perf_counter()
        key, part_name = task.name.split(".")
        part, parts = (int(x) for x in part_name.removeprefix("part-").split("-of-"))
        columns = ["h1", "h2"] if key == "exact" else [key]
        keys, nodes = [], []
        for number, url in enumerate(task.inputs):
            table = storage.read_table(url, columns + ["eligible"])
            rows = np.flatnonzero(table["eligible"].to_numpy(zero_copy_only=False))
            values = [table[c].to_numpy()[rows] for c in columns]
            mine = values[0] % np.uint64(parts) == np.uint64(part)
            keys.append([v[mine] for v in values])
            nodes.append(clusters.global_index(number, table.num_rows)[rows[mine]])
        node_array = np.concatenate(nodes) if nodes else np.zeros(0, np.int64)
        key_arrays = [np.concatenate([k[i] for k in keys]) for i in range(len(columns))]
        edges = clusters.bucket_edges(key_arrays, node_array)
        if key != "exact" and self.params.verify_threshold is not None and len(edges):
            edges = self.verified(edges, task.inputs)
        save_npy(ctx.work_url("edges", task.name + ".npy"), edges)
        return ShardStats(docs_in=int(node_array.size), docs_out=int(len(edges)), seconds=time.perf_counter() - start)

    def verified(self, edges: np.ndarray, sig_urls) -> np.ndarray:
        """The edges whose documents agree on at least verify_threshold of their MinHash values
        (an unbiased estimate of their Jaccard similarity): removes the band collisions of
        dissimilar texts, at the cost of some true pairs right at the threshold."""
        nodes = np.unique(edges)
        sigs = read_signatures(sig_urls, nodes, self.params.num_perm)
        left, right = np.searchsorted(nodes, edges[:, 0]), np.searchsorted(nodes, edges[:, 1])
        return edges[clusters.signature_agreement(sigs, left, right) >= self.params.verify_threshold]

    # ---- phase 3: connected components and survivors ------------------------------------

    def cluster_task(self, task: Shard, ctx) -> ShardStats:
        start = time.perf_counter()
        edge_files = storage.list_files(ctx.work_url("edges"), (".npy",))
        edges = np.concatenate([load_npy(f) for f in edge_files]) if edge_files else np.zeros((0, 2), np.int64)
        nodes = np.unique(edges)
        members = self.members_table(task.inputs, nodes)
        order = pc.sort_indices(members, [("score", "descending", "at_end"), ("id", "ascending", "at_end")]).to_numpy()
        rank = np.empty(nodes.size, np.int64)
        rank[order] = np.arange(nodes.size)
        edges = rank[np.searchsorted(nodes, edges)]  # nodes renumbered by survivor priority: 0 is the best
        signatures = None
        if self.params.fuzzy and self.params.verify_threshold is not None:
            signatures = read_signatures(task.inputs, nodes[order], self.params.num_perm)
        pa.default_memory_pool().release_unused()  # Parquet read buffers: the rounds below need the room
        survivor = clusters.survivor_stars(edges, signatures, self.params.verify_threshold)
        del edges, signatures
        assigned = assign_survivors(members.take(pa.array(order)), survivor)
        self.write_assignments(ctx, task.inputs, assigned)
        docs = sum(storage.parquet_rows(u) for u in task.inputs)
        summary = cluster_summary(assigned, docs, self.params.largest_clusters)
        storage.write_json(storage.join(ctx.output_dir, "report", "clusters.json"), summary)
        return ShardStats(docs_in=int(nodes.size), docs_out=int(summary["clusters"]), seconds=time.perf_counter() - start)

    def members_table(self, sig_urls, nodes: np.ndarray) -> pa.Table:
        """id, url, bytes, score and exact hash of every document in a candidate pair, in node order."""
        shard_numbers = nodes >> np.int64(clusters.ROW_BITS)
        parts = []
        for number in np.unique(shard_numbers):
            rows = nodes[shard_numbers == number] & ROW_MASK
            parts.append(take_rows(sig_urls[number], ["id", "url", "bytes", "score", "h1", "h2"], rows))
        empty = pa.schema([("id", pa.string()), ("url", pa.string()), ("bytes", pa.int64()), ("score", pa.float64()),
                           ("h1", pa.uint64()), ("h2", pa.uint64())]).empty_table()
        table = pa.concat_tables(parts) if parts else empty
        return table.append_column("node", pa.array(nodes))

    def write_assignments(self, ctx, sig_urls, assigned: pa.Table) -> None:
        """One file per shard, empty when none of its documents is in a cluster: the filter
        refuses a shard without one rather than reading a lost file as "no duplicates"."""
        numbers = (assigned["node"].to_numpy() >> np.int64(clusters.ROW_BITS)) if assigned.num_rows else np.zeros(0, np.int64)
        for number, sig_url in enumerate(sig_urls):
            part = assigned.filter(pa.array(numbers == number))
            rows = pa.array(part["node"].to_numpy() & ROW_MASK, pa.int64())
            table = pa.table({"row": rows, "dup_cluster": part["dup_cluster"], "dup_cluster_size": part["dup_cluster_size"],
                              "duplicate_of": part["duplicate_of"], "reason": part["reason"]})
            sink = storage.ParquetSink(ctx.work_url("assign", storage.basename(sig_url)), always=True)
            sink.write(table.sort_by("row"))
            sink.close()

    # ---- phase 4: filter ----------------------------------------------------------------

    def filter_shard(self, shard: Shard, ctx) -> ShardStats:
        assign_url = ctx.work_url("assign", shard.name + ".parquet")
        if not storage.exists(assign_url):  # lost scratch must not read as "no duplicates"
            raise FileNotFoundError(f"dedup: {assign_url} (the clusters of shard {shard.name}) is missing; "
                                    f"delete {ctx.state_dir} to redo the stage")
        assigned = storage.read_table(assign_url, None)
        with ShardOutput(self.name, ctx.output_url(shard.name), ctx.rejected_url(shard.name)) as output:
            offset = 0
            for table in read_columns(shard.inputs, None, memory.FILTER_BATCH_DOCS):
                self.filter_batch(table, assigned, offset, output)
                offset += table.num_rows
            output.empty_schema = pa.schema(list(storage.parquet_schema(shard.inputs[0])) + ADDED_FIELDS)
        return output.stats

    def filter_batch(self, table: pa.Table, assigned: pa.Table, offset: int, output: ShardOutput) -> None:
        output.read(table)
        cluster, size, duplicate_of, reason = batch_assignments(table, assigned, offset)
        table = table.append_column(ADDED_FIELDS[0], cluster).append_column(ADDED_FIELDS[1], size)
        drop = pc.is_valid(reason)
        output.keep(table.filter(pc.invert(drop)))
        if pc.any(drop).as_py():
            drop_of = duplicate_of.filter(drop)
            drop_table = table.filter(drop).append_column(pa.field("duplicate_of", pa.string()), drop_of)
            output.reject(drop_table, reason.filter(drop).to_pylist(), drop_of.to_pylist())


# ---- helpers --------------------------------------------------------------------------------


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
    return pa.table({
        "node": table["node"], "id": table["id"], "url": table["url"], "bytes": table["bytes"],
        "dup_cluster": survivor_id, "dup_cluster_size": pa.array(size, pa.int64()),
        "duplicate_of": pc.if_else(pa.array(is_survivor), pa.nulls(len(clustered), pa.string()), survivor_id),
        "reason": pa.array(reason.tolist(), pa.string()),
    })


def cluster_summary(assigned: pa.Table, docs: int, largest: int) -> dict:
    removed = {}
    for name in report.REASONS:
        mask = pc.equal(assigned["reason"], name).fill_null(False) if assigned.num_rows else pa.array([], pa.bool_())
        part = assigned.filter(mask)
        removed[name] = {"docs": part.num_rows, "bytes": int(pc.sum(part["bytes"]).as_py() or 0)}
    survivors = assigned.filter(pc.is_null(assigned["reason"])) if assigned.num_rows else assigned
    sizes = survivors["dup_cluster_size"].to_numpy() if survivors.num_rows else np.zeros(0, np.int64)
    values, counts = np.unique(sizes, return_counts=True)
    top = np.lexsort((np.arange(len(sizes)), -sizes))[:largest]  # biggest first; ties in survivor order
    largest_clusters = []
    for index in top:
        cluster_id = survivors["dup_cluster"][int(index)].as_py()
        in_cluster = assigned.filter(pc.equal(assigned["dup_cluster"], cluster_id))
        reasons = in_cluster["reason"].to_pylist()
        largest_clusters.append({"survivor": cluster_id, "size": int(sizes[index]), "exact": reasons.count("exact_duplicate"),
                                 "near": reasons.count("near_duplicate"), "sample_urls": in_cluster["url"].to_pylist()[:5]})
    return {"docs": docs, "docs_in_clusters": assigned.num_rows, "clusters": int(len(sizes)), "removed": removed,
            "cluster_size_histogram": {str(int(v)): int(c) for v, c in zip(values, counts)},
            "largest_clusters": largest_clusters}


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
    return cluster, size, assigned["duplicate_of"].take(index).combine_chunks(), assigned["reason"].take(index).combine_chunks()


@contextlib.contextmanager
def timed(seconds: dict, name: str):
    start = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - start


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
            signature_batch = max(signature_batch, batch_text_bytes(meta.num_rows, file_text, memory.SIGNATURE_BATCH_DOCS))
            filter_batch = max(filter_batch, batch_text_bytes(meta.num_rows, file_text, memory.FILTER_BATCH_DOCS))
    return memory.Estimate(docs, text, size, workers, params.bands if params.fuzzy else 0, params.num_perm,
                           params.fuzzy and params.verify_threshold is not None, len(shards), signature_batch, filter_batch)


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


def read_signatures(sig_urls, nodes: np.ndarray, num_perm: int) -> np.ndarray:
    """(len(nodes), num_perm) uint32: the MinHash signatures of these documents, in this order."""
    shard_numbers = nodes >> np.int64(clusters.ROW_BITS)
    sigs = np.empty((nodes.size, num_perm), np.uint32)
    for number in np.unique(shard_numbers):
        mine = np.flatnonzero(shard_numbers == number)
        rows = nodes[mine] & ROW_MASK
        order = np.argsort(rows, kind="stable")
        column = take_rows(sig_urls[number], ["signature"], rows[order])["signature"].combine_chunks()
        values = np.frombuffer(column.buffers()[1], np.uint32).reshape(-1, num_perm)[column.offset:]
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



