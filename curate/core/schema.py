"""The one document schema every stage reads and writes (see docs/schema.md).

Extraction writes these columns; later stages only add columns (language,
scores, duplicate cluster, ...) and never change the meaning of these.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from curate.core.storage import printable

SOURCES = ("web", "books", "code")
NAME_COLUMNS = ("path", "relative_path", "repository")

DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),  # doc_id(source, location): stable across re-runs
        pa.field("source", pa.string(), nullable=False),  # a label: web | books | code, or any other name (wiki, news)
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("url", pa.string()),  # web: the captured URL
        pa.field("path", pa.string()),  # the input file the document came from
        # web
        pa.field("warc_date", pa.string()),  # WARC-Date, ISO 8601
        pa.field("warc_record_id", pa.string()),
        pa.field("content_type", pa.string()),  # HTTP Content-Type, or the file's type
        pa.field("charset", pa.string()),  # the charset the bytes were decoded with
        pa.field(
            "publication_date", pa.string()
        ),  # web: the date the page says it was published, ISO 8601 (curate/extract/dates.py)
        # books
        pa.field("title", pa.string()),
        pa.field("author", pa.string()),
        pa.field("declared_language", pa.string()),  # as the book header states it
        # code
        pa.field("repository", pa.string()),
        pa.field("relative_path", pa.string()),
        pa.field("programming_language", pa.string()),
        pa.field("license", pa.string()),  # an SPDX expression or "unknown" (curate/license/detect.py)
        pa.field("license_source", pa.string()),  # the files it was found in, or "header"
    ]
)

# Rejected documents keep every column they had plus these.
REJECTION_FIELDS = [
    pa.field("stage", pa.string(), nullable=False),  # the pipeline stage that dropped it
    pa.field("reason", pa.string(), nullable=False),  # a short category, e.g. "gopher_quality.word_count"
    pa.field("detail", pa.string()),  # free text: an error message, the survivor's id, ...
]


def doc_id(source: str, location: str) -> str:
    """A stable id from where a document came from: same input, same id, on every run."""
    return hashlib.blake2b(f"{source}\x00{location}".encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def make_documents(rows: list[dict]) -> pa.Table:
    """Rows (dicts with some of the schema's keys) to a table with the full schema."""
    columns = {f.name: [row.get(f.name) for row in rows] for f in DOCUMENT_SCHEMA}
    for name in NAME_COLUMNS:  # file names that are not UTF-8 (surrogate-escaped) written losslessly as \xNN
        columns[name] = [printable(value) if value is not None else None for value in columns[name]]
    return pa.table(columns, schema=DOCUMENT_SCHEMA)


def with_rejection(
    table: pa.Table, stage: str, reasons: list[str], details: list[str | None] | None = None
) -> pa.Table:
    """Add the stage/reason/detail columns to rows a stage dropped."""
    n = table.num_rows
    table = table.append_column(REJECTION_FIELDS[0], pa.array([stage] * n, pa.string()))
    table = table.append_column(REJECTION_FIELDS[1], pa.array(reasons, pa.string()))
    details = [printable(d) if d is not None else None for d in details] if details is not None else [None] * n
    return table.append_column(REJECTION_FIELDS[2], pa.array(details, pa.string()))
