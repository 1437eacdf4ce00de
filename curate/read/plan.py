"""Finding the files a reader reads and cutting them into shards of about `shard_bytes` each.

Small files are grouped into one shard; a large file is split so one 10 GB file keeps every worker
busy: Parquet by row groups, uncompressed JSONL by byte ranges (a line belongs to the range it
starts in, so ranges may cut anywhere). Compressed JSONL, a JSON array, CSV and Arrow files are one
piece each.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import fsspec
import pyarrow.parquet as pq

from curate.core import storage
from curate.core.params import ConfigError
from curate.read.config import SUPPORTED, ReaderConfig, infer_format, split_compression

# Files datasets' save_to_disk writes beside its .arrow files: descriptions, not documents.
SAVE_TO_DISK_FILES = ("state.json", "dataset_info.json", "dataset_dict.json")


@dataclass(frozen=True)
class Piece:
    """Part of one input file: jsonl byte range [start, stop), parquet row groups [start, stop), or all of it."""

    url: str
    format: str
    start: int = 0
    stop: int | None = None


def list_inputs(inputs: list[str], config: ReaderConfig) -> list[tuple[str, str, int]]:
    """(url, format, size) of every readable file under inputs (folders, files, globs, fsspec URLs).
    A named file that cannot be read, or inputs holding no readable file, is a ConfigError."""
    found, skipped = [], []
    for spec in inputs:
        fs, path = storage.filesystem(spec)
        glob = any(c in spec for c in "*?[")
        if glob:
            urls = [storage.unstrip(fs, p, spec) for p in sorted(fs.glob(path)) if fs.isfile(p)]
            named = False
        else:
            urls = storage.list_files(spec)
            named = len(urls) == 1 and storage._is_file(fs, path, spec)
        for url in urls:
            fmt = config.format or infer_format(url)
            if named and fmt is None:
                raise ConfigError(
                    f"input '{url}': a format the reader does not support; supported: {SUPPORTED} "
                    f"(or set the reader's 'format')"
                )
            if fmt is None or (config.format and not named and not fits_format(url, config.format, glob)):
                skipped.append(url)
            elif url.rsplit("/", 1)[-1] not in SAVE_TO_DISK_FILES:
                found.append((url, fmt, _size(url)))
    unknown = [u for u in skipped if u.rsplit("/", 1)[-1] not in SAVE_TO_DISK_FILES]
    if not found:
        raise ConfigError(
            f"input {', '.join(inputs)}: no file the reader can read"
            f"{f' ({len(unknown)} others, e.g. {unknown[0]})' if unknown else ''}; supported: {SUPPORTED}"
        )
    if unknown:  # nothing silent: files in a folder that are not read are named
        print(f"read: skipping {len(unknown)} file(s) of other formats, e.g. {', '.join(unknown[:3])}", file=sys.stderr)
    return found


def fits_format(url: str, fmt: str, matched: bool) -> bool:
    """Whether a file is read as the reader's given format: its suffix names that format, or names none
    and a glob matched it (the pattern chose it) or it has no suffix (Spark's part-00000). So a dataset
    repository's README.md or .gitattributes in a folder is passed over, not read as Parquet."""
    found = infer_format(url)
    return found == fmt or (found is None and (matched or "." not in split_compression(url)[0].rsplit("/", 1)[-1]))


def _size(url: str) -> int:
    fs, path = storage.filesystem(url)
    return int(fs.size(path) or 0)


def split_file(url: str, fmt: str, size: int, shard_bytes: int) -> list[tuple[Piece, int]]:
    """A file's pieces of about shard_bytes each, with their sizes."""
    if (
        size <= shard_bytes
        or fmt in ("csv", "arrow")
        or (fmt == "jsonl" and (split_compression(url)[1] or json_array(url)))
    ):
        return [(Piece(url, fmt), size)]
    if fmt == "jsonl":
        return [
            (Piece(url, fmt, start, min(start + shard_bytes, size)), min(shard_bytes, size - start))
            for start in range(0, size, shard_bytes)
        ]
    with fsspec.open(url, "rb") as f:
        groups = pq.ParquetFile(f).metadata
        sizes = [
            sum(g.column(c).total_compressed_size for c in range(g.num_columns))
            for g in map(groups.row_group, range(groups.num_row_groups))
        ]
    pieces, start, total = [], 0, 0
    for index, group_size in enumerate(sizes):
        total += group_size
        if total >= shard_bytes or index == len(sizes) - 1:
            pieces.append((Piece(url, fmt, start, index + 1), total))
            start, total = index + 1, 0
    return pieces or [(Piece(url, fmt), size)]


def json_array(url: str) -> bool:
    """A .json file holding one JSON array, not lines: it cannot be cut at line ends, so it is read whole."""
    with fsspec.open(url, "rb") as f:
        return f.read(256).lstrip().startswith(b"[")


def plan(inputs: list[str], config: ReaderConfig) -> list[tuple[str, tuple[Piece, ...]]]:
    """Shards as (name, pieces): the same inputs and config give the same plan on every run."""
    shards, group, group_bytes = [], [], 0
    for url, fmt, size in list_inputs(inputs, config):
        for piece, piece_bytes in split_file(url, fmt, size, config.shard_bytes):
            if group and group_bytes + piece_bytes > config.shard_bytes:
                shards.append(tuple(group))
                group, group_bytes = [], 0
            group.append(piece)
            group_bytes += piece_bytes
    if group:
        shards.append(tuple(group))
    return [(f"shard-{i:05d}", pieces) for i, pieces in enumerate(shards)]
