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
    config.write_text(
        yaml.safe_dump(
            {
                "input": str(inputs),
                "output": str(root / "out"),
                "stages": [{"stage": "read", "url": "metadata.url"}, {"stage": "langid"}, {"stage": "quality"}],
            }
        )
    )
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
        loaded = datasets.load_dataset(
            "parquet", data_dir=str(folder), split="train", cache_dir=str(tmp_path / "cache")
        )
        assert loaded.num_rows == rows and storage.list_files(str(folder)) == [str(folder / "shard-00000.parquet")]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_loads_with_datasets_and_has_a_card(tmp_path, curated, fmt):
    kept = read_stage(curated, "quality")
    result = run_curate(
        "export",
        str(curated / "quality"),
        str(tmp_path / "ds"),
        "--format",
        fmt,
        "--max-shard-size",
        "50KB",
        "--license",
        "odc-by",
    )
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
    result = run_curate(
        "export", str(curated / "quality"), str(tmp_path / "ds"), "--max-shard-size", "lots", check=False
    )
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
        # a process of its own, as a user runs it: huggingface_hub < 0.24 reads HF_ENDPOINT once, at import
        pushed = run_curate("export", str(curated / "quality"), str(tmp_path / "ds"), "--push", "org/web-sample")
        assert "pushed: " in pushed.stdout
    local = {str(p.relative_to(tmp_path / "ds")): p.read_bytes() for p in (tmp_path / "ds").rglob("*") if p.is_file()}
    assert hub.uploaded == local and "data/train-00000-of-00001.parquet" in local
    assert (
        pq.read_table(tmp_path / "ds" / "data" / "train-00000-of-00001.parquet").num_rows
        == read_stage(curated, "quality").num_rows
    )


# ---- all or nothing (issue #31, cases 7-9): killed exports, re-exports


@pytest.fixture(scope="module")
def many_documents(shared_data, tmp_path_factory) -> tuple:
    """A stage folder of 1,200 real documents (the Dolma sample, repeated under new ids): exported one
    document a file, an export spends long enough writing and renaming for a kill to land inside it."""
    from curate.core.schema import make_documents

    root = tmp_path_factory.mktemp("many")
    records = dolma_records(shared_data)
    rows = [{"id": f"{r['id']}-{i}", "source": "web", "text": r["text"]} for i in range(40) for r in records]
    (root / "out" / "read").mkdir(parents=True)
    for part in range(3):
        pq.write_table(
            make_documents(rows[part * 400 : (part + 1) * 400]), root / "out" / "read" / f"shard-{part:05d}.parquet"
        )
    return root / "out" / "read", sorted(r["id"] for r in rows)


def loaded_ids(folder, cache) -> list[str]:
    return sorted(datasets.load_dataset(str(folder), split="train", cache_dir=str(cache))["id"])


def export_killed_when(stage, folder, seen) -> bool:
    """Start a real `curate export`, one document a file, and SIGKILL it as soon as seen(paths) holds for the
    files under folder's parent (DIR and any sibling an export writes); False when it finished first."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    process = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "export", str(stage), str(folder), "--max-shard-size", "1"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    while process.poll() is None:
        names = []
        for place in folder.parent.glob("*/data") if folder.parent.exists() else []:
            try:
                names += os.listdir(place)
            except FileNotFoundError:  # switched or removed while we looked
                pass
        if seen(names):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.001)
    return False


def test_a_killed_export_leaves_the_earlier_export_whole_and_a_rerun_leaves_no_temporaries(tmp_path, many_documents):
    stage, ids = many_documents
    folder = tmp_path / "parent" / "ds"
    run_curate("export", str(stage), str(folder))  # an earlier export: one file
    # killed while a shard is half written (7), and while the shards are renamed to their final names (8)
    assert export_killed_when(stage, folder, lambda names: any(".tmp-" in n for n in names))
    assert loaded_ids(folder, tmp_path / "c1") == ids
    assert export_killed_when(stage, folder, lambda names: sum(n.startswith("train-") for n in names) > 5)
    assert loaded_ids(folder, tmp_path / "c2") == ids  # never 230 of 3,140 rows
    run_curate("export", str(stage), str(folder), "--max-shard-size", "200KB")
    assert loaded_ids(folder, tmp_path / "c3") == ids
    left = [
        str(p.relative_to(tmp_path))
        for p in (tmp_path / "parent").rglob("*")
        if ".tmp-" in p.name or p.name.startswith(".")
    ]
    assert left == [] and sorted(p.name for p in (tmp_path / "parent").iterdir()) == ["ds"]


def test_a_re_export_with_other_shard_sizes_leaves_no_stale_shards(tmp_path, many_documents):
    stage, ids = many_documents
    folder = tmp_path / "ds"
    run_curate("export", str(stage), str(folder), "--max-shard-size", "300KB")
    many = len(list((folder / "data").iterdir()))
    run_curate("export", str(stage), str(folder), "--max-shard-size", "2GB")
    assert many > 3 and [p.name for p in (folder / "data").iterdir()] == ["train-00000-of-00001.parquet"]
    assert loaded_ids(folder, tmp_path / "cache") == ids


def test_export_refuses_a_folder_holding_files_it_did_not_write(tmp_path, many_documents):
    stage, _ = many_documents
    (tmp_path / "ds" / ".git").mkdir(parents=True)
    result = run_curate("export", str(stage), str(tmp_path / "ds"), check=False)
    assert result.returncode == 2 and "holds .git, which an export does not write" in result.stderr
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == [".git"]
