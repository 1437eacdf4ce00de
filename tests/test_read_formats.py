"""Readers on real documents: format inference, the mapping checked before work, large files split
into pieces that together read every record once, bad records rejected with a reason, fsspec URLs."""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
import zstandard
from conftest import REPO, read_rejected, read_stage, run_curate
from hub_server import Hub
from test_demo import RangeHandler
from read_fixtures import dolma_records, write_csv, write_fineweb_parquet

from curate.core.params import ConfigError, build_params
from curate.read import ReaderConfig, check, infer_format, plan, read_piece
from curate.core.jsonl_sink import JsonlSink


@pytest.fixture(scope="module")
def records(shared_data):
    return dolma_records(shared_data)


def read_all(inputs, config) -> tuple[pa.Table, list[str]]:
    """Every document of every piece of the plan, and the reasons of rejected records."""
    schema = check([str(i) for i in inputs], config)
    tables, reasons = [], []
    for _, pieces in plan([str(i) for i in inputs], config):
        for piece in pieces:
            for batch in read_piece(piece, config, schema):
                tables.append(batch.documents)
                reasons += batch.reasons
    return (pa.concat_tables(tables) if tables else schema.empty_table()), reasons


def write_jsonl(path, rows, opener=open):
    with opener(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def test_format_from_suffix_any_case_and_compression():
    assert [
        infer_format(n)
        for n in (
            "a.jsonl",
            "A.JSONL.GZ",
            "b.json.zst",
            "c.ndjson.bz2",
            "d.Parquet",
            "e.tsv",
            "f.csv.gz",
            "data-00000-of-00001.arrow",
        )
    ] == ["jsonl", "jsonl", "jsonl", "jsonl", "parquet", "csv", "csv", "arrow"]
    assert [infer_format(n) for n in ("g.txt", "h.parquet.gz", "README.md", "noext")] == [None] * 4


def test_unknown_parameter_gets_a_did_you_mean():
    with pytest.raises(ConfigError, match="txt: unknown key \\(did you mean 'text'\\?\\)"):
        build_params(ReaderConfig, {"txt": "body"}, "pipeline.yaml: stages[0] (read)")
    with pytest.raises(
        ConfigError, match="'language_score' is a column the pipeline writes itself.*input_language_score"
    ):
        build_params(ReaderConfig, {"keep": ["language_score"]}, "p.yaml")


@pytest.mark.slow
def test_a_text_field_that_does_not_exist_stops_the_run_before_work(tmp_path, records):
    csv = write_csv(records, tmp_path / "in" / "docs.csv")
    config = tmp_path / "p.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "input": str(csv.parent),
                "output": str(tmp_path / "out"),
                "stages": [{"stage": "read"}, {"stage": "langid"}],
            }
        )
    )
    result = run_curate("run", str(config), "--no-progress", check=False)
    assert result.returncode == 2
    assert f"{csv}: reader key 'text': field 'text' not found; fields found: doc_id, body, link" in result.stderr
    assert "top-level reader: key" in result.stderr  # where to map them
    assert not (tmp_path / "out" / "read").exists() or not list((tmp_path / "out" / "read").glob("*.parquet"))


def test_nested_field_missing_names_the_nested_fields_found(tmp_path, records):
    path = write_jsonl(tmp_path / "d.jsonl", records[:3])
    with pytest.raises(
        ConfigError, match=r"d.jsonl: reader key 'url': field 'metadata.link' not found; fields found: .*metadata.url"
    ):
        check([str(path)], ReaderConfig(url="metadata.link"))


def test_dotted_paths_reach_into_parquet_structs(tmp_path, records):
    """Dolma's nested metadata as a Parquet struct column: the same dotted paths as in JSON."""
    rows = [
        {"id": r["id"], "text": r["text"], "metadata": {k: r["metadata"].get(k) for k in ("url", "perplexity")}}
        for r in records
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "dolma.parquet")
    documents, _ = read_all(
        [tmp_path / "dolma.parquet"], ReaderConfig(url="metadata.url", keep=["metadata.perplexity"])
    )
    assert documents["id"].to_pylist() == [r["id"] for r in records]
    assert (
        documents["url"].to_pylist() == [r["metadata"].get("url") for r in records] and documents["url"].null_count < 30
    )
    assert documents["metadata_perplexity"].to_pylist() == [r["metadata"].get("perplexity") for r in records]


def test_keep_mixes_paths_and_renamed_fields(tmp_path, records):
    """keep: [metadata.perplexity, {dolma_source: source}]: a path kept under its own name beside a renamed one."""
    path = write_jsonl(tmp_path / "d.jsonl", records[:5])
    config = build_params(
        ReaderConfig, {"url": "metadata.url", "keep": ["metadata.perplexity", {"dolma_source": "source"}]}, "p.yaml"
    )
    documents, _ = read_all([path], config)
    assert documents["metadata_perplexity"].to_pylist() == [r["metadata"].get("perplexity") for r in records[:5]]
    assert documents["dolma_source"].to_pylist() == [r["source"] for r in records[:5]]
    with pytest.raises(ConfigError, match=r"keep\[1\]: expected a string or a mapping"):
        build_params(ReaderConfig, {"keep": ["added", 3]}, "p.yaml")


def test_no_readable_file_and_unsupported_named_file_are_errors_naming_formats(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        ConfigError, match=r"no file the reader can read \(1 others, e.g. .*notes.txt\); supported: JSONL"
    ):
        plan([str(tmp_path)], ReaderConfig())
    with pytest.raises(
        ConfigError, match=r"input '.*notes.txt': a format the reader does not support; supported: JSONL"
    ):
        plan([str(tmp_path / "notes.txt")], ReaderConfig())
    with pytest.raises(
        ConfigError, match=r"notes.txt: not readable as parquet: .*\(the reader's format is given as parquet\)"
    ):
        check([str(tmp_path / "notes.txt")], ReaderConfig(format="parquet"))  # named, so read as the format given
    (tmp_path / "notes.txt").write_text('{"text": "hello"}\n')
    documents, _ = read_all([tmp_path / "notes.txt"], ReaderConfig(format="jsonl"))
    assert documents["text"].to_pylist() == ["hello"]  # a named file with an explicit format is read as that format


def test_a_given_format_reads_a_downloaded_folder_without_its_card(tmp_path, records, capsys):
    """A Hub snapshot: Parquet beside README.md and .gitattributes, and Spark-style part files without a suffix."""
    write_fineweb_parquet(records[:20], tmp_path / "data" / "train-0.parquet")
    write_fineweb_parquet(records[20:], tmp_path / "data" / "part-00001")
    (tmp_path / "README.md").write_text("---\nlicense: odc-by\n---\n# FineWeb sample\n")
    (tmp_path / ".gitattributes").write_text("*.parquet filter=lfs\n")
    documents, reasons = read_all([tmp_path], ReaderConfig(format="parquet"))
    assert sorted(documents["text"].to_pylist()) == sorted(r["text"] for r in records) and reasons == []
    assert "skipping 2 file(s) of other formats" in capsys.readouterr().err


def test_upper_case_zst_and_json_array_files_are_read(tmp_path, records):
    with zstandard.open(tmp_path / "A.JSONL.ZST", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records[:10])
    (tmp_path / "b.json").write_text(json.dumps(records[10:20]))
    write_jsonl(tmp_path / "c.Jsonl.Gz", records[20:], gzip.open)
    documents, _ = read_all([tmp_path], ReaderConfig(url="metadata.url"))
    assert sorted(documents["text"].to_pylist()) == sorted(r["text"] for r in records)
    assert documents["url"].null_count == 0


def test_one_large_jsonl_file_is_split_and_read_once_with_stable_derived_ids(tmp_path, records):
    rows = [{"text": f"{i}: {records[i % 30]['text']}", "n": i} for i in range(400)]  # no ids: derived
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    assert path.stat().st_size > 2_500_000
    config = ReaderConfig(shard_bytes=1_000_000, keep=["n"])
    shards = plan([str(path)], config)
    assert len(shards) >= 3 and all(p.stop is not None for _, ps in shards for p in ps)
    split, _ = read_all([path], config)
    whole, _ = read_all([path], ReaderConfig(shard_bytes=10**9, keep=["n"]))
    assert sorted(split["n"].to_pylist()) == list(range(400))  # each record exactly once
    assert dict(zip(split["n"].to_pylist(), split["id"].to_pylist())) == dict(
        zip(whole["n"].to_pylist(), whole["id"].to_pylist())
    )
    assert len(set(split["id"].to_pylist())) == 400


def test_one_large_json_array_file_is_read_whole_not_cut_into_lines(tmp_path, records):
    rows = [{"text": f"{i}: {records[i % 30]['text']}", "n": i} for i in range(400)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(rows, indent=1))  # an array over many lines, as json.dump(indent=...) writes it
    config = ReaderConfig(shard_bytes=1_000_000, keep=["n"])
    assert path.stat().st_size > 2_500_000 and len(plan([str(path)], config)) == 1
    documents, reasons = read_all([path], config)
    assert sorted(documents["n"].to_pylist()) == list(range(400)) and reasons == []


def test_one_large_parquet_file_is_split_by_row_groups(tmp_path, records):
    path = write_fineweb_parquet(records * 40, tmp_path / "big.parquet", row_group_size=60)
    config = ReaderConfig(shard_bytes=1_000_000, keep=["token_count"])
    shards = plan([str(path)], config)
    assert pq.ParquetFile(path).metadata.num_row_groups == 20 and len(shards) >= 3
    documents, _ = read_all([path], config)
    assert documents.num_rows == 1200 and Counter(documents["id"].to_pylist()) == Counter(
        pq.read_table(path)["id"].to_pylist()
    )


@pytest.mark.slow
def test_bad_records_are_rejected_with_a_reason_and_the_rest_kept(tmp_path, records):
    rows = [records[0], "{not json", {"id": "x", "body": "no text field"}, records[2]]
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(folder / "mixed.jsonl", rows)
    config = tmp_path / "p.yaml"
    config.write_text(
        yaml.safe_dump({"input": str(folder), "output": str(tmp_path / "out"), "stages": [{"stage": "read"}]})
    )
    result = run_curate("run", str(config), "--no-progress")
    assert read_stage(tmp_path / "out", "read")["id"].to_pylist() == [records[0]["id"], records[2]["id"]]
    rejected = read_rejected(tmp_path / "out", "read")
    assert rejected["reason"].to_pylist() == ["read.bad_json", "read.no_text"]
    assert rejected["text"].to_pylist() == ["{not json\n", '{"id":"x","body":"no text field"}']  # nothing lost
    assert "read.bad_json 1" in result.stdout and "read.no_text 1" in result.stdout


def test_a_kept_value_of_another_type_than_sampled_is_rejected_not_the_batch(tmp_path, records):
    rows = records * 4 + [{"text": "late", "metadata": {"language_score": "high"}}]  # past the 100 sampled
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    config = ReaderConfig(keep={"ccnet_score": "metadata.language_score"})
    assert check([str(path)], config).field("ccnet_score").type == pa.float64()
    documents, reasons = read_all([path], config)
    assert documents.num_rows == 120 and reasons == ["read.bad_field"]


def test_documents_over_http(tmp_path, records):
    write_jsonl(tmp_path / "part-0.jsonl.gz", records[:15], gzip.open)
    write_fineweb_parquet(records[15:], tmp_path / "part-1.parquet")
    handler = functools.partial(RangeHandler, directory=str(tmp_path))  # ranges, as object stores serve them
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        documents, _ = read_all([url], ReaderConfig())
    finally:
        server.shutdown()
    assert sorted(documents["text"].to_pylist()) == sorted(r["text"] for r in records)
    assert all(p.startswith(url) for p in documents["path"].to_pylist())


def test_jsonl_sink_is_atomic_and_round_trips(tmp_path, records):
    table = pa.Table.from_pylist([{"id": r["id"], "text": r["text"]} for r in records])
    sink = JsonlSink(str(tmp_path / "a.jsonl.gz"))
    sink.write(table)
    assert not (tmp_path / "a.jsonl.gz").exists()  # only a temporary until closed
    sink.close()
    with gzip.open(tmp_path / "a.jsonl.gz", "rt") as f:
        assert [json.loads(line) for line in f] == table.to_pylist()
    aborted = JsonlSink(str(tmp_path / "b.jsonl.gz"))
    aborted.write(table)
    aborted.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl.gz"]


@pytest.mark.slow
def test_hf_datasets_path_reads_through_huggingface_hub(tmp_path, records):
    pytest.importorskip("huggingface_hub")
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    write_jsonl(repo / "data" / "train-0.jsonl.gz", records, gzip.open)
    (repo / "README.md").write_text("# a dataset card: not a document, named as skipped\n")
    config = tmp_path / "p.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "input": "hf://datasets/org/name",
                "output": str(tmp_path / "out"),
                "stages": [{"stage": "read", "url": "metadata.url"}],
            }
        )
    )
    with Hub(repo) as hub:  # HfFileSystem reads HF_ENDPOINT when huggingface_hub is imported: a fresh process
        result = subprocess.run(
            [sys.executable, "-m", "curate.cli", "run", str(config), "--no-progress"],
            cwd=REPO,
            env={**os.environ, "HF_ENDPOINT": hub.endpoint, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
        )
    assert result.returncode == 0, result.stderr
    documents = read_stage(tmp_path / "out", "read")
    assert sorted(documents["id"].to_pylist()) == sorted(r["id"] for r in records)
    assert set(documents["path"].to_pylist()) == {"hf://datasets/org/name/data/train-0.jsonl.gz"}
    assert "skipping 1 file(s) of other formats, e.g. hf://datasets/org/name/README.md" in result.stderr


def test_empty_files_are_read_as_no_documents_and_do_not_decide_the_mapping(tmp_path, records):
    (tmp_path / "a-empty.jsonl").write_text("")
    write_jsonl(tmp_path / "b.jsonl", records[:5])
    documents, _ = read_all([tmp_path], ReaderConfig(keep={"ccnet_score": "metadata.language_score"}))
    assert documents.num_rows == 5 and documents.schema.field("ccnet_score").type == pa.float64()
    only_empty, _ = read_all([tmp_path / "a-empty.jsonl"], ReaderConfig())
    assert only_empty.num_rows == 0
