"""Web extraction on the real WARC files and HTML pages in ../shared/data."""
from __future__ import annotations

import io
import re

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from extract_fixtures import extract


@pytest.fixture(scope="module")
def web(shared_data, tmp_path_factory):
    """The shared WARCs and HTML pages through the extract stage, once for this module."""
    folder = tmp_path_factory.mktemp("web")
    kept, rejected = extract(folder, "web", [shared_data / "web" / "warc", shared_data / "web" / "html"], files_per_shard=40)
    return {"kept": kept, "rejected": rejected, "by_url": {r["url"]: r for r in kept if r["url"]},
            "by_file": {r["path"].rsplit("/", 1)[-1]: r for r in kept if r["path"].endswith(".html")}, "folder": folder}


def from_file(rows, name):
    return [r for r in rows if r["path"].endswith(name)]


def test_every_html_response_of_the_warc_files_becomes_a_document(web):
    kept = web["kept"]
    # dolma: 37 HTML responses among request/metadata/resource records; resiliparse: 16 hosts;
    # warcio: one response (its revisit record has no payload and is no document)
    assert len(from_file(kept, "dolma_sample-0000.warc.gz")) + len(from_file(kept, "dolma_sample-0001.warc.gz")) == 37
    assert len(from_file(kept, "resiliparse_warcfile.warc.gz")) == 16
    assert [r["url"] for r in from_file(kept, "warcio_example.warc.gz")] == ["http://example.com/"]
    warc_rows = [r for r in kept if ".warc" in r["path"]]
    assert all(r["content_type"].startswith("text/html") for r in warc_rows)
    assert all(re.match(r"20\d\d-\d\d-\d\dT", r["warc_date"]) for r in warc_rows)
    assert all(r["warc_record_id"].startswith("<urn:uuid:") for r in warc_rows)
    assert len({r["id"] for r in kept}) == len(kept)


def test_main_text_is_extracted_without_boilerplate(web):
    soldaini = web["by_url"]["https://soldaini.net/"]["text"]
    assert "My name is Luca Soldaini" in soldaini and "<div" not in soldaini
    assert "illustrative examples" in web["by_url"]["http://example.com/"]["text"]
    python = web["by_file"]["blog.python.org.html"]
    assert python["url"] == "http://blog.python.org/2016/12/python-360-is-now-available.html"  # from <link rel=canonical>
    assert "Python 3.6.0" in python["text"]


def test_non_utf8_pages_are_decoded_by_their_declared_charset(web):
    russian = web["by_url"]["http://01spb.ru/company/"]  # HTTP header: windows-1251
    assert russian["charset"] == "cp1251" and "О компании" in russian["text"]
    chinese = web["by_url"]["http://0760.jxtdw.com/area/sanxiang/"]  # declared gb2312, read as its superset gb18030 (what browsers do)
    assert chinese["charset"] == "gb18030" and "职位名称" in chinese["text"]
    german = web["by_file"]["cdu-fraktion-erfurt.de.waldorfschule.html"]  # <meta charset=iso-8859-1>
    assert german["charset"] == "cp1252" and "Erhöhung" in german["text"] and "\ufffd" not in german["text"]


def test_all_110_html_pages_are_kept_with_their_file_as_location(web):
    pages = [r for r in web["kept"] if r["path"].endswith(".html")]
    assert len(pages) == 110
    assert sum(r["url"] is not None for r in pages) > 80  # canonical / og:url where the page has one


def test_the_clipped_record_is_rejected_naming_the_file(web):
    clipped = from_file(web["rejected"], "resiliparse_clipped.warc.gz")
    assert [r["reason"] for r in clipped] == ["truncated_record"]
    assert "resiliparse_clipped.warc.gz" in clipped[0]["detail"] and "offset 0" in clipped[0]["detail"]
    assert clipped[0]["url"].startswith("http://www.houstonpress.com/")


def test_ids_are_stable_across_runs(web, shared_data):
    kept, _ = extract(web["folder"], "web", [shared_data / "web" / "warc"], name="again")
    first = {r["id"]: r["text"] for r in web["kept"] if ".warc" in r["path"]}
    assert {r["id"]: r["text"] for r in kept} == first


def test_inputs_may_be_fsspec_urls(shared_data, tmp_path):
    kept, _ = extract(tmp_path, "web", [f"file://{shared_data / 'web' / 'warc' / 'warcio_example.warc.gz'}"])
    assert [r["url"] for r in kept] == ["http://example.com/"]
    assert kept[0]["path"].startswith("file://")


def write_warc(path, records):
    """records: (record type, url, http headers or None, payload bytes, content type)."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for rec_type, url, http_headers, payload, content_type in records:
            headers = StatusAndHeaders("200 OK", http_headers, protocol="HTTP/1.1") if http_headers else None
            writer.write_record(writer.create_warc_record(url, rec_type, payload=io.BytesIO(payload),
                                                          http_headers=headers, warc_content_type=content_type))


def test_wet_conversion_records_keep_their_text(tmp_path):
    text = "Vor dem Gesetz steht ein Türhüter. Zu diesem Türhüter kommt ein Mann vom Lande.\n"
    write_warc(tmp_path / "sample.warc.wet.gz", [("conversion", "http://example.org/kafka", None, text.encode(), "text/plain")])
    (tmp_path / "sample.warc.wet.gz").rename(tmp_path / "sample.wet.gz")
    kept, rejected = extract(tmp_path, "web", [tmp_path / "sample.wet.gz"])
    assert [(r["url"], r["text"]) for r in kept] == [("http://example.org/kafka", text)] and not rejected


def test_wrongly_declared_charsets_still_decode(shared_data, tmp_path):
    """A UTF-8 page whose HTTP header says iso-8859-1, and a windows-1252 page whose header says utf-8."""
    page = (shared_data / "web" / "html" / "trafilatura_cache" / "cdu-fraktion-erfurt.de.waldorfschule.html").read_bytes()
    as_utf8 = page.decode("cp1252").encode("utf-8")
    write_warc(tmp_path / "wrong.warc.gz", [
        ("response", "http://example.org/utf8", [("Content-Type", "text/html; charset=iso-8859-1")], as_utf8, None),
        ("response", "http://example.org/cp1252", [("Content-Type", "text/html; charset=utf-8")], page, None),
        ("request", "http://example.org/utf8", [("Accept", "*/*")], b"", None),
        ("response", "http://example.org/logo.png", [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n\x00\x00", None),
    ])
    kept, rejected = extract(tmp_path, "web", [tmp_path / "wrong.warc.gz"])
    by_url = {r["url"]: r for r in kept}
    assert by_url["http://example.org/utf8"]["charset"] == "utf-8"
    assert by_url["http://example.org/cp1252"]["charset"] != "utf-8"
    for row in by_url.values():
        assert "Erhöhung" in row["text"] and "\ufffd" not in row["text"] and "Ã" not in row["text"]
    assert [(r["url"], r["reason"]) for r in rejected] == [("http://example.org/logo.png", "not_html")]
