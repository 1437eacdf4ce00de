"""The dedup stage end to end through the pipeline runner, on real text with planted copies."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import read_rejected, read_stage, run_curate
from curate.core.executor import LocalExecutor
from curate.core.pipeline import load_pipeline
from curate.core.runner import run_pipeline
from curate.core.schema import doc_id, make_documents
from curate.dedup.memory import MemoryLimitExceeded

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import dedup_corpus  # noqa: E402


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
            copy = {**base, "id": doc_id(source, f"exact/{i}"), "text": text.upper() if source != "code" else "  " + text + "\n",
                    "url": f"https://mirror.example/{i}"}
            rows.append(copy)
            planted[copy["id"]] = (base["id"], "exact_duplicate")
        elif i % 3 == 1 and len(text.split()) >= 150:
            words = text.split(" ")
            for p in rng.sample(range(len(words)), 3):
                words[p] = "advertisement"
            copy = {**base, "id": doc_id(source, f"near/{i}"), "text": " ".join(words), "url": f"https://mirror.example/{i}"}
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
    report = output / "dedup" / "report"
    summary = json.loads((report / "summary.json").read_text())
    for reason in ("exact_duplicate", "near_duplicate"):
        gone = [r for r in rejected if r["reason"] == reason]
        assert summary["removed"][reason]["docs"] == len(gone)
        assert summary["removed"][reason]["bytes"] == sum(len(r["text"].encode()) for r in gone)
    assert (report / "cluster_sizes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["largest_clusters"][0]["sample_urls"]
    assert not (output / "dedup" / "_work").exists()  # scratch removed once done


def test_output_is_identical_across_runs_and_worker_counts(shared_data, tmp_path):
    rows, _ = corpus(shared_data, seed=1)
    input_dir = write_input(rows, tmp_path / "input", shards=4)
    outputs = [run_dedup(tmp_path, input_dir, workers, out=f"out{i}") for i, workers in enumerate((1, 1, 2))]
    first = [sorted_rows(read_stage(outputs[0], "dedup")), sorted_rows(read_rejected(outputs[0], "dedup"))]
    assert first[1], "the corpus has duplicates to remove"
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
    same = run_dedup(tmp_path, write_input([{"id": f"d{i:03d}", "source": "books", "text": passages[0]} for i in range(50)],
                                           tmp_path / "same"), out="same-out")
    assert read_stage(same, "dedup")["id"].to_pylist() == ["d000"]
    assert set(read_rejected(same, "dedup")["reason"].to_pylist()) == {"exact_duplicate"}
    distinct = run_dedup(tmp_path, write_input([{"id": f"d{i:03d}", "source": "books", "text": p} for i, p in enumerate(passages)],
                                               tmp_path / "distinct"), out="distinct-out")
    assert read_stage(distinct, "dedup").num_rows == len(passages)
    assert read_rejected(distinct, "dedup") is None


def test_memory_estimate_is_printed_and_a_low_limit_refuses_before_any_work(shared_data, tmp_path):
    rows = [{"id": f"d{i}", "source": "books", "text": p} for i, p in enumerate(dedup_corpus.book_passages(shared_data)[:30])]
    input_dir = write_input(rows, tmp_path / "input")
    with pytest.raises(MemoryLimitExceeded, match="max_memory_gb"):
        run_dedup(tmp_path, input_dir, params="    max_memory_gb: 0.01\n", out="refused")
    assert not (tmp_path / "refused" / "dedup").exists()
    yaml = tmp_path / "cli.yaml"
    yaml.write_text(f"name: t\ninput: {input_dir}\noutput: {tmp_path / 'cli'}\nstages:\n  - stage: dedup\n    max_memory_gb: 0.01\n")
    refused = run_curate("run", str(yaml), "--no-progress", check=False)
    assert refused.returncode == 2 and "max_memory_gb" in refused.stderr and "dedup plan" in refused.stdout
    yaml.write_text(yaml.read_text().replace("0.01", "4"))
    done = run_curate("run", str(yaml), "--no-progress")
    assert "peak memory" in done.stdout and "exact_duplicate" in done.stdout
