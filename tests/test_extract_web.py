"""Web extraction on the real WARC files and HTML pages in ../shared/data."""

from __future__ import annotations

import gzip
import io
import os
import re
import signal
import threading
import zlib

import lxml.html
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.extract.web import extract_page
from curate.extract.decode import decode_bytes
from curate.extract.engines_watchdog import WATCHDOG
from curate.extract.stage import ExtractParams
from extract_fixtures import extract


@pytest.fixture(scope="module")
def web(shared_data, tmp_path_factory):
    """The shared WARCs and HTML pages through the extract stage, once for this module."""
    folder = tmp_path_factory.mktemp("web")
    kept, rejected = extract(
        folder, "web", [shared_data / "web" / "warc", shared_data / "web" / "html"], files_per_shard=40
    )
    return {
        "kept": kept,
        "rejected": rejected,
        "by_url": {r["url"]: r for r in kept if r["url"]},
        "by_file": {r["path"].rsplit("/", 1)[-1]: r for r in kept if r["path"].endswith(".html")},
        "folder": folder,
    }


def from_file(rows, name):
    return [r for r in rows if r["path"].endswith(name)]


@pytest.mark.slow
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


@pytest.mark.slow
def test_main_text_is_extracted_without_boilerplate(web):
    soldaini = web["by_url"]["https://soldaini.net/"]["text"]
    assert "My name is Luca Soldaini" in soldaini and "<div" not in soldaini
    assert "illustrative examples" in web["by_url"]["http://example.com/"]["text"]
    python = web["by_file"]["blog.python.org.html"]
    assert (
        python["url"] == "http://blog.python.org/2016/12/python-360-is-now-available.html"
    )  # from <link rel=canonical>
    assert "Python 3.6.0" in python["text"]


@pytest.mark.slow
def test_non_utf8_pages_are_decoded_by_their_declared_charset(web):
    russian = web["by_url"]["http://01spb.ru/company/"]  # HTTP header: windows-1251
    assert russian["charset"] == "cp1251" and "О компании" in russian["text"]
    chinese = web["by_url"][
        "http://0760.jxtdw.com/area/sanxiang/"
    ]  # declared gb2312, read as its superset gb18030 (what browsers do)
    assert chinese["charset"] == "gb18030" and "职位名称" in chinese["text"]
    german = web["by_file"]["cdu-fraktion-erfurt.de.waldorfschule.html"]  # <meta charset=iso-8859-1>
    assert german["charset"] == "cp1252" and "Erhöhung" in german["text"] and "\ufffd" not in german["text"]


@pytest.mark.slow
def test_all_110_html_pages_are_kept_with_their_file_as_location(web):
    pages = [r for r in web["kept"] if r["path"].endswith(".html")]
    assert len(pages) == 110
    assert sum(r["url"] is not None for r in pages) > 80  # canonical / og:url where the page has one


@pytest.mark.slow
def test_the_clipped_record_is_rejected_naming_the_file(web):
    clipped = from_file(web["rejected"], "resiliparse_clipped.warc.gz")
    assert [r["reason"] for r in clipped] == ["truncated_record"]
    assert "resiliparse_clipped.warc.gz" in clipped[0]["detail"] and "offset 0" in clipped[0]["detail"]
    assert clipped[0]["url"].startswith("http://www.houstonpress.com/")


@pytest.mark.slow
def test_ids_are_stable_across_runs(web, shared_data):
    kept, _ = extract(web["folder"], "web", [shared_data / "web" / "warc"], name="again")
    first = {r["id"]: r["text"] for r in web["kept"] if ".warc" in r["path"]}
    assert {r["id"]: r["text"] for r in kept} == first


@pytest.mark.slow
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
            writer.write_record(
                writer.create_warc_record(
                    url, rec_type, payload=io.BytesIO(payload), http_headers=headers, warc_content_type=content_type
                )
            )


@pytest.mark.slow
def test_wet_conversion_records_keep_their_text(tmp_path):
    text = "Vor dem Gesetz steht ein Türhüter. Zu diesem Türhüter kommt ein Mann vom Lande.\n"
    write_warc(
        tmp_path / "sample.warc.wet.gz", [("conversion", "http://example.org/kafka", None, text.encode(), "text/plain")]
    )
    (tmp_path / "sample.warc.wet.gz").rename(tmp_path / "sample.wet.gz")
    kept, rejected = extract(tmp_path, "web", [tmp_path / "sample.wet.gz"])
    assert [(r["url"], r["text"]) for r in kept] == [("http://example.org/kafka", text)] and not rejected


@pytest.mark.slow
def test_wrongly_declared_charsets_still_decode(shared_data, tmp_path):
    """A UTF-8 page whose HTTP header says iso-8859-1, and a windows-1252 page whose header says utf-8."""
    page = (
        shared_data / "web" / "html" / "trafilatura_cache" / "cdu-fraktion-erfurt.de.waldorfschule.html"
    ).read_bytes()
    as_utf8 = page.decode("cp1252").encode("utf-8")
    write_warc(
        tmp_path / "wrong.warc.gz",
        [
            ("response", "http://example.org/utf8", [("Content-Type", "text/html; charset=iso-8859-1")], as_utf8, None),
            ("response", "http://example.org/cp1252", [("Content-Type", "text/html; charset=utf-8")], page, None),
            ("request", "http://example.org/utf8", [("Accept", "*/*")], b"", None),
            (
                "response",
                "http://example.org/logo.png",
                [("Content-Type", "image/png")],
                b"\x89PNG\r\n\x1a\n\x00\x00",
                None,
            ),
        ],
    )
    kept, rejected = extract(tmp_path, "web", [tmp_path / "wrong.warc.gz"])
    by_url = {r["url"]: r for r in kept}
    assert by_url["http://example.org/utf8"]["charset"] == "utf-8"
    assert by_url["http://example.org/cp1252"]["charset"] != "utf-8"
    for row in by_url.values():
        assert "Erhöhung" in row["text"] and "\ufffd" not in row["text"] and "Ã" not in row["text"]
    assert [(r["url"], r["reason"]) for r in rejected] == [("http://example.org/logo.png", "not_html")]


def shared_response(shared_data, warc_name, url_part):
    """(http headers, payload) of the first response in a shared WARC whose URL contains url_part."""
    with open(shared_data / "web" / "warc" / warc_name, "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response" and url_part in record.rec_headers.get_header("WARC-Target-URI"):
                return record.http_headers.headers, record.content_stream().read()
    raise AssertionError(f"no response for {url_part} in {warc_name}")


@pytest.mark.slow
def test_utf8_pages_with_stray_bytes_stay_utf8(shared_data, tmp_path):
    """Detection read such pages as cp1250 (every umlaut garbled); browsers show UTF-8 with U+FFFD."""
    page = (shared_data / "web" / "html" / "trafilatura_cache" / "die-partei.net.luebeck.html").read_bytes()
    stray = page.replace(b"</head>", b"\xe9</head>", 1).replace(b"</body>", b"\x96</body>", 1)  # cp1252 bytes pasted in
    (tmp_path / "stray.html").write_bytes(stray)  # <meta charset=UTF-8>, no HTTP header
    write_warc(
        tmp_path / "stray.warc.gz",
        [
            ("response", "http://example.org/stray", [("Content-Type", "text/html; charset=utf-8")], stray, None),
            (
                "response",
                "http://example.org/undeclared",
                [("Content-Type", "text/html")],
                stray.replace(b"charset=UTF-8", b""),
                None,
            ),
        ],
    )
    kept, rejected = extract(tmp_path, "web", [tmp_path])
    assert len(kept) == 3 and not rejected
    for row in kept:
        assert row["charset"] == "utf-8 (with replacements)"
        assert "Die GEMA dreht völlig am Zeiger!" in row["text"] and "Ã" not in row["text"]  # the gold snippet


@pytest.mark.slow
def test_legacy_cjk_labels_read_as_their_supersets(shared_data, tmp_path):
    headers, payload = shared_response(shared_data, "resiliparse_warcfile.warc.gz", "jxtdw.com")  # charset=gb2312
    widened = payload.replace(
        "职位名称".encode("gb2312"), "职位名称 鎔".encode("gb18030"), 1
    )  # a GBK character outside GB 2312
    write_warc(tmp_path / "gbk.warc.gz", [("response", "http://example.org/gbk", headers, widened, None)])
    [row], rejected = extract(tmp_path, "web", [tmp_path / "gbk.warc.gz"])
    assert row["charset"] == "gb18030" and "职位名称 鎔" in row["text"] and not rejected
    assert decode_bytes("①の説明".encode("cp932"), "shift_jis") == (
        "①の説明",
        "cp932",
    )  # NEC row 13, outside JIS X 0208
    assert decode_bytes("똠방각하".encode("cp949"), "euc-kr") == (
        "똠방각하",
        "cp949",
    )  # UHC syllables, outside KS X 1001


@pytest.mark.slow
def test_empty_extractions_say_why(tmp_path):
    (tmp_path / "login.html").write_text(
        "<html><head><title>Login</title><script>var a=1;</script></head>"
        "<body><img src=a.png><footer><a href=/imprint>Imprint</a></footer></body></html>"
    )
    (tmp_path / "status.html").write_text(
        "Service temporarily unavailable, please retry later."
    )  # plain text served as HTML
    _, rejected = extract(tmp_path, "web", [tmp_path])
    assert [(r["path"].rsplit("/", 1)[-1], r["reason"], r["detail"]) for r in rejected] == [
        ("login.html", "empty_extraction", "trafilatura: no main content found"),
        (
            "status.html",
            "empty_extraction",
            "trafilatura: parse error: no HTML document tree could be built (text without markup?)",
        ),
    ]


def slow_page(shared_data) -> str:
    """~15 MB of a real page's text lines in 60,000 blocks: trafilatura needs minutes for it
    (0.2 MB took 1 s on the dev VM, and the time grows faster than the size)."""
    page = (shared_data / "web" / "html" / "trafilatura_cache" / "blog.python.org.html").read_text()
    lines = [
        line.strip() for line in lxml.html.fromstring(page).body.text_content().splitlines() if len(line.strip()) > 40
    ]
    return (
        "<html><body>"
        + "".join(f"<div class='c{i}'><p>{lines[i % len(lines)]}</p></div>" for i in range(60_000))
        + "</body></html>"
    )


@pytest.mark.slow
def test_a_page_that_takes_too_long_is_stopped_and_the_file_goes_on(shared_data, tmp_path):
    """The watchdog stops it at the limit, whatever lxml is doing, and the next page of the
    same shard is extracted."""
    huge = slow_page(shared_data).encode()
    (tmp_path / "a_huge.html").write_bytes(huge)
    (tmp_path / "b_blog.html").write_bytes(
        (shared_data / "web" / "html" / "trafilatura_cache" / "blog.python.org.html").read_bytes()
    )
    # a limit above the page's size: this is about the time limit, not max_doc_bytes
    kept, rejected = extract(tmp_path, "web", [tmp_path], timeout_seconds=2, max_doc_bytes=len(huge))
    assert [r["path"].rsplit("/", 1)[-1] for r in kept] == ["b_blog.html"] and "Python 3.6.0" in kept[0]["text"]
    assert [(r["path"].rsplit("/", 1)[-1], r["reason"], r["detail"]) for r in rejected] == [
        ("a_huge.html", "extraction_timeout", "trafilatura: extraction took over 2 s (process stopped)")
    ]


def test_the_time_limit_holds_outside_the_main_thread(shared_data):
    """SIGALRM only ever worked in the main thread; the watchdog works from any thread."""
    huge, params, results = slow_page(shared_data), ExtractParams(source="web", timeout_seconds=1), []
    thread = threading.Thread(target=lambda: results.append(extract_page({"path": "huge.html"}, huge, params)))
    thread.start()
    thread.join(120)
    assert not thread.is_alive() and results[0].reason == "extraction_timeout"


def test_a_killed_extraction_process_is_replaced(shared_data):
    """The out-of-memory killer may end a worker's extraction process between pages."""
    page = (shared_data / "web" / "html" / "trafilatura_cache" / "blog.python.org.html").read_text()
    params = ExtractParams(source="web", deduplicate=False)
    first = extract_page({"path": "a.html"}, page, params)
    os.kill(WATCHDOG.process.pid, signal.SIGKILL)
    WATCHDOG.process.join()
    second = extract_page({"path": "b.html"}, page, params)
    assert "Python 3.6.0" in first["text"] and second["text"] == first["text"]


@pytest.mark.slow
def test_lz4_and_upper_case_warcs_read_like_the_gzip_one(shared_data, tmp_path):
    """FastWARC writes .warc.lz4 as one LZ4 frame per record; made here from a shared WARC."""
    lz4_frame = pytest.importorskip("lz4.frame", reason="lz4 is a dependency of curate (pyproject.toml)")
    source = shared_data / "web" / "warc" / "resiliparse_warcfile.warc.gz"
    records = [gzip.decompress(member) for member in gzip_members(source.read_bytes())]
    (tmp_path / "crawl.warc.lz4").write_bytes(b"".join(lz4_frame.compress(r) for r in records))
    (tmp_path / "CRAWL2.WARC.GZ").write_bytes(source.read_bytes())
    cut = b"".join(lz4_frame.compress(r) for r in records)
    (tmp_path / "cut.warc.lz4").write_bytes(cut[: len(cut) // 2])
    kept, rejected = extract(tmp_path, "web", [tmp_path])
    lz4_rows, upper_rows = from_file(kept, "crawl.warc.lz4"), from_file(kept, "CRAWL2.WARC.GZ")
    assert len(lz4_rows) == len(upper_rows) == 16
    assert sorted(r["text"] for r in lz4_rows) == sorted(r["text"] for r in upper_rows)
    assert 0 < len(from_file(kept, "cut.warc.lz4")) < 16
    assert [(r["path"].rsplit("/", 1)[-1], r["reason"]) for r in rejected] == [("cut.warc.lz4", "truncated_file")]


def gzip_members(data: bytes) -> list[bytes]:
    members = []
    while data:
        inflater = zlib.decompressobj(31)
        inflater.decompress(data)
        members.append(data[: len(data) - len(inflater.unused_data)])
        data = inflater.unused_data
    return members


@pytest.mark.slow
def test_arc_files_are_read_and_wat_files_rejected_with_a_reason(shared_data, tmp_path):
    page = (shared_data / "web" / "html" / "trafilatura_cache" / "blog.python.org.html").read_bytes()
    http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + page
    version = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [
        b"filedesc://crawl.arc 0.0.0.0 20050101000000 text/plain %d\n%s\n" % (len(version), version),
        b"http://blog.python.org/ 10.0.0.1 20161223120000 text/html %d\n%s\n" % (len(http), http),
    ]
    (tmp_path / "crawl.arc").write_bytes(b"".join(records))
    (tmp_path / "crawl.arc.gz").write_bytes(
        b"".join(map(gzip.compress, records))
    )  # a gzip member per record, as archives write them
    (tmp_path / "links.wat.gz").write_bytes(gzip.compress(b"WARC/1.0\r\nWARC-Type: metadata\r\n\r\n"))
    kept, rejected = extract(tmp_path, "web", [tmp_path])
    assert [(r["path"].rsplit("/", 1)[-1], r["url"], r["warc_date"]) for r in kept] == [
        ("crawl.arc", "http://blog.python.org/", "2016-12-23T12:00:00Z"),
        ("crawl.arc.gz", "http://blog.python.org/", "2016-12-23T12:00:00Z"),
    ]
    assert all("Python 3.6.0" in r["text"] for r in kept)
    assert [(r["path"].rsplit("/", 1)[-1], r["reason"]) for r in rejected] == [("links.wat.gz", "not_pages")]
    assert "WAT" in rejected[0]["detail"]


@pytest.mark.slow
def test_a_record_cut_inside_its_warc_header_is_a_truncated_file(shared_data, tmp_path):
    members = gzip_members((shared_data / "web" / "warc" / "warcio_example.warc.gz").read_bytes())
    second = gzip.decompress(members[1])
    (tmp_path / "cut_header.warc.gz").write_bytes(members[0] + gzip.compress(second[:150]))  # inside WARC-Record-ID..
    (tmp_path / "cut_header.warc").write_bytes(gzip.decompress(members[0]) + second[:150])
    kept, rejected = extract(tmp_path, "web", [tmp_path])
    assert not kept
    assert sorted((r["path"].rsplit("/", 1)[-1], r["reason"]) for r in rejected) == [
        ("cut_header.warc", "truncated_file"),
        ("cut_header.warc.gz", "truncated_file"),
    ]
    assert all("WARC header" in r["detail"] for r in rejected)


@pytest.mark.slow
def test_a_page_precision_mode_finds_nothing_on_gets_trafilaturas_balanced_text(web, shared_data):
    """trafilatura 2.x's precision mode returns nothing for this page (1.11 gave its text); the default engine
    asks the balanced mode once more, so the page is kept with the text 1.11 gave (docs/extraction.md)."""
    import trafilatura

    name = "lanouvellerepublique.fr.martin.html"
    html = decode_bytes((shared_data / "web" / "html" / "trafilatura_cache" / name).read_bytes())[0]
    assert trafilatura.extract(html, favor_precision=True, include_comments=False) is None
    assert web["by_file"][name]["text"] == trafilatura.extract(html, include_comments=False)
    assert web["by_file"][name]["text"].startswith("{{nrco.contentDetailController")
