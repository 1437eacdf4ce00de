"""Pipelines reading and writing fsspec URLs: memory:// (an object store without real
folders; in-process executor, since memory:// lives in one process) and HTTP reads from
a local server's directory index. A killed run's leftovers are never trusted."""

from __future__ import annotations

import functools
import http.server
import threading
import uuid
from pathlib import Path

import fsspec
import pyarrow as pa
import pytest
import yaml

from curate.core import storage
from curate.core.executor import LocalExecutor
from curate.core.params import ConfigError
from curate.core.pipeline import load_pipeline
from curate.api import run_pipeline

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)

EXTRACT = {"stage": "extract", "source": "books", "files_per_shard": 2}


@pytest.fixture
def memory_root():
    root = f"memory://test-{uuid.uuid4().hex[:8]}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def run(tmp_path: Path, inputs: list[str], output: str, stages: list[dict], only_stage: str | None = None) -> None:
    path = tmp_path / f"pipeline-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump({"name": "fsspec", "input": inputs, "output": output, "stages": stages}))
    run_pipeline(load_pipeline(str(path)), LocalExecutor(1), only_stage=only_stage, progress=False)


def read_folder(url: str) -> pa.Table:
    return pa.concat_tables(storage.iter_parquet(storage.list_files(url, (".parquet",)), 10_000)).sort_by("id")


def texts(url: str) -> list[tuple]:
    """(file name, title, text) of each document: what does not depend on where the input lives."""
    table = read_folder(url)
    names = [path.rsplit("/", 1)[-1] for path in table["path"].to_pylist()]
    return sorted(zip(names, table["title"].to_pylist(), table["text"].to_pylist(), strict=True))


def test_outputs_to_memory_url_match_a_local_folder(tmp_path, shared_data, memory_root):
    run(tmp_path, [str(shared_data / "books")], str(tmp_path / "local"), [EXTRACT])
    run(tmp_path, [str(shared_data / "books")], memory_root, [EXTRACT])
    for folder in ("extract", "rejected/extract"):
        assert read_folder(f"{memory_root}/{folder}").equals(read_folder(str(tmp_path / "local" / folder)))
    assert storage.read_json(f"{memory_root}/stats/extract.json")["docs_out"] == 5


def test_inputs_from_memory_url(tmp_path, shared_data, memory_root):
    fs = fsspec.filesystem("memory")
    for book in sorted((shared_data / "books").glob("en_*.txt")):
        fs.pipe(f"{memory_root}/in/{book.name}", book.read_bytes())
    run(tmp_path, [f"{memory_root}/in"], f"{memory_root}/out", [EXTRACT])
    run(tmp_path, [str(shared_data / "books")], str(tmp_path / "local"), [EXTRACT])
    local = [row for row in texts(str(tmp_path / "local" / "extract")) if row[0].startswith("en_")]
    assert texts(f"{memory_root}/out/extract") == local
    assert len(local) == 3


def test_a_killed_runs_leftovers_are_redone_and_removed(tmp_path, shared_data, memory_root):
    """A run killed while moving shard-00001 into place: the output key holds a partial copy,
    a temporary key is left over, and no completion record was written."""
    run(tmp_path, [str(shared_data / "books")], memory_root, [EXTRACT])
    fs = fsspec.filesystem("memory")
    complete = fs.cat(f"{memory_root}/extract/shard-00001.parquet")
    fs.pipe(f"{memory_root}/extract/shard-00001.parquet", complete[: len(complete) // 2])
    fs.pipe(f"{memory_root}/extract/.shard-00001.parquet.tmp-0123456789ab", complete[: len(complete) // 3])
    fs.rm(f"{memory_root}/_state/extract/main/shard-00001.json")
    fs.rm(f"{memory_root}/stats/extract.json")
    assert f"{memory_root}/extract/.shard-00001.parquet.tmp-0123456789ab" not in storage.list_files(
        f"{memory_root}/extract"
    )

    run(tmp_path, [str(shared_data / "books")], memory_root, [EXTRACT])
    assert fs.cat(f"{memory_root}/extract/shard-00001.parquet") == complete
    assert not [key for key in fs.find(memory_root) if ".tmp-" in key]
    assert storage.read_json(f"{memory_root}/stats/extract.json")["docs_out"] == 5


def test_a_stage_never_reads_an_unfinished_stage(tmp_path, shared_data, memory_root):
    stages = [EXTRACT, {"stage": "dedup"}]
    run(tmp_path, [str(shared_data / "books")], memory_root, stages[:1])
    fsspec.filesystem("memory").rm(f"{memory_root}/stats/extract.json")  # as if extract had been killed
    with pytest.raises(ConfigError, match="has not finished"):
        run(tmp_path, [str(shared_data / "books")], memory_root, stages, only_stage="dedup")


# ---- HTTP reads -------------------------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_data(shared_data):
    """../shared/data served by http.server on 127.0.0.1 (directory listings as HTML)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(shared_data))
    )
    server.handle_error = lambda request, address: None  # a client closing early is not a test failure
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("folder", ["books/", "books"])  # without the slash, the server redirects to it
def test_extract_reads_a_folder_listed_by_an_http_server(tmp_path, shared_data, http_data, folder):
    run(tmp_path, [f"{http_data}/{folder}"], str(tmp_path / "http"), [EXTRACT])
    run(tmp_path, [str(shared_data / "books")], str(tmp_path / "local"), [EXTRACT])
    assert texts(str(tmp_path / "http" / "extract")) == texts(str(tmp_path / "local" / "extract"))
    paths = read_folder(str(tmp_path / "http" / "extract"))["path"].to_pylist()
    assert all(p.startswith(f"{http_data}/books/") for p in paths)
    rejected = read_folder(str(tmp_path / "http" / "rejected" / "extract"))
    assert rejected["reason"].to_pylist() == ["license_text", "license_text"]


def test_http_file_urls_and_a_missing_one(tmp_path, http_data):
    files = [f"{http_data}/books/en_alice_pg11.txt", f"{http_data}/books/kalamine_fr_alice.txt"]
    run(tmp_path, files, str(tmp_path / "out"), [EXTRACT])
    assert sorted(read_folder(str(tmp_path / "out" / "extract"))["path"].to_pylist()) == sorted(files)
    with pytest.raises(ConfigError, match="does not exist"):
        run(tmp_path, [f"{http_data}/books/no_such_book.txt"], str(tmp_path / "missing"), [EXTRACT])


def test_a_listing_on_s3_sees_what_another_process_wrote_since(s3):
    """A worker lists a folder, another process adds and removes objects there: the next listing and
    exists() see both changes (a stale listing lost a held-out piece of a tokenize run on S3)."""
    from conftest import S3_BUCKET

    folder = f"s3://{S3_BUCKET}/listing"
    s3.pipe(f"{S3_BUCKET}/listing/a.idx", b"1")  # s3: a filesystem of its own, as another process has
    assert storage.list_files(folder) == [f"{folder}/a.idx"]
    s3.pipe(f"{S3_BUCKET}/listing/b.idx", b"2")
    assert storage.list_files(folder) == [f"{folder}/a.idx", f"{folder}/b.idx"]
    assert storage.exists(f"{folder}/b.idx")
    s3.rm(f"{S3_BUCKET}/listing/a.idx")
    assert storage.list_files(folder) == [f"{folder}/b.idx"] and not storage.exists(f"{folder}/a.idx")
