"""Downloads for the demo: cached, checksummed, optionally a byte range.

A file is fetched once into the cache and verified on every reuse: against a known
sha256 when the source publishes one, otherwise against the sha256 recorded beside
it (`<file>.sha256`) on the first fetch. A corrupted or changed cached file is an
error naming the file, never silently used.

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


@dataclass(frozen=True)
class Download:
    name: str  # file name in the cache
    url: str
    sha256: str | None = None  # known checksum; None: recorded on the first fetch
    byte_range: tuple[int, int] | None = None  # (first, last) byte, inclusive, as in an HTTP Range header


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
    if path.exists():
        expected = download.sha256 or (recorded.read_text().strip() if recorded.exists() else None)
        if expected is None:
            raise ChecksumError(f"{path}: cached without a recorded checksum; delete it to download it again")
        verify(path, expected)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    data = http_get(download.url, download.byte_range, timeout)
    if download.byte_range is not None:
        data = whole_gzip_members(data, download.url)
    partial.write_bytes(data)
    if download.sha256 is not None:
        try:
            verify(partial, download.sha256)
        except ChecksumError:
            partial.unlink()
            raise
    os.replace(partial, path)
    recorded.write_text(sha256_of(path) + "\n")
    return path


def verify(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(f"{path}: sha256 {actual} does not match the expected {expected}; "
                            f"the file is corrupt or changed: delete it to download it again")


def http_get(url: str, byte_range: tuple[int, int] | None, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "curate-demo/0.1"})
    if byte_range is not None:
        request.add_header("Range", f"bytes={byte_range[0]}-{byte_range[1]}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read()
        if byte_range is not None and response.status != 206:
            data = data[byte_range[0]: byte_range[1] + 1]  # a server without Range support sent everything
    return data


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
