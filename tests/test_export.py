"""`curate export`: a stage folder as a dataset folder datasets.load_dataset reads, with a card; --push
uploads it through huggingface_hub to a local server speaking the Hub's upload API."""
from __future__ import annotations

import gzip
import shutil

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import read_stage, run_curate
from hub_server import Hub
from read_fixtures import dolma_records, write_dolma_jsonl_gz

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)

datasets = pytest.importorskip("datasets", reason="datasets.load_dataset is what an export must satisfy (test extra)")


@pytest.fixture(scope="module")
def curated(shared_data, tmp_path_factory):
    """Dolma documents read and filtered by quality: OUT/quality with OUT/stats beside it."""
    root = tmp_path_factory.mktemp("export")
    inputs = write_dolma_jsonl_gz(dolma_records(shared_data), root / "in" / "docs.json.gz")
    config = root / "p.yaml"
    config.write_text(yaml.safe_dump({"input": str(inputs), "output": str(root / "out"),
                                      "stages": [{"stage": "read", "url": "metadata.url"}, {"stage": "langid"}, {"stage": "quality"}]}))
    run_curate("run", str(config), "--no-progress")
    return root / "out"


def card_header(folder) -> dict:
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_a_stage_folder_reads_as_it_is_while_a_shard_is_being_written(tmp_path, curated):
    """The writer's temporary (left too by a killed run) is hidden from pyarrow.dataset, pandas and datasets."""
    import pandas as pd
    import pyarrow.dataset as ds

    from curate.core import storage
    folder = tmp_path / "quality"
    shutil.copytree(curated / "quality", folder)
    rows = read_stage(curated, "quality").num_rows
    with storage.atomic_path(str(folder / "shard-00099.parquet")) as temporary:
        with open(temporary, "wb") as f:
            f.write((folder / "shard-00000.parquet").read_bytes()[:300])  # half written
        assert ds.dataset(folder, format="parquet").count_rows() == len(pd.read_parquet(folder)) == rows
        loaded = datasets.load_dataset("parquet", data_dir=str(folder), split="train", cache_dir=str(tmp_path / "cache"))
        assert loaded.num_rows == rows and storage.list_files(str(folder)) == [str(folder / "shard-00000.parquet")]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_loads_with_datasets_and_has_a_card(tmp_path, curated, fmt):
    kept = read_stage(curated, "quality")
    result = run_curate("export", str(curated / "quality"), str(tmp_path / "ds"), "--format", fmt, "--max-shard-size", "50KB",
                        "--license", "odc-by")
    files = sorted((tmp_path / "ds" / "data").iterdir())
    assert len(files) >= 3 and all(f.name.startswith("train-") for f in files)  # split by the size limit
    loaded = datasets.load_dataset(str(tmp_path / "ds"), split="train")
    assert sorted(loaded["id"]) == sorted(kept["id"].to_pylist()) and loaded.num_rows == kept.num_rows
    header = card_header(tmp_path / "ds")
    assert header["license"] == "odc-by" and header["dataset_info"]["splits"][0]["num_examples"] == kept.num_rows
    card = (tmp_path / "ds" / "README.md").read_text()
    funnel = [line.split("|")[1].strip() for line in card.splitlines() if line.startswith("| ") and "stage" not in line]
    assert funnel == ["read", "langid", "quality"]  # the pipeline's stages in run order
    assert f"{kept.num_rows} documents" in result.stdout


def test_max_shard_size_is_parsed_and_checked(tmp_path, curated):
    result = run_curate("export", str(curated / "quality"), str(tmp_path / "ds"), "--max-shard-size", "lots", check=False)
    assert result.returncode == 2 and "--max-shard-size: expected a size like 500MB" in result.stderr
    one = run_curate("export", str(curated / "quality"), str(tmp_path / "one"), "--format", "jsonl")
    with gzip.open(next((tmp_path / "one" / "data").iterdir()), "rt") as f:
        assert len(f.readlines()) == read_stage(curated, "quality").num_rows
    assert "in 1 file(s)" in one.stdout


def test_push_uploads_the_folder_through_huggingface_hub(tmp_path, curated, monkeypatch):
    pytest.importorskip("huggingface_hub")
    with Hub(tmp_path / "hub") as hub:
        monkeypatch.setenv("HF_TOKEN", "hf_test")
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        from curate.cli import main
        assert main(["export", str(curated / "quality"), str(tmp_path / "ds"), "--push", "org/web-sample"]) == 0
    local = {str(p.relative_to(tmp_path / "ds")): p.read_bytes() for p in (tmp_path / "ds").rglob("*") if p.is_file()}
    assert hub.uploaded == local and "data/train-00000-of-00001.parquet" in local
    assert pq.read_table(tmp_path / "ds" / "data" / "train-00000-of-00001.parquet").num_rows == read_stage(curated, "quality").num_rows
