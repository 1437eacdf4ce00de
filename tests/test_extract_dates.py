"""The `publication_date` column: the publication date real pages state in their markup (curate/extract/dates.py)."""

from __future__ import annotations

import io

import pytest
from htmldate import find_date
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.extract.dates import publication_date
from curate.extract.web import HEAD_BYTES, canonical_url, decode_page
from extract_fixtures import extract


@pytest.fixture(scope="module")
def pages(shared_data):
    folder = shared_data / "web" / "html" / "trafilatura_cache"
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.htm*"))}


def write_warc(path, records, warc_date):
    """records: (url, HTML bytes), captured at warc_date."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, payload in records:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=headers,
                    warc_headers_dict={"WARC-Date": warc_date},
                )
            )


@pytest.mark.slow
def test_each_kind_of_date_markup_gives_the_date_column(pages, tmp_path):
    expected = {
        "https://www.basicthinking.de/blog/2018/12/05/erfolgreiche-tweets/": (
            "basicthinking.de.tweets.html",
            "2018-12-05",
        ),  # URL
        "https://www.brigitte.de/ikigai/": (
            "brigitte.de.ikigai.html",
            "2019-06-19",
        ),  # <meta property=article:published_time>
        "https://www.mercurynews.com/letters-1119/": (
            "mercurynews.com.2023.01.16.letters-1119.html",
            "2023-01-17",
        ),  # JSON-LD
        "https://www.rnz.de/witzel/": ("rnz.de.witzel.html", "2019-05-07"),  # <meta itemprop=dateCreated> in the body
        "https://www.sueddeutsche.de/flixtrain/": ("sueddeutsche.de.flixtrain.html", "2019-05-15"),  # <time datetime>
        "https://www.faz.net/streaming/": ("faz.net.streaming.html", "2020-01-28"),  # 'Tue Jan 28 15:28:56 CET 2020'
        "https://www.stuttgart.de/": (
            "stuttgart.de.html",
            None,
        ),  # no date in the markup: null, not a guess from the text
    }
    write_warc(
        tmp_path / "pages.warc.gz", [(url, pages[name]) for url, (name, _) in expected.items()], "2026-01-01T00:00:00Z"
    )
    kept, rejected = extract(tmp_path, "web", [tmp_path / "pages.warc.gz"])
    assert not rejected
    assert {row["url"]: row["publication_date"] for row in kept} == {url: day for url, (_, day) in expected.items()}


def test_a_date_after_the_capture_is_not_a_publication_date(pages):
    html = decode_page({}, pages["sueddeutsche.de.flixtrain.html"], None)
    assert publication_date(html, None, "2019-06-19T23:00:00Z") == "2019-05-15"
    assert publication_date(html, None, "2019-01-01T00:00:00Z") is None  # its only dates are later than the crawl


def test_dates_agree_with_htmldate_where_both_find_one(pages):
    """htmldate (trafilatura's date extractor, fast mode, original date) reads the same markup
    and then guesses from the text too; where both answer, the answers should match."""
    ours, theirs = {}, {}
    for name, body in pages.items():
        html = decode_page({}, body, None)
        url = canonical_url(html[:HEAD_BYTES])
        ours[name] = publication_date(html, url)
        theirs[name] = find_date(html, url=url, extensive_search=False, original_date=True)
    both = [name for name in pages if ours[name] and theirs[name]]
    assert len(both) >= 60  # of 110 pages
    assert sum(ours[name] == theirs[name] for name in both) >= 0.9 * len(both)
    assert all(day is None or len(day) == 10 and day[4] == day[7] == "-" for day in ours.values())
