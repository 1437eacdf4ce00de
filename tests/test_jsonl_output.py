"""A run with `output_format: jsonl.gz` (its last stage and rejected rows as JSON lines) is read by
`curate report`, `curate sample` and `curate export` as fully as the same run written as Parquet."""

from __future__ import annotations

import pytest
import yaml
from conftest import run_curate
from read_fixtures import dolma_records, write_dolma_jsonl_gz
from test_report import Tables

from curate.report.run import load_run

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)

datasets = pytest.importorskip("datasets", reason="datasets.load_dataset is what an export must satisfy (test extra)")


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    """The Dolma documents read, language-identified and quality-filtered twice: as Parquet and as JSON lines."""
    root = tmp_path_factory.mktemp("jsonl-output")
    inputs = write_dolma_jsonl_gz(dolma_records(shared_data), root / "in" / "docs.jsonl.gz")
    outputs = {}
    for fmt in ("parquet", "jsonl.gz"):
        outputs[fmt] = root / fmt
        config = root / f"{fmt}.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "input": str(inputs),
                    "output": str(outputs[fmt]),
                    "output_format": fmt,
                    "reader": {"url": "metadata.url"},
                    "stages": [{"stage": "langid", "languages": ["en"]}, {"stage": "quality"}],
                }
            )
        )
        run_curate("run", str(config), "--no-progress")
    assert list((outputs["jsonl.gz"] / "quality").glob("*.jsonl.gz")) and not list(
        (outputs["jsonl.gz"] / "quality").glob("*.parquet")
    )
    return outputs


def test_report_reads_json_lines_like_parquet(runs):
    parquet, jsonl = load_run(runs["parquet"]), load_run(runs["jsonl.gz"])
    assert jsonl.kept_stage == parquet.kept_stage == "quality"
    assert 0 < jsonl.kept.total == parquet.kept.total < 30
    assert {k: v[0] for k, v in jsonl.reasons["quality"].items()} == {
        k: v[0] for k, v in parquet.reasons["quality"].items()
    }
    assert sum(v[0] for v in jsonl.reasons["quality"].values()) == 30 - jsonl.kept.total
    for column in ("gopher_word_count", "language_score"):  # the signals the histograms draw
        assert sorted(jsonl.kept.numbers(column)) == pytest.approx(sorted(parquet.kept.numbers(column)))
    pages = {}
    for fmt, out in runs.items():
        run_curate("report", str(out))
        tables = Tables()
        tables.feed((out / "report" / "index.html").read_text(encoding="utf-8"))
        pages[fmt] = {name: rows for name, rows in tables.tables.items() if "config" not in name}
        pages[fmt]["funnel"] = [row[:6] for row in pages[fmt]["funnel"]]  # documents and bytes, not seconds
    assert pages["jsonl.gz"] == pages["parquet"] and any(len(rows) > 1 for rows in pages["parquet"].values())


def test_sample_prints_dropped_json_lines_by_reason(runs):
    result = run_curate(
        "sample", str(runs["jsonl.gz"] / "rejected" / "quality"), "--reason", "gopher_quality", "-n", "2"
    )
    assert result.stdout.count("reason: gopher_quality.") == 2 and "[1/2 of" in result.stdout


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_of_json_lines_loads_with_datasets(tmp_path, runs, fmt):
    kept = datasets.load_dataset("json", data_dir=str(runs["jsonl.gz"] / "quality"), split="train")
    result = run_curate(
        "export", str(runs["jsonl.gz"] / "quality"), str(tmp_path / "ds"), "--format", fmt, "--max-shard-size", "20KB"
    )
    loaded = datasets.load_dataset(str(tmp_path / "ds"), split="train")
    assert len(list((tmp_path / "ds" / "data").iterdir())) >= 2  # split by the size limit
    assert loaded.num_rows == kept.num_rows > 0 and sorted(loaded["id"]) == sorted(kept["id"])
    assert sorted(loaded["text"]) == sorted(kept["text"]) and {"language", "gopher_word_count"} <= set(
        loaded.column_names
    )
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "| quality | 30 |" in card and f"{kept.num_rows} documents" in result.stdout


def test_export_refuses_a_folder_mixing_two_runs_formats(tmp_path, runs):
    mixed = tmp_path / "quality"
    mixed.mkdir()
    for out in runs.values():
        for path in (out / "quality").iterdir():
            (mixed / path.name).write_bytes(path.read_bytes())
    result = run_curate("export", str(mixed), str(tmp_path / "ds"), check=False)
    assert result.returncode == 2 and "both Parquet (1) and .jsonl.gz (1)" in result.stderr
