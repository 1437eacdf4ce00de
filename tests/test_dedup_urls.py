"""URL dedup (`urls: true` of the dedup stage): real repeated captures in the dolma WARC sample,
URL spellings of one page, and the tie rules when there is no capture date."""

from __future__ import annotations

import json

import pytest

from conftest import read_rejected, read_stage
from curate.api import Pipeline, Stage
from curate.core.schema import doc_id
from curate.dedup.urls import normalize_url
from test_dedup_stage import run_dedup, sorted_rows, write_input

from bench import dedup_corpus


@pytest.mark.slow
def test_the_latest_capture_of_a_real_page_is_kept(shared_data, tmp_path):
    Pipeline.of(
        str(shared_data / "web" / "warc"), str(tmp_path), [Stage("extract", source="web"), Stage("dedup", urls=True)]
    ).run()
    kept, rejected = read_stage(tmp_path, "dedup"), read_rejected(tmp_path, "dedup")
    captures = [r for r in kept.to_pylist() + rejected.to_pylist() if r["url"] == "https://allenai.org/"]
    assert len(captures) == 3 and len({r["warc_date"] for r in captures}) == 3
    latest = max(captures, key=lambda r: r["warc_date"])
    assert latest["id"] in kept["id"].to_pylist()
    dropped = [r for r in rejected.to_pylist() if r["url"] == "https://allenai.org/"]
    assert {(r["reason"], r["duplicate_of"]) for r in dropped} == {("url_duplicate", latest["id"])} and len(
        dropped
    ) == 2
    removed = json.loads((tmp_path / "reports" / "dedup" / "summary.json").read_text())["removed"]
    assert removed["url_duplicate"] == {"docs": 2, "bytes": sum(len(r["text"].encode()) for r in dropped)}
    assert removed["exact_duplicate"]["docs"] == 0  # the dropped captures took no part in content dedup


def test_url_spellings_of_one_page_are_one_key():
    page = "example.org/news/article?id=7"
    for spelling in [
        "https://www.example.org/news/article/?id=7",
        "http://example.org/news/article?id=7#comments",
        "https://EXAMPLE.org:443/news/article?utm_source=x&id=7&fbclid=abc",
        "https://www.example.org/news/article?id=7&utm_medium=mail&gclid=1",
    ]:
        assert normalize_url(spelling) == page, spelling
    assert normalize_url("https://example.org/News/Article?id=7") != page  # paths keep their case
    assert normalize_url("https://example.org/news/article?id=8") != page  # content parameters stay
    assert normalize_url("https://example.org:8080/a") == "example.org:8080/a"
    assert normalize_url("https://example.org/?b=2&a=1") == normalize_url("https://example.org?a=1&b=2")
    for bad in (None, "", "   "):
        assert normalize_url(bad) is None
    assert normalize_url("http://[broken") == "http://[broken"  # compared as written, never an error


@pytest.fixture(scope="module")
def undated(shared_data, tmp_path_factory):
    """Real CCNet documents under URL spellings, without capture dates; bad input too."""
    tmp = tmp_path_factory.mktemp("urls")
    texts = dedup_corpus.web_texts(shared_data)[:12]
    rows = []
    for i, text in enumerate(texts):
        rows.append(
            {"id": doc_id("web", f"a/{i}"), "source": "web", "text": text, "url": f"https://site.example/p/{i}"}
        )
        if i % 2 == 0:  # a recrawl cut short, and a copy under a tracking link
            rows.append(
                {
                    "id": doc_id("web", f"b/{i}"),
                    "source": "web",
                    "text": text[: len(text) * 2 // 3],
                    "url": f"http://www.site.example/p/{i}/#top",
                }
            )
            rows.append(
                {
                    "id": doc_id("web", f"c/{i}"),
                    "source": "web",
                    "text": text,
                    "url": f"https://site.example/p/{i}?utm_campaign=z",
                }
            )
    big = (shared_data / "books" / "en_moby_dick_pg2701.txt").read_text(encoding="utf-8-sig").replace("\n", " ")
    rows += [
        {"id": "empty", "source": "web", "text": "", "url": "https://site.example/empty"},
        {"id": "empty-again", "source": "web", "text": "", "url": "https://site.example/empty/"},
        {"id": "no-url", "source": "web", "text": texts[0], "url": None},
        {"id": "ten-mb-line", "source": "books", "text": (big * 9)[:10_000_000], "url": "https://site.example/book"},
    ]
    folder = write_input(rows, tmp / "in", shards=3)
    params = "    urls: true\n    fuzzy: false\n"
    return rows, run_dedup(tmp, folder, 1, params, "one"), run_dedup(tmp, folder, 2, params, "two")


@pytest.mark.slow
def test_without_dates_the_longest_text_then_the_lowest_id_is_kept(undated):
    rows, out, _ = undated
    rejected = {r["id"]: r for r in read_rejected(out, "dedup").to_pylist()}
    for i in range(0, 12, 2):
        a, b, c = (doc_id("web", f"{k}/{i}") for k in "abc")
        full = min(a, c)  # a and c hold the whole text: the lower id of the two is kept
        assert rejected[b]["reason"] == "url_duplicate" and rejected[b]["duplicate_of"] == full
        assert rejected[max(a, c)]["reason"] == "url_duplicate" and rejected[max(a, c)]["duplicate_of"] == full
        assert full not in rejected
    assert rejected["empty-again"]["reason"] == "url_duplicate" and rejected["empty-again"]["duplicate_of"] == "empty"
    # no-url repeats a kept text: content dedup still sees it, URL dedup does not
    assert rejected["no-url"]["reason"] == "exact_duplicate"
    kept = read_stage(out, "dedup")["id"].to_pylist()
    assert "ten-mb-line" in kept and "empty" in kept
    assert len(kept) + len(rejected) == len(rows)


@pytest.mark.slow
def test_url_dedup_is_the_same_for_any_number_of_workers(undated):
    _, one, two = undated
    assert sorted_rows(read_stage(one, "dedup")) == sorted_rows(read_stage(two, "dedup"))
    assert sorted_rows(read_rejected(one, "dedup")) == sorted_rows(read_rejected(two, "dedup"))
