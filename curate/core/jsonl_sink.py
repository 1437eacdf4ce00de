"""JsonlSink: gzip-compressed JSON lines with storage.ParquetSink's interface (write, close, abort),
written atomically under a temporary name, for pipelines and exports whose readers want JSONL;
read_jsonl_output reads such a file back as a table (for `curate report`, `sample` and `export`)."""

from __future__ import annotations

import fsspec
import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from curate.core import storage
from curate.core.schema import DOCUMENT_SCHEMA


class JsonlSink:
    """Writes tables to one .jsonl.gz file, atomically, only if any row is written (or always)."""

    def __init__(self, url: str, always: bool = False):
        self.url, self.always = url, always
        self.rows = 0
        self.schema = None
        self._file = None
        self._atomic = None

    def write(self, table: pa.Table) -> None:
        with storage.naming_errors(self.url):
            if self._file is None:
                self._open(table.schema)
            for row in table.to_pylist():
                self._file.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY))
        self.rows += table.num_rows

    def _open(self, schema: pa.Schema | None) -> None:
        self.schema = schema
        self._atomic = storage.atomic_path(self.url)
        self._file = fsspec.open(self._atomic.__enter__(), "wb", compression="gzip").open()

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        if self._file is None and self.always:
            self._open(empty_schema)
        if self._file is None:
            return
        with storage.naming_errors(self.url):
            self._file.close()
            self._atomic.__exit__(None, None, None)
        self._file = None

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)
            self._file = None


def read_jsonl_output(url: str) -> pa.Table:
    """A .jsonl.gz file a JsonlSink wrote, whole (JSON has no columns or row groups to read apart);
    column types are inferred from the values. An empty file is a table without columns."""
    with fsspec.open(url, "rb", compression="gzip") as f:
        data = f.read()
    return pa_json.read_json(pa.BufferReader(data)) if data.strip() else pa.table({})


def is_project_jsonl(url: str) -> bool:
    """Whether a file is a .jsonl.gz a pipeline wrote (output_format: jsonl.gz): its first record has every
    document column. Such a file is read as it is, never through a pipeline's reader and its field mapping."""
    if not url.endswith(".jsonl.gz"):
        return False
    with fsspec.open(url, "rb", compression="gzip") as f:
        first = f.readline()
    try:
        record = orjson.loads(first) if first.strip() else None
    except orjson.JSONDecodeError:
        return False
    return isinstance(record, dict) and set(DOCUMENT_SCHEMA.names) <= set(record)


def jsonl_output_to_parquet(url: str, parquet_url: str) -> int:
    """A pipeline's .jsonl.gz output as Parquet a later stage reads (the stages read Parquet), written
    atomically; the document columns get their schema types back (JSON leaves an all-null column untyped).
    Returns the number of rows."""
    table = read_jsonl_output(url)
    for field in DOCUMENT_SCHEMA:
        position = table.schema.get_field_index(field.name)
        table = table.set_column(position, field.name, table[field.name].cast(field.type))
    sink = storage.ParquetSink(parquet_url, always=True)
    sink.write(table)
    sink.close(table.schema)
    return table.num_rows
