"""Fused passes and the runner's bookkeeping: consecutive document stages run in one pass per
shard and give exactly what the materialised run's last stage gives; completion records live
outside the data folders; a killed fused run resumes to the same output; changed inputs are
refused; the resolved pipeline is written and reruns as it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, curate_in_process, read_rejected, read_stage, run_curate

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: the session's web extraction (conftest web_extracted) and this module's runs, made once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("web_extracted")]

FILTERS = [
    {"stage": "langid", "languages": ["en", "de"]},
    {"stage": "quality"},
    {"stage": "toxicity", "blocklist": str(REPO / "pipelines" / "lists" / "blocked_domains.txt")},
]


@pytest.fixture(scope="module")
def documents(web_extracted) -> Path:
    """The sample web pages and WARCs extracted, two pages per shard (many shards to kill a run among)."""
    return web_extracted / "extract"


def filters_pipeline(folder: Path, documents: Path, output: Path) -> Path:
    path = folder / f"filters-{output.name}.yaml"
    path.write_text(
        yaml.safe_dump({"name": "filters", "input": str(documents), "output": str(output), "stages": FILTERS})
    )
    return path


def content(output: Path, stage: str, rejected: bool = False) -> list[dict]:
    table = read_rejected(output, stage) if rejected else read_stage(output, stage)
    rows = [{k: "NaN" if v != v else v for k, v in row.items()} for row in (table.to_pylist() if table else [])]
    return sorted(rows, key=lambda row: (row["id"], row.get("reason") or ""))


def counts(output: Path, stage: str) -> dict:
    stats = json.loads((output / "stats" / f"{stage}.json").read_text())
    return {k: stats[k] for k in ("docs_in", "docs_out", "bytes_in", "bytes_out", "dropped")}


@pytest.fixture(scope="module")
def fused(documents, tmp_path_factory) -> Path:
    """One default (fused) run of the filters with 2 workers, which several tests below read: its output folder.
    A stats temporary of a killed run is left in that folder before it starts."""
    folder = tmp_path_factory.mktemp("fused")
    output = folder / "out"
    (output / "stats").mkdir(parents=True)
    (output / "stats" / ".langid.json.tmp-0123456789ab").write_text("{")
    curate_in_process("run", str(filters_pipeline(folder, documents, output)), "--workers", "2", "--no-progress")
    return output


def test_fused_output_equals_the_materialised_last_stage(documents, fused, tmp_path):
    pipeline = filters_pipeline(tmp_path, documents, tmp_path / "unused")
    curate_in_process(
        "run", str(pipeline), "--output", str(tmp_path / "materialized"), "--materialize", "--no-progress"
    )
    materialized = tmp_path / "materialized"

    assert content(fused, "toxicity") == content(materialized, "toxicity")
    assert len(content(fused, "toxicity")) > 0
    for stage in ("langid", "quality", "toxicity"):
        assert content(fused, stage, rejected=True) == content(materialized, stage, rejected=True)
        assert counts(fused, stage) == counts(materialized, stage)
    assert sum(counts(fused, s)["docs_in"] - counts(fused, s)["docs_out"] for s in ("langid", "quality")) > 0
    # fused: only the last stage's folder; materialised: every stage's
    assert not (fused / "langid").exists() and not (fused / "quality").exists()
    assert content(materialized, "langid") and content(materialized, "quality")


def test_stage_folders_hold_only_data_and_read_with_datasets(fused, tmp_path):
    folder = fused / "toxicity"
    assert sorted({p.suffix for p in folder.rglob("*") if p.is_file()}) == [".parquet"]
    assert list((fused / "_state" / "langid+quality+toxicity" / "main").glob("*.json"))

    import datasets

    loaded = datasets.load_dataset("parquet", data_dir=str(folder), split="train", cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded["id"]) == [row["id"] for row in content(fused, "toxicity")]


def test_the_resolved_pipeline_is_written_and_reruns_the_same(documents, fused, tmp_path):
    resolved = yaml.safe_load((fused / "pipeline.yaml").read_text())
    assert [s["stage"] for s in resolved["stages"]] == ["langid", "quality", "toxicity"]
    assert resolved["stages"][0]["name"] == "langid" and resolved["stages"][0]["threshold"] == 0.65
    assert resolved["input"] == [str(documents)] and resolved["output"] == str(fused)

    curate_in_process("run", str(fused / "pipeline.yaml"), "--output", str(tmp_path / "second"), "--no-progress")
    assert content(tmp_path / "second", "toxicity") == content(fused, "toxicity")


def fused_records(output: Path) -> int:
    folder = output / "_state" / "langid+quality+toxicity" / "main"
    return len(list(folder.glob("*.json"))) if folder.exists() else 0


def test_a_killed_fused_pass_resumes_to_the_uninterrupted_output(documents, fused, tmp_path):
    pipeline = filters_pipeline(tmp_path, documents, tmp_path / "unused")
    output = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "curate.cli",
        "run",
        str(pipeline),
        "--output",
        str(output),
        "--workers",
        "2",
        "--no-progress",
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and fused_records(output) < 3:
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before the kill: make the job bigger"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (output / "stats" / "toxicity.json").exists()

    # the killed run is a real process; resuming is the same in this one (no interpreter to start)
    curate_in_process("run", str(pipeline), "--output", str(output), "--workers", "2", "--no-progress")
    for stage in ("langid", "quality", "toxicity"):
        assert content(output, stage, rejected=True) == content(fused, stage, rejected=True)
    assert content(output, "toxicity") == content(fused, "toxicity")
    assert not [p for p in output.rglob("*") if ".tmp-" in p.name]


def test_changed_inputs_are_refused_or_redone_when_allowed(documents, tmp_path):
    copy = tmp_path / "docs"
    copy.mkdir()
    for path in sorted(documents.glob("*.parquet"))[:4]:
        (copy / path.name).write_bytes(path.read_bytes())
    pipeline = filters_pipeline(tmp_path, copy, tmp_path / "out")
    curate_in_process("run", str(pipeline), "--no-progress")
    first = sorted(copy.glob("*.parquet"))[0]
    os.utime(first, (time.time() + 10, time.time() + 10))  # the file was replaced since

    refused = curate_in_process("run", str(pipeline), "--no-progress", check=False)
    assert refused.returncode == 2 and "changed" in refused.stderr and "--allow-changed-inputs" in refused.stderr
    curate_in_process("run", str(pipeline), "--no-progress", "--allow-changed-inputs")
    record = json.loads(
        (tmp_path / "out" / "_state" / "langid+quality+toxicity" / "main" / f"{first.stem}.json").read_text()
    )
    assert record["inputs"] == [[str(first), first.stat().st_size, str(first.stat().st_mtime)]]


def test_one_stage_with_an_input_reads_that_input(documents, tmp_path):
    pipeline = filters_pipeline(tmp_path, documents, tmp_path / "out")
    result = curate_in_process("run", str(pipeline), "--stage", "quality", "--input", str(documents), "--no-progress")
    assert counts(tmp_path / "out", "quality")["docs_in"] == len(content(documents.parent, "extract"))
    assert "quality" in result.stdout and not (tmp_path / "out" / "langid").exists()


def test_a_stage_after_a_fused_one_asks_for_materialize(fused):
    pipeline = fused.parent / "filters-out.yaml"  # the file the shared run ran (filters_pipeline)
    refused = run_curate("run", str(pipeline), "--stage", "toxicity", "--no-progress", check=False)
    assert refused.returncode == 2 and "--materialize" in refused.stderr


def test_zero_documents_are_reported_loudly(tmp_path, documents):
    empty = tmp_path / "empty"
    empty.mkdir()
    pipeline = filters_pipeline(tmp_path, empty, tmp_path / "out")
    result = curate_in_process("run", str(pipeline), "--no-progress")
    assert "read 0 documents" in result.stdout


def test_workers_zero_is_a_one_line_config_error(documents, tmp_path):
    pipeline = filters_pipeline(tmp_path, documents, tmp_path / "out")
    result = run_curate("run", str(pipeline), "--workers", "0", check=False)
    assert (
        result.returncode == 2 and "--workers must be at least 1" in result.stderr and "Traceback" not in result.stderr
    )


def test_stats_temporaries_of_a_killed_run_are_removed(fused):
    # the shared run started with a stats temporary of a killed run in its folder (fixture `fused`)
    assert (
        not (fused / "stats" / ".langid.json.tmp-0123456789ab").exists() and (fused / "stats" / "langid.json").exists()
    )


def children_of(pid: int) -> list[int]:
    """Every descendant process of pid, from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_workers_die_with_a_killed_driver(documents, tmp_path):
    pipeline = filters_pipeline(tmp_path, documents, tmp_path / "out")
    command = [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--workers", "2", "--no-progress"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while process.poll() is None and len(workers) < 3 and time.monotonic() < deadline:  # forkserver + 2 workers
        workers = children_of(process.pid)
        time.sleep(0.01)
    assert process.poll() is None and len(workers) >= 3, "no worker pool seen: make the job bigger"
    os.kill(process.pid, signal.SIGKILL)  # only the driver
    process.wait()
    deadline = time.monotonic() + 20
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if running(pid)]


# ---- dedup inside a fused group: its signatures share the pass before it, its filter the pass after it ----

WEB = FILTERS[:2] + [{"stage": "dedup"}] + FILTERS[2:]
WEB_GROUP = "langid+quality+dedup+toxicity"


@pytest.fixture(scope="module")
def with_copies(documents, tmp_path_factory) -> Path:
    """The extracted pages in 12 shards plus a shard with an exact copy of each, so dedup removes at least half
    of what reaches it (a page and its copy get the same verdicts before it). A dozen shards, not the 60 of
    `documents`: each of dedup's candidate tasks reads every shard's signatures, and 13 shards still leave room
    to kill a run among them."""
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("with-copies")
    pages = read_stage(documents.parent, "extract")
    per = -(-pages.num_rows // 12)
    for i in range(12):
        pq.write_table(pages.slice(i * per, per), folder / f"shard-{i:05d}.parquet")
    copies = pages.set_column(pages.schema.get_field_index("id"), "id", [[f"copy-{i}" for i in range(pages.num_rows)]])
    pq.write_table(copies.cast(pages.schema), folder / "zz-copies.parquet")
    return folder


def web_pipeline(folder: Path, documents: Path) -> Path:
    path = folder / "web.yaml"
    path.write_text(
        yaml.safe_dump({"name": "web", "input": str(documents), "output": str(folder / "unused"), "stages": WEB})
    )
    return path


def by_shard(output: Path, stage: str) -> dict[str, list]:
    """Each shard's kept ids in file order, and every column of its rows."""
    import pyarrow.parquet as pq

    return {
        p.name: [{k: "NaN" if v != v else v for k, v in row.items()} for row in pq.read_table(p).to_pylist()]
        for p in sorted((output / stage).glob("*.parquet"))
    }


@pytest.fixture(scope="module")
def web_reference(with_copies, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("web-reference")
    curate_in_process(
        "run",
        str(web_pipeline(folder, with_copies)),
        "--output",
        str(folder / "materialized"),
        "--materialize",
        "--workers",
        "2",
        "--no-progress",
    )
    return folder / "materialized"


def test_dedup_fuses_with_the_stages_around_it_and_gives_the_materialised_output(with_copies, web_reference, tmp_path):
    fused = tmp_path / "fused"
    result = curate_in_process(
        "run", str(web_pipeline(tmp_path, with_copies)), "--output", str(fused), "--workers", "2", "--no-progress"
    )
    assert by_shard(fused, "toxicity") == by_shard(web_reference, "toxicity")  # same rows, same order, every column
    for stage in ("langid", "quality", "dedup", "toxicity"):
        assert content(fused, stage, rejected=True) == content(web_reference, stage, rejected=True)
        assert counts(fused, stage) == counts(web_reference, stage)
    dedup = counts(fused, "dedup")
    assert (
        dedup["docs_in"] > 0 and dedup["dropped"]["exact_duplicate"] >= dedup["docs_in"] // 2
    )  # (the sample repeats a few pages too)
    # one read before dedup and one after: no stage folder but the last, records per pass, scratch gone
    assert sorted(p.name for p in fused.iterdir() if p.name not in ("_state", "rejected", "stats", "reports")) == [
        "pipeline.yaml",
        "toxicity",
    ]
    assert sorted(p.name for p in (fused / "_state" / WEB_GROUP).iterdir()) == [
        "candidates",
        "components",
        "filter",
        "signatures",
    ]
    assert f"{WEB_GROUP} phases: signatures" in result.stdout and "exact_duplicate" in result.stdout
    assert (fused / "reports" / "dedup" / "summary.json").exists()


@pytest.mark.parametrize("phase, records", [("signatures", 3), ("filter", 2)])
def test_a_run_killed_in_a_pass_around_dedup_resumes_to_the_same_output(
    with_copies, web_reference, tmp_path, phase, records
):
    output = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "curate.cli",
        "run",
        str(web_pipeline(tmp_path, with_copies)),
        "--output",
        str(output),
        "--workers",
        "2",
        "--no-progress",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    folder = output / "_state" / WEB_GROUP / phase
    while process.poll() is None and len(list(folder.glob("*.json"))) < records:
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before the kill: make the job bigger"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (output / "stats" / "toxicity.json").exists()

    curate_in_process(
        "run", str(web_pipeline(tmp_path, with_copies)), "--output", str(output), "--workers", "2", "--no-progress"
    )
    assert by_shard(output, "toxicity") == by_shard(web_reference, "toxicity")
    for stage in ("langid", "quality", "dedup", "toxicity"):
        assert content(output, stage, rejected=True) == content(web_reference, stage, rejected=True)
    assert not [p for p in output.rglob("*") if ".tmp-" in p.name]
