"""The dedup stage: exact and MinHash near-duplicate removal across every shard.

The stage (this file: its four phases) and its parts: params.py (parameters),
plan.py (sizes from Parquet metadata for the memory plan in memory.py), work.py (scratch
files: signatures, candidate pairs, cluster assignments), clusters.py, minhash.py,
normalize.py, report.py. The stage declares its phases (`phases`); the runner runs them, each
resumable on its own. The first and the last are passes over the documents, which the runner
fuses with the document stages before and after dedup (one read of the corpus before dedup, one
after; `curate run --materialize` runs dedup on its own):

1. signatures  (a pass, per input shard): normalise, shingle, MinHash, band keys and
   the exact (xxh3-128) hash of the normalised text -> work/sig/<shard>.parquet (id, url,
   score, exact hash, signature: what components read) and work/keys/<shard>.parquet (the
   keys, band-local: a candidates task reads only its band's row groups, keys.py)
2. candidates  (one task per band x key-range partition, plus the exact hash): sort
   the keys of every shard (and of the index, with `index`), join equal keys into edges
   -> work/edges/<task>.npy; each task's files, bytes and read calls are in its stats
3. components  (one task): clusters over all edges and the survivor of each
   -> work/assign/<shard>.parquet (only documents in a cluster of two or more)
3b. index      (with `index`, a task per shard): the shard's kept documents' signature rows
   and keys -> a new index segment, committed to the index's manifest after the filter
   (index.py: layout, atomic add, keep rule across runs)
4. filter      (a pass, per input shard): kept documents get dup_cluster and
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

import dataclasses
import hashlib
import json
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core import storage
from curate.core.params import ConfigError
from curate.core.stage import Phase, PhasedStage, Shard, ShardOutput, ShardStats, storage_name, text_bytes
from curate.dedup import clusters, index, keys, memory, minhash, normalize, plan, report, urls, work
from curate.dedup.params import DedupParams
from curate.dedup.plan import plan_for  # noqa: F401 - part of the stage's interface (tests, benches)

ADDED_FIELDS = [pa.field("dup_cluster", pa.string()), pa.field("dup_cluster_size", pa.int64())]


class DedupStage(urls.UrlDedup, PhasedStage):
    Params = DedupParams
    # Set by phases() on the driver, for the driver (workers keep a stage set up by an earlier run with the
    # same parameters, runner.ready: what they need comes with the task or from work/plan.json).
    segment, index_seen = None, []  # with `index`: this run's segment name, the segments it dedups against

    @property
    def config_hash(self) -> str:
        # The memory limit and the report length do not change results: a rerun with a higher
        # limit must resume, not refuse as "different parameters".
        params = {
            k: v for k, v in dataclasses.asdict(self.params).items() if k not in ("max_memory_gb", "largest_clusters")
        }
        payload = json.dumps([self.type_name, params], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def fusable(self) -> bool:
        return True

    # ---- the phases -----------------------------------------------------------------------

    def phases(self, ctx, shards: list[Shard]) -> list[Phase]:
        """Signatures (and URL keys) in a pass over the documents, fused with the document stages
        before; candidate pairs and clusters as tasks; the filter in a pass fused with the document
        stages after. The plan is made from `shards`' files before any work: when earlier stages
        share the first pass, those are their input, so the figures are an upper bound."""
        if not shards:
            return []
        estimate = plan.plan_for(shards, ctx.node_workers, self.params)
        manifest = index.read_manifest(self.params.index, self.params) if self.params.index else {"segments": []}
        estimate.index_docs = sum(seg["documents"] for seg in manifest["segments"])
        ctx.note("\n".join(estimate.lines()))
        estimate.check(self.params.max_memory_gb)
        parts = memory.bucket_partitions(estimate.docs + estimate.index_docs)
        storage.write_json(ctx.work_url("plan.json"), {"parts": parts})  # the signers lay their key files out for it
        self.index_seen = [seg["name"] for seg in manifest["segments"]]
        sig_urls = tuple(ctx.work_url("sig", s.name + ".parquet") for s in shards)
        old_sigs = tuple(index.sig_urls(self.params.index, manifest)) if self.params.index else ()
        self.segment = index.segment_name(ctx.state_dir, [s.name for s in shards])
        index_phase = (
            [
                Phase(
                    "index",
                    run=self.index_task,
                    tasks=lambda done: [Shard(f"index.{self.segment}.{storage_name(u)}", (u,)) for u in sig_urls],
                )
            ]
            if self.params.index
            else []
        )
        url_phases = (
            [
                Phase("url_keys", documents=self.url_keys, changes_rows=False),
                Phase(
                    "url_groups",
                    run=self.url_group_task,
                    tasks=lambda done: [Shard("url_groups", tuple(s.name for s in shards))],
                ),
            ]
            if self.params.urls
            else []
        )
        return url_phases[:1] + [
            Phase("signatures", documents=self.signer, changes_rows=False),
            *url_phases[1:],
            Phase(
                "candidates", run=self.bucket_task, tasks=lambda done: self.candidate_tasks(sig_urls + old_sigs, parts)
            ),
            Phase(
                "components",
                run=self.cluster_task,
                tasks=lambda done: self.components_tasks(ctx, estimate, sig_urls + old_sigs),
            ),
            *index_phase,
            Phase("filter", documents=self.duplicate_filter),
        ]

    def candidate_tasks(self, sig_urls: tuple[str, ...], parts: int) -> list[Shard]:
        names = ["exact"] + ([f"band-{b:03d}" for b in range(self.params.bands)] if self.params.fuzzy else [])
        key_urls = tuple(keys.keys_url_of(u) for u in sig_urls)
        return [Shard(f"{name}.part-{p:04d}-of-{parts:04d}", key_urls) for name in names for p in range(parts)]

    def components_tasks(self, ctx, estimate: memory.Estimate, sig_urls: tuple[str, ...]) -> list[Shard]:
        """The one components task, once its memory (from the real candidate-pair count) is checked."""
        if not storage.exists(ctx.done_url("components", "components")):
            edges = work.count_edges(ctx.work_url("edges"))
            need = estimate.check_components(edges, self.params.max_memory_gb)
            ctx.note(f"dedup: {edges:,} candidate pairs; components need about {need / memory.GB:.2f} GiB")
        return [Shard("components", sig_urls)]

    def finalize(self, ctx, stats: ShardStats) -> None:
        summary = storage.read_json(ctx.report_url("clusters.json"))
        if self.params.index:
            files = storage.list_files(storage.join(self.params.index, "segments", self.segment, "sig"), (".parquet",))
            names, kept = [storage_name(u) for u in files], sum(storage.parquet_rows(u) for u in files)
            if index.commit(self.params.index, self.params, self.segment, names, kept, self.index_seen):
                ctx.note(f"dedup: added {kept:,} documents to the index {self.params.index} (segment {self.segment})")
        summary.update(
            docs_in=stats.docs_in,
            docs_out=stats.docs_out,
            bytes_in=stats.bytes_in,
            bytes_out=stats.bytes_out,
            candidate_reads=self.candidate_reads(ctx),
        )
        if self.params.urls:
            summary["removed"][urls.REASON] = {
                "docs": stats.dropped.get(urls.REASON, 0),
                "bytes": stats.counters.get(urls.REASON + "_bytes", 0),
            }
        report.write_report(ctx.report_url(), summary)
        ctx.note("\n".join(report.summary_lines(summary)))

    def candidate_reads(self, ctx) -> dict:
        """Files, bytes and read calls of the candidates tasks (each task's are in its completion record)."""
        totals = {"tasks": 0}
        for url in storage.list_files(storage.join(ctx.state_dir, "candidates"), (".json",)):
            totals["tasks"] += 1
            for name, value in (
                storage.read_json(url)["stats"].get(f"{self.name}:candidates", {}).get("counters", {}).items()
            ):
                totals[name] = totals.get(name, 0) + value
        return totals

    # ---- phase 1: signatures ------------------------------------------------------------

    def signer(self, shard: Shard, ctx) -> "Signer":
        bits = keys.partition_bits(storage.read_json(ctx.work_url("plan.json"))["parts"])
        return Signer(
            self, ctx.work_url("sig", shard.name + ".parquet"), ctx.work_url("keys", shard.name + ".parquet"), bits
        )

    def input_columns(self, url: str) -> list[str]:
        names = storage.parquet_schema(url).names
        wanted = ["id", "text", "url", "source", self.params.score_column]
        return [c for c in wanted if c and c in names]

    def sign_batch(self, table: pa.Table) -> tuple[pa.Table, np.ndarray | None]:
        """The batch's signature rows (id, url, bytes, score, eligible, exact hash, signature) and band keys (n, bands)."""
        p = self.params
        words = normalize.batch_words(table["text"].combine_chunks(), self.code_rows(table), p.normalization)
        n = table.num_rows
        exact = minhash.exact_hashes(words)
        columns = {
            "id": table["id"].combine_chunks().cast(pa.string()),
            "url": table["url"].combine_chunks().cast(pa.string())
            if "url" in table.column_names
            else pa.nulls(n, pa.string()),
            "bytes": pc.binary_length(table["text"].combine_chunks()).cast(pa.int64()),
            "score": self.scores(table),
            "eligible": pc.greater(pc.list_value_length(words), 0),
            "h1": pa.array(exact[:, 0]),
            "h2": pa.array(exact[:, 1]),
        }
        bands = None
        if p.fuzzy:
            hashes, rows, _ = minhash.shingles(words, p.ngram)
            sig = minhash.signatures(hashes, rows, n, p.num_perm, p.seed)
            bands = minhash.band_keys(sig, p.bands, p.rows)
            if p.verify_threshold is not None:
                columns["signature"] = pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(4 * p.num_perm), n, [None, pa.py_buffer(sig.tobytes())]
                )
        return pa.table(columns), bands

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
            raise ConfigError(
                f"dedup: score_column '{column}' is {table[column].type}, not a number: {error}"
            ) from None

    # ---- phase 2: candidate pairs -------------------------------------------------------

    def bucket_task(self, task: Shard, ctx) -> ShardStats:
        start = time.perf_counter()
        key, part_name = task.name.split(".")
        part, parts = (int(x) for x in part_name.removeprefix("part-").split("-of-"))
        slot, bits = (0 if key == "exact" else 1 + int(key.removeprefix("band-"))), keys.partition_bits(parts)
        new = self.new_files(ctx, task.inputs)
        counter = keys.ReadCounter()
        found, nodes = [], []
        for number, url in enumerate(task.inputs):
            try:
                rows, key1, key2 = keys.read_slot(url, slot, part, bits, counter)
            except FileNotFoundError:  # removed when the stage last finished; an input shard was added or changed since
                raise FileNotFoundError(
                    f"dedup: {url} (the keys of shard {storage_name(url)}) is missing: a finished "
                    f"run removed them and an input shard was added or changed since; delete "
                    f"{ctx.state_dir} to redo the stage"
                ) from None
            if self.params.urls and number < new:  # captures dropped by URL dedup take no part in content dedup
                keep = ~np.isin(rows, urls.removed_rows(ctx, storage_name(url))["row"].to_numpy())
                rows, key1, key2 = rows[keep], key1[keep], key2[keep]
            found.append([key1, key2] if key == "exact" else [key1])
            nodes.append(clusters.global_index(number, rows))
        node_array = np.concatenate(nodes) if nodes else np.zeros(0, np.int64)
        key_arrays = [np.concatenate([k[i] for k in found]) for i in range(len(found[0]))] if found else [node_array]
        edges = clusters.bucket_edges(key_arrays, node_array)
        first_old = np.int64(new) << np.int64(clusters.ROW_BITS)
        edges = edges[
            (edges[:, 0] < first_old) | (edges[:, 1] < first_old)
        ]  # indexed documents never lose to each other
        if key != "exact" and self.params.verify_threshold is not None and len(edges):
            edges = self.verified(edges, [keys.sig_url_of(u) for u in task.inputs])
        work.save_npy(ctx.work_url("edges", task.name + ".npy"), edges)
        return ShardStats(
            docs_in=int(node_array.size),
            docs_out=int(len(edges)),
            seconds=time.perf_counter() - start,
            counters=counter.counters(),
        )

    def new_files(self, ctx, urls_: tuple[str, ...]) -> int:
        """How many of a task's files are this run's (the first ones; the index's come after)."""
        return sum(1 for u in urls_ if u.startswith(ctx.state_dir))

    def verified(self, edges: np.ndarray, sig_urls) -> np.ndarray:
        """The edges whose documents agree on at least verify_threshold of their MinHash values
        (an unbiased estimate of their Jaccard similarity): removes the band collisions of
        dissimilar texts, at the cost of some true pairs right at the threshold."""
        nodes = np.unique(edges)
        sigs = work.read_signatures(sig_urls, nodes, self.params.num_perm)
        left, right = np.searchsorted(nodes, edges[:, 0]), np.searchsorted(nodes, edges[:, 1])
        return edges[clusters.signature_agreement(sigs, left, right) >= self.params.verify_threshold]

    # ---- phase 3: connected components and survivors ------------------------------------

    def cluster_task(self, task: Shard, ctx) -> ShardStats:
        start = time.perf_counter()
        edge_files = storage.list_files(ctx.work_url("edges"), (".npy",))
        edges = np.concatenate([work.load_npy(f) for f in edge_files]) if edge_files else np.zeros((0, 2), np.int64)
        nodes = np.unique(edges)
        members = self.members_table(task.inputs, nodes)
        new = self.new_files(ctx, task.inputs)
        old = nodes >= (np.int64(new) << np.int64(clusters.ROW_BITS))
        members = members.append_column("old", pa.array(old))
        # keep rule: an indexed document first (it is kept whatever else is in its cluster), then the best score, then the
        # lowest id (nulls last, pyarrow's default: naming it per key needs pyarrow 25, as one option it warns on 26)
        order = pc.sort_indices(
            members, [("old", "descending"), ("score", "descending"), ("id", "ascending")]
        ).to_numpy()
        rank = np.empty(nodes.size, np.int64)
        rank[order] = np.arange(nodes.size)
        edges = rank[np.searchsorted(nodes, edges)]  # nodes renumbered by survivor priority: 0 is the best
        signatures = None
        if self.params.fuzzy and self.params.verify_threshold is not None:
            signatures = work.read_signatures(task.inputs, nodes[order], self.params.num_perm)
        pa.default_memory_pool().release_unused()  # Parquet read buffers: the rounds below need the room
        survivor = clusters.survivor_stars(edges, signatures, self.params.verify_threshold, keep_first=int(old.sum()))
        del edges, signatures
        assigned = work.assign_survivors(members.take(pa.array(order)), survivor)
        self.write_assignments(ctx, task.inputs[:new], assigned)
        docs = sum(storage.parquet_rows(u) for u in task.inputs[:new])
        summary = report.cluster_summary(assigned, docs, self.params.largest_clusters)
        storage.write_json(ctx.report_url("clusters.json"), summary)
        return ShardStats(
            docs_in=int(nodes.size), docs_out=int(summary["clusters"]), seconds=time.perf_counter() - start
        )

    def members_table(self, sig_urls, nodes: np.ndarray) -> pa.Table:
        """id, url, bytes, score and exact hash of every document in a candidate pair, in node order."""
        shard_numbers = nodes >> np.int64(clusters.ROW_BITS)
        parts = []
        for number in np.unique(shard_numbers):
            rows = nodes[shard_numbers == number] & work.ROW_MASK
            parts.append(work.take_rows(sig_urls[number], ["id", "url", "bytes", "score", "h1", "h2"], rows))
        empty = pa.schema(
            [
                ("id", pa.string()),
                ("url", pa.string()),
                ("bytes", pa.int64()),
                ("score", pa.float64()),
                ("h1", pa.uint64()),
                ("h2", pa.uint64()),
            ]
        ).empty_table()
        table = pa.concat_tables(parts) if parts else empty
        return table.append_column("node", pa.array(nodes))

    def write_assignments(self, ctx, sig_urls, assigned: pa.Table) -> None:
        """One file per shard, empty when none of its documents is in a cluster: the filter
        refuses a shard without one rather than reading a lost file as "no duplicates"."""
        numbers = (
            (assigned["node"].to_numpy() >> np.int64(clusters.ROW_BITS)) if assigned.num_rows else np.zeros(0, np.int64)
        )
        for number, sig_url in enumerate(sig_urls):
            part = assigned.filter(pa.array(numbers == number))
            rows = pa.array(part["node"].to_numpy() & work.ROW_MASK, pa.int64())
            table = pa.table(
                {
                    "row": rows,
                    "dup_cluster": part["dup_cluster"],
                    "dup_cluster_size": part["dup_cluster_size"],
                    "duplicate_of": part["duplicate_of"],
                    "reason": part["reason"],
                }
            )
            sink = storage.ParquetSink(ctx.work_url("assign", storage.basename(sig_url)), always=True)
            sink.write(table.sort_by("row"))
            sink.close()

    # ---- phase 3b: this run's kept documents into the index ------------------------------

    def index_task(self, task: Shard, ctx) -> ShardStats:
        start = time.perf_counter()
        sig_url = task.inputs[0]
        shard = storage_name(sig_url)
        removed = index.removed_in(ctx.work_url("assign", shard + ".parquet"))
        if self.params.urls:
            removed = np.concatenate([removed, urls.removed_rows(ctx, shard)["row"].to_numpy()])
        kept = index.write_shard(self.params.index, task.name.split(".")[1], shard, sig_url, removed)
        return ShardStats(docs_in=kept, docs_out=kept, seconds=time.perf_counter() - start, counters={"indexed": kept})

    # ---- phase 4: filter ----------------------------------------------------------------

    def duplicate_filter(self, shard: Shard, ctx) -> "DuplicateFilter":
        assign_url = ctx.work_url("assign", shard.name + ".parquet")
        if not storage.exists(assign_url):  # lost scratch must not read as "no duplicates"
            raise FileNotFoundError(
                f"dedup: {assign_url} (the clusters of shard {shard.name}) is missing; "
                f"delete {ctx.state_dir} to redo the stage"
            )
        return DuplicateFilter(
            storage.read_table(assign_url, None), urls.removed_rows(ctx, shard.name) if self.params.urls else None
        )


class Signer:
    """The signatures phase's step over one shard: each batch's signature rows (row i of the file is
    row i of the documents the filter phase reads) -> work/sig/<shard>.parquet."""

    def __init__(self, stage: DedupStage, url: str, keys_url: str, bits: int):
        self.stage, self.sink, self.keys_url, self.bits = stage, storage.ParquetSink(url, always=True), keys_url, bits
        self.rows, self.exact, self.bands, self.offset = [], [], [], 0

    def __enter__(self) -> "Signer":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            self.sink.abort()
            return
        empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.large_string())})
        self.sink.close(self.stage.sign_batch(empty)[0].schema)
        p = self.stage.params
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
        exact = np.concatenate(self.exact) if self.exact else np.zeros((0, 2), np.uint64)
        bands = np.concatenate(self.bands) if self.bands else np.zeros((0, p.bands), np.uint64)
        slots = [(exact[:, 0].copy(), exact[:, 1].copy())] + (
            [(bands[:, b].copy(), None) for b in range(p.bands)] if p.fuzzy else []
        )
        keys.write_keys(self.keys_url, rows, slots, self.bits)

    def __call__(self, table: pa.Table, output: ShardOutput) -> pa.Table:
        output.read(table)
        # a batch of the pass may hold more text than a signature batch's memory allows (memory.py)
        rows = memory.batch_rows(text_bytes(table) / max(table.num_rows, 1), memory.SIGNATURE_BATCH_DOCS)
        for start in range(0, table.num_rows, rows):
            signed, bands = self.stage.sign_batch(table.slice(start, rows))
            self.sink.write(signed)
            eligible = np.flatnonzero(signed["eligible"].to_numpy(zero_copy_only=False))
            self.rows.append(eligible + self.offset)
            self.exact.append(np.stack([signed["h1"].to_numpy()[eligible], signed["h2"].to_numpy()[eligible]], axis=1))
            if bands is not None:
                self.bands.append(bands[eligible])
            self.offset += signed.num_rows
        output.keep(table)
        return table


class DuplicateFilter:
    """The filter phase's step over one shard: kept documents get dup_cluster and dup_cluster_size;
    the others go to rejected/ with their reason and duplicate_of (the id kept instead)."""

    def __init__(self, assigned: pa.Table, removed: pa.Table | None):
        self.assigned, self.removed, self.offset = assigned, removed, 0

    def __enter__(self) -> "DuplicateFilter":
        return self

    def __exit__(self, *error) -> None:
        pass

    def __call__(self, table: pa.Table, output: ShardOutput) -> pa.Table:
        output.read(table)
        cluster, size, duplicate_of, reason = work.batch_assignments(table, self.assigned, self.offset)
        if self.removed is not None:
            reason, duplicate_of = urls.apply(reason, duplicate_of, self.removed, self.offset)
            captures = pc.fill_null(pc.equal(reason, urls.REASON), False)
            output.stats.count(urls.REASON + "_bytes", text_bytes(table.filter(captures)))  # for the report
        self.offset += table.num_rows
        table = table.append_column(ADDED_FIELDS[0], cluster).append_column(ADDED_FIELDS[1], size)
        drop = pc.is_valid(reason)
        kept = table.filter(pc.invert(drop))
        output.keep(kept)
        if pc.any(drop).as_py():
            drop_of = duplicate_of.filter(drop)
            drop_table = table.filter(drop).append_column(pa.field("duplicate_of", pa.string()), drop_of)
            output.reject(drop_table, reason.filter(drop).to_pylist(), drop_of.to_pylist())
        return kept
