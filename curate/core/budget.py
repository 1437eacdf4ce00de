"""Size budgets: no single input may cost unbounded memory or CPU.

One 200 MB document drove the quality stage past 7 GB of memory, and a tar bomb cost
about a minute of CPU, so every reader checks a size before the expensive work and
records an overrun as a rejection (reason `too_large` or `archive_budget`) instead of
failing or going on.

Defaults, per source (extract's `max_doc_bytes`): web pages are rarely over a few MB
of text (a larger "page" is a data dump or a log); Project Gutenberg's largest books
are around 10 MB; code follows `max_file_bytes` (1 MB, as The Stack). Where they fail:
a real document over the limit (an anthology in one file) is dropped: raise the limit.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_DOC_BYTES = {"web": 5_000_000, "books": 32_000_000, "code": 1_000_000}
# Uncompressed bytes walked and members listed in one repository archive: a large real
# repository (the Linux kernel: ~1.4 GB, ~80k files) fits; a bomb stops at the limit.
MAX_ARCHIVE_BYTES = 4_000_000_000
MAX_ARCHIVE_MEMBERS = 500_000


def too_large(size: int | None, limit: int | None, what: str = "max_doc_bytes") -> str | None:
    """The rejection detail when size is over limit, else None (None limit: no limit)."""
    if limit is not None and size is not None and size > limit:
        return f"{size} bytes > {what} {limit}"
    return None


def text_bytes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """UTF-8 bytes of every text in a column, without converting a text to Python."""
    return pc.binary_length(column).to_numpy(zero_copy_only=False).astype(np.int64)


class ArchiveBudget:
    """Bytes and members one archive may cost; `charge` says when the rest must not be read."""

    def __init__(self, max_bytes: int, max_members: int):
        self.max_bytes, self.max_members = max_bytes, max_members
        self.members = 0

    def charge(self, end_offset: int) -> str | None:
        """Account for one more member ending at end_offset uncompressed bytes into the archive."""
        self.members += 1
        if self.members > self.max_members:
            return f"more than max_archive_members {self.max_members} members; the rest were not read"
        if end_offset > self.max_bytes:
            return f"member ends {end_offset} uncompressed bytes in > max_archive_bytes {self.max_bytes}; the rest were not read"
        return None
