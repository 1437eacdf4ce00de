"""`curate demo`: downloads (against a local HTTP server with Range support serving
../shared/data), checksums, and the demo run itself with --from."""

from __future__ import annotations

import functools
import http.server
import io
import re
import threading

import pytest

from conftest import curate_in_process, read_stage
from curate.download import ChecksumError, Download, fetch
from studies.demo import DOWNLOADS, DemoRun, step_fetch

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: one `curate demo` run (conftest curate_demo) for this module and test_report
pytestmark = pytest.mark.xdist_group("demo")


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single `Range: bytes=a-b` requests answered by 206, as CDNs do."""

    def send_head(self):
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        if not match:
            return super().send_head()
        path = self.translate_path(self.path)
        with open(path, "rb") as f:
            data = f.read()
        first, last = int(match.group(1)), min(int(match.group(2)), len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        return io.BytesIO(data[first : last + 1])

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(shared_data):
    handler = functools.partial(RangeHandler, directory=str(shared_data))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_demo_downloads_are_cached_and_verified(server, tmp_path):
    run = DemoRun(None, tmp_path / "out", tmp_path / "cache", base_url=server)
    step_fetch(run)
    assert run.data == tmp_path / "cache"
    warc = tmp_path / "cache" / "web" / "warc" / "cc-main-2023-23-slice.warc.gz"
    assert warc.exists() and (tmp_path / "cache" / "books" / "pg1342.txt").stat().st_size == 724_725
    assert len((tmp_path / "cache" / "books" / "pg11.txt.sha256").read_text().strip()) == 64
    step_fetch(
        DemoRun(None, tmp_path / "out", tmp_path / "cache", base_url="http://127.0.0.1:9/")
    )  # cached: no request

    # corrupt a cached file: reuse refuses it, naming the file
    book = tmp_path / "cache" / "books" / "pg11.txt"
    book.write_bytes(book.read_bytes().replace(b"Alice", b"Alise", 1))
    with pytest.raises(ChecksumError, match="pg11.txt"):
        step_fetch(DemoRun(None, tmp_path / "out", tmp_path / "cache", base_url=server))


def test_a_download_with_a_wrong_known_checksum_is_refused(server, tmp_path):
    download = Download("alice.txt", f"{server}/books/en_alice_pg11.txt", sha256="0" * 64)
    with pytest.raises(ChecksumError, match="alice.txt"):
        fetch(download, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-verified left in the cache


def test_a_range_slice_is_cut_to_whole_records(server, shared_data, tmp_path):
    download = Download("slice.warc.gz", f"{server}/web/warc/resiliparse_warcfile.warc.gz", byte_range=(0, 59_999))
    path = fetch(download, tmp_path)
    assert 0 < path.stat().st_size < 60_000
    whole = (shared_data / "web" / "warc" / "resiliparse_warcfile.warc.gz").read_bytes()
    assert whole.startswith(path.read_bytes())
    assert fetch(download, tmp_path) == path  # reuse verifies the checksum recorded on the first fetch


@pytest.mark.slow
def test_demo_from_a_local_copy_runs_every_pipeline(curate_demo):
    demo, result = curate_demo  # `curate demo --from ../shared/data --train-steps 50` (conftest)
    for name in ("web", "books", "code"):
        assert f"{name}: {demo / name}" in result.stdout
    assert read_stage(demo / "web", "extract").num_rows == 164
    books = read_stage(demo / "books", "extract")
    assert "Pride and Prejudice" in books["title"].to_pylist()
    code = read_stage(demo / "code", "extract")
    assert {"json", "email", "asyncio"} <= set(code["repository"].to_pylist())

    # then a tokenizer, token shards per source, the mix plan and a short training run on it
    assert (demo / "tokenizer" / "tokenizer.json").exists()
    for source in ("web", "books", "code"):
        assert list((demo / source / "tokenize" / "train").glob("*.bin"))
        assert re.search(rf"^{source}\s+[\d,]+\s+[\d,]+\s+[\d.]+%", result.stdout, re.M), "mix plan row missing"
    first, final = map(float, re.search(r"train loss ([\d.]+) -> ([\d.]+)", result.stdout).groups())
    assert final < first - 1.0  # the tiny model learns from its own shards
    png = (demo / "train" / "loss.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000


@pytest.mark.slow
def test_demo_downloading_from_a_mirror(server, tmp_path):
    # in this process: the shared demo run (conftest) is the real `curate demo` command line
    result = curate_in_process(
        "demo",
        "--base-url",
        server,
        "--cache",
        str(tmp_path / "cache"),
        "--output",
        str(tmp_path / "demo"),
        "--no-progress",
        "--train-steps",
        "0",
    )
    assert result.stdout.count("fetch http://127.0.0.1") == len(DOWNLOADS)
    web = read_stage(tmp_path / "demo" / "web", "extract")
    assert web.num_rows > 0 and all(url.startswith("http") for url in web["url"].to_pylist())
    assert read_stage(tmp_path / "demo" / "books", "extract").num_rows == 3
