"""The readers at the front door (issue #31, cases 1-6): what people bring as it really comes: a JSONL file
with a byte-order mark, a .jsonl.gz cut short by a broken download, Parquet whose text column is a struct
or a list, CSV holding whole books, and hf:// with no network. Each keeps every readable document, counts
the rest with a reason naming the file, or stops with one line naming the file and what is wrong."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, read_rejected, read_stage, run_curate
from read_fixtures import dolma_records

from curate.core.params import ConfigError
from curate.read import ReaderConfig, check


@pytest.fixture(scope="module")
def records(shared_data):
    return dolma_records(shared_data)


def jsonl_bytes(rows) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def run_reader(tmp_path, inputs, reader: dict | None = None, check_rc: bool = True):
    config = tmp_path / "p.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "input": [str(i) for i in inputs],
                "output": str(tmp_path / "out"),
                "reader": reader or {},
                "stages": [{"stage": "langid"}],
            }
        )
    )
    return run_curate("run", str(config), "--no-progress", "--materialize", check=check_rc)


@pytest.mark.slow
def test_a_jsonl_file_starting_with_a_byte_order_mark_reads_its_first_record(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'\xef\xbb\xbf{"id":"a","text":"hi"}\n{"id":"b","text":"there"}\n')
    (tmp_path / "b.json").write_bytes(b'\xef\xbb\xbf[{"id":"c","text":"an array"}]')
    run_reader(tmp_path, [tmp_path / "a.jsonl", tmp_path / "b.json"])
    assert sorted(read_stage(tmp_path / "out", "read")["id"].to_pylist()) == ["a", "b", "c"]
    assert read_rejected(tmp_path / "out", "read") is None


def truncated_gzip(rows) -> bytes:
    """A real gzip stream cut off mid-way, as an interrupted download leaves it."""
    data = gzip.compress(jsonl_bytes(rows))
    return data[: len(data) // 2]


@pytest.mark.slow
def test_a_truncated_jsonl_gz_first_keeps_its_readable_records_and_names_the_damage(tmp_path, records):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-cut.jsonl.gz").write_bytes(truncated_gzip(records))  # first: the one field sampling opens
    (folder / "b-whole.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(records[:5])))
    result = run_reader(tmp_path, [folder], {"url": "metadata.url"}, check_rc=False)
    assert result.returncode == 0, result.stderr
    kept, rejected = read_stage(tmp_path / "out", "read"), read_rejected(tmp_path / "out", "read")
    from_cut = [p for p in kept["path"].to_pylist() if p.endswith("a-cut.jsonl.gz")]
    assert 0 < len(from_cut) < len(records)  # the records before the damage are kept
    assert kept.num_rows == len(from_cut) + 5
    assert rejected["reason"].to_pylist() == ["read.damaged_file"]
    detail = rejected["detail"][0].as_py()
    assert "a-cut.jsonl.gz" in detail and "byte" in detail and "ended before" in detail


@pytest.mark.slow
def test_a_truncated_jsonl_gz_beside_good_files_in_one_shard_does_not_fail_the_shard(tmp_path, records):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-whole.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(records[:10])))
    (folder / "b-cut.jsonl.gz").write_bytes(truncated_gzip(records))
    (folder / "c-whole.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(records[10:20])))
    for _ in range(2):  # a rerun finds the run done, not failing the same way
        result = run_reader(tmp_path, [folder], check_rc=False)
        assert result.returncode == 0, result.stderr
    kept = read_stage(tmp_path / "out", "read")
    assert {r["id"] for r in records[:20]} <= set(kept["id"].to_pylist())
    rejected = read_rejected(tmp_path / "out", "read")
    assert rejected["reason"].to_pylist() == ["read.damaged_file"] and rejected["path"][0].as_py().endswith(
        "b-cut.jsonl.gz"
    )
    stats = json.loads((tmp_path / "out" / "stats" / "read.json").read_text())
    assert stats["docs_in"] == kept.num_rows + 1 and stats["dropped"] == {"read.damaged_file": 1}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["struct", "list"])
def test_parquet_whose_text_column_is_not_text_is_an_error_naming_file_and_column(tmp_path, records, kind):
    text = [{"body": r["text"], "lang": "en"} for r in records] if kind == "struct" else [[r["text"]] for r in records]
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": [r["id"] for r in records], "text": text}), path)
    result = run_reader(tmp_path, [path], check_rc=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.startswith("curate: error: ") and len(line.splitlines()) == 1
    assert f"{path}: reader key 'text': field 'text' is {kind}" in line
    if kind == "struct":
        assert "text.body" in line  # the way out: a dotted path to its string field
        run_reader(tmp_path, [path], {"text": "text.body"})
        assert read_stage(tmp_path / "out", "read")["text"].to_pylist() == [r["text"] for r in records]


@pytest.mark.slow
def test_parquet_whose_text_column_changes_type_in_a_later_file_rejects_that_file_s_rows(tmp_path, records):
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"text": [r["text"] for r in records[:10]]}), folder / "a.parquet")
    pq.write_table(pa.table({"text": [[r["text"]] for r in records[10:14]]}), folder / "b.parquet")
    result = run_reader(tmp_path, [folder], check_rc=False)
    assert result.returncode == 0, result.stderr
    assert read_stage(tmp_path / "out", "read").num_rows == 10
    rejected = read_rejected(tmp_path / "out", "read")
    assert rejected["reason"].to_pylist() == ["read.bad_field"] * 4
    assert "'text' is list<element: string>" in rejected["detail"][0].as_py()


@pytest.mark.slow
def test_csv_fields_over_a_megabyte_are_read(tmp_path, shared_data):
    """Whole books in a CSV column, and an omnibus of all of them, beside short rows: a row larger than two of
    pyarrow's 1 MB blocks failed ("straddling object"); the block must grow to hold a row."""
    books = [
        p.read_text(encoding="utf-8-sig")
        for p in sorted((shared_data / "books").glob("*_*.txt"))
        if "LICENSE" not in p.name
    ]
    texts = ["a short one"] + books + ["\n\n".join(books), "another short one"]
    assert max(len(t.encode()) for t in texts) > 2_500_000
    path = tmp_path / "books.csv"
    pacsv.write_csv(pa.table({"id": [f"b{i}" for i in range(len(texts))], "text": texts}), path)
    run_reader(tmp_path, [path])
    kept = read_stage(tmp_path / "out", "read")
    assert sorted(zip(kept["id"].to_pylist(), kept["text"].to_pylist())) == sorted(
        zip([f"b{i}" for i in range(len(texts))], texts)
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when this returns: connections are refused at once


@pytest.mark.slow
def test_hf_input_without_network_is_one_line_naming_the_url(tmp_path):
    pytest.importorskip("huggingface_hub")
    config = tmp_path / "p.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "input": "hf://datasets/org/name",
                "output": str(tmp_path / "out"),
                "reader": {},
                "stages": [{"stage": "langid"}],
            }
        )
    )
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}", "PYTHONPATH": str(REPO)}
    env.pop("HF_HUB_OFFLINE", None)
    result = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(config), "--no-progress"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("curate: error: ")
    assert "hf://datasets/org/name" in line and "cannot be reached" in line and "hf download" in line
    offline = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(config), "--no-progress"],
        cwd=REPO,
        env={**env, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert offline.returncode == 2 and "HF_HUB_OFFLINE" in offline.stderr  # says why the cache does not help


def test_a_first_file_the_format_cannot_read_at_all_is_still_an_error_when_none_can(tmp_path):
    (tmp_path / "a.parquet").write_bytes(b"PAR1 not parquet at all PAR1")
    with pytest.raises(ConfigError, match=r"a.parquet: not readable as parquet"):
        check([str(tmp_path / "a.parquet")], ReaderConfig())


@pytest.mark.slow
def test_csv_rows_of_the_wrong_shape_are_rejected_each_and_the_rest_read(tmp_path, records):
    rows = [{"id": r["id"], "text": r["text"]} for r in records[:6]]
    path = tmp_path / "docs.csv"
    pacsv.write_csv(pa.Table.from_pylist(rows), path)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:3] + [b'"x","one field too many","!"', b'"only one"'] + lines[3:]))
    run_reader(tmp_path, [path])
    assert sorted(read_stage(tmp_path / "out", "read")["id"].to_pylist()) == sorted(r["id"] for r in rows)
    rejected = read_rejected(tmp_path / "out", "read")
    assert rejected["reason"].to_pylist() == ["read.bad_row"] * 2
    assert sorted(rejected["text"].to_pylist()) == sorted(['"x","one field too many","!"', '"only one"'])
    assert sorted(rejected["detail"].to_pylist()) == [
        "1 fields where the header has 2",
        "3 fields where the header has 2",
    ]
