"""Peak memory and disk of a dedup run, announced before it starts.

Figures come from the input's Parquet metadata (row counts, text column sizes), so
nothing is read to make them. A task reads its documents in batches of at most
BATCH_TEXT_BYTES of text (fewer rows when documents are long), so its memory does not
grow with document length beyond that, except for one document larger than the budget,
which is a batch of its own (about TEXT_WORKING_COPIES times its size).

The model is the local executor's process tree: the driver, the pool's helper
processes, and min(workers, tasks) workers, each of which keeps the memory of the
largest task it ran (allocators rarely hand memory back), plus the working set of the
tasks running at once. The components phase runs in the driver while the workers wait,
so its figure comes on top of the parallel phases'. It depends on how many candidate
pairs there are, known only after the candidates phase: before the run we print its
worst case (every document a duplicate in every band) and check the real figure, from
the sizes of the edge files, before that phase starts. bench/dedup_memory.py compares
these estimates with measured peak RSS; the constants below are measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from curate.core.params import ConfigError

GB = 1024**3
MB = 1024**2
PROCESS_BASE = 120 * MB  # a process with the dedup stage imported (numpy, pyarrow, fsspec)
POOL_HELPERS = 96 * MB  # the forkserver and resource tracker, when there is a worker pool
TASK_BASE = 64 * MB  # what any task leaves behind: Parquet reader buffers, allocator caches
SIGNATURE_BATCH_DOCS = 1024
FILTER_BATCH_DOCS = 2048
BATCH_TEXT_BYTES = 16 * MB  # text per read batch; fewer rows when documents are long
TEXT_WORKING_COPIES = 20  # lowered, replaced, split texts, word lists, shingle arrays: measured 18-19x the text
FILTER_WORKING_COPIES = 4  # the batch, its kept and rejected parts, the Parquet page buffers
CHUNK_ROWS = 32768  # minhash.CHUNK_SHINGLES: rows of the (shingles x permutations) matrices
CHECK_ROWS = 65536  # clusters.signature_agreement's chunk of pairs compared at once
DOCS_PER_BUCKET_TASK = 4_000_000
BUCKET_BYTES_PER_DOC = 56  # key, node, sort order, sorted copies, edges out
EDGE_WORKING_BYTES = 96  # edge pair, unique/inverse, u, v, roots, temporaries per candidate pair
NODE_META_BYTES = 160  # id, url, bytes, score, exact hash of a document in some cluster
SIG_ROW_BYTES = 140  # id, url, exact hash, byte count, score, flag per document in the signature files


class MemoryLimitExceeded(ConfigError):
    """The run would need more memory than max_memory_gb allows."""


def bucket_partitions(docs: int) -> int:
    """Key-range partitions per band (a power of two: a key's top bits, curate/dedup/keys.py), so one
    candidates task holds at most DOCS_PER_BUCKET_TASK keys. Depends on the corpus only (never on
    workers), so edges are the same for any worker count."""
    return 1 << max(0, math.ceil(math.log2(max(1, math.ceil(docs / DOCS_PER_BUCKET_TASK)))))


def batch_rows(avg_doc_bytes: float, max_rows: int) -> int:
    """Rows per read batch for a file whose documents average avg_doc_bytes of text."""
    return int(max(1, min(max_rows, BATCH_TEXT_BYTES // max(avg_doc_bytes, 1))))


def components_work(edges: int, docs: int, num_perm: int = 0) -> int:
    """Edge arrays, plus per document in a pair its metadata and (when checked) its signature."""
    nodes = min(2 * edges, docs)
    checks = 2 * min(edges, CHECK_ROWS) * num_perm * 4  # signature rows gathered per comparison chunk
    return TASK_BASE + edges * EDGE_WORKING_BYTES + nodes * (NODE_META_BYTES + 4 * num_perm) + checks


@dataclass
class Estimate:
    docs: int
    text_bytes: int
    input_file_bytes: int
    workers: int
    bands: int
    num_perm: int
    verify: bool = True
    shards: int = 1
    largest_signature_batch: int = 0  # text bytes of the largest read batch of any input file
    largest_filter_batch: int = 0
    index_docs: int = 0  # documents of a dedup index this run's candidates also hold

    @property
    def check_perm(self) -> int:
        return self.num_perm if self.verify else 0

    @property
    def signature_task(self) -> int:
        rows = min(SIGNATURE_BATCH_DOCS, self.docs)
        matrices = 3 * CHUNK_ROWS * self.num_perm * 4
        shard_keys = (
            math.ceil(self.docs / max(self.shards, 1)) * (self.bands + 2) * 8 * 2
        )  # held to lay out the key file
        return int(
            TASK_BASE
            + self.largest_signature_batch * TEXT_WORKING_COPIES
            + matrices
            + rows * self.num_perm * 12
            + shard_keys
        )

    @property
    def bucket_task(self) -> int:
        docs = math.ceil((self.docs + self.index_docs) / bucket_partitions(self.docs + self.index_docs))
        return TASK_BASE + docs * (BUCKET_BYTES_PER_DOC + 4 * self.check_perm)  # signatures: at most every document's

    @property
    def filter_task(self) -> int:
        return int(TASK_BASE + self.largest_filter_batch * FILTER_WORKING_COPIES)

    def at_once(self, tasks: int) -> int:
        return max(1, min(self.workers, tasks))

    @property
    def processes(self) -> int:
        """Worker processes the local executor starts (one task at a time runs in the driver)."""
        most = max(self.shards, (self.bands + 1) * bucket_partitions(self.docs))
        return 0 if self.workers == 1 or most <= 1 else self.at_once(most)

    @property
    def parallel_peak(self) -> int:
        """The process tree in the busiest parallel phase."""
        tasks = {
            "signatures": (self.signature_task, self.shards),
            "candidates": (self.bucket_task, (self.bands + 1) * bucket_partitions(self.docs)),
            "filter": (self.filter_task, self.shards),
        }
        busiest = max(size * self.at_once(count) for size, count in tasks.values())
        helpers = POOL_HELPERS if self.processes else 0
        return PROCESS_BASE * (1 + self.processes) + helpers + busiest

    def components_peak(self, edges: int) -> int:
        return self.parallel_peak + components_work(edges, self.docs, self.check_perm)

    @property
    def worst_edges(self) -> int:
        return self.docs * (self.bands + 1)  # a star per bucket: < one edge per document per band, + exact

    @property
    def signature_file_bytes(self) -> int:
        return self.docs * (SIG_ROW_BYTES + 8 * self.bands + 4 * self.check_perm)

    @property
    def disk(self) -> int:
        return self.signature_file_bytes + self.worst_edges * 16 + self.input_file_bytes  # + kept and rejected output

    def lines(self) -> list[str]:
        return [
            f"dedup plan: {self.docs:,} documents, {self.text_bytes / 1e6:,.1f} MB of text, {self.workers} worker(s), "
            f"{self.shards} input shard(s)",
            f"  peak memory: {self.parallel_peak / GB:.2f} GiB in the parallel phases, all processes "
            f"(per task: signatures {self.signature_task / GB:.2f}, candidates {self.bucket_task / GB:.2f}, "
            f"filter {self.filter_task / GB:.2f} GiB)",
            f"  components: {self.components_peak(self.worst_edges) / GB:.2f} GiB at most (every document a "
            f"duplicate in every band); checked against the real candidate-pair count before it runs",
            f"  disk: {self.disk / GB:.2f} GiB at most (signatures {self.signature_file_bytes / GB:.2f}, "
            f"candidate pairs <= {self.worst_edges * 16 / GB:.2f}, output ~{self.input_file_bytes / GB:.2f})",
        ]

    def check(self, limit_gb: float) -> None:
        if self.parallel_peak > limit_gb * GB:
            raise MemoryLimitExceeded(
                f"dedup would need about {self.parallel_peak / GB:.2f} GiB with {self.workers} worker(s), "
                f"more than max_memory_gb: {limit_gb}; use fewer workers or raise max_memory_gb"
            )

    def check_components(self, edges: int, limit_gb: float) -> int:
        need = self.components_peak(edges)
        if need > limit_gb * GB:
            raise MemoryLimitExceeded(
                f"dedup found {edges:,} candidate pairs; clustering them needs about {need / GB:.2f} GiB, more than "
                f"max_memory_gb: {limit_gb}. Raise max_memory_gb: finished phases are kept, so a rerun "
                f"starts at the components phase"
            )
        return need
