"""`curate sample`: documents of a real web run, filtered by drop reason and column conditions, in the terminal."""

from __future__ import annotations

import re

import pyarrow.compute as pc
import pytest

from conftest import curate_in_process, read_rejected, read_stage, run_curate

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: one `curate demo` run (conftest curate_demo) with test_demo
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]


@pytest.fixture(scope="module")
def web(curate_demo):
    """The shared demo's web run (conftest): `curate run pipelines/web.yaml` on ../shared/data's WARCs and pages."""
    return curate_demo[0] / "web"


def printed(stdout: str) -> list[dict]:
    """Each printed document's header fields."""
    docs = []
    for block in re.split(r"^=+$", stdout, flags=re.M)[1:]:
        header = re.search(r"\[(\d+)/(\d+) of ([\d,]+) matching\] id (\S+)", block)
        fields = dict(re.findall(r"^  (\w+): (.*)$", re.split(r"^-+$", block, flags=re.M)[0], re.M))
        docs.append({"total": int(header.group(3).replace(",", "")), "id": header.group(4), **fields})
    return docs


def test_rejected_documents_by_reason_and_condition(web):
    result = run_curate(
        "sample",
        str(web / "rejected" / "quality"),
        "--reason",
        "gopher_quality",
        "--where",
        "gopher_word_count < 80",
        "-n",
        "3",
    )
    rejected = read_rejected(web, "quality")
    matching = rejected.filter(
        pc.and_(pc.starts_with(rejected["reason"], "gopher_quality."), pc.less(rejected["gopher_word_count"], 80))
    )
    docs = printed(result.stdout)
    assert len(docs) == min(3, matching.num_rows) > 0
    assert {d["total"] for d in docs} == {matching.num_rows}
    assert [d["id"] for d in docs] == matching["id"].to_pylist()[:3]  # the first matches, in file order
    for d in docs:
        assert d["reason"].startswith("gopher_quality.") and float(d["gopher_word_count"]) < 80


def test_kept_documents_at_random_with_a_seed(web):
    args = (
        "sample",
        str(web / "pii"),
        "-n",
        "4",
        "--seed",
        "7",
        "--where",
        "language == 'en' and gopher_word_count >= 100",
        "--chars",
        "80",
    )
    # in this process (the real command line: test_rejected_documents_by_reason_and_condition)
    first, again = curate_in_process(*args).stdout, curate_in_process(*args).stdout
    assert first == again
    kept = read_stage(web, "pii")
    ids = set(kept.filter(pc.greater_equal(kept["gopher_word_count"], 100))["id"].to_pylist())
    docs = printed(first)
    assert len(docs) == 4 and all(d["id"] in ids and d["language"] == "en" for d in docs)
    assert "more characters]" in first  # texts are cut to --chars


def test_mistakes_are_named(web, tmp_path):
    result = curate_in_process("sample", str(web / "pii"), "--where", "gopher_wordcount < 3", check=False)
    assert result.returncode == 2 and "no column gopher_wordcount" in result.stderr
    result = curate_in_process("sample", str(web / "pii"), "--where", "gopher_word_count <<< 3", check=False)
    assert result.returncode == 2 and "cannot read 'gopher_word_count <<< 3'" in result.stderr
    result = curate_in_process("sample", str(web / "pii"), "--reason", "x", check=False)
    assert result.returncode == 2 and "no reason column" in result.stderr
    result = curate_in_process("sample", str(tmp_path), check=False)
    assert result.returncode == 2 and "no Parquet files" in result.stderr
