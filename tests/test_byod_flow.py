"""The bring-your-own-data path after a run (issue 34): the report's headline and funnel on `reader:` and
extract pipelines, a pipeline's JSONL output read on by train-tokenizer and tokenize, the warning when
filters dropped everything, and `--redo`. Real Dolma documents from ../shared/data, run in this process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import curate_in_process
from read_fixtures import dolma_records
from train_fixtures import train_tokenizer

from curate.report.page import megabytes

DOLMA_READER = {"url": "metadata.url"}  # Dolma keeps its URL under metadata: a raw-input mapping


def write_pipeline(folder: Path, name: str, **keys) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "output": str(folder / name), **keys}))
    return path


def stats(output: Path, stage: str) -> dict:
    return json.loads((output / "stats" / f"{stage}.json").read_text())


def headline(output: Path) -> str:
    curate_in_process("report", str(output))
    return re.search(r"<p>([\d,]+ documents in[^<]*)</p>", (output / "report" / "index.html").read_text()).group(1)


def funnel_labels(output: Path) -> list[str]:
    page = (output / "report" / "index.html").read_text()
    documents = page.split("<h3>Documents</h3>", 1)[1].split("</svg>", 1)[0]
    return re.findall(r'text-anchor: end"[^>]*>([^<]+)</text>', documents)  # the bars' labels (matplotlib's SVG text)


@pytest.fixture(scope="module")
def dolma(shared_data) -> Path:
    return shared_data / "web" / "jsonl"


@pytest.fixture(scope="module")
def tokenizer(shared_data, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer([r["text"] for r in dolma_records(shared_data)], path)
    return path


@pytest.fixture(scope="module")
def jsonl_run(dolma, tmp_path_factory) -> Path:
    """langid -> quality -> dedup of the Dolma sample through a reader, written as JSON lines."""
    folder = tmp_path_factory.mktemp("jsonl")
    pipeline = write_pipeline(
        folder,
        "dolma",
        input=str(dolma),
        reader=DOLMA_READER,
        output_format="jsonl.gz",
        stages=[{"stage": "langid", "languages": ["en"]}, {"stage": "quality"}, {"stage": "dedup"}],
    )
    curate_in_process("run", str(pipeline), "--no-progress")
    return folder / "dolma"


def test_report_headline_and_funnel_of_a_reader_pipeline(jsonl_run):
    read, dedup = stats(jsonl_run, "read"), stats(jsonl_run, "dedup")
    assert dedup["docs_out"] < read["docs_in"] == 30  # quality drops some: a headline of 30 out would be wrong
    line = headline(jsonl_run)
    assert line.startswith(f"30 documents in, {dedup['docs_out']} out after dedup ({dedup['docs_out'] / 30:.1%} kept)")
    assert f"{megabytes(dedup['bytes_out'])} of text out" in line
    assert funnel_labels(jsonl_run) == ["input", "after read", "after langid", "after quality", "after dedup"]


def test_report_headline_of_an_extract_pipeline_counts_text_not_tokens(shared_data, tokenizer, tmp_path):
    pages = sorted((shared_data / "web" / "html" / "trafilatura_cache").iterdir())[:12]
    pipeline = write_pipeline(
        tmp_path,
        "web",
        input=[str(p) for p in pages],
        stages=[
            {"stage": "extract", "source": "web"},
            {"stage": "quality"},
            {"stage": "tokenize", "tokenizer": str(tokenizer)},
        ],
    )
    curate_in_process("run", str(pipeline), "--no-progress")
    output = tmp_path / "web"
    extract, quality = stats(output, "extract"), stats(output, "quality")
    tokens = sum(
        json.loads((output / "tokenize" / split / "tokens.json").read_text())["num_tokens"]
        for split in ("train", "val")
    )
    line = headline(output)
    assert line.startswith(f"{extract['docs_in']} documents in, {quality['docs_out']} out after quality")
    assert f"{megabytes(quality['bytes_out'])} of text out; {tokens:,} tokens" in line
    assert funnel_labels(output) == ["input", "after extract", "after quality", "after tokenize"]


def test_train_tokenizer_reads_jsonl_output_beside_parquet(jsonl_run, dolma, tmp_path):
    parquet = write_pipeline(tmp_path, "parquet", input=str(dolma), reader=DOLMA_READER, stages=[{"stage": "langid"}])
    curate_in_process("run", str(parquet), "--no-progress")
    both = [str(tmp_path / "parquet" / "langid"), str(jsonl_run / "dedup")]
    result = curate_in_process("train-tokenizer", *both, "--output", str(tmp_path / "tok.json"), "--vocab-size", "300")
    expected = stats(tmp_path / "parquet", "langid")["docs_out"] + stats(jsonl_run, "dedup")["docs_out"]
    assert f"trained on {expected} documents" in result.stdout
    assert "not the 300 asked" not in result.stdout
    small = curate_in_process(
        "train-tokenizer", both[1], "--output", str(tmp_path / "big.json"), "--vocab-size", "60000"
    )
    assert "not the 60000 asked: the sample has no more pairs" in small.stdout
    refused = curate_in_process(
        "train-tokenizer", both[0], str(jsonl_run / "reports"), "--output", str(tmp_path / "t.json"), check=False
    )
    assert refused.returncode == 2 and f"{jsonl_run / 'reports'}: no document files" in refused.stderr


def test_tokenize_follows_a_jsonl_run(jsonl_run, dolma, tokenizer, tmp_path):
    """A tokenize stage added after a run that wrote JSON lines: the run goes on (dedup's output becomes
    Parquet, which tokenize reads, and the run says so); `--stage tokenize --input` on that JSONL output
    reads it as it is, not through the reader's raw-input mapping (metadata.url is not in it)."""
    stages = [
        {"stage": "langid", "languages": ["en"]},
        {"stage": "quality"},
        {"stage": "dedup"},
        {"stage": "tokenize", "tokenizer": str(tokenizer), "validation_fraction": 0},
    ]
    pipeline = write_pipeline(
        tmp_path, "again", input=str(dolma), reader=DOLMA_READER, output_format="jsonl.gz", stages=stages[:3]
    )
    curate_in_process("run", str(pipeline), "--no-progress")
    pipeline = write_pipeline(
        tmp_path, "again", input=str(dolma), reader=DOLMA_READER, output_format="jsonl.gz", stages=stages
    )
    result = curate_in_process("run", str(pipeline), "--no-progress")
    assert "converted to Parquet" in result.stdout
    documents = stats(jsonl_run, "dedup")["docs_out"]
    assert (
        json.loads((tmp_path / "again" / "tokenize" / "train" / "tokens.json").read_text())["num_documents"]
        == documents
    )
    curate_in_process("export", str(tmp_path / "again" / "dedup"), str(tmp_path / "exported"))
    card = (tmp_path / "exported" / "README.md").read_text()
    funnel = [
        line.split("|")[1].strip() for line in card.splitlines() if line.startswith("| ") and "docs in" not in line
    ]
    assert funnel == ["read", "langid", "quality", "dedup"]  # the stages that made the exported documents, in order

    other = write_pipeline(tmp_path, "other", input=str(dolma), reader=DOLMA_READER, stages=stages)
    curate_in_process("run", str(other), "--stage", "tokenize", "--input", str(jsonl_run / "dedup"), "--no-progress")
    assert (
        json.loads((tmp_path / "other" / "tokenize" / "train" / "tokens.json").read_text())["num_documents"]
        == documents
    )


def test_zero_documents_after_filters_say_which_stage_dropped_them(dolma, tmp_path):
    pipeline = write_pipeline(
        tmp_path,
        "strict",
        input=str(dolma),
        reader=DOLMA_READER,
        stages=[{"stage": "quality", "gopher_quality": {"min_words": 10**6}}, {"stage": "dedup"}],
    )
    result = curate_in_process("run", str(pipeline), "--no-progress")
    assert "WARNING: dedup read 0 documents: quality dropped all 30 it read (gopher_quality.word_count" in result.stdout
    assert "check the input path" not in result.stdout


def test_redo_removes_that_stage_and_everything_after_it(dolma, tmp_path):
    stages = [{"stage": "langid", "languages": ["en"]}, {"stage": "quality"}, {"stage": "dedup"}]
    pipeline = write_pipeline(tmp_path, "redo", input=str(dolma), reader=DOLMA_READER, stages=stages)
    curate_in_process("run", str(pipeline), "--no-progress", "--materialize")
    output = tmp_path / "redo"
    langid_files = {p: p.stat().st_mtime_ns for p in (output / "langid").iterdir()}
    stages[1] = {"stage": "quality", "gopher_quality": {"min_words": 200}}
    pipeline = write_pipeline(tmp_path, "redo", input=str(dolma), reader=DOLMA_READER, stages=stages)
    refused = curate_in_process("run", str(pipeline), "--no-progress", "--materialize", check=False)
    assert (
        refused.returncode == 2
        and "different parameters" in refused.stderr
        and "rerun with --redo STAGE" in refused.stderr
    )
    result = curate_in_process("run", str(pipeline), "--no-progress", "--materialize", "--redo", "quality")
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("removed "))
    removed = {line.strip() for line in lines[start + 1 :] if line.startswith(f"  {output}")}
    assert removed == {
        str(output / p)
        for p in (
            "quality",
            "rejected/quality",
            "stats/quality.json",
            "dedup",
            "reports/dedup",
            "stats/dedup.json",
            "_state/quality",
            "_state/dedup",
        )
    }
    assert {p: p.stat().st_mtime_ns for p in (output / "langid").iterdir()} == langid_files
    assert "gopher_quality.word_count" in stats(output, "quality")["dropped"]  # the new parameter applied
    unknown = curate_in_process("run", str(pipeline), "--redo", "qualty", check=False)
    assert unknown.returncode == 2 and "no stage named 'qualty'" in unknown.stderr


def test_export_chooses_columns_and_its_card_lists_the_thresholds(jsonl_run, tmp_path):
    import pyarrow.parquet as pq

    result = curate_in_process("export", str(jsonl_run / "dedup"), str(tmp_path / "all"))
    card = (tmp_path / "all" / "README.md").read_text()
    written = pq.read_schema(next((tmp_path / "all" / "data").iterdir())).names
    assert (
        "warc_date" not in written and "repository" not in written and "language_score" in written
    )  # read-in web text
    assert "left out" in result.stdout and "`warc_date`" in card.split("Left out as empty", 1)[1]
    assert (
        "- `quality` (quality): " in card
        and "gopher_quality.word_count >= 50" in card
        and "- `langid` (langid): languages en" in card
    )
    links = re.findall(r"\]\(([^)]+)\)", card)
    assert links and all((tmp_path / "all" / link).is_file() for link in links)  # only files in the export

    curate_in_process("export", str(jsonl_run / "dedup"), str(tmp_path / "some"), "--columns", "id,text,url,warc_date")
    assert pq.read_schema(next((tmp_path / "some" / "data").iterdir())).names == [
        "id",
        "text",
        "url",
        "warc_date",
    ]  # named: kept
    curate_in_process(
        "export",
        str(jsonl_run / "dedup"),
        str(tmp_path / "less"),
        "--drop-columns",
        "url,language_score",
        "--keep-empty-columns",
    )
    kept = pq.read_schema(next((tmp_path / "less" / "data").iterdir())).names
    assert "url" not in kept and "language_score" not in kept and "warc_date" in kept
    typo = curate_in_process(
        "export", str(jsonl_run / "dedup"), str(tmp_path / "typo"), "--columns", "id,txt", check=False
    )
    assert typo.returncode == 2 and "did you mean 'text'?" in typo.stderr


def test_sample_typos_list_what_there_is(jsonl_run):
    rejected = str(jsonl_run / "rejected" / "quality")
    reasons = stats(jsonl_run, "quality")["dropped"]
    typo = curate_in_process("sample", rejected, "--reason", "gopher_qualty", check=False)
    assert typo.returncode == 2 and "did you mean 'gopher_quality'?" in typo.stderr
    assert all(
        f"{reason} ({count:,})" in typo.stderr for reason, count in reasons.items()
    )  # every reason there, counted
    assert "no document" not in curate_in_process("sample", rejected, "--reason", "gopher_quality", "-n", "1").stderr
    where = curate_in_process("sample", rejected, "--where", "gopher_wordcount < 80", check=False)
    assert (
        where.returncode == 2
        and "no column gopher_wordcount" in where.stderr
        and "did you mean 'gopher_word_count'?" in where.stderr
    )


def test_more_workers_than_shards_is_said(dolma, tmp_path):
    pipeline = write_pipeline(tmp_path, "two", input=str(dolma), reader=DOLMA_READER, stages=[{"stage": "quality"}])
    result = curate_in_process("run", str(pipeline), "--no-progress", "--workers", "2")
    assert (
        "read+quality: 1 shard(s) for 2 workers, so 1 of them wait; a smaller shard_bytes under reader:"
        in result.stdout
    )


def test_report_draws_yes_no_signals_as_two_bars_and_keeps_axis_labels_inside(jsonl_run):
    curate_in_process("report", str(jsonl_run))
    page = (jsonl_run / "report" / "index.html").read_text()
    chart = lambda column: page.split(f'id="signal-quality-{column.replace("_", "-")}"', 1)[1].split("</svg>", 1)[0]
    curly = chart("c4_curly_bracket")  # 0 or 1 per document
    assert x_labels(curly) == ["0", "1"] and "c4.curly_bracket &lt;= 0" in curly  # a bar per value, not one bar
    words = chart("gopher_word_count")
    width = float(re.search(r'<svg class="chart"[^>]* viewBox="0 0 ([\d.]+) ', words).group(1))
    last = max(float(x) for x in re.findall(r'text-anchor: middle"[^>]* x="([\d.]+)"', words))
    assert len(x_labels(words)) > 2 and last + 12 <= width  # the last label (about 24 px wide) ends inside the chart


def x_labels(chart: str) -> list[str]:
    """The x axis's tick labels of a matplotlib SVG chart (centred under their ticks)."""
    return re.findall(r'text-anchor: middle"[^>]*>([^<]+)</text>', chart)


def test_report_on_jsonl_output_without_urls(dolma, tmp_path):
    """JSON lines leave a column that is null in every row untyped: the report reads it all the same."""
    pipeline = write_pipeline(
        tmp_path,
        "nourl",
        input=str(dolma),
        output_format="jsonl.gz",
        reader={"source": "books"},
        stages=[{"stage": "quality"}],
    )
    curate_in_process("run", str(pipeline), "--no-progress")
    assert headline(tmp_path / "nourl").startswith("30 documents in")
