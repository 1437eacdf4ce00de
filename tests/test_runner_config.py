"""`curate run` as a user meets it: config errors before any work, overrides, stats, workers."""

from __future__ import annotations

import json

import pytest

from conftest import curate_in_process, read_stage, run_curate
from extract_fixtures import write_pipeline


def curate_error(tmp_path, yaml_text: str, *args: str) -> str:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml_text)
    # in this process: the command's parser, checks and messages without a new interpreter per case
    result = curate_in_process("run", str(path), "--output", str(tmp_path / "out"), *args, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert not (tmp_path / "out").exists()  # reported before any work started
    return result.stderr


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        (
            "name: x\ninput: .\nstages:\n  - stage: extrct\n    source: web\n",
            ["stages[0].stage", "unknown stage 'extrct'", "did you mean 'extract'"],
        ),
        (
            "name: x\ninput: .\nstages:\n  - stage: extract\n    source: web\n    favour_precision: true\n",
            ["stages[0] (extract)", "favour_precision: unknown key", "did you mean 'favor_precision'"],
        ),
        (
            "name: x\ninput: .\nstages:\n  - stage: extract\n    source: web\n    files_per_shard: many\n",
            ["files_per_shard: expected an integer", "'many'"],
        ),
        (
            "name: x\ninput: .\nstages:\n  - stage: extract\n    source: pdf\n",
            ["source: expected one of 'web', 'books', 'code'", "'pdf'"],
        ),
        (
            "name: x\ninput: /no/such/folder\nstages:\n  - stage: extract\n    source: web\n",
            ["key 'input'", "/no/such/folder", "does not exist"],
        ),
        ("name: x\ninput: .\nstages: [\n", ["not valid YAML"]),
        (
            "name: x\ninput: .\noutput_format: csv\nstages:\n  - stage: quality\n",
            ["key 'output_format'", "parquet, jsonl.gz", "'csv'"],
        ),
        (
            "name: x\ninput: .\nreader: {txt: body}\nstages:\n  - stage: quality\n",
            ["key 'reader' (read)", "txt: unknown key", "'text'"],
        ),
        # the stages under `stages:` are numbered as the file numbers them, the reader's hidden read stage not counted
        (
            "name: x\ninput: .\nreader: {}\nstages:\n  - stage: langid\n  - stage: quality\n    treshold: 1\n",
            ["stages[1] (quality)", "treshold: unknown key"],
        ),
        (
            "name: x\ninput: .\nreader: {}\nstages:\n  - stage: tokenize\n    tokenizer: /no/tok.json\n",
            ["stages[0] (tokenize)", "/no/tok.json"],
        ),
        ("name: x\ninput: .\nreader: {}\nstages:\n  - stage: read\n", ["key 'reader' and a 'read' stage"]),
        ("name: x\ninput: ./*.nosuch\nstages:\n  - stage: quality\n", ["key 'input'", "'./*.nosuch' matches no file"]),
    ],
)
def test_config_errors_name_file_key_and_expectation(tmp_path, yaml_text, expected):
    message = curate_error(tmp_path, yaml_text)
    assert "pipeline.yaml" in message
    for part in expected:
        assert part in message, message


@pytest.mark.slow
def test_overrides_stats_json_and_printed_table(shared_data, tmp_path):
    pipeline = write_pipeline(tmp_path, "web", ["/no/such/input"], tmp_path / "unused", files_per_shard=50)
    html = shared_data / "web" / "html"
    # in this process: the command's parser, overrides and table without an interpreter to start (the real
    # command line is checked below, and kept or killed in test_faults_runs)
    result = curate_in_process(
        "run",
        str(pipeline),
        "--stage",
        "extract",
        "--input",
        str(shared_data / "web" / "warc"),
        "--input",
        str(html),
        "--output",
        str(tmp_path / "out"),
        "--no-progress",
    )
    assert not (tmp_path / "unused").exists()
    stats = json.loads((tmp_path / "out" / "stats" / "extract.json").read_text())
    assert stats["docs_out"] == 164 and stats["dropped"] == {"truncated_record": 1}
    assert stats["docs_in"] == 165 and stats["bytes_in"] > 14e6
    table = result.stdout.splitlines()
    assert table[0].split()[:3] == ["stage", "docs", "in"]
    assert any(line.split()[:3] == ["extract", "165", "164"] and "truncated_record 1" in line for line in table)
    unknown_stage = run_curate("run", str(pipeline), "--stage", "dedup", "--input", str(html), check=False)
    assert unknown_stage.returncode == 2 and "no stage named 'dedup'" in unknown_stage.stderr


@pytest.mark.slow
def test_one_and_two_workers_give_the_same_documents(shared_data, tmp_path):
    pipeline = write_pipeline(tmp_path, "web", [shared_data / "web" / "html"], tmp_path / "unused", files_per_shard=20)
    outputs = {}
    for workers in ("1", "2"):
        curate_in_process(
            "run", str(pipeline), "--output", str(tmp_path / workers), "--workers", workers, "--no-progress"
        )
        table = read_stage(tmp_path / workers, "extract")
        outputs[workers] = sorted(zip(table["id"].to_pylist(), table["text"].to_pylist()))
    assert len(outputs["1"]) == 110 and outputs["1"] == outputs["2"]
