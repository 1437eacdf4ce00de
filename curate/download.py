"""Downloads for the demo: cached, checksummed, retried, size-capped, optionally a byte range.

pooch fetches: it retries a failed transfer (a dropped connection, a 5xx, a checksum mismatch
of a download) with a growing wait, checks a known sha256 before a file takes its name, and
skips what is already there. What pooch has no word for stays here, in `RangeDownloader`: a size
cap (pooch's HTTPDownloader writes whatever the server sends) and a byte range that survives a
server ignoring Range (pooch would store the whole file), cut back to its last complete gzip
member (a Common Crawl WARC is one gzip member per record), so the slice is a valid, smaller WARC.

A file is fetched once into the cache and verified on every reuse: against a known sha256 when the
source publishes one, otherwise against the sha256 recorded beside it (`<file>.sha256`) on the
first fetch. A corrupted or changed cached file is an error naming the file, never silently used
or silently fetched again (pooch would re-download it). A cache entry is atomic: pooch downloads
into a per-process `.part-<pid>` folder, the checksum is recorded, and only then is the file
renamed into place, so a kill at any moment leaves either no entry or a complete, recorded one;
the next fetch deletes the folders of dead processes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import pooch
import requests

CHUNK = 1 << 20
RETRIES = 2  # after the first try; pooch waits 1 s, then 2 s


class ChecksumError(RuntimeError):
    """A downloaded or cached file does not have the expected sha256."""


class DownloadTooLarge(RuntimeError):
    """A response longer than the download's size cap."""


class BadRange(RuntimeError):
    """A byte range that holds no complete gzip member (not retried: asking again gets the same bytes)."""


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


def fetch(download: Download, cache: Path, timeout: float = 60.0, retries: int = RETRIES) -> Path:
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
    store = pooch.Pooch(
        path=partial,
        base_url="",
        registry={path.name: download.sha256},
        urls={path.name: download.url},
        retry_if_failed=retries,
    )
    try:
        try:
            fetched = Path(store.fetch(path.name, downloader=RangeDownloader(download, timeout)))
        except ValueError as error:  # pooch's word for a checksum mismatch (after its retries)
            raise ChecksumError(
                f"{path}: downloaded from {download.url}, but {error}; the source changed or the transfer was corrupted"
            ) from None
        # The checksum is recorded before the file takes its name, so a cached file always has one.
        atomic_write_text(recorded, (download.sha256 or sha256_of(fetched)) + "\n")
        os.replace(fetched, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return path


def remove_dead_partials(path: Path) -> None:
    """Delete the partial downloads of processes killed mid-way (their process is gone)."""
    from curate.core.lock import pid_alive

    for partial in path.parent.glob(f"{path.name}.part-*"):
        pid = partial.name.rsplit("-", 1)[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(partial) if partial.is_dir() else partial.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.part-{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def verify(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: sha256 {actual} does not match the expected {expected}; "
            f"the file is corrupt or changed: delete it to download it again"
        )


@dataclass(frozen=True)
class RangeDownloader:
    """A pooch downloader (called with url, output file, pooch) that streams the URL, or its byte range, to
    the file, never more than max_bytes (a range's size), and cuts a range to whole gzip members."""

    download: Download
    timeout: float

    def __call__(self, url: str, output_file: str, _pooch) -> None:
        download, first, limit = self.download, 0, self.download.max_bytes
        headers = {"User-Agent": "curate-demo/0.1"}
        if download.byte_range is not None:
            first, last = download.byte_range
            headers["Range"] = f"bytes={first}-{last}"
            limit = last - first + 1
        with (
            requests.get(url, headers=headers, stream=True, timeout=self.timeout) as response,
            open(output_file, "wb") as out,
        ):
            response.raise_for_status()
            skip = first if response.status_code != 206 else 0  # a server without Range support sends everything
            written = 0
            for block in response.iter_content(CHUNK):
                block, skip = block[skip:], max(0, skip - len(block))
                block = block[: max(0, limit - written)] if download.byte_range is not None else block
                written += len(block)
                if download.byte_range is None and written > limit:
                    raise DownloadTooLarge(f"{url}: more than {limit} bytes (max_bytes); not cached")
                out.write(block)
                if download.byte_range is not None and written >= limit:
                    break
        if download.byte_range is not None:
            data = Path(output_file).read_bytes()
            Path(output_file).write_bytes(whole_gzip_members(data, url))  # at most the range's size


def whole_gzip_members(data: bytes, source: str) -> bytes:
    """The prefix of `data` made of complete gzip members (a range cut mid-record loses that record)."""
    view, end, step = memoryview(data), 0, 1 << 16
    while end < len(data):
        decompressor, position = zlib.decompressobj(zlib.MAX_WBITS | 16), end
        try:
            while not decompressor.eof and position < len(data):
                decompressor.decompress(view[position : position + step])
                position = min(position + step, len(data))
        except zlib.error as error:
            raise BadRange(f"{source}: the downloaded range is not gzip data: {error}") from None
        if not decompressor.eof:
            break  # the last member is cut
        end = position - len(decompressor.unused_data)
    if end == 0:
        raise BadRange(f"{source}: the downloaded range holds no complete gzip member; ask for a larger range")
    return data[:end]
