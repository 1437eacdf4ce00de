"""Plain-text books: Project Gutenberg headers, footers and license text stripped,
the UTF-8 BOM removed, CRLF line ends normalised; title, author and language kept
when the header states them."""
from __future__ import annotations

import re
from typing import Iterator

import fsspec

from curate.core import storage
from curate.core.schema import doc_id
from curate.extract.decode import decode_bytes
from curate.extract.stage import Rejection, reject_file

SUFFIXES = (".txt", ".txt.gz", ".text")
START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG E-?BOOK[^\n]*$", re.IGNORECASE | re.MULTILINE)
END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG E-?BOOK", re.IGNORECASE | re.MULTILINE)
# Older books and some mirrors put an "End of (the) Project Gutenberg ..." line before the END marker.
END_LINE = re.compile(r"^\s*End of (the )?Project Gutenberg", re.IGNORECASE | re.MULTILINE)
LICENSE_ONLY = re.compile(r"^\s*THE FULL PROJECT GUTENBERG LICENSE", re.IGNORECASE)
HEADER_FIELD = re.compile(r"^(Title|Author|Language):\s*(.+?)\s*$", re.MULTILINE)
# Volunteer credits Gutenberg puts before the book itself: names, not the author's text.
CREDITS = re.compile(r"\s*(Credits:\s*)?(Produced by|E-?text prepared by|This e-?text was (prepared|produced) by|Transcribed (from|by))\b", re.IGNORECASE)


def list_inputs(urls: list[str], params) -> list[str]:
    return [f for url in urls for f in storage.list_files(url, SUFFIXES)]


def read(url: str, params, root: str | None = None) -> Iterator[dict | Rejection]:
    try:
        with fsspec.open(url, "rb", compression="infer") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        yield reject_file("books", url, "unreadable_file", f"{type(error).__name__}: {error}")
        return
    text, charset = decode_bytes(data)
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
    yield {"id": doc_id("books", url), "source": "books", "path": url, "charset": charset, "content_type": "text/plain", **book}


def parse_book(text: str) -> dict | None:
    """The body and header fields of a book; None when the file is only license text."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if LICENSE_ONLY.match(text):
        return None
    start, header = START.search(text), text
    if start:
        header, text = text[: start.start()], text[start.end():]
    end = END.search(text)
    if end:
        text = text[: end.start()]
    end_line = END_LINE.search(text)
    if end_line and (start or end):
        text = text[: end_line.start()]
    fields = {name.lower(): value for name, value in HEADER_FIELD.findall(header)} if start else {}
    text = without_credits(text) if start else text
    return {"text": text.strip("\n") + "\n", "title": fields.get("title"), "author": fields.get("author"),
            "declared_language": fields.get("language")}


def without_credits(body: str) -> str:
    """The body without the volunteer credit paragraphs ("Produced by ...") among its first three."""
    paragraphs = re.split(r"(\n\s*\n)", body.lstrip("\n"), maxsplit=3)
    kept = [p for i, p in enumerate(paragraphs) if not (i % 2 == 0 and i < 6 and CREDITS.match(p))]
    return "".join(kept)
