"""The tokenize stage: real documents to Megatron-layout token shards, a validation split, tokens.json."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from tokenizers import Tokenizer

from common.shards import IndexedShard, read_token_dir
from conftest import run_curate
from curate.core.context import StageFailed
from curate.core.executor import LocalExecutor
from curate.core.params import ConfigError
from curate.core.pipeline import load_pipeline
from curate.api import run_pipeline
from curate.core.schema import doc_id
from curate.tokenize.stage import id_hashes
from tokenize_fixtures import build_curated, read_documents, write_parquet

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)


@pytest.fixture(scope="module")
def curated(tmp_path_factory, shared_data):
    return build_curated(tmp_path_factory.mktemp("curated"), shared_data)


def write_pipeline(path: Path, inputs: list[Path], output: Path, **params) -> Path:
    stage = {"stage": "tokenize", **params}
    path.write_text(
        yaml.safe_dump({"name": "tok", "input": [str(i) for i in inputs], "output": str(output), "stages": [stage]})
    )
    return path


def run_tokenize(tmp_path: Path, inputs: list[Path], workers: int = 1, name: str = "run", **params) -> Path:
    output = tmp_path / name
    pipeline = load_pipeline(str(write_pipeline(tmp_path / f"{name}.yaml", inputs, output, **params)))
    run_pipeline(pipeline, LocalExecutor(workers), progress=False)
    return output / "tokenize"


def decoded(tokenizer: Tokenizer, tokens: np.ndarray, eot_id: int) -> str:
    assert tokens[-1] == eot_id and eot_id not in tokens[:-1].tolist()  # exactly one end-of-text, at the end
    return tokenizer.decode(tokens[:-1].tolist(), skip_special_tokens=False)


def shard_documents(folder: Path, prefix: str = "") -> list[np.ndarray]:
    return [
        shard[i]
        for idx in sorted(folder.glob(f"{prefix}*.idx"))
        for shard in [IndexedShard(idx.with_suffix(""))]
        for i in range(len(shard))
    ]


def test_round_trip_books_web_code_in_several_languages(tmp_path, curated):
    out = tmp_path / "out"
    pipeline = write_pipeline(
        tmp_path / "p.yaml",
        [curated.books, curated.web, curated.code],
        out,
        tokenizer=str(curated.tokenizer),
        validation_fraction=0.1,
        max_shard_tokens=50_000,
    )
    result = run_curate("run", str(pipeline), "--workers", "2", "--no-progress")
    assert "tokenize" in result.stdout
    tokenizer = Tokenizer.from_file(str(curated.tokenizer))
    eot = tokenizer.token_to_id("<|endoftext|>")
    threshold = json.loads((out / "_state" / "tokenize" / "work" / "validation_split.json").read_text())["threshold"]
    inputs = {**read_documents(curated.books), **read_documents(curated.web), **read_documents(curated.code)}
    languages = {r["declared_language"] for r in pq.read_table(curated.books).to_pylist()}
    assert {"English", "German", "French"} <= languages
    held_out_texts = []
    for name, docs in sorted(inputs.items()):
        hashes = id_hashes(pa.array([d["id"] for d in docs]))
        train_texts = [d["text"] for d, h in zip(docs, hashes) if int(h) >= threshold]
        held_out_texts += [d["text"] for d, h in zip(docs, hashes) if int(h) < threshold]
        got = [decoded(tokenizer, t, eot) for t in shard_documents(out / "tokenize" / "train", f"{name}-")]
        assert got == train_texts, name
    assert held_out_texts, "a 10% split of 70 documents should hold some out"
    assert [decoded(tokenizer, t, eot) for t in shard_documents(out / "tokenize" / "val")] == held_out_texts
    for part in ("train", "val"):
        summary = json.loads((out / "tokenize" / part / "tokens.json").read_text())
        shards = [IndexedShard(p.with_suffix("")) for p in sorted((out / "tokenize" / part).glob("*.idx"))]
        assert summary["num_tokens"] == sum(s.num_tokens for s in shards) == sum(s.lengths.sum() for s in shards)
        assert summary["num_documents"] == sum(len(s) for s in shards)
        assert (summary["vocab_size"], summary["eot_id"], summary["dtype"]) == (2048, eot, "uint16")
    token_dir = read_token_dir(out / "tokenize" / "train")
    assert token_dir.num_documents + read_token_dir(out / "tokenize" / "val").num_documents == sum(
        map(len, inputs.values())
    )


def test_shards_roll_over_and_a_long_document_is_written_whole(tmp_path, curated):
    out = run_tokenize(
        tmp_path, [curated.books], tokenizer=str(curated.tokenizer), validation_fraction=0.0, max_shard_tokens=20_000
    )
    tokenizer = Tokenizer.from_file(str(curated.tokenizer))
    books = [d for docs in read_documents(curated.books).values() for d in docs]
    moby = next(d["text"] for d in books if "Call me Ishmael" in d["text"])
    assert len(tokenizer.encode(moby).ids) > 10 * 20_000
    docs = shard_documents(out / "train")
    assert moby in [decoded(tokenizer, t, 0) for t in docs]
    for name in {p.name.rsplit("-", 1)[0] for p in (out / "train").glob("*.idx")}:
        shards = [IndexedShard(p.with_suffix("")) for p in sorted((out / "train").glob(f"{name}-*.idx"))]
        for shard in shards[:-1]:  # full shards: reached the target, by less than their last document
            assert shard.num_tokens >= 20_000 and shard.num_tokens - shard.lengths[-1] < 20_000
        assert shards[-1].num_tokens - shards[-1].lengths[-1] < 20_000


def test_small_source_still_gets_one_validation_document(tmp_path, curated):
    rows = [
        {"id": doc_id("web", f"page-{i}"), "source": "web", "text": f"Page {i}: Über die Brücke, 12345 Schritte."}
        for i in range(5)
    ]
    write_parquet(tmp_path / "five", "part-00000", rows)
    write_parquet(tmp_path / "one", "part-00000", rows[:1])
    out = run_tokenize(tmp_path, [tmp_path / "five"], name="five", tokenizer=str(curated.tokenizer))
    tokenizer = Tokenizer.from_file(str(curated.tokenizer))
    smallest = min(rows, key=lambda r: int(id_hashes(pa.array([r["id"]]))[0]))
    assert [decoded(tokenizer, t, 0) for t in shard_documents(out / "val")] == [smallest["text"]]
    assert len(shard_documents(out / "train")) == 4
    out = run_tokenize(tmp_path, [tmp_path / "one"], name="one", tokenizer=str(curated.tokenizer))
    assert len(shard_documents(out / "train")) == 1  # a single document always trains
    assert json.loads((out / "val" / "tokens.json").read_text())["num_tokens"] == 0


def test_special_token_text_inside_a_document_is_not_a_document_end(tmp_path, curated):
    text = "Tokenizers end documents with <|endoftext|> and this page says so."
    write_parquet(
        tmp_path / "in",
        "part-00000",
        [{"id": "a", "source": "web", "text": text}, {"id": "b", "source": "web", "text": ""}],
    )
    out = run_tokenize(tmp_path, [tmp_path / "in"], tokenizer=str(curated.tokenizer), validation_fraction=0.0)
    tokenizer = Tokenizer.from_file(str(curated.tokenizer))
    assert [decoded(tokenizer, t, 0) for t in shard_documents(out / "train")] == [text]
    rejected = pq.read_table(tmp_path / "run" / "rejected" / "tokenize")
    assert rejected.column("reason").to_pylist() == ["tokenize.empty_text"]


def test_empty_source_gives_an_empty_token_directory(tmp_path, curated):
    write_parquet(tmp_path / "empty", "part-00000", [])
    out = run_tokenize(tmp_path, [tmp_path / "empty"], tokenizer=str(curated.tokenizer))
    for part in ("train", "val"):
        summary = json.loads((out / part / "tokens.json").read_text())
        assert (summary["num_tokens"], summary["num_documents"], summary["shards"]) == (0, 0, [])


def large_vocab_tokenizer(base: Path, path: Path, extra: int = 70_000) -> Tokenizer:
    """The test tokenizer plus `extra` added word tokens, so ids go far past 65,535."""
    tokenizer = Tokenizer.from_file(str(base))
    tokenizer.add_tokens([f"zqx{i}" for i in range(extra)])
    tokenizer.save(str(path))
    return tokenizer


def test_vocabulary_above_65536_switches_to_int32(tmp_path, curated):
    tokenizer = large_vocab_tokenizer(curated.tokenizer, tmp_path / "big.json")
    assert tokenizer.get_vocab_size() > 65_536
    text = "Rare words zqx69999 and zqx65600 next to zqx12 in plain text."
    write_parquet(tmp_path / "in", "part-00000", [{"id": "x", "source": "web", "text": text}])
    out = run_tokenize(tmp_path, [tmp_path / "in"], tokenizer=str(tmp_path / "big.json"), validation_fraction=0.0)
    (tokens,) = shard_documents(out / "train")
    assert tokens.dtype == np.int32 and tokens.max() > 65_535  # no wrap-around
    assert tokenizer.token_to_id("zqx69999") in tokens.tolist()
    assert decoded(tokenizer, tokens, 0) == text
    idx = next((out / "train").glob("*.idx")).read_bytes()
    assert struct.unpack_from("<9sQB", idx)[2] == 4  # Megatron DType.int32
    assert json.loads((out / "train" / "tokens.json").read_text())["dtype"] == "int32"


def test_idx_layout_bytes_follow_megatron(tmp_path, curated):
    out = run_tokenize(tmp_path, [curated.code], tokenizer=str(curated.tokenizer), validation_fraction=0.0)
    for idx in sorted((out / "train").glob("*.idx")):
        raw = idx.read_bytes()
        magic, version, code, n_seq, n_doc = struct.unpack_from("<9sQBQQ", raw)
        assert (magic, version, code, n_doc) == (b"MMIDIDX\x00\x00", 1, 8, n_seq + 1)  # 8: uint16
        body = raw[34:]
        lengths = np.frombuffer(body, np.int32, n_seq)
        pointers = np.frombuffer(body, np.int64, n_seq, 4 * n_seq)
        doc_index = np.frombuffer(body, np.int64, n_seq + 1, 12 * n_seq)
        assert len(raw) == 34 + 12 * n_seq + 8 * (n_seq + 1)
        assert pointers.tolist() == (np.concatenate([[0], np.cumsum(lengths)[:-1]]) * 2).tolist()
        assert doc_index.tolist() == list(range(n_seq + 1))
        assert idx.with_suffix(".bin").stat().st_size == 2 * int(lengths.sum())


def test_megatron_core_indexed_dataset_reads_our_shards(tmp_path, curated):
    indexed = pytest.importorskip(
        "megatron.core.datasets.indexed_dataset",
        reason="megatron-core not installed (pip install --no-deps megatron-core)",
    )
    big = large_vocab_tokenizer(curated.tokenizer, tmp_path / "big.json")
    write_parquet(tmp_path / "in", "part-00000", [{"id": "x", "source": "web", "text": "zqx69999 zqx1 plain"}])
    outputs = [
        run_tokenize(tmp_path, [curated.web], name="small", tokenizer=str(curated.tokenizer), validation_fraction=0.0),
        run_tokenize(
            tmp_path, [tmp_path / "in"], name="big", tokenizer=str(tmp_path / "big.json"), validation_fraction=0.0
        ),
    ]
    assert big.get_vocab_size() > 65_536
    for out in outputs:
        for idx in sorted((out / "train").glob("*.idx")):
            ours = IndexedShard(idx.with_suffix(""))
            theirs = indexed.IndexedDataset(str(idx.with_suffix("")))
            assert len(theirs) == len(ours) and theirs.index.dtype == ours.dtype
            assert theirs.document_indices.tolist() == list(range(len(ours) + 1))
            for i in range(len(ours)):
                assert np.array_equal(theirs[i], ours[i])


def test_a_changed_tokenizer_is_refused_on_resume(tmp_path, curated):
    tokenizer_path = tmp_path / "tok.json"
    tokenizer_path.write_bytes(curated.tokenizer.read_bytes())
    run_tokenize(tmp_path, [curated.code], tokenizer=str(tokenizer_path))
    large_vocab_tokenizer(curated.tokenizer, tokenizer_path, extra=10)
    with pytest.raises(ConfigError, match="different parameters"):
        run_tokenize(tmp_path, [curated.code], tokenizer=str(tokenizer_path))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"tokenizer": "missing.json"}, r"parameter 'tokenizer': .*missing\.json: tokenizer file not found"),
        ({"eot_token": "</s>"}, r"parameter 'eot_token': '</s>' is not a token"),
        ({"validation_fraction": 1.5}, r"'validation_fraction' must be between 0 and 1"),
        ({"max_shard_tokns": 10}, r"max_shard_tokns: unknown key \(did you mean 'max_shard_tokens'\?\)"),
    ],
)
def test_bad_parameters_are_reported_before_work(tmp_path, curated, params, message):
    pipeline = write_pipeline(
        tmp_path / "p.yaml", [curated.code], tmp_path / "out", **{"tokenizer": str(curated.tokenizer), **params}
    )
    result = run_curate("run", str(pipeline), check=False)
    assert result.returncode == 2
    assert re.search(message, result.stderr), result.stderr
    assert not (tmp_path / "out" / "tokenize" / "train").exists()


def test_rerun_replaces_what_an_interrupted_attempt_left(tmp_path, curated):
    train = tmp_path / "run" / "tokenize" / "train"
    train.mkdir(parents=True)
    from common.shards import ShardWriter

    with ShardWriter(train / "code-00000-007", 2048) as leftover:  # as if a killed attempt had written it
        leftover.add_document(np.array([5, 6, 7]))
    (train / ".code-00000-008.bin.abc.tmp").write_bytes(b"partial")
    out = run_tokenize(tmp_path, [curated.code], tokenizer=str(curated.tokenizer), validation_fraction=0.0)
    assert sorted(p.name for p in train.iterdir()) == [
        "code-00000-000.bin",
        "code-00000-000.idx",
        "code-00001-000.bin",
        "code-00001-000.idx",
        "tokens.json",
    ]
    assert read_token_dir(out / "train").num_documents == sum(len(d) for d in read_documents(curated.code).values())


def token_files(fs, root: str) -> dict[str, bytes]:
    """Every shard file and tokens.json under root/tokenize (a folder or URL on fs), by path below root."""
    return {
        "tokenize/" + path.rsplit("/tokenize/", 1)[1]: fs.cat_file(path)
        for path in sorted(fs.find(f"{root}/tokenize"))
        if path.endswith((".bin", ".idx", ".json"))
    }


def records(output: Path, phase: str) -> dict[str, tuple[int, int]]:
    """Completion records of a tokenize phase and their (inode, mtime): a redone task writes a new file."""
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (output / "_state" / "tokenize" / phase).glob("*.json")
    }


def copy_shards(folders: list[Path], target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for folder in folders for p in folder.glob("*.parquet")):
        (target / path.name).write_bytes(path.read_bytes())
    return sorted(target.glob("*.parquet"))


def test_a_failing_shard_is_the_only_one_a_rerun_redoes(tmp_path, curated):
    shards = copy_shards([curated.code, curated.web], tmp_path / "in")
    params = {"tokenizer": str(curated.tokenizer), "validation_fraction": 0.2, "max_shard_tokens": 20_000}
    reference = run_tokenize(tmp_path, [tmp_path / "in"], name="reference", **params).parent
    bad, good = shards[2], shards[2].read_bytes()
    table = pq.read_table(bad)
    pq.write_table(table.rename_columns(["body" if c == "text" else c for c in table.column_names]), bad)  # same ids
    with pytest.raises(StageFailed, match=rf"1 of 4 shards failed(.|\n)*{bad.stem}: ValueError: .*no column text"):
        run_tokenize(tmp_path, [tmp_path / "in"], workers=2, **params)
    output = tmp_path / "run"
    done = records(output, "main")
    assert sorted(done) == sorted(f"{p.stem}.json" for p in shards if p != bad) and not records(output, "gather")
    bad.write_bytes(good)
    run_tokenize(tmp_path, [tmp_path / "in"], workers=2, **params)
    after = records(output, "main")
    assert {name: after[name] for name in done} == done and len(after) == 4  # only the failed shard was redone
    fs = fsspec.filesystem("file")
    assert token_files(fs, str(output)) == token_files(fs, str(reference))
    assert (
        json.loads((output / "stats" / "tokenize.json").read_text())["docs_in"]
        == json.loads((reference / "stats" / "tokenize.json").read_text())["docs_in"]
        == sum(pq.read_metadata(p).num_rows for p in shards)
    )


def test_a_new_input_shard_is_tokenized_alone_and_validation_is_gathered_again(tmp_path, curated):
    params = {
        "tokenizer": str(curated.tokenizer),
        "validation_fraction": 0.3,
        "min_validation_docs": 0,
    }  # a fixed split
    copy_shards([curated.code], tmp_path / "in")
    run_tokenize(tmp_path, [tmp_path / "in"], **params)
    output, done = tmp_path / "run", records(tmp_path / "run", "main")
    copy_shards([curated.web], tmp_path / "in")
    out = run_tokenize(tmp_path, [tmp_path / "in"], **params)
    assert {name: records(output, "main")[name] for name in done} == done
    reference = run_tokenize(tmp_path, [tmp_path / "in"], name="reference", **params).parent
    fs = fsspec.filesystem("file")
    assert token_files(fs, str(output)) == token_files(fs, str(reference))
    assert read_token_dir(out / "train").num_documents + read_token_dir(out / "val").num_documents == sum(
        len(d) for folder in (curated.code, curated.web) for d in read_documents(folder).values()
    )


@pytest.mark.parametrize("protocol, workers", [("file", 2), ("memory", 1)])  # memory:// lives in one process
def test_token_shards_written_to_a_url_match_a_local_folder(tmp_path, curated, protocol, workers):
    params = {"tokenizer": str(curated.tokenizer), "validation_fraction": 0.1, "max_shard_tokens": 20_000}
    local = run_tokenize(tmp_path, [curated.code, curated.web], name="local", **params).parent
    root = f"file://{tmp_path / 'remote'}" if protocol == "file" else f"memory://tokens-{tmp_path.name}"
    pipeline = load_pipeline(str(write_pipeline(tmp_path / "url.yaml", [curated.code, curated.web], root, **params)))
    fs = fsspec.filesystem(protocol)
    try:
        run_pipeline(pipeline, LocalExecutor(workers), progress=False)
        uploaded = token_files(fs, root)
        assert uploaded == token_files(fsspec.filesystem("file"), str(local))
        assert any(name.startswith("tokenize/val/") for name in uploaded) and len(uploaded) > 8
        assert not [p for p in fs.find(root) if ".tmp" in p]
    finally:
        if fs.exists(root):
            fs.rm(root, recursive=True)
