"""Downloads for the demo: cached, checksummed, size-capped, optionally a byte range.

A file is fetched once into the cache and verified on every reuse: against a known
sha256 when the source publishes one, otherwise against the sha256 recorded beside
it (`<file>.sha256`) on the first fetch. A corrupted or changed cached file is an
error naming the file, never silently used. Responses are streamed to disk, never
more than `max_bytes`. A cache entry is atomic: the file is written under a
per-process `.part-<pid>` name, its checksum recorded, and only then renamed into
place, so a kill at any moment leaves either no entry or a complete, recorded one.

A byte range of a gzip file (a Common Crawl WARC is one gzip member per record) is
cut back to its last complete member, so the slice is a valid, smaller WARC.
"""
from __future__ import annotations

import hashlib
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


class ChecksumError(RuntimeError):
    """A downloaded or cached file does not have the expected sha256."""


class DownloadTooLarge(RuntimeError):
    """A response longer than the download's size cap."""


@dataclass(frozen=True)
class Download:
    name: str  # file name in the cache
    url: str
    sha256: str | None = None  # known checksum; None: recorded on the first fetch
    byte_range: tuple[int, int] | None = None  # (first, last) byte, inclusive, as in an HTTP Range header
    max_bytes: int = 64_000_000  # a longer response is an error (a range is capped at its own size)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(download: Download, cache: Path, timeout: float = 60.0) -> Path:
    """The cached file for `download`, fetching it first if needed; verified either way."""
    path = cache / download.name
    recorded = path.with_name(path.name + ".sha256")
    if path.exists() and (download.sha256 or recorded.exists()):
        verify(path, download.sha256 or recorded.read_text().strip())
        return path
    # Not cached, or cached by a run killed before it recorded the checksum: fetch it (again).
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_partials(path)
    partial = path.with_name(f"{path.name}.part-{os.getpid()}")  # one per process: two demos never share one
    try:
        http_get(download, partial, timeout)
        if download.byte_range is not None:
            partial.write_bytes(whole_gzip_members(partial.read_bytes(), download.url))  # at most the range's size
        digest = sha256_of(partial)
        if download.sha256 is not None and digest != download.sha256:
            raise ChecksumError(f"{path}: downloaded from {download.url} with sha256 {digest}, not the expected "
                                f"{download.sha256}; the source changed or the transfer was corrupted")
        # The checksum is recorded before the file takes its name, so a cached file always has one.
        atomic_write_text(recorded, digest + "\n")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def remove_dead_partials(path: Path) -> None:
    """Delete the partial files of downloads killed mid-way (their process is gone)."""
    from curate.core.lock import pid_alive

    for partial in path.parent.glob(f"{path.name}.part-*"):
        pid = partial.name.rsplit("-", 1)[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            partial.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.part-{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def verify(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(f"{path}: sha256 {actual} does not match the expected {expected}; "
                            f"the file is corrupt or changed: delete it to download it again")


def http_get(download: Download, destination: Path, timeout: float) -> None:
    """Stream the URL (or its byte range) to destination, never more than max_bytes (a range's size)."""
    request = urllib.request.Request(download.url, headers={"User-Agent": "curate-demo/0.1"})
    first, limit = 0, download.max_bytes
    if download.byte_range is not None:
        first, last = download.byte_range
        request.add_header("Range", f"bytes={first}-{last}")
        limit = last - first + 1
    with urllib.request.urlopen(request, timeout=timeout) as response, open(destination, "wb") as out:
        skip = first if response.status != 206 else 0  # a server without Range support sends everything
        written = 0
        for block in iter(lambda: response.read(CHUNK), b""):
            block, skip = block[skip:], max(0, skip - len(block))
            block = block[: max(0, limit - written)] if download.byte_range is not None else block
            written += len(block)
            if download.byte_range is None and written > limit:
                raise DownloadTooLarge(f"{download.url}: more than {limit} bytes (max_bytes); not cached")
            out.write(block)
            if download.byte_range is not None and written >= limit:
                break


def whole_gzip_members(data: bytes, source: str) -> bytes:
    """The prefix of `data` made of complete gzip members (a range cut mid-record loses that record)."""
    view, end, step = memoryview(data), 0, 1 << 16
    while end < len(data):
        decompressor, position = zlib.decompressobj(zlib.MAX_WBITS | 16), end
        try:
            while not decompressor.eof and position < len(data):
                decompressor.decompress(view[position: position + step])
                position = min(position + step, len(data))
        except zlib.error as error:
            raise ValueError(f"{source}: the downloaded range is not gzip data: {error}") from None
        if not decompressor.eof:
            break  # the last member is cut
        end = position - len(decompressor.unused_data)
    if end == 0:
        raise ValueError(f"{source}: the downloaded range holds no complete gzip member; ask for a larger range")
    return data[:end]
