"""common.shards: Megatron .bin/.idx shards and token directories."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from train_fixtures import token_data  # noqa: F401  (fixture)

from common.shards import (
    IndexedShard,
    ShardFormatError,
    ShardWriter,
    dtype_for_vocab,
    read_token_dir,
    write_token_dir_summary,
)


def write_docs(prefix, docs, vocab_size=1000):
    with ShardWriter(prefix, vocab_size) as writer:
        for doc in docs:
            writer.add_document(np.asarray(doc))
    return writer


def test_dtype_follows_vocab_size():
    assert dtype_for_vocab(50257) == np.uint16
    assert dtype_for_vocab(65536) == np.uint16
    assert dtype_for_vocab(65537) == np.int32


def test_round_trip_and_megatron_layout(tmp_path):
    docs = [[5, 6, 7], [1], [999, 0, 3, 4]]
    writer = write_docs(tmp_path / "s", docs)
    assert (writer.num_tokens, writer.num_documents) == (8, 3)
    shard = IndexedShard(tmp_path / "s")
    assert len(shard) == 3 and shard.num_tokens == 8 and shard.dtype == np.uint16
    assert [shard[i].tolist() for i in range(3)] == docs
    assert shard.lengths.tolist() == [3, 1, 4] and shard.offsets.tolist() == [0, 3, 4]
    raw = (tmp_path / "s.idx").read_bytes()
    magic, version, code, n_seq, n_doc_idx = struct.unpack_from("<9sQBQQ", raw)
    assert (magic, version, code, n_seq, n_doc_idx) == (b"MMIDIDX\x00\x00", 1, 8, 3, 4)
    body = raw[struct.calcsize("<9sQBQQ") :]
    assert np.frombuffer(body, np.int32, 3).tolist() == [3, 1, 4]
    assert np.frombuffer(body, np.int64, 3, 12).tolist() == [0, 6, 8]  # byte offsets
    assert np.frombuffer(body, np.int64, 4, 36).tolist() == [0, 1, 2, 3]  # document_indices
    assert (tmp_path / "s.bin").read_bytes() == np.array(sum(docs, []), np.uint16).tobytes()


def test_large_vocab_uses_int32_without_wrapping(tmp_path):
    write_docs(tmp_path / "big", [[70000, 65536, 1]], vocab_size=100_000)
    shard = IndexedShard(tmp_path / "big")
    assert shard.dtype == np.int32 and shard[0].tolist() == [70000, 65536, 1]


@pytest.mark.parametrize("doc", [[1000], [-1], [1.5]])
def test_writer_refuses_ids_outside_the_vocabulary(tmp_path, doc):
    with pytest.raises(ValueError):
        write_docs(tmp_path / "bad", [doc], vocab_size=1000)
    assert not list(tmp_path.iterdir()), "a failed write must publish nothing"


def test_corrupt_shards_name_the_file(tmp_path):
    write_docs(tmp_path / "s", [[1, 2, 3], [4, 5]])
    bin_path = tmp_path / "s.bin"
    bin_path.write_bytes(bin_path.read_bytes()[:-2])
    with pytest.raises(ShardFormatError, match=r"s\.bin: 8 bytes, expected 10"):
        IndexedShard(tmp_path / "s")
    write_docs(tmp_path / "m", [[1]])
    raw = bytearray((tmp_path / "m.idx").read_bytes())
    raw[0:1] = b"X"
    (tmp_path / "m.idx").write_bytes(bytes(raw))
    with pytest.raises(ShardFormatError, match=r"m\.idx: bad magic"):
        IndexedShard(tmp_path / "m")
    write_docs(tmp_path / "t", [[1, 2]])
    (tmp_path / "t.idx").write_bytes((tmp_path / "t.idx").read_bytes()[:-8])
    with pytest.raises(ShardFormatError, match=r"t\.idx"):
        IndexedShard(tmp_path / "t")


def test_token_dir_summary_and_checks(tmp_path):
    with pytest.raises(ShardFormatError, match="tokens.json: missing"):
        read_token_dir(tmp_path)
    with pytest.raises(ShardFormatError, match="no shards"):
        write_token_dir_summary(tmp_path, "h", 1000, 0)
    write_docs(tmp_path / "shard-00000-000", [[1, 2, 3], [4]])
    write_docs(tmp_path / "shard-00000-001", [[7, 8]])
    summary = write_token_dir_summary(tmp_path, "abc", 1000, 0)
    assert summary["num_tokens"] == 6 and summary["num_documents"] == 3
    assert json.loads((tmp_path / "tokens.json").read_text())["shards"] == [
        {"name": "shard-00000-000", "tokens": 4, "documents": 2},
        {"name": "shard-00000-001", "tokens": 2, "documents": 1},
    ]
    token_dir = read_token_dir(tmp_path)
    assert (token_dir.tokenizer_hash, token_dir.vocab_size, token_dir.dtype, len(token_dir.shards)) == (
        "abc",
        1000,
        "uint16",
        2,
    )
    write_docs(tmp_path / "shard-00000-002", [[9]])
    with pytest.raises(ShardFormatError, match="does not list.*shard-00000-002"):
        read_token_dir(tmp_path)


def test_real_shards_decode_to_the_books(token_data):  # noqa: F811
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(token_data.tokenizer_path))
    token_dir = read_token_dir(token_data.dirs["en"])
    assert token_dir.num_tokens > 500_000 and token_dir.eot_id == token_data.eot_id
    first = token_dir.shards[0][0]
    assert first[-1] == token_data.eot_id
    assert "Alice" in tokenizer.decode(first[:-1].tolist())
