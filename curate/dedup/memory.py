"""Peak memory and disk of a dedup run, announced before it starts.

Figures come from the input's Parquet metadata (row counts, text column sizes), so
nothing is read to make them. Per-task figures are multiplied by the number of
workers running at once. The components phase depends on how many candidate pairs
there are, which is known only after the candidates phase: before the run we print
its worst case (every document a duplicate in every band) and check the real figure
again, from the sizes of the edge files, before that phase starts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from curate.core.params import ConfigError

GB = 1024 ** 3
PROCESS_BASE = 150 * 1024 ** 2  # a worker process with numpy + pyarrow imported
SIGNATURE_BATCH_DOCS = 1024
FILTER_BATCH_DOCS = 2048
TEXT_WORKING_COPIES = 12  # lowered, replaced, split texts, word lists and their hashes, as multiples of the text
DOCS_PER_BUCKET_TASK = 4_000_000
BUCKET_BYTES_PER_DOC = 56  # key, node, sort order, sorted copies, edges out
EDGE_WORKING_BYTES = 96  # edge pair, unique/inverse, u, v, roots, temporaries per candidate pair
NODE_META_BYTES = 160  # id, url, bytes, score, exact hash of a document in some cluster
SIG_ROW_BYTES = 140  # id, url, exact hash, byte count, score, flag per document in the signature files


class MemoryLimitExceeded(ConfigError):
    """The run would need more memory than max_memory_gb allows."""


def bucket_partitions(docs: int) -> int:
    """Key-range partitions per band, so one candidates task holds at most DOCS_PER_BUCKET_TASK keys.
    Depends on the corpus only (never on workers), so edges are the same for any worker count."""
    return max(1, math.ceil(docs / DOCS_PER_BUCKET_TASK))


def components_bytes(edges: int, docs: int) -> int:
    return PROCESS_BASE + edges * EDGE_WORKING_BYTES + min(2 * edges, docs) * NODE_META_BYTES


@dataclass
class Estimate:
    docs: int
    text_bytes: int
    input_file_bytes: int
    workers: int
    bands: int
    num_perm: int
    verify: bool = True

    @property
    def avg_doc_bytes(self) -> float:
        return self.text_bytes / self.docs if self.docs else 0.0

    @property
    def signature_task(self) -> int:
        batch = SIGNATURE_BATCH_DOCS * self.avg_doc_bytes * TEXT_WORKING_COPIES
        return int(PROCESS_BASE + batch + 3 * 32768 * self.num_perm * 4 + SIGNATURE_BATCH_DOCS * self.num_perm * 12)

    @property
    def bucket_task(self) -> int:
        docs = math.ceil(self.docs / bucket_partitions(self.docs))
        signatures = docs * self.num_perm * 4 if self.verify else 0  # of documents in candidate pairs, at most all
        return PROCESS_BASE + docs * BUCKET_BYTES_PER_DOC + signatures

    @property
    def filter_task(self) -> int:
        return int(PROCESS_BASE + FILTER_BATCH_DOCS * self.avg_doc_bytes * 4)

    @property
    def worst_edges(self) -> int:
        return self.docs * (self.bands + 1)  # a star per bucket: < one edge per document per band, + exact

    @property
    def peak_without_components(self) -> int:
        return max(self.signature_task, self.bucket_task, self.filter_task) * self.workers

    @property
    def signature_file_bytes(self) -> int:
        return self.docs * (SIG_ROW_BYTES + 8 * self.bands + (4 * self.num_perm if self.verify else 0))

    @property
    def disk(self) -> int:
        signatures = self.signature_file_bytes
        return signatures + self.worst_edges * 16 + self.input_file_bytes  # + kept and rejected output

    def lines(self) -> list[str]:
        return [
            f"dedup plan: {self.docs:,} documents, {self.text_bytes / 1e6:,.1f} MB of text, {self.workers} worker(s)",
            f"  peak memory: {self.peak_without_components / GB:.2f} GiB in the parallel phases "
            f"(signatures {self.signature_task / GB:.2f}, candidates {self.bucket_task / GB:.2f}, "
            f"filter {self.filter_task / GB:.2f} GiB per worker)",
            f"  components: {components_bytes(self.worst_edges, self.docs) / GB:.2f} GiB at most (every document a "
            f"duplicate in every band); checked against the real candidate-pair count before it runs",
            f"  disk: {self.disk / GB:.2f} GiB at most (signatures {self.signature_file_bytes / GB:.2f}, "
            f"candidate pairs <= {self.worst_edges * 16 / GB:.2f}, output ~{self.input_file_bytes / GB:.2f})",
        ]

    def check(self, limit_gb: float) -> None:
        if self.peak_without_components > limit_gb * GB:
            raise MemoryLimitExceeded(
                f"dedup would need about {self.peak_without_components / GB:.2f} GiB with {self.workers} worker(s), "
                f"more than max_memory_gb: {limit_gb}; use fewer workers or raise max_memory_gb")


def check_components(edges: int, docs: int, limit_gb: float) -> int:
    need = components_bytes(edges, docs)
    if need > limit_gb * GB:
        raise MemoryLimitExceeded(
            f"dedup found {edges:,} candidate pairs; clustering them needs about {need / GB:.2f} GiB, more than "
            f"max_memory_gb: {limit_gb}. Raise max_memory_gb: finished phases are kept, so a rerun "
            f"starts at the components phase")
    return need
