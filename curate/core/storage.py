"""Paths and atomic writes through fsspec, so inputs and outputs may be local
paths or URLs (s3://, gs://, https://, memory://, file://).

Atomicity: a file is written under a hidden temporary name in the same folder
(`.<name>.tmp-<12 hex>`) and then renamed (moved) into place. On stores without
rename (S3, GCS) the move is a server-side copy + delete, which is not atomic:
readers never trust an output alone, only together with the stage's completion
record, which is always written last. A run killed mid-write leaves temporaries:
`list_files` never returns them and `remove_temporaries` deletes them once a
stage has finished. docs/scaling.md spells out what is atomic on which store.

HTTP(S) is read-only: a URL ending in "/" (or redirected to one, as servers do
for folders) is a folder whose HTML index (e.g. `python -m http.server`) lists its
files; any other URL is one file.
"""

from __future__ import annotations

import errno
import json
import os
import posixpath
import re
import sys
import uuid
from contextlib import contextmanager
from typing import Iterator

import fsspec
import fsspec.implementations.local
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

PARQUET_OPTIONS = {"compression": "zstd"}
TEMPORARY = re.compile(r"\.tmp-[0-9a-f]{12}$")  # the suffix atomic_path gives files being written


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem for a path or URL and the path inside it. Listings are never cached: fsspec's object
    stores (s3fs, gcsfs, ...) keep a folder's listing for the life of the process by default, so a driver or
    worker that had listed a folder would not see what other processes wrote there since (a stage's pieces,
    completion records): a held-out piece was lost that way on a Ray run over S3."""
    if "://" in url and not url.startswith("file://"):
        return fsspec.core.url_to_fs(url, use_listings_cache=False)
    return fsspec.core.url_to_fs(url)


def join(base: str, *parts: str) -> str:
    return posixpath.join(base, *parts) if "://" in base else os.path.join(base, *parts)


def exists(url: str) -> bool:
    fs, path = filesystem(url)
    return fs.exists(path)


def unstrip(fs: fsspec.AbstractFileSystem, path: str, like: str) -> str:
    """Give a path listed by fs the protocol the user's URL had."""
    return fs.unstrip_protocol(path) if "://" in like else path


def list_files(url: str, suffixes: tuple[str, ...] = ()) -> list[str]:
    """Every file under url (or url itself when it is a file, or the files a glob matches), sorted,
    optionally by suffix."""
    fs, path = filesystem(url)
    if any(c in url for c in "*?[") and not fs.exists(path):  # pipeline inputs may be globs (extract's too)
        found = [p for p in fs.glob(path) if fs.isfile(p)]
    elif _is_file(fs, path, url):
        found = [path]
    else:
        if is_http(url):  # an index page's relative links resolve against the folder's URL
            path = path.rstrip("/") + "/"
        found = walk_files(fs, path)
    found = sorted(
        p
        for p in found
        if (not suffixes or p.endswith((*suffixes, "/")))
        and not TEMPORARY.search(p)
        and not _in_private_folder(p, path)
    )
    return [unstrip(fs, p, url) for p in found]


def walk_files(fs: fsspec.AbstractFileSystem, path: str) -> list[str]:
    """The files under path, plus, with a trailing "/", what a reader must record instead of
    skipping: folders that could not be listed and links to folders (not followed: they may
    leave the input or loop). `input_problem` names what is wrong with those."""
    # Not fs.find: it swallows a sub-folder's PermissionError (fsspec's walk drops on_error when recursing).
    found, folders, loops = [], [path], []
    while folders:
        folder = folders.pop()
        try:
            listing = fs.ls(folder, detail=True)
        except OSError as error:
            if not (folder == path and isinstance(error, FileNotFoundError)):  # a missing root lists nothing
                found.append(folder.rstrip("/") + "/")
            continue
        for info in listing:
            name = info["name"]
            if info["type"] == "directory":
                if name.rstrip("/") != folder.rstrip("/"):
                    folders.append(name)
            elif info.get("islink") and link_loops(name):  # `ln -s self self`: no file behind it, on any run
                loops.append(name)
            elif info.get("islink") and os.path.isdir(name):  # fsspec lists links to folders as files
                found.append(name + "/")
            else:
                found.append(name)
    if loops:
        print(
            f"skipping {len(loops)} symbolic link(s) that loop (lead back to themselves, no file behind them): "
            f"{', '.join(printable(p) for p in sorted(loops)[:5])}",
            file=sys.stderr,
        )
    return found


def link_loops(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as error:
        return error.errno == errno.ELOOP
    return False


def input_problem(url: str, root: str) -> tuple[str, str] | None:
    """(reason, detail) for a listed input that must not be read as a file: a folder that could not
    be listed, a link leading outside the input root (a source tree's leak.py -> /etc/passwd),
    a link to a folder. None for an ordinary file."""
    fs, path = filesystem(url.rstrip("/"))
    local = isinstance(fs, fsspec.implementations.local.LocalFileSystem)  # object stores and HTTP have no links
    if url.endswith("/") and not (local and os.path.islink(path)):
        return "unreadable_folder", f"{printable(url)}: could not list this folder (no permission, or it went away)"
    if not local:
        return None
    real, real_root = os.path.realpath(path), os.path.realpath(filesystem(root)[1])
    if real != real_root and not real.startswith(real_root.rstrip("/") + "/"):
        return "outside_input", f"{printable(url)} is a link to {printable(real)}, outside the input {printable(root)}"
    if url.endswith("/"):
        return "linked_folder", f"{printable(url)} is a link to a folder inside the input; its files are read there"
    return None


def printable(name: str) -> str:
    """A file name as valid UTF-8 text for Parquet and messages. Names that are not UTF-8 come from
    the OS with their bytes surrogate-escaped; those bytes are written as \\xNN escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _in_private_folder(found: str, root: str) -> bool:
    """Under a folder named with a leading '_' below root (the runner's _state/: completion records and scratch)."""
    relative = found[len(root.rstrip("/")) + 1 :] if found.startswith(root.rstrip("/") + "/") else ""
    return any(part.startswith("_") for part in relative.split("/")[:-1])


def is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _is_file(fs: fsspec.AbstractFileSystem, path: str, url: str) -> bool:
    if is_http(url):
        # A server answers GET for a folder's index page too: a folder is a URL that ends
        # in "/" or that the server redirects to one ending so.
        return not (url.endswith("/") or str(fs.info(path).get("url", "")).endswith("/"))
    return fs.isfile(path)


def remove_temporaries(url: str) -> int:
    """Delete the temporaries a killed writer left under url; returns how many.
    Only safe when nothing writes there any more (the runner calls it after a stage)."""
    fs, path = filesystem(url)
    if not fs.exists(path):
        return 0
    leftovers = [p for p in fs.find(path) if TEMPORARY.search(p)]
    for leftover in leftovers:
        fs.rm(leftover)
    return len(leftovers)


@contextmanager
def atomic_path(url: str) -> Iterator[str]:
    """Yield a temporary path beside url; on success move it to url. The temporary is a hidden file
    (`.<name>.tmp-<hex>`), which pyarrow.dataset, pandas and datasets.load_dataset pass over, so a
    stage folder reads as it is while a shard is written or after a killed writer."""
    fs, path = filesystem(url)
    folder = posixpath.dirname(path) if "://" in url else os.path.dirname(path) or "."
    fs.makedirs(folder, exist_ok=True)
    temporary = temporary_pattern(path).replace("*", uuid.uuid4().hex[:12])
    try:
        yield unstrip(fs, temporary, url)
        fs.mv(temporary, path)
    finally:
        if fs.exists(temporary):
            fs.rm(temporary)


def temporary_pattern(path: str) -> str:
    """The glob matching the temporaries atomic_path writes for path."""
    return posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.tmp-*")


def write_json(url: str, obj) -> None:
    with atomic_path(url) as temporary, fsspec.open(temporary, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


def read_json(url: str):
    with fsspec.open(url, "r") as f:
        return json.load(f)


@contextmanager
def naming_errors(url: str) -> Iterator[None]:
    """An OSError of a write that names no file (pyarrow's, a full disk's) names the file being written."""
    try:
        yield
    except OSError as error:
        if error.filename is not None or error.errno is None:
            raise
        raise OSError(error.errno, error.strerror or str(error), url) from error


class ParquetSink:
    """Writes record batches to one Parquet file, atomically, only if any row is written
    (or always, when `always` is set: an output shard must exist even when empty)."""

    def __init__(self, url: str, always: bool = False):
        self.url, self.always = url, always
        self.rows = 0
        self._writer = None
        self._file = None
        self._atomic = None
        self._temporary = None
        self.schema = None

    def write(self, table: pa.Table) -> None:
        with naming_errors(self.url):
            if self._writer is None:
                self._open(table.schema)
            elif table.schema != self.schema:
                table = table.select(self.schema.names).cast(self.schema)
            self._writer.write_table(table)
        self.rows += table.num_rows

    def _open(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._atomic = atomic_path(self.url)
        self._temporary = self._atomic.__enter__()
        self._file = fsspec.open(self._temporary, "wb").open()
        self._writer = pq.ParquetWriter(self._file, schema, **PARQUET_OPTIONS)

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        with naming_errors(self.url):
            if self._writer is None and self.always:
                self._open(empty_schema)
            if self._writer is None:
                return
            self._writer.close()
            self._file.close()
            self._atomic.__exit__(None, None, None)
        self._writer = None

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._file.close()
            self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)
            self._writer = None


def iter_parquet(urls: tuple[str, ...] | list[str], batch_size: int) -> Iterator[pa.Table]:
    """Record batches (as tables) of several Parquet files in order."""
    for url in urls:
        with fsspec.open(url, "rb") as f:
            parquet = pq.ParquetFile(f)
            for batch in parquet.iter_batches(batch_size=batch_size):
                yield pa.Table.from_batches([batch])


def parquet_schema(url: str) -> pa.Schema:
    with fsspec.open(url, "rb") as f:
        return pq.ParquetFile(f).schema_arrow


def parquet_rows(url: str) -> int:
    with fsspec.open(url, "rb") as f:
        return pq.ParquetFile(f).metadata.num_rows


def read_table(url: str, columns: list[str] | None = None) -> pa.Table:
    with fsspec.open(url, "rb") as f:
        return pq.read_table(f, columns=columns)


OUTPUT_SUFFIXES = (".parquet", ".jsonl.gz")  # what a stage folder holds (jsonl.gz: a pipeline's output_format)


def read_output(url: str, columns: list[str]) -> pa.Table:
    """Those of `columns` a stage's output file (Parquet or JSON lines) has, for a stage's own report."""
    if not url.endswith(".jsonl.gz"):
        present = [c for c in columns if c in parquet_schema(url).names]
        return read_table(url, present)
    with fsspec.open(url, "rb", compression="gzip") as f:
        data = f.read()
    table = pa_json.read_json(pa.BufferReader(data)) if data.strip() else pa.table({})
    return table.select([c for c in columns if c in table.column_names])


def basename(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def remove_tree(url: str) -> None:
    fs, path = filesystem(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)
