"""Plain-text books: Project Gutenberg headers, footers and license text stripped,
the UTF-8 BOM removed, CRLF line ends normalised; title, author and language kept
when the header states them. Bytes are decoded as `decode_book` explains; a book
over max_doc_bytes is rejected as too_large without reading more than the limit."""

from __future__ import annotations

import codecs
import re
import zlib
from typing import Iterator

import fsspec

from curate.core import budget, storage
from curate.core.schema import doc_id
from curate.extract.decode import detect, looks_binary, normalise_charset
from curate.extract.stage import Rejection, reject_file

SUFFIXES = (".txt", ".txt.gz", ".text")
START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG E-?BOOK[^\n]*$", re.IGNORECASE | re.MULTILINE)
END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG E-?BOOK", re.IGNORECASE | re.MULTILINE)
# Older books and some mirrors put an "End of (the) Project Gutenberg ..." line before the END marker.
END_LINE = re.compile(r"^\s*End of (the )?Project Gutenberg", re.IGNORECASE | re.MULTILINE)
LICENSE_ONLY = re.compile(r"^\s*THE FULL PROJECT GUTENBERG LICENSE", re.IGNORECASE)
DECLARED_CHARSET = re.compile(rb"^Character set encoding:[ \t]*([-\w.:]+)", re.IGNORECASE | re.MULTILINE)
HEADER_BYTES = 8192  # the Gutenberg header's fields come before the START marker, in the first lines
NEARLY_UTF8 = 0.01  # broken sequences per non-ASCII byte below which a book is UTF-8 with damage
ASCII = bytes(range(128))
HEADER_FIELD = re.compile(r"^(Title|Author|Language):\s*(.+?)\s*$", re.MULTILINE)
# Volunteer credits Gutenberg puts before the book itself: names, not the author's text.
CREDITS = re.compile(
    r"\s*(Credits:\s*)?(Produced by|E-?text prepared by|This e-?text was (prepared|produced) by|Transcribed (from|by))\b",
    re.IGNORECASE,
)


def list_inputs(urls: list[str], params) -> list[str]:
    return [f for url in urls for f in storage.list_files(url, SUFFIXES)]


def read(url: str, params, root: str | None = None) -> Iterator[dict | Rejection]:
    problem = storage.input_problem(url, root or url)
    if problem is not None:
        yield reject_file("books", url, *problem)
        return
    try:
        with fsspec.open(url, "rb", compression="infer") as f:
            data = f.read(params.max_doc_bytes + 1)  # never more than the budget, even from a gzip bomb
    except (OSError, EOFError, zlib.error) as error:  # a damaged .gz: flipped bits raise zlib.error
        yield reject_file("books", url, "unreadable_file", f"{type(error).__name__}: {error}")
        return
    over = budget.too_large(len(data), params.max_doc_bytes)
    if over is not None:
        yield reject_file("books", url, "too_large", f"over {over}")
        return
    text, charset = decode_book(data)
    if text is None:
        yield reject_file("books", url, "binary_file", charset)
        return
    book = parse_book(text)
    if book is None:
        yield reject_file("books", url, "license_text", "a Project Gutenberg license file, not a book")
        return
    if not book["text"].strip():
        yield reject_file("books", url, "empty_text")
        return
    yield {
        "id": doc_id("books", url),
        "source": "books",
        "path": url,
        "charset": charset,
        "content_type": "text/plain",
        **book,
    }


def decode_book(data: bytes) -> tuple[str | None, str]:
    """(text, charset) of a book's bytes, or (None, why) for binary data. In order: valid UTF-8; the
    charset the Gutenberg header declares ("Character set encoding: ISO-8859-1"); UTF-8 with
    replacements when nearly every non-ASCII sequence is valid UTF-8 (a few broken bytes in a
    UTF-8 book); detection last. A decode that is not certain says so in the charset column:
    "utf-8 (with N replacements)", "<codec> (detected)"."""
    if looks_binary(data):
        return None, "binary data (NUL bytes)"
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    declared = DECLARED_CHARSET.search(data[:HEADER_BYTES])
    for charset in ("utf-8", *declared_codecs(declared.group(1).decode("ascii") if declared else None)):
        try:
            return data.decode(charset), charset
        except UnicodeDecodeError:
            pass
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd") - data.count("\ufffd".encode())
    if broken <= NEARLY_UTF8 * len(data.translate(None, ASCII)):  # broken sequences per non-ASCII byte
        return text, f"utf-8 (with {broken} replacements)"
    return detect_book(data)


def declared_codecs(label: str | None) -> list[str]:
    """The codec a header label names, and the label's own codec when that is a WHATWG superset
    (ISO-8859-1 is read as cp1252, which leaves five bytes undefined that latin-1 decodes)."""
    superset = normalise_charset(label)
    exact = codecs.lookup(label).name if superset else None
    return [c for c in dict.fromkeys((superset, exact)) if c]


def detect_book(data: bytes) -> tuple[str, str]:
    """Detection for books with no usable declaration (curate.extract.decode.detect: among single-byte
    Latin code pages, the one whose letters read as one language)."""
    charset = detect(data)
    if charset is None:
        return data.decode("utf-8", errors="replace"), "utf-8 (with replacements)"
    return data.decode(charset, errors="replace"), f"{charset} (detected)"


def parse_book(text: str) -> dict | None:
    """The body and header fields of a book; None when the file is only license text."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if LICENSE_ONLY.match(text):
        return None
    start, header = START.search(text), text
    if start:
        header, text = text[: start.start()], text[start.end() :]
    end = END.search(text)
    if end:
        text = text[: end.start()]
    end_line = END_LINE.search(text)
    if end_line and (start or end):
        text = text[: end_line.start()]
    fields = {name.lower(): value for name, value in HEADER_FIELD.findall(header)} if start else {}
    text = without_credits(text) if start else text
    return {
        "text": text.strip("\n") + "\n",
        "title": fields.get("title"),
        "author": fields.get("author"),
        "declared_language": fields.get("language"),
    }


def without_credits(body: str) -> str:
    """The body without the volunteer credit paragraphs ("Produced by ...") among its first three."""
    paragraphs = re.split(r"(\n\s*\n)", body.lstrip("\n"), maxsplit=3)
    kept = [p for i, p in enumerate(paragraphs) if not (i % 2 == 0 and i < 6 and CREDITS.match(p))]
    return "".join(kept)
