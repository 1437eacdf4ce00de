"""JsonlSink: gzip-compressed JSON lines with storage.ParquetSink's interface (write, close, abort),
written atomically under a temporary name, for pipelines and exports whose readers want JSONL;
read_jsonl_output reads such a file back as a table (for `curate report`, `sample` and `export`)."""
from __future__ import annotations

import fsspec
import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from curate.core import storage


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
