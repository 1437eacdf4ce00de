"""Web pages: WARC crawls (.warc, .warc.gz, .warc.lz4, any case), WET files, ARC files
(.arc, .arc.gz) and folders of raw .html files.

WARC: every `response` record whose payload is HTML becomes a document (url =
WARC-Target-URI, warc_date = WARC-Date); other responses (images, robots.txt, PDFs)
are rejected as `not_html`. Records that are not pages at all (warcinfo, request,
metadata, resource, revisit) are skipped without a row: they hold no document.
WET: `conversion` records already hold extracted text; it is kept as is.
ARC: the records of the older Internet Archive format, read as WARC responses.
WAT files hold link and header metadata, no page: each is rejected as `not_pages`.
HTML files: the file is the document; url from <link rel=canonical> or og:url.
A link leading out of the input folder is rejected unread (`outside_input`), as books and
code do; an HTML file or WARC payload over max_doc_bytes is rejected as `too_large` after
reading at most the limit (a larger "page" is a data dump, and would cost the parser and
every later stage unbounded memory).

Bytes are decoded by the HTTP Content-Type charset, then <meta charset> /
http-equiv, with detection as the fallback (curate.extract.decode); the main text
comes from the configured engine (curate.extract.engines; by default trafilatura
with FineWeb's settings), under a time limit a watchdog process enforces. The page's
<title> and <html lang> are kept as `title` and `declared_language`, the publication date
the markup states as `publication_date` (curate.extract.dates).
A truncated file keeps every record read before the break, plus a rejection
naming the file and the offset where it broke.
"""

from __future__ import annotations

import html as html_entities
import re
from typing import Iterator

import fsspec
import lxml.html
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader

from curate.core import budget, storage
from curate.core.schema import doc_id
from curate.extract.dates import publication_date
from curate.extract.decode import decode_bytes
from curate.extract.engines import EngineOptions, extract_main_text, new_file
from curate.extract.engines_watchdog import WATCHDOG, ExtractionTimeout
from curate.extract.stage import Rejection, reject_file

WARC_SUFFIXES = (".warc", ".warc.gz", ".warc.lz4", ".wet", ".wet.gz", ".arc", ".arc.gz")
WAT_SUFFIXES = (".wat", ".wat.gz")
HTML_SUFFIXES = (".html", ".htm")
HTML_TYPES = ("text/html", "application/xhtml+xml")
HEAD_BYTES = 16_384  # where <meta charset>, <link rel=canonical>, <title> and <html lang> are looked for
META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
TAG = re.compile(r"<(link|meta)\b([^>]*)>", re.IGNORECASE)
ATTRIBUTE = re.compile(r"([\w:-]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)")
TITLE = re.compile(r"<title[^>]*>([^<]*)</title", re.IGNORECASE)
HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.IGNORECASE)


def list_inputs(urls: list[str], params) -> list[str]:
    suffixes = WARC_SUFFIXES + WAT_SUFFIXES + HTML_SUFFIXES
    # a trailing "/" marks a folder that could not be listed or a link to one: read() rejects it
    return [f for url in urls for f in storage.list_files(url) if f.lower().endswith(suffixes) or f.endswith("/")]


def read(url: str, params, root: str | None = None) -> Iterator[dict | Rejection]:
    problem = storage.input_problem(url, root or url)
    if problem:
        yield reject_file("web", url, *problem)
        return
    start_file(params)
    name = url.lower()
    if name.endswith(WAT_SUFFIXES):
        yield reject_file(
            "web",
            url,
            "not_pages",
            f"{url}: a WAT file holds link and header metadata, no page text; give the WARC or WET file",
        )
    elif name.endswith(WARC_SUFFIXES):
        yield from read_warc(url, params)
    else:
        yield from read_html_file(url, params)


# --- WARC / WET ---------------------------------------------------------------------------


class CheckedArchiveIterator(ArchiveIterator):
    """warcio ends quietly at a gzip stream cut mid-member; this notes it. (The check uses
    warcio's reader, which its close() discards: the last member's decompressor never
    saw its end-of-stream marker.)"""

    truncated = False

    def close(self):
        decompressor = self.reader.decompressor if self.reader is not None else None
        if decompressor is not None and hasattr(decompressor, "eof"):
            self.truncated = not decompressor.eof
        super().close()


def read_warc(url: str, params) -> Iterator[dict | Rejection]:
    offset, short_record, count = 0, False, 0
    is_arc = url.lower().endswith((".arc", ".arc.gz"))
    try:
        with open_archive(url) as f:  # warcio inflates per-record gzip members itself
            records = CheckedArchiveIterator(f, arc2warc=is_arc)
            for count, record in enumerate(records, 1):
                if record.format != "warc":  # warcio reads any text it cannot parse as a lenient ARC record
                    raise ValueError(f"not a WARC record (read as {record.format!r})")
                if not isinstance(record.raw_stream, LimitReader):  # no Content-Length: the header itself is cut
                    yield reject_file(
                        "web",
                        url,
                        "truncated_file",
                        f"{url}: the file ends inside the WARC header of the record after offset {offset}",
                    )
                    return
                item = warc_record(record, url, params)
                offset = records.get_record_offset()  # (reads the record to its end: only after the body)
                short_record = bool(record.raw_stream.limit)  # the file ended inside this record
                if short_record:
                    detail = f"{url}: record at offset {offset} is cut short by {record.raw_stream.limit} bytes (truncated file)"
                    row = item.row if isinstance(item, Rejection) else item or reject_file("web", url, "").row
                    yield Rejection({**row, "text": ""}, "truncated_record", detail)
                elif item is not None:
                    yield item
            if count == 0 and f.tell() == 0:
                yield reject_file("web", url, "empty_file", f"{url}: no content")
            elif records.truncated and not short_record:
                yield reject_file(
                    "web",
                    url,
                    "truncated_file",
                    f"{url}: gzip stream ends mid-member after the record at offset {offset}",
                )
    except FileNotFoundError as error:
        yield reject_file("web", url, "unreadable_file", f"{url}: {error}")
    except EOFError as error:  # lz4: the last frame has no end mark
        yield reject_file("web", url, "truncated_file", f"{url}: after the record at offset {offset}: {error}")
    except Exception as error:  # noqa: BLE001 - warcio raises many kinds on corrupt input
        yield reject_file(
            "web",
            url,
            "unreadable_record",
            f"{url}: after the record at offset {offset}: {type(error).__name__}: {error}",
        )


def open_archive(url: str):
    """The file as a stream of WARC bytes: warcio inflates gzip itself; LZ4 frames (FastWARC's
    .warc.lz4, one frame per record) are inflated here."""
    if url.lower().endswith(".lz4"):
        return fsspec.open(url, "rb", compression="lz4")
    return fsspec.open(url, "rb")


def warc_record(record, url: str, params) -> dict | Rejection | None:
    """A document or rejection for a page record; None for records that hold no page."""
    if record.rec_type not in ("response", "conversion"):
        return None
    headers = record.rec_headers
    record_id = headers.get_header("WARC-Record-ID")
    row = {
        "id": doc_id("web", record_id or f"{url}@{headers.get_header('WARC-Target-URI')}"),
        "source": "web",
        "path": url,
        "text": "",
        "url": headers.get_header("WARC-Target-URI"),
        "warc_date": headers.get_header("WARC-Date"),
        "warc_record_id": record_id,
    }
    body = record.content_stream().read(params.max_doc_bytes + 1)  # the rest of the record is skipped unread
    over = budget.too_large(len(body), params.max_doc_bytes)
    if over is not None:
        return Rejection(row, "too_large", f"payload over {over}")
    if record.rec_type == "conversion":  # WET: text extracted already
        text, charset = decode_bytes(body, "utf-8")
        row.update(content_type=headers.get_header("Content-Type"), charset=charset)
        if not text or len(text.strip()) < params.min_text_chars:
            return Rejection(row, "empty_extraction", "conversion record without text")
        return {**row, "text": text}
    content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
    content_type = content_type or headers.get_header("WARC-Identified-Payload-Type")
    row["content_type"] = content_type
    if not is_html(content_type, body):
        return Rejection(row, "not_html", f"Content-Type: {content_type}")
    return html_document(row, body, http_charset(content_type), params)


def is_html(content_type: str | None, body: bytes) -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() in HTML_TYPES
    start = body[:2048].lstrip().lower()  # no declared type: sniff
    return start.startswith((b"<!doctype html", b"<html")) or b"<html" in start


def http_charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'")
    return None


# --- HTML files ---------------------------------------------------------------------------


def read_html_file(url: str, params) -> Iterator[dict | Rejection]:
    try:
        with fsspec.open(url, "rb") as f:
            body = f.read(params.max_doc_bytes + 1)
    except (OSError, EOFError) as error:
        yield reject_file("web", url, "unreadable_file", f"{url}: {type(error).__name__}: {error}")
        return
    over = budget.too_large(len(body), params.max_doc_bytes)
    if over is not None:
        yield reject_file("web", url, "too_large", f"over {over}", content_type="text/html")
        return
    if not body.strip():
        yield reject_file("web", url, "empty_file", f"{url}: no content", content_type="text/html")
        return
    row = {"id": doc_id("web", url), "source": "web", "path": url, "text": "", "content_type": "text/html"}
    html = decode_page(row, body, None)
    if html is None:
        yield Rejection(row, "binary_content", f"{url}: {row['charset']}")
        return
    row["url"] = canonical_url(html[:HEAD_BYTES])
    yield extract_page(row, html, params)


def canonical_url(head: str) -> str | None:
    """<link rel=canonical href> or <meta property=og:url content>, whichever comes first."""
    for tag, attributes in TAG.findall(head):
        attrs = {k.lower(): v.strip("\"'") for k, v in ATTRIBUTE.findall(attributes)}
        if tag.lower() == "link" and attrs.get("rel", "").lower() == "canonical" and attrs.get("href"):
            return attrs["href"]
        if tag.lower() == "meta" and attrs.get("property", "").lower() == "og:url" and attrs.get("content"):
            return attrs["content"]
    return None


# --- decoding and extraction --------------------------------------------------------------


def html_document(row: dict, body: bytes, declared: str | None, params) -> dict | Rejection:
    html = decode_page(row, body, declared)
    return (
        Rejection(row, "binary_content", f"{row['path']}: {row['charset']}")
        if html is None
        else extract_page(row, html, params)
    )


def decode_page(row: dict, body: bytes, declared: str | None) -> str | None:
    """The page as text (None for binary data); sets row['charset'] to what decoded it."""
    meta = META_CHARSET.search(body[:HEAD_BYTES])
    html, row["charset"] = decode_bytes(body, declared, meta.group(1).decode("ascii") if meta else None)
    return html


def engine_options(params) -> EngineOptions:
    return EngineOptions(
        params.engine,
        params.favor_precision,
        params.include_tables,
        params.include_comments,
        params.deduplicate,
        params.markdown,
    )


def start_file(params) -> None:
    """Each file starts with trafilatura's dedup memory empty (in this process or the watchdog's)."""
    if params.timeout_seconds > 0:
        WATCHDOG.new_file()
    else:
        new_file()


def extract_page(row: dict, html: str, params) -> dict | Rejection:
    head = html[:HEAD_BYTES]
    title, lang = TITLE.search(head), HTML_LANG.search(head)
    row["title"] = " ".join(html_entities.unescape(title.group(1)).split()) or None if title else None
    row["declared_language"] = lang.group(1).replace("_", "-").lower() if lang else None
    row["publication_date"] = publication_date(html, row.get("url"), row.get("warc_date"))
    options = engine_options(params)
    try:
        if params.timeout_seconds > 0:
            text, why = WATCHDOG.extract(html, options, params.timeout_seconds)
        else:
            text, why = extract_main_text(html, options)
    except ExtractionTimeout as error:
        return Rejection(row, "extraction_timeout", f"{params.engine}: {error}")
    except Exception as error:  # noqa: BLE001 - one bad page must not stop the file
        return Rejection(row, "extraction_error", f"{type(error).__name__}: {error}")
    if text and len(text.strip()) < params.min_text_chars:
        text, why = None, f"main text shorter than min_text_chars={params.min_text_chars}"
    if not text:
        too_deep = nesting_error(html)
        return Rejection(
            row, "too_deeply_nested" if too_deep else "empty_extraction", too_deep or f"{params.engine}: {why}"
        )
    return {**row, "text": text}


def nesting_error(html: str) -> str | None:
    """libxml2 stops building the tree at depth 256 (lxml without huge_tree), which leaves
    trafilatura nothing; say so instead of a bare 'empty'. Only run on empty results."""
    parser = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8")
    try:
        lxml.html.fromstring(html.encode("utf-8", "surrogatepass"), parser=parser)
    except Exception:  # noqa: BLE001 - only the error log matters here
        pass
    for entry in parser.error_log:
        if "depth" in entry.message.lower():
            return f"HTML nested deeper than the parser allows: {entry.message.strip()}"
    return None
