"""Demo downloads under faults (issue #21), against a local HTTP server serving ../shared/data:
a response over the size cap, a server that ignores Range, a server that fails once, a kill between writing a file and
recording its checksum, a partial file left by a killed download."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading

import pytest
import requests

from conftest import dead_pid
from curate.download import Download, DownloadTooLarge, fetch


@pytest.fixture(scope="module")
def plain_server(shared_data):
    """A static server without Range support: a range request gets the whole file (status 200)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shared_data))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.handle_error = lambda *args: None  # a client that stops reading at its cap breaks the pipe: expected
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_response_over_the_size_cap_is_refused_and_not_cached(plain_server, tmp_path):
    download = Download("moby.txt", f"{plain_server}/books/en_moby_dick_pg2701.txt", max_bytes=100_000)
    with pytest.raises(DownloadTooLarge, match="more than 100000 bytes"):
        fetch(download, tmp_path)
    assert not list(tmp_path.iterdir())  # no entry, no partial file


def test_a_range_from_a_server_without_range_support_is_cut_to_the_range(plain_server, shared_data, tmp_path):
    whole = (shared_data / "web" / "warc" / "dolma_sample-0000.warc.gz").read_bytes()
    download = Download("slice.warc.gz", f"{plain_server}/web/warc/dolma_sample-0000.warc.gz", byte_range=(0, 99_999))
    path = fetch(download, tmp_path)
    assert 0 < path.stat().st_size <= 100_000 and whole.startswith(path.read_bytes())
    gzip.decompress(path.read_bytes())  # whole gzip members only


def test_a_kill_between_writing_and_recording_does_not_leave_the_cache_stuck(plain_server, shared_data, tmp_path):
    download = Download("alice.txt", f"{plain_server}/books/en_alice_pg11.txt")
    (tmp_path / "alice.txt").write_bytes(b"half of a file")  # renamed into place, checksum never recorded
    (tmp_path / f"alice.txt.part-{dead_pid()}").write_bytes(b"a killed download's partial file")
    path = fetch(download, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.txt", "alice.txt.sha256"]  # partial removed
    expected = (shared_data / "books" / "en_alice_pg11.txt").read_bytes()
    assert path.read_bytes() == expected
    assert (tmp_path / "alice.txt.sha256").read_text().strip() == hashlib.sha256(expected).hexdigest()
    assert fetch(download, tmp_path) == path  # from the cache, verified


def test_a_transfer_that_fails_once_is_retried(shared_data, tmp_path):
    """The first request for each file gets a 503 (an overloaded mirror): fetch tries again and caches the file."""
    failed = set()

    class FailsOnce(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path not in failed:
                failed.add(self.path)
                self.send_error(503, "try again")
                return
            super().do_GET()

    handler = functools.partial(FailsOnce, directory=str(shared_data))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        download = Download("alice.txt", f"http://127.0.0.1:{httpd.server_address[1]}/books/en_alice_pg11.txt")
        path = fetch(download, tmp_path)
        assert failed == {"/books/en_alice_pg11.txt"}
        assert path.read_bytes() == (shared_data / "books" / "en_alice_pg11.txt").read_bytes()
        with pytest.raises(requests.HTTPError, match="503"):
            fetch(Download("moby.txt", download.url.replace("alice_pg11", "moby_dick_pg2701")), tmp_path, retries=0)
    finally:
        httpd.shutdown()
