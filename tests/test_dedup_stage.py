"""The dedup stage end to end through the pipeline runner, on real text with planted copies."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import curate_in_process, read_rejected, read_stage, run_curate
from curate.core.executor import LocalExecutor
from curate.core.pipeline import load_pipeline
from curate.api import run_pipeline
from curate.core.schema import doc_id, make_documents
from curate.core.stage import Shard
from curate.dedup import memory
from curate.dedup.memory import MemoryLimitExceeded
from curate.dedup.stage import DedupParams, plan_for

from bench import dedup_corpus

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)


def real_texts(shared: Path, books: int = 120, code: int = 20) -> list[tuple[str, str]]:
    texts = [("web", t) for t in dedup_corpus.web_texts(shared) if len(t.split()) >= 30]
    texts += [("books", t) for t in dedup_corpus.book_passages(shared)[:books]]
    return texts + [("code", t) for t in dedup_corpus.stdlib_files(code)]


def corpus(shared: Path, seed: int = 0) -> tuple[list[dict], dict[str, tuple[str, str]]]:
    """Real documents, one exact (case/layout) and one near copy (3 words swapped) of some,
    empty and short documents. Returns the rows and {copy id: (base id, expected reason)}."""
    rng = random.Random(seed)
    rows, planted = [], {}
    for i, (source, text) in enumerate(real_texts(shared)):
        base = {"id": doc_id(source, f"base/{i}"), "source": source, "text": text, "url": f"https://base.example/{i}"}
        rows.append(base)
        if i % 3 == 0:
            copy = {
                **base,
                "id": doc_id(source, f"exact/{i}"),
                "text": text.upper() if source != "code" else "  " + text + "\n",
                "url": f"https://mirror.example/{i}",
            }
            rows.append(copy)
            planted[copy["id"]] = (base["id"], "exact_duplicate")
        elif i % 3 == 1 and len(text.split()) >= 150:
            words = text.split(" ")
            for p in rng.sample(range(len(words)), 3):
                words[p] = "advertisement"
            copy = {
                **base,
                "id": doc_id(source, f"near/{i}"),
                "text": " ".join(words),
                "url": f"https://mirror.example/{i}",
            }
            rows.append(copy)
            planted[copy["id"]] = (base["id"], "near_duplicate")
    rows += [{"id": f"empty-{k}", "source": "web", "text": t} for k, t in enumerate(["", "   ", "!!!"])]
    rows += [{"id": f"short-{k}", "source": "web", "text": "Hello world."} for k in range(2)]
    rng.shuffle(rows)
    return rows, planted


def write_input(rows: list[dict], folder: Path, shards: int = 3, extra_columns: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    table = make_documents(rows)
    for name, values in (extra_columns or {}).items():
        table = table.append_column(name, pa.array(values))
    per = -(-len(rows) // shards)
    for s in range(shards):
        pq.write_table(table.slice(s * per, per), folder / f"part-{s}.parquet")
    return folder


def run_dedup(tmp: Path, input_dir: Path, workers: int = 1, params: str = "", out: str = "out") -> Path:
    yaml = tmp / f"{out}.yaml"
    yaml.write_text(f"name: t\ninput: {input_dir}\noutput: {tmp / out}\nstages:\n  - stage: dedup\n{params}")
    executor = LocalExecutor(workers)
    try:
        run_pipeline(load_pipeline(str(yaml)), executor, progress=False)
    finally:
        executor.close()
    return tmp / out


def sorted_rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: r["id"])


@pytest.fixture(scope="module")
def planted_run(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dedup")
    rows, planted = corpus(shared_data)
    big = (shared_data / "books" / "en_moby_dick_pg2701.txt").read_text(encoding="utf-8-sig")
    rows.append({"id": "ten-megabytes", "source": "books", "text": (big * 9)[:10_000_000]})
    output = run_dedup(tmp, write_input(rows, tmp / "input"), workers=1)
    return rows, planted, output


def test_copies_are_removed_with_the_survivor_named_and_nothing_lost(planted_run):
    rows, planted, output = planted_run
    kept, rejected = read_stage(output, "dedup"), read_rejected(output, "dedup")
    assert sorted(kept["id"].to_pylist() + rejected["id"].to_pylist()) == sorted(r["id"] for r in rows)
    removed = {r["id"]: r for r in rejected.to_pylist()}
    kept_by_id = {r["id"]: r for r in kept.to_pylist()}
    for copy, (base, reason) in planted.items():
        survivor, loser = sorted([copy, base])  # no score column: the lowest id survives
        assert survivor in kept_by_id and loser in removed, (copy, reason)
        assert removed[loser]["reason"] == reason and removed[loser]["stage"] == "dedup"
        assert removed[loser]["duplicate_of"] == removed[loser]["detail"] == survivor
        assert kept_by_id[survivor]["dup_cluster"] == survivor and kept_by_id[survivor]["dup_cluster_size"] >= 2
    assert {"empty-0", "empty-1", "empty-2", "ten-megabytes"} <= set(kept_by_id)  # empty texts: never duplicates
    assert ("short-0" in kept_by_id) != ("short-1" in kept_by_id)  # shorter than a shingle: still exact-matched
    singles = [r for r in kept_by_id.values() if r["dup_cluster_size"] == 1]
    assert singles and all(r["dup_cluster"] == r["id"] for r in singles)


def test_report_counts_what_was_removed(planted_run):
    _, _, output = planted_run
    rejected = read_rejected(output, "dedup").to_pylist()
    report = output / "reports" / "dedup"
    summary = json.loads((report / "summary.json").read_text())
    for reason in ("exact_duplicate", "near_duplicate"):
        gone = [r for r in rejected if r["reason"] == reason]
        assert summary["removed"][reason]["docs"] == len(gone)
        assert summary["removed"][reason]["bytes"] == sum(len(r["text"].encode()) for r in gone)
    assert (report / "cluster_sizes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["largest_clusters"][0]["sample_urls"]
    assert not (output / "_state" / "dedup" / "work").exists()  # scratch removed once done


def test_output_is_identical_across_runs_and_worker_counts(shared_data, tmp_path):
    rows, _ = corpus(shared_data, seed=1)
    words = " ".join(dedup_corpus.book_passages(shared_data, 400, 2000)[1].split()).split(" ")
    rows += [{"id": f"chain-{k}", "source": "books", "text": " ".join(words[30 * k : 30 * k + 300])} for k in range(5)]
    input_dir = write_input(rows, tmp_path / "input", shards=4)
    outputs = [run_dedup(tmp_path, input_dir, workers, out=f"out{i}") for i, workers in enumerate((1, 1, 2))]
    first = [sorted_rows(read_stage(outputs[0], "dedup")), sorted_rows(read_rejected(outputs[0], "dedup"))]
    assert first[1], "the corpus has duplicates to remove"
    chain = {r["id"]: r["dup_cluster"] for r in first[0] + first[1] if r["id"].startswith("chain-")}
    assert len(set(chain.values())) >= 2, chain  # the chain splits into stars: survivor rounds ran
    for other in outputs[1:]:
        assert [sorted_rows(read_stage(other, "dedup")), sorted_rows(read_rejected(other, "dedup"))] == first


def test_highest_score_survives_when_the_score_column_exists(shared_data, tmp_path):
    text = dedup_corpus.book_passages(shared_data)[5]
    rows = [{"id": f"doc-{i}", "source": "books", "text": text} for i in range(4)]
    input_dir = write_input(rows, tmp_path / "input", shards=2, extra_columns={"quality": [0.1, 0.9, None, 0.5]})
    output = run_dedup(tmp_path, input_dir, params="    score_column: quality\n")
    kept = read_stage(output, "dedup").to_pylist()
    assert [r["id"] for r in kept] == ["doc-1"] and kept[0]["dup_cluster_size"] == 4
    assert {r["duplicate_of"] for r in read_rejected(output, "dedup").to_pylist()} == {"doc-1"}


def test_all_identical_corpus_keeps_one_and_distinct_corpus_keeps_all(shared_data, tmp_path):
    passages = dedup_corpus.book_passages(shared_data)[:60]
    same = run_dedup(
        tmp_path,
        write_input(
            [{"id": f"d{i:03d}", "source": "books", "text": passages[0]} for i in range(50)], tmp_path / "same"
        ),
        out="same-out",
    )
    assert read_stage(same, "dedup")["id"].to_pylist() == ["d000"]
    assert set(read_rejected(same, "dedup")["reason"].to_pylist()) == {"exact_duplicate"}
    distinct = run_dedup(
        tmp_path,
        write_input(
            [{"id": f"d{i:03d}", "source": "books", "text": p} for i, p in enumerate(passages)], tmp_path / "distinct"
        ),
        out="distinct-out",
    )
    assert read_stage(distinct, "dedup").num_rows == len(passages)
    assert read_rejected(distinct, "dedup") is None


def test_memory_estimate_is_printed_and_a_low_limit_refuses_before_any_work(shared_data, tmp_path):
    rows = [
        {"id": f"d{i}", "source": "books", "text": p}
        for i, p in enumerate(dedup_corpus.book_passages(shared_data)[:30])
    ]
    input_dir = write_input(rows, tmp_path / "input")
    with pytest.raises(MemoryLimitExceeded, match="max_memory_gb"):
        run_dedup(tmp_path, input_dir, params="    max_memory_gb: 0.01\n", out="refused")
    assert not (tmp_path / "refused" / "dedup").exists()
    yaml = tmp_path / "cli.yaml"
    yaml.write_text(
        f"name: t\ninput: {input_dir}\noutput: {tmp_path / 'cli'}\nstages:\n  - stage: dedup\n    max_memory_gb: 0.01\n"
    )
    refused = run_curate("run", str(yaml), "--no-progress", check=False)
    assert refused.returncode == 2 and "max_memory_gb" in refused.stderr and "dedup plan" in refused.stdout
    yaml.write_text(yaml.read_text().replace("0.01", "4"))
    done = curate_in_process("run", str(yaml), "--no-progress")  # (the refused run above is the real command line)
    assert "peak memory" in done.stdout and "exact_duplicate" in done.stdout


def test_a_chain_of_similar_texts_removes_only_what_is_close_to_the_survivor(shared_data, tmp_path):
    # a ~ b and b ~ c (each ~0.82 Jaccard) but a and c share only ~0.66: connected components would
    # remove c in favour of a; stars keep c, which is not a near-duplicate of anything kept.
    words = " ".join(dedup_corpus.book_passages(shared_data, 400, 2000)[0].split()).split(" ")
    assert len(words) >= 360
    rows = [
        {"id": name, "source": "books", "text": " ".join(words[start : start + 300])}
        for name, start in (("a", 0), ("b", 30), ("c", 60))
    ]
    sets = dedup_corpus.shingle_arrays(make_documents(rows))
    similar = dedup_corpus.similar_pairs(sets, 0.5)
    assert similar[(0, 1)] > 0.8 and similar[(1, 2)] > 0.8 and similar[(0, 2)] < 0.7
    input_dir = write_input(rows, tmp_path / "input", shards=2)
    stars = run_dedup(tmp_path, input_dir, out="stars")
    assert sorted(read_stage(stars, "dedup")["id"].to_pylist()) == ["a", "c"]
    assert read_rejected(stars, "dedup").select(["id", "duplicate_of"]).to_pylist() == [
        {"id": "b", "duplicate_of": "a"}
    ]
    components = run_dedup(tmp_path, input_dir, params="    verify_threshold: null\n", out="components")
    assert read_stage(components, "dedup")["id"].to_pylist() == ["a"]
    assert read_stage(components, "dedup")["dup_cluster_size"].to_pylist() == [3]


def test_a_few_long_documents_get_a_small_estimate_and_run_with_two_workers(shared_data, tmp_path):
    # whole books as documents: read batches are capped by text bytes, not 1024 rows of a book each
    books = sorted((shared_data / "books").glob("*.txt"))
    rows = [{"id": p.name, "source": "books", "text": p.read_text(encoding="utf-8-sig")} for p in books]
    rows += [{"id": "copy-" + books[0].name, "source": "books", "text": rows[0]["text"].upper()}]
    input_dir = write_input(rows, tmp_path / "input", shards=2)
    shards = [Shard(f.stem, (str(f),)) for f in sorted(input_dir.glob("*.parquet"))]
    plan = plan_for(shards, 2, DedupParams())
    text = sum(len(r["text"].encode()) for r in rows)
    assert plan.largest_signature_batch <= max(memory.BATCH_TEXT_BYTES, text)
    assert plan.parallel_peak < 1 * memory.GB and plan.components_peak(100) < 1 * memory.GB
    output = run_dedup(tmp_path, input_dir, workers=2)
    rejected = read_rejected(output, "dedup")
    removed = dict(zip(rejected["id"].to_pylist(), rejected["duplicate_of"].to_pylist()))
    assert removed["copy-" + books[0].name] == books[0].name  # (the two licence files are near-duplicates too)
    assert all(not name.startswith(("en_", "kalamine_")) for name in removed)
