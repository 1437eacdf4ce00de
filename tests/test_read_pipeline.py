"""Documents people already have (FineWeb Parquet, Dolma JSONL.gz, CSV, a save_to_disk folder), read by the
`read` stage and run through langid -> quality -> dedup -> tokenize, then trained on."""
from __future__ import annotations

import hashlib

import pytest
import yaml
from conftest import read_rejected, read_stage, run_curate
from read_fixtures import dolma_records, write_csv, write_dolma_jsonl_gz, write_fineweb_parquet, write_save_to_disk
from train_fixtures import tiny_overrides, train_tokenizer

FORMATS = {
    "fineweb_parquet": (lambda recs, root: write_fineweb_parquet(recs, root / "fineweb" / "000_00000.parquet").parent,
                        {"format": "parquet", "keep": {"dump": "dump", "date": "date", "token_count": "token_count",
                                                      "fineweb_language_score": "language_score"}}),
    "dolma_jsonl_gz": (lambda recs, root: write_dolma_jsonl_gz(recs, root / "dolma" / "cc_en_head-0000.json.gz").parent,
                       {"url": "metadata.url", "keep": {"dolma_source": "source", "added": "added", "ccnet_perplexity": "metadata.perplexity"}}),
    "csv": (lambda recs, root: write_csv(recs, root / "docs.CSV"), {"text": "body", "id": "doc_id", "url": "link"}),
    "save_to_disk": (lambda recs, root: write_save_to_disk(recs, root / "saved"), {"keep": ["added"]}),
}


def pipeline(tmp_path, inputs, reader: dict, tokenizer) -> str:
    stages = [{"stage": "read", **reader}, {"stage": "langid", "languages": ["en"]}, {"stage": "quality"},
              {"stage": "dedup"}, {"stage": "tokenize", "tokenizer": str(tokenizer), "validation_fraction": 0.1}]
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"name": "byod", "input": str(inputs), "output": str(tmp_path / "out"), "stages": stages}))
    return str(path)


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
    result = run_curate("run", pipeline(tmp_path, inputs, reader, tokenizer), "--no-progress")
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


def test_fineweb_parquet_shards_train_a_model(tmp_path, records, tokenizer):
    pytest.importorskip("torch")
    from train.config import load_config
    from train.trainer import run_training
    inputs = write_fineweb_parquet(records, tmp_path / "in" / "fineweb.parquet")
    run_curate("run", pipeline(tmp_path, inputs, {"format": "parquet"}, tokenizer), "--no-progress")
    shards = tmp_path / "out" / "tokenize"
    manifest = tmp_path / "mix.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "byod", "seq_len": 32, "seed": 1, "total_tokens": 20_000,
        "tokenizer": {"path": str(tokenizer), "hash": hashlib.sha256(tokenizer.read_bytes()).hexdigest()},
        "sources": [{"name": "fineweb", "path": str(shards / "train"), "weight": 1.0, "validation": str(shards / "val")}]}))
    result = run_training(load_config(None, tiny_overrides(manifest, tmp_path / "run", max_steps=6, eval_interval=3,
                                                           micro_batch=4, ckpt_interval=6)))
    assert sorted(result.losses) == list(range(6)) and all(loss > 0 for loss in result.losses.values())
