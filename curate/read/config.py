"""What a `read` stage (or a pipeline's top-level `reader:`) is told about documents that already exist.

    reader: {format: parquet, text: text, id: id, url: url, source: web, keep: [dump, date, language_score]}

Fields are named by column or, in nested JSON and Parquet structs, by dotted path (`metadata.url`).
Kept fields become columns named by their path with dots as underscores (`metadata_language`), or by
the names a mapping gives (`keep: {dolma_source: source}`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from curate.core.params import NON_EMPTY
from curate.core.schema import DOCUMENT_SCHEMA, REJECTION_FIELDS

FORMATS = ("jsonl", "parquet", "csv", "arrow")
COMPRESSIONS = (".gz", ".zst", ".bz2")
# suffix (after any compression suffix) -> format; matched case-insensitively
SUFFIXES = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".arrow": "arrow",
}
# Columns the document schema, rejected rows and later stages (langid, dedup) write: a kept field of
# the same name would make two columns of one name, so it must be renamed.
RESERVED = (
    set(DOCUMENT_SCHEMA.names)
    | {f.name for f in REJECTION_FIELDS}
    | {"language", "language_score", "dup_cluster", "dup_cluster_size"}
)
SUPPORTED = (
    "JSONL (.jsonl, .json, .ndjson, each also .gz/.zst/.bz2), Parquet (.parquet), CSV/TSV (.csv, .tsv, also "
    ".gz/.zst/.bz2), Arrow (.arrow, and folders written by datasets' save_to_disk)"
)


@dataclass
class ReaderConfig:
    format: Literal["jsonl", "parquet", "csv", "arrow"] | None = None  # default: from each file's suffix
    text: str = "text"
    id: str | None = None  # default: the 'id' field when there is one; ids missing are derived from file and position
    url: str | None = None  # default: the 'url' field when there is one
    source: Annotated[str, NON_EMPTY] = "web"  # the source label every document gets: web, books, code, wiki, news, ...
    # fields kept as columns: paths (metadata.url -> metadata_url), or {column: path}, or a list mixing both
    keep: list[str | dict[str, str]] | dict[str, str] = field(default_factory=list)
    shard_bytes: int = 128_000_000  # input bytes per shard: small files are grouped, large ones split

    def __post_init__(self):
        if self.shard_bytes < 1_000_000:
            raise ValueError(f"parameter 'shard_bytes' must be at least 1000000, got {self.shard_bytes}")
        for name in self.kept:
            if name in RESERVED:
                raise ValueError(
                    f"parameter 'keep': '{name}' is a column the pipeline writes itself; "
                    f"give the kept field another name, e.g. keep: {{input_{name}: {self.kept[name]}}}"
                )

    @property
    def kept(self) -> dict[str, str]:
        """Kept column name -> field path."""
        if isinstance(self.keep, dict):
            return dict(self.keep)
        kept = {}
        for entry in self.keep:
            kept.update(entry if isinstance(entry, dict) else {entry.replace(".", "_"): entry})
        return kept


def split_compression(url: str) -> tuple[str, str | None]:
    """('data.jsonl', 'zstd') from 'data.jsonl.zst': the name without its compression suffix, and fsspec's codec."""
    lower = url.lower()
    for suffix, codec in zip(COMPRESSIONS, ("gzip", "zstd", "bz2")):
        if lower.endswith(suffix):
            return url[: -len(suffix)], codec
    return url, None


def infer_format(url: str) -> str | None:
    """The format a file's suffix names, case-insensitively, or None."""
    name, codec = split_compression(url)
    match = re.search(r"\.[A-Za-z]+$", name.rsplit("/", 1)[-1])
    found = SUFFIXES.get(match.group(0).lower()) if match else None
    return None if codec and found in ("parquet", "arrow") else found  # those compress inside the file
