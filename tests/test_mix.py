"""common.mix manifests and plans, and the sampler drawing by the plan (train.data)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from train_fixtures import token_data, write_manifest, write_token_dir  # noqa: F401

from common.mix import ManifestError, format_plan, load_manifest, plan_mix
from train.data import DataError, MixSampler


def manifest_with(tmp_path, token_data, **changes):  # noqa: F811
    path = write_manifest(tmp_path / "m.yaml", token_data)
    raw = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if key.startswith("source"):
            raw["sources"][int(key[-1])].update(value)
        else:
            raw[key] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_plan_follows_weights(tmp_path, token_data):  # noqa: F811
    plan = plan_mix(load_manifest(write_manifest(tmp_path / "m.yaml", token_data, total_tokens=1_000_001)))
    assert plan.total_tokens == 1_000_001
    assert [round(s.share, 6) for s in plan.sources] == [0.7, 0.3]
    assert plan.sources[0].epochs == pytest.approx(700_001 / plan.sources[0].available, rel=1e-6)
    text = format_plan(plan)
    assert "en" in text and "defr" in text and "70.00%" in text


def test_plan_caps_epochs_and_redistributes(tmp_path, token_data):  # noqa: F811
    path = manifest_with(
        tmp_path, token_data, total_tokens=5_000_000, source1={"weight": 0.5, "max_epochs": 2}, source0={"weight": 0.5}
    )
    plan = plan_mix(load_manifest(path))
    en, defr = plan.sources
    assert defr.drawn == 2 * defr.available  # capped at 2 epochs
    assert en.drawn == 5_000_000 - defr.drawn  # the rest goes to the uncapped source
    assert any("en" in w and "epochs" in w for w in plan.warnings)  # en repeats > 4 epochs


def test_plan_with_absolute_tokens_and_determinism(tmp_path, token_data):  # noqa: F811
    path = manifest_with(tmp_path, token_data, source1={"tokens": 50_000, "weight": None})
    raw = yaml.safe_load(path.read_text())
    del raw["sources"][1]["weight"]
    path.write_text(yaml.safe_dump(raw))
    plan = plan_mix(load_manifest(path))
    assert [s.drawn for s in plan.sources] == [150_000, 50_000]
    assert plan_mix(load_manifest(path)).sources == plan.sources


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"source1": {"wieght": 0.3}}, r"sources\[1\]\.wieght: unknown key \(did you mean 'weight'\?\)"),
        ({"sead": 3}, r"sead: unknown key \(did you mean 'seed'\?\)"),
        ({"seq_len": "long"}, r"seq_len: expected an integer, got 'long'"),
        ({"source0": {"weight": -1}}, r"sources\[0\]\.weight: expected a non-negative number"),
        ({"source0": {"weight": 0}, "source1": {"weight": 0}}, r"all weights are zero"),
        ({"source1": {"path": "nowhere"}}, r"sources\[1\]\.path: token directory .*nowhere not found"),
        ({"source0": {"tokens": 5}}, r"sources\[0\]: give either 'weight' or 'tokens'"),
        (
            {"tokenizer": {"hash": "0" * 64}},
            r"sources\[0\]\.path: shards made with tokenizer .* but tokenizer\.hash uses 0000",
        ),
    ],
)
def test_manifest_errors_name_file_and_key(tmp_path, token_data, changes, message):  # noqa: F811
    path = manifest_with(tmp_path, token_data, **changes)
    with pytest.raises(ManifestError, match=message) as error:
        load_manifest(path)
    assert str(path) in str(error.value)


def test_every_key_is_checked_before_a_token_directory_is_opened(tmp_path, token_data):  # noqa: F811
    """A typo in the last source is reported even though the first source's directory is missing."""
    path = manifest_with(tmp_path, token_data, source0={"path": "nowhere"}, source1={"max_epoch": 2})
    with pytest.raises(ManifestError, match=r"sources\[1\]\.max_epoch: unknown key \(did you mean 'max_epochs'\?\)"):
        load_manifest(path)


def test_manifest_checks_the_tokenizer_file_hash(tmp_path, token_data):  # noqa: F811
    path = manifest_with(tmp_path, token_data, tokenizer={"path": str(token_data.tokenizer_path), "hash": "0" * 64})
    with pytest.raises(ManifestError, match=r"tokenizer\.hash: .*tokenizer\.json has sha256"):
        load_manifest(path)


def test_manifest_refuses_mixed_tokenizers_and_vocabularies(tmp_path, token_data):  # noqa: F811
    docs = [[1, 2, 3, 4] * 50]
    other_tokenizer = write_token_dir(tmp_path / "other", docs, "f" * 64, token_data.eot_id)
    other_vocab = write_token_dir(
        tmp_path / "vocab", docs, token_data.tokenizer_hash, token_data.eot_id, vocab_size=2048
    )
    path = manifest_with(tmp_path, token_data, source1={"path": str(other_tokenizer)})
    with pytest.raises(ManifestError, match=r"sources\[1\]\.path: shards made with tokenizer ffff"):
        load_manifest(path)
    path = manifest_with(tmp_path, token_data, source1={"path": str(other_vocab)})
    with pytest.raises(ManifestError, match=r"sources\[1\]\.path: vocab size 2048, but sources\[0\]\.path has 1024"):
        load_manifest(path)


def test_sampler_realises_the_plan(tmp_path, token_data):  # noqa: F811
    plan = plan_mix(load_manifest(write_manifest(tmp_path / "m.yaml", token_data)))
    sampler = MixSampler(plan, seq_len=64, seed=1)
    source, _ = sampler.locate(np.arange(200_000))
    realised = np.bincount(source, minlength=2) / len(source)
    for s, p in zip(realised, plan.sources):
        assert abs(s - p.share) < 0.01 * p.share


def test_sampler_rows_are_windows_of_their_source(tmp_path, token_data):  # noqa: F811
    plan = plan_mix(load_manifest(write_manifest(tmp_path / "m.yaml", token_data)))
    sampler = MixSampler(plan, seq_len=64, seed=1)
    g = np.arange(1000, 1040)
    rows, (source, _) = sampler.samples(g), sampler.locate(g)
    for row, s in zip(rows, source):
        stream = np.concatenate([shard.tokens for shard in plan.manifest.sources[s].data.shards]).astype(np.int64)
        starts = np.flatnonzero(stream[:-64] == row[0])
        assert any(np.array_equal(stream[i : i + 65], row) for i in starts)


def test_sampler_is_deterministic_and_covers_each_epoch(tmp_path, token_data):  # noqa: F811
    plan = plan_mix(load_manifest(write_manifest(tmp_path / "m.yaml", token_data)))
    a, b, c = MixSampler(plan, 64, seed=1), MixSampler(plan, 64, seed=1), MixSampler(plan, 64, seed=2)
    g = np.arange(5000, 5100)
    assert np.array_equal(a.samples(g), b.samples(g)) and not np.array_equal(a.samples(g), c.samples(g))
    source, k = a.locate(np.arange(40_000))
    n = a.sources[1].count
    draws = k[source == 1]
    first_epoch = draws[draws < n]
    assert np.array_equal(np.sort(first_epoch), np.arange(n))  # each draw number once; the epoch is a permutation


def test_documents_shorter_than_seq_len_are_packed_but_tiny_sources_fail(tmp_path, token_data):  # noqa: F811
    plan = plan_mix(load_manifest(write_manifest(tmp_path / "m.yaml", token_data, seq_len=4096)))
    longest = max(int(s.lengths.max()) for s in plan.manifest.sources[0].data.shards)
    assert longest < 4096
    assert MixSampler(plan, 4096, seed=0).samples(np.arange(4)).shape == (4, 4097)
    tiny = write_token_dir(tmp_path / "tiny", [[1, 2, 3]], token_data.tokenizer_hash, token_data.eot_id)
    path = manifest_with(tmp_path, token_data, source1={"path": str(tiny)})
    with pytest.raises(DataError, match="source 'defr' has no shard of seq_len \\+ 1 = 65 tokens"):
        MixSampler(plan_mix(load_manifest(path)), 64, seed=0)
