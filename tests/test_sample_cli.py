"""`curate sample`: documents of a real web run, filtered by drop reason and column conditions, in the terminal."""
from __future__ import annotations

import re

import pyarrow.compute as pc
import pytest

from conftest import read_rejected, read_stage, run_curate


@pytest.fixture(scope="module")
def web(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "web"
    run_curate("run", "pipelines/web.yaml", "--input", str(shared_data / "web" / "warc"), "--input", str(shared_data / "web" / "html"),
               "--output", str(out), "--no-progress")
    return out


def printed(stdout: str) -> list[dict]:
    """Each printed document's header fields."""
    docs = []
    for block in re.split(r"^=+$", stdout, flags=re.M)[1:]:
        header = re.search(r"\[(\d+)/(\d+) of ([\d,]+) matching\] id (\S+)", block)
        fields = dict(re.findall(r"^  (\w+): (.*)$", re.split(r"^-+$", block, flags=re.M)[0], re.M))
        docs.append({"total": int(header.group(3).replace(",", "")), "id": header.group(4), **fields})
    return docs


def test_rejected_documents_by_reason_and_condition(web):
    result = run_curate("sample", str(web / "rejected" / "quality"), "--reason", "gopher_quality", "--where", "gopher_word_count < 80", "-n", "3")
    rejected = read_rejected(web, "quality")
    matching = rejected.filter(pc.and_(pc.starts_with(rejected["reason"], "gopher_quality."), pc.less(rejected["gopher_word_count"], 80)))
    docs = printed(result.stdout)
    assert len(docs) == min(3, matching.num_rows) > 0
    assert {d["total"] for d in docs} == {matching.num_rows}
    assert [d["id"] for d in docs] == matching["id"].to_pylist()[:3]  # the first matches, in file order
    for d in docs:
        assert d["reason"].startswith("gopher_quality.") and float(d["gopher_word_count"]) < 80


def test_kept_documents_at_random_with_a_seed(web):
    args = ("sample", str(web / "pii"), "-n", "4", "--seed", "7", "--where", "language == 'en' and gopher_word_count >= 100", "--chars", "80")
    first, again = run_curate(*args).stdout, run_curate(*args).stdout
    assert first == again
    kept = read_stage(web, "pii")
    ids = set(kept.filter(pc.greater_equal(kept["gopher_word_count"], 100))["id"].to_pylist())
    docs = printed(first)
    assert len(docs) == 4 and all(d["id"] in ids and d["language"] == "en" for d in docs)
    assert "more characters]" in first  # texts are cut to --chars


def test_mistakes_are_named(web, tmp_path):
    result = run_curate("sample", str(web / "pii"), "--where", "gopher_wordcount < 3", check=False)
    assert result.returncode == 2 and "no column gopher_wordcount" in result.stderr
    result = run_curate("sample", str(web / "pii"), "--where", "gopher_word_count <<< 3", check=False)
    assert result.returncode == 2 and "cannot read 'gopher_word_count <<< 3'" in result.stderr
    result = run_curate("sample", str(web / "pii"), "--reason", "x", check=False)
    assert result.returncode == 2 and "no reason column" in result.stderr
    result = run_curate("sample", str(tmp_path), check=False)
    assert result.returncode == 2 and "no Parquet files" in result.stderr
