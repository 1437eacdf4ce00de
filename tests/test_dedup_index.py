"""Incremental dedup with a persistent index (curate/dedup/index.py), and band-local key reads
(curate/dedup/keys.py), on real text with planted copies within and across two crawls."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import read_rejected
from curate.dedup import index
from test_dedup_stage import real_texts, run_dedup, write_input


def near(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for p in rng.sample(range(len(words)), 3):
        words[p] = "advertisement"
    return " ".join(words)


def crawls(shared: Path) -> tuple[list[dict], list[dict]]:
    """Crawl A: originals a-*, exact copies of some of them. Crawl B: originals b-*, exact and near
    copies of A's originals and of its own. Ids of A sort before B's (the one-run keep rule)."""
    rng = random.Random(3)
    texts = [(s, t) for s, t in real_texts(shared, books=60, code=10) if len(t.split()) >= 150]
    half = len(texts) // 2
    a = [{"id": f"a-{i:04d}", "source": s, "text": t} for i, (s, t) in enumerate(texts[:half])]
    b = [{"id": f"b-{i:04d}", "source": s, "text": t} for i, (s, t) in enumerate(texts[half:])]
    a_copies = [
        {**d, "id": d["id"] + "-exact", "text": d["text"].upper() if d["source"] != "code" else d["text"] + "\n"}
        for d in a[::3]
    ]
    b_copies = (
        [{**d, "id": "b-of-" + d["id"] + "-near", "text": near(d["text"], rng)} for d in a[1::4]]
        + [{**d, "id": "b-of-" + d["id"] + "-exact", "text": "  " + d["text"]} for d in a[2::5]]
        + [{**d, "id": d["id"] + "-near", "text": near(d["text"], rng)} for d in b[::3]]
    )
    return a + a_copies, b + b_copies


def kept_ids(out: Path) -> set[str]:
    files = sorted((out / "dedup").glob("*.parquet"))
    return {i for f in files for i in pq.read_table(f, columns=["id"])["id"].to_pylist()}


def test_run_on_a_then_b_against_the_index_keeps_what_one_run_on_a_and_b_keeps(shared_data, tmp_path):
    a, b = crawls(shared_data)
    index_dir = tmp_path / "index"
    params = f"    index: {index_dir}\n"
    out_a = run_dedup(tmp_path, write_input(a, tmp_path / "in-a", shards=2), workers=2, params=params, out="out-a")
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert [s["documents"] for s in manifest["segments"]] == [len(kept_ids(out_a))]

    out_b = run_dedup(tmp_path, write_input(b, tmp_path / "in-b", shards=3), workers=2, params=params, out="out-b")
    both = run_dedup(tmp_path, write_input(a + b, tmp_path / "in-ab", shards=4), workers=2, out="out-ab")

    assert kept_ids(out_a) | kept_ids(out_b) == kept_ids(both)
    rejected = read_rejected(out_b, "dedup")
    of = dict(zip(rejected["id"].to_pylist(), rejected["duplicate_of"].to_pylist()))
    planted_across = [d["id"] for d in b if d["id"].startswith("b-of-a-")]
    caught = [i for i in planted_across if i in of]
    assert len(caught) >= 0.9 * len(planted_across)  # 3 swapped words of >= 150: Jaccard >= ~0.9, well above 0.75
    assert all(of[i] == i.removeprefix("b-of-").rsplit("-", 1)[0] for i in caught)  # the indexed original wins
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert len(manifest["segments"]) == 2
    assert manifest["documents"] == len(kept_ids(out_a)) + len(kept_ids(out_b))


def test_a_killed_add_leaves_the_index_as_before_and_the_rerun_completes_it(shared_data, tmp_path, monkeypatch):
    a, b = crawls(shared_data)
    index_dir = tmp_path / "index"
    params = f"    index: {index_dir}\n"
    run_dedup(tmp_path, write_input(a, tmp_path / "in-a", shards=2), params=params, out="out-a")
    before = (index_dir / "manifest.json").read_text()

    def killed(*args, **kwargs):  # the process dies after writing the segment, before the manifest
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(index, "commit", killed)
        with pytest.raises(KeyboardInterrupt):
            run_dedup(tmp_path, write_input(b, tmp_path / "in-b", shards=3), params=params, out="out-b")
    assert (index_dir / "manifest.json").read_text() == before  # the half-added segment is not part of the index
    assert len(list((index_dir / "segments").iterdir())) == 2

    out_b = run_dedup(tmp_path, tmp_path / "in-b", params=params, out="out-b")  # the rerun resumes and commits
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert len(manifest["segments"]) == 2
    assert manifest["segments"][1]["documents"] == len(kept_ids(out_b))


def test_an_index_made_with_other_parameters_is_refused(shared_data, tmp_path):
    a, _ = crawls(shared_data)
    input_dir = write_input(a[:20], tmp_path / "in", shards=1)
    run_dedup(tmp_path, input_dir, params=f"    index: {tmp_path / 'index'}\n", out="one")
    with pytest.raises(Exception, match="other parameters"):
        run_dedup(tmp_path, input_dir, params=f"    index: {tmp_path / 'index'}\n    ngram: 4\n", out="two")


def test_each_band_task_reads_only_its_band(shared_data, tmp_path):
    a, b = crawls(shared_data)
    out = run_dedup(tmp_path, write_input(a + b, tmp_path / "in", shards=3), out="out")
    records = [json.loads(p.read_text()) for p in (out / "_state" / "dedup" / "candidates").glob("*.json")]
    assert len(records) == 15  # the exact hash and 14 bands, one partition each
    for record in records:
        stats = record["stats"]["dedup:candidates"]["counters"]
        assert stats["files_read"] == 3
        assert 0 < stats["bytes_read"]
    bands = [
        r["stats"]["dedup:candidates"]["counters"]["bytes_read"] for r in records if r["shard"].startswith("band-")
    ]
    assert max(bands) < 2 * min(bands)  # each band costs the same: its own row groups,
    assert max(bands) < sum(bands) / 7  # and not its neighbours' (14 bands read disjoint bytes, + small footers)
    summary = json.loads((out / "reports" / "dedup" / "summary.json").read_text())
    assert summary["candidate_reads"]["files_read"] == 15 * 3
    assert summary["candidate_reads"]["bytes_read"] == sum(
        r["stats"]["dedup:candidates"]["counters"]["bytes_read"] for r in records
    )
