"""Documents people already have (FineWeb Parquet, Dolma JSONL.gz, CSV, a save_to_disk folder), read by the
`read` stage and run through langid -> quality -> dedup -> tokenize, then trained on. `curate run` runs in this
process (curate_in_process: the same parser, runner and messages, without an interpreter and fastText load per
call); the glob test keeps the real command line."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import curate_in_process, read_rejected, read_stage, run_curate
from read_fixtures import dolma_records, write_csv, write_dolma_jsonl_gz, write_fineweb_parquet, write_save_to_disk
from train_fixtures import tiny_overrides, train_tokenizer

from curate.core.schema import DOCUMENT_SCHEMA

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)

FORMATS = {
    "fineweb_parquet": (
        lambda recs, root: write_fineweb_parquet(recs, root / "fineweb" / "000_00000.parquet").parent,
        {
            "format": "parquet",
            "keep": {
                "dump": "dump",
                "date": "date",
                "token_count": "token_count",
                "fineweb_language_score": "language_score",
            },
        },
    ),
    "dolma_jsonl_gz": (
        lambda recs, root: write_dolma_jsonl_gz(recs, root / "dolma" / "cc_en_head-0000.json.gz").parent,
        {
            "url": "metadata.url",
            "keep": {"dolma_source": "source", "added": "added", "ccnet_perplexity": "metadata.perplexity"},
        },
    ),
    "csv": (lambda recs, root: write_csv(recs, root / "docs.CSV"), {"text": "body", "id": "doc_id", "url": "link"}),
    "save_to_disk": (lambda recs, root: write_save_to_disk(recs, root / "saved"), {"keep": ["added"]}),
}


def pipeline(tmp_path, inputs, reader: dict, tokenizer) -> str:
    stages = [
        {"stage": "langid", "languages": ["en"]},
        {"stage": "quality"},
        {"stage": "dedup"},
        {"stage": "tokenize", "tokenizer": str(tokenizer), "validation_fraction": 0.1},
    ]
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "byod", "input": str(inputs), "output": str(tmp_path / "out"), "reader": reader, "stages": stages}
        )
    )
    return str(path)


def filters_pipeline(folder, inputs, output, **keys) -> str:
    """The issue's example: a top-level reader (Dolma JSONL.gz) before langid and quality."""
    path = folder / f"pipeline-{output.name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "dolma",
                "input": [str(i) for i in inputs],
                "output": str(output),
                "reader": {"url": "metadata.url", "keep": {"dolma_source": "source"}},
                **keys,
                "stages": [{"stage": "langid", "languages": ["en"]}, {"stage": "quality"}],
            }
        )
    )
    return str(path)


def rows(table) -> list[dict]:
    found = [{k: "NaN" if v != v else v for k, v in row.items()} for row in (table.to_pylist() if table else [])]
    return sorted(found, key=lambda row: (row["id"], row.get("reason") or ""))


def stats(output, stage: str) -> dict:
    return json.loads((output / "stats" / f"{stage}.json").read_text())


@pytest.fixture(scope="module")
def records(shared_data):
    return dolma_records(shared_data)


@pytest.fixture(scope="module")
def tokenizer(records, tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer([r["text"] for r in records], path)
    return path


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_runs_through_langid_quality_dedup_tokenize(tmp_path, records, tokenizer, fmt):
    build, reader = FORMATS[fmt]
    inputs = build(records, tmp_path / "in")
    result = curate_in_process("run", pipeline(tmp_path, inputs, reader, tokenizer), "--materialize", "--no-progress")
    out = tmp_path / "out"
    read = read_stage(out, "read")
    assert read.num_rows == len(records) == 30
    assert set(read["source"].to_pylist()) == {"web"}
    assert all(read["text"].to_pylist()) and len(set(read["id"].to_pylist())) == 30
    texts = {r["text"] for r in records}
    assert set(read["text"].to_pylist()) == texts  # every document, its text unchanged
    if fmt != "save_to_disk":  # the others carry ids; save_to_disk rows get derived ones
        assert read["id"].to_pylist()[0] != hashlib.blake2b(b"", digest_size=16).hexdigest()
    kept = read_stage(out, "dedup")
    assert 0 < kept.num_rows < 30 and {"language", "gopher_word_count", "dup_cluster"} <= set(kept.column_names)
    for column in reader.get("keep", {}):  # kept metadata survives every stage
        assert column in kept.column_names and kept[column].null_count == 0
    assert read_rejected(out, "quality").num_rows > 0  # what quality dropped is kept with a reason
    assert list((out / "tokenize" / "train").glob("*.bin")) and list((out / "tokenize" / "train").glob("*.idx"))
    assert "read " in result.stdout and " 30 " in result.stdout


def train_on(shards, tokenizer, tmp_path) -> dict:
    """A tiny `train` run on a tokenize stage's shards: the losses by step."""
    pytest.importorskip("torch")
    from train.config import load_config
    from train.trainer import run_training

    manifest = tmp_path / "mix.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "name": "byod",
                "seq_len": 32,
                "seed": 1,
                "total_tokens": 20_000,
                "tokenizer": {"path": str(tokenizer), "hash": hashlib.sha256(tokenizer.read_bytes()).hexdigest()},
                "sources": [
                    {"name": "byod", "path": str(shards / "train"), "weight": 1.0, "validation": str(shards / "val")}
                ],
            }
        )
    )
    return run_training(
        load_config(
            None,
            tiny_overrides(manifest, tmp_path / "run", max_steps=6, eval_interval=3, micro_batch=4, ckpt_interval=6),
        )
    ).losses


def test_fineweb_parquet_shards_train_a_model(tmp_path, records, tokenizer):
    inputs = write_fineweb_parquet(records, tmp_path / "in" / "fineweb.parquet")
    curate_in_process("run", pipeline(tmp_path, inputs, {"format": "parquet"}, tokenizer), "--no-progress")
    losses = train_on(tmp_path / "out" / "tokenize", tokenizer, tmp_path)
    assert sorted(losses) == list(range(6)) and all(loss > 0 for loss in losses.values())


@pytest.fixture
def halves(tmp_path, records):
    """The 30 Dolma records as two JSONL.gz files of 15."""
    return [write_dolma_jsonl_gz(records[i : i + 15], tmp_path / "in" / f"part-{i // 15}.jsonl.gz") for i in (0, 15)]


def test_reader_key_runs_fused_like_materialised_and_round_trips(tmp_path, halves):
    glob = str(tmp_path / "in" / "part-*.jsonl.gz")
    fused, materialized = tmp_path / "fused", tmp_path / "materialized"
    result = curate_in_process("run", filters_pipeline(tmp_path, [glob], fused), "--no-progress")
    curate_in_process("run", filters_pipeline(tmp_path, [glob], materialized), "--materialize", "--no-progress")
    assert not (fused / "read").exists() and not (fused / "langid").exists()  # read -> langid -> quality in one pass
    assert stats(fused, "read")["docs_out"] == 30 and "(fused: read, langid" in result.stdout
    assert rows(read_stage(fused, "quality")) == rows(read_stage(materialized, "quality"))
    for stage in ("langid", "quality"):
        assert rows(read_rejected(fused, stage)) == rows(read_rejected(materialized, stage))
        assert {k: stats(fused, stage)[k] for k in ("docs_in", "docs_out", "dropped")} == {
            k: stats(materialized, stage)[k] for k in ("docs_in", "docs_out", "dropped")
        }
    assert set(read_stage(fused, "quality")["dolma_source"].to_pylist()) == {"common-crawl"}

    resolved = yaml.safe_load((fused / "pipeline.yaml").read_text())
    assert resolved["reader"]["url"] == "metadata.url" and resolved["input"] == [glob]
    assert [s["stage"] for s in resolved["stages"]] == ["langid", "quality"]  # read comes back as the reader key
    done = sorted(p.stat().st_mtime_ns for p in (fused / "quality").iterdir())
    curate_in_process("run", str(fused / "pipeline.yaml"), "--no-progress")  # same stages, same hashes: nothing redone
    assert sorted(p.stat().st_mtime_ns for p in (fused / "quality").iterdir()) == done


def test_a_glob_that_matches_nothing_is_an_error_naming_it(tmp_path, halves):
    glob = str(tmp_path / "in" / "*.parquet")
    result = run_curate(
        "run", filters_pipeline(tmp_path, [glob], tmp_path / "out"), check=False
    )  # the real command line
    assert result.returncode == 2 and f"'{glob}' matches no file" in result.stderr and not (tmp_path / "out").exists()


def test_jsonl_gz_output_loads_with_datasets(tmp_path, halves):
    import datasets

    out = tmp_path / "out"
    curate_in_process(
        "run", filters_pipeline(tmp_path, halves, out, output_format="jsonl.gz"), "--materialize", "--no-progress"
    )
    assert list((out / "langid").glob("*.parquet")) and not list(
        (out / "langid").glob("*.jsonl.gz")
    )  # quality reads it
    kept = datasets.load_dataset("json", data_dir=str(out / "quality"), split="train")
    assert 0 < kept.num_rows == stats(out, "quality")["docs_out"] < 30
    assert {"id", "text", "language", "gopher_word_count", "dolma_source"} <= set(kept.column_names)
    dropped = datasets.load_dataset("json", data_dir=str(out / "rejected" / "quality"), split="train")
    assert dropped.num_rows == sum(stats(out, "quality")["dropped"].values()) and set(dropped["stage"]) == {"quality"}
    assert all(dropped["reason"]) and dropped.num_rows + kept.num_rows == stats(out, "quality")["docs_in"]


def test_one_stage_with_an_input_reads_it_through_the_reader(tmp_path, halves):
    out = tmp_path / "out"
    path = filters_pipeline(tmp_path, halves[:1], out)
    curate_in_process("run", path, "--no-progress")
    result = curate_in_process("run", path, "--stage", "quality", "--input", str(halves[1]), "--no-progress")
    second = {json.loads(line)["id"] for line in gzip.open(halves[1], "rt")}
    kept, dropped = read_stage(out, "quality"), read_rejected(out, "quality")
    assert set(kept["id"].to_pylist()) <= second and kept.num_rows > 0  # never the first run's documents
    assert (
        stats(out, "read")["docs_in"] == 15 and stats(out, "quality")["docs_in"] == 15 and "read 0" not in result.stdout
    )
    assert set(dropped["id"].to_pylist()) <= second and kept.num_rows + dropped.num_rows == 15

    notes = tmp_path / "notes.txt"
    notes.write_text("not documents\n")
    refused = curate_in_process("run", path, "--stage", "quality", "--input", str(notes), "--no-progress", check=False)
    assert refused.returncode == 2 and str(notes) in refused.stderr and "JSONL (.jsonl" in refused.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    loud = curate_in_process(
        "run", path, "--stage", "quality", "--input", str(empty), "--output", str(tmp_path / "empty"), "--no-progress"
    )
    assert "WARNING: read, quality read 0 documents" in loud.stdout


def test_without_a_reader_one_stage_reads_its_input_by_suffix_a_whole_run_refuses(tmp_path, halves):
    out = tmp_path / "out"
    path = tmp_path / "plain.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "plain",
                "input": str(halves[0]),
                "output": str(out),
                "stages": [{"stage": "langid", "languages": ["en"]}, {"stage": "quality"}],
            }
        )
    )
    refused = curate_in_process("run", str(path), check=False)  # langid first on JSON lines: the pipeline must say how
    assert refused.returncode == 2 and "reader:" in refused.stderr and str(halves[0]) in refused.stderr
    assert not (out / "quality").exists() and not (out / "_state").exists()
    curate_in_process("run", str(path), "--stage", "quality", "--input", str(halves[1]), "--no-progress")
    second = {json.loads(line)["id"] for line in gzip.open(halves[1], "rt")}
    kept, dropped = read_stage(out, "quality"), read_rejected(out, "quality")
    assert kept.num_rows > 0 and set(kept["id"].to_pylist()) | set(dropped["id"].to_pylist()) == second
    assert "reader" not in yaml.safe_load((out / "pipeline.yaml").read_text())  # the file still runs as written


def test_dedup_and_tokenize_read_dolma_jsonl_gz_input_and_train(tmp_path, halves, tokenizer):
    """`--stage dedup|tokenize --input` a folder of Dolma-style JSONL.gz: read into OUT/read (this run's shards
    only, never an older one), then the stage, then `train` on the token shards."""
    out = tmp_path / "out"
    path = filters_pipeline(tmp_path, halves, out)
    text = yaml.safe_load(open(path))
    text["stages"] += [
        {"stage": "dedup"},
        {"stage": "tokenize", "tokenizer": str(tokenizer), "validation_fraction": 0.1},
    ]
    open(path, "w").write(yaml.safe_dump(text))
    (out / "read").mkdir(parents=True)  # an older run's shard beside where this run's go: never read
    stale = [{"id": "stale", "source": "web", "text": "A document of an older run. " * 30}]
    pq.write_table(pa.Table.from_pylist(stale, schema=DOCUMENT_SCHEMA), out / "read" / "shard-00099.parquet")
    ids = {json.loads(line)["id"] for half in halves for line in gzip.open(half, "rt")}

    result = curate_in_process("run", path, "--stage", "dedup", "--input", str(tmp_path / "in"), "--no-progress")
    kept, dropped = read_stage(out, "dedup"), read_rejected(out, "dedup")
    assert stats(out, "read")["docs_out"] == stats(out, "dedup")["docs_in"] == 30 and "read 0" not in result.stdout
    assert kept.num_rows > 0 and set(kept["id"].to_pylist()) <= ids and "dup_cluster" in kept.column_names
    assert kept.num_rows + (dropped.num_rows if dropped else 0) == 30
    assert set(kept["dolma_source"].to_pylist()) == {"common-crawl"}  # the reader's mapping applied

    curate_in_process("run", path, "--stage", "tokenize", "--input", str(tmp_path / "in"), "--no-progress")
    tokenized = sum(
        json.loads((out / "tokenize" / split / "tokens.json").read_text())["num_documents"]
        for split in ("train", "val")
    )
    assert stats(out, "tokenize")["docs_in"] == tokenized == 30  # every document read, none of shard-00099
    losses = train_on(out / "tokenize", tokenizer, tmp_path)
    assert sorted(losses) == list(range(6)) and all(loss > 0 for loss in losses.values())


def test_a_code_pipeline_reads_documents_for_one_stage_as_code(tmp_path):
    """Without a reader key, --stage labels documents as the pipeline's extract stage would (code.yaml: code),
    so code_quality judges them instead of passing them through as web text."""
    files = sorted(Path(os.__file__).parent.glob("*.py"))[:12]  # the standard library: real code on every machine
    stack = tmp_path / "stack.jsonl"  # The Stack style: text and its path
    stack.write_text(
        "".join(json.dumps({"text": f.read_text(encoding="utf-8"), "path_in_repo": f.name}) + "\n" for f in files)
    )
    out = tmp_path / "out"
    curate_in_process(
        "run",
        "pipelines/code.yaml",
        "--stage",
        "code_quality",
        "--input",
        str(stack),
        "--output",
        str(out),
        "--no-progress",
    )
    kept, dropped = read_stage(out, "code_quality"), read_rejected(out, "code_quality")
    assert kept.num_rows + (dropped.num_rows if dropped else 0) == len(files) and kept.num_rows > 0
    assert set(kept["source"].to_pylist()) == {"code"}
    assert all(length > 0 for length in kept["code_max_line_length"].to_pylist())  # measured, not NaN for non-code


def test_a_stage_on_named_documents_refuses_an_earlier_runs_files_in_its_folder(tmp_path, records):
    """`--stage quality --input c.parquet` after a run on a, b and c: OUT/quality would hold a and b beside c,
    and the next stage (or an export) would read them as this run's."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, part in (("a", records[:10]), ("b", records[10:20]), ("c", records[20:])):
        rows = [{"id": r["id"], "source": "web", "text": r["text"], "url": r["metadata"].get("url")} for r in part]
        pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), docs / f"{name}.parquet")
    out = tmp_path / "out"
    path = filters_pipeline(tmp_path, [docs], out)
    curate_in_process("run", path, "--stage", "quality", "--input", str(docs), "--no-progress")
    before = sorted(p.name for p in (out / "quality").iterdir())
    refused = curate_in_process(
        "run", path, "--stage", "quality", "--input", str(docs / "c.parquet"), "--no-progress", check=False
    )
    assert refused.returncode == 2 and "holds 2 file(s) of an earlier run" in refused.stderr
    assert str(out / "quality" / "a.parquet") in refused.stderr and "another --output" in refused.stderr
    assert sorted(p.name for p in (out / "quality").iterdir()) == before == ["a.parquet", "b.parquet", "c.parquet"]
    curate_in_process(
        "run",
        path,
        "--stage",
        "quality",
        "--input",
        str(docs / "c.parquet"),
        "--output",
        str(tmp_path / "new"),
        "--no-progress",
    )
    assert sorted(p.name for p in (tmp_path / "new" / "quality").iterdir()) == ["c.parquet"]
