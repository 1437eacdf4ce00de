"""Reading pieces of JSONL, Parquet, CSV and Arrow files into documents of the project's schema.

    schema = check(inputs, config)          # before any work: the mapping holds, the kept columns' types
    for name, pieces in plan(inputs, config):
        for batch in read_piece(piece, config, schema): ...   # Batch(documents, rejected, reasons, details)

A record without usable text, a line that is not JSON or a kept value of another type is not
dropped: it comes back in `rejected` with a reason (read.no_text, read.bad_json, read.bad_field).
Ids the input lacks are derived from the file and the record's position (row, or byte offset for
JSONL), so the same input gives the same ids on every run however it is sharded.
"""
from __future__ import annotations

import io
from typing import Iterator, NamedTuple

import fsspec
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from curate.core.params import ConfigError
from curate.core.schema import DOCUMENT_SCHEMA, doc_id
from curate.read.config import ReaderConfig, split_compression
from curate.read.plan import Piece, list_inputs

BATCH_ROWS = 1024
SAMPLE_RECORDS = 100  # JSON records check() looks at for field names and kept types


class Batch(NamedTuple):
    documents: pa.Table  # the output schema
    rejected: pa.Table | None = None  # DOCUMENT_SCHEMA rows that could not become documents
    reasons: list[str] = []
    details: list[str | None] = []


# ---- checking the mapping before any work


def check(inputs: list[str], config: ReaderConfig) -> pa.Schema:
    """The output schema (the document schema plus kept columns), after checking on the first file of
    each format that every named field exists; a missing one is a ConfigError naming file, key and fields."""
    kept_types: dict[str, pa.DataType] = {}
    seen = set()
    for url, fmt, _ in list_inputs(inputs, config):
        if fmt in seen:
            continue
        try:
            fields = sample_fields(url, fmt, config)
        except (ValueError, OSError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise ConfigError(f"{url}: not readable as {fmt}: {error} (the reader's format is "
                              f"{'given as ' + config.format if config.format else 'inferred from the suffix'})") from None
        if not fields:  # an empty file says nothing about the mapping: ask the next one
            continue
        seen.add(fmt)
        named = [("text", config.text), ("id", config.id), ("url", config.url)] + [(f"keep.{k}", p) for k, p in config.kept.items()]
        for key, path in named:
            if path is not None and path not in fields:
                raise ConfigError(f"{url}: reader key '{key}': field '{path}' not found; fields found: {', '.join(fields) or 'none'} "
                                  f"(name the fields in the pipeline's top-level reader: key, e.g. reader: {{text: body}})")
        for name, path in config.kept.items():
            kept_types.setdefault(name, fields[path])
    return pa.schema(list(DOCUMENT_SCHEMA) + [pa.field(n, kept_types.get(n, pa.string())) for n in config.kept])


def sample_fields(url: str, fmt: str, config: ReaderConfig) -> dict[str, pa.DataType]:
    """Field paths (nested ones dotted) -> type, from the start of a file."""
    if fmt == "jsonl":
        records = [r for _, r in zip(range(SAMPLE_RECORDS), json_records(Piece(url, fmt))) if isinstance(r[1], dict)]
        paths: dict[str, list] = {}
        for _, record in records:
            _walk(record, "", paths)
        return {path: json_type(values) for path, values in paths.items()}
    schema = next(tabular_batches(Piece(url, fmt), config, columns=None)).schema
    found: dict[str, pa.DataType] = {}
    for f in schema:
        _walk_type(f, "", found)
    return found


def _walk(record: dict, prefix: str, paths: dict[str, list]) -> None:
    for key, value in record.items():
        paths.setdefault(prefix + key, []).append(value)
        if isinstance(value, dict):
            _walk(value, f"{prefix}{key}.", paths)


def _walk_type(f: pa.Field, prefix: str, found: dict[str, pa.DataType]) -> None:
    found[prefix + f.name] = f.type
    if pa.types.is_struct(f.type):
        for child in f.type:
            _walk_type(child, f"{prefix}{f.name}.", found)


def json_type(values: list) -> pa.DataType:
    """A kept JSON field's column type: bool, int64 or float64 when every sampled value is one,
    else string (objects, lists and mixed values as JSON text)."""
    present = [v for v in values if v is not None]
    for type_ in (pa.bool_(), pa.int64(), pa.float64()):
        if present and all(fits(v, type_) for v in present):
            return type_
    return pa.string()


# ---- reading


def read_piece(piece: Piece, config: ReaderConfig, schema: pa.Schema) -> Iterator[Batch]:
    if piece.format == "jsonl":
        yield from read_json(piece, config, schema)
    else:
        position = piece_first_row(piece)
        for table in tabular_batches(piece, config, columns=needed_columns(config)):
            yield table_documents(table, piece, config, schema, position)
            position += table.num_rows


def documents_table(columns: dict[str, pa.Array], n: int, schema: pa.Schema) -> pa.Table:
    return pa.table([columns.get(f.name, pa.nulls(n, f.type)) for f in schema], schema=schema)


def derived_id(config: ReaderConfig, url: str, position: int) -> str:
    return doc_id(config.source, f"{url}#{position}")


# JSONL


def json_records(piece: Piece) -> Iterator[tuple[int, object]]:
    """(position, record or the undecodable line as bytes) of a piece: a whole .json array too."""
    _, codec = split_compression(piece.url)
    with fsspec.open(piece.url, "rb", compression=codec) as f:
        head = f.read(256) if piece.start == 0 else b""
        if head.lstrip().startswith(b"["):  # a JSON array, not lines
            try:
                records = orjson.loads(head + f.read())
            except orjson.JSONDecodeError as error:
                raise ValueError(f"{piece.url}: not a JSON array or JSON lines: {error}") from None
            yield from enumerate(records)
            return
    # opened again for lines: compressed streams cannot seek back
    with fsspec.open(piece.url, "rb", compression=codec) as raw:
        f = io.BufferedReader(raw, 1 << 20) if codec else raw  # zstandard's reader has no readline
        position = piece.start
        if piece.start:  # the line under way at start belongs to the previous piece
            f.seek(piece.start - 1)
            position += len(f.readline()) - 1
        for line in iter(f.readline, b""):
            if piece.stop is not None and position >= piece.stop:
                break
            if line.strip():
                try:
                    yield position, orjson.loads(line)
                except orjson.JSONDecodeError:
                    yield position, line
            position += len(line)


def get_path(record: dict, parts: list[str]):
    value = record
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def read_json(piece: Piece, config: ReaderConfig, schema: pa.Schema) -> Iterator[Batch]:
    records = []
    for item in json_records(piece):
        records.append(item)
        if len(records) == BATCH_ROWS:
            yield json_documents(records, piece, config, schema)
            records = []
    if records:
        yield json_documents(records, piece, config, schema)


def json_documents(records: list[tuple[int, object]], piece: Piece, config: ReaderConfig, schema: pa.Schema) -> Batch:
    text_path, id_path, url_path = (p.split(".") for p in (config.text, config.id or "id", config.url or "url"))
    kept = {name: (path.split("."), schema.field(name).type) for name, path in config.kept.items()}
    rows, bad = [], []  # bad: (position, raw text, reason, detail)
    for position, record in records:
        if not isinstance(record, dict):
            raw = record.decode("utf-8", "replace") if isinstance(record, bytes) else orjson.dumps(record).decode()
            bad.append((position, raw, "read.bad_json", "not a JSON object"))
            continue
        text = get_path(record, text_path)
        if not isinstance(text, str):
            bad.append((position, orjson.dumps(record).decode(), "read.no_text", f"'{config.text}' is {type(text).__name__}"))
            continue
        values = {}
        for name, (path, type_) in kept.items():
            value = get_path(record, path)
            if type_ == pa.string() and value is not None and not isinstance(value, str):
                value = orjson.dumps(value).decode()
            elif not fits(value, type_):
                bad.append((position, orjson.dumps(record).decode(), "read.bad_field", f"'{name}' is {value!r}, expected {type_}"))
                break
            values[name] = value
        else:
            rows.append((position, text, get_path(record, id_path), get_path(record, url_path), values))
    n = len(rows)
    columns = {
        "id": pa.array([str(i) if i is not None else derived_id(config, piece.url, p) for p, _, i, _, _ in rows], pa.string()),
        "source": pa.array([config.source] * n, pa.string()),
        "text": pa.array([t for _, t, _, _, _ in rows], pa.large_string()),
        "url": pa.array([u if isinstance(u, str) else None for _, _, _, u, _ in rows], pa.string()),
        "path": pa.array([piece.url] * n, pa.string()),
    }
    for name, (_, type_) in kept.items():
        columns[name] = pa.array([v[name] for *_, v in rows], type_)
    documents = documents_table(columns, n, schema)
    if not bad:
        return Batch(documents)
    rejected = documents_table({
        "id": pa.array([derived_id(config, piece.url, p) for p, *_ in bad], pa.string()),
        "source": pa.array([config.source] * len(bad), pa.string()),
        "text": pa.array([raw for _, raw, _, _ in bad], pa.large_string()),
        "path": pa.array([piece.url] * len(bad), pa.string())}, len(bad), DOCUMENT_SCHEMA)
    return Batch(documents, rejected, [r for *_, r, _ in bad], [d for *_, d in bad])


def fits(value, type_: pa.DataType) -> bool:
    if value is None:
        return True
    if pa.types.is_boolean(type_):
        return isinstance(value, bool)
    if pa.types.is_integer(type_):
        return isinstance(value, int) and not isinstance(value, bool)
    if pa.types.is_floating(type_):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


# Parquet, CSV, Arrow


def needed_columns(config: ReaderConfig) -> list[str]:
    """Top-level columns the mapping reads (Parquet reads only these)."""
    paths = [config.text, config.id or "id", config.url or "url", *config.kept.values()]
    return sorted({p.split(".")[0] for p in paths} | set(paths))


def piece_first_row(piece: Piece) -> int:
    if piece.format != "parquet" or not piece.start:
        return 0
    with fsspec.open(piece.url, "rb") as f:
        meta = pq.ParquetFile(f).metadata
        return sum(meta.row_group(i).num_rows for i in range(piece.start))


def tabular_batches(piece: Piece, config: ReaderConfig, columns: list[str] | None) -> Iterator[pa.Table]:
    _, codec = split_compression(piece.url)
    with fsspec.open(piece.url, "rb", compression=codec) as f:
        if piece.format == "parquet":
            parquet = pq.ParquetFile(f)
            groups = list(range(piece.start, parquet.num_row_groups if piece.stop is None else piece.stop))
            present = None if columns is None else [c for c in columns if c in parquet.schema_arrow.names]
            batches = parquet.iter_batches(BATCH_ROWS, row_groups=groups, columns=present)
        elif piece.format == "csv":
            tab = split_compression(piece.url)[0].lower().endswith(".tsv")
            strings = {name: pa.large_string() for name in (config.text, config.id or "id", config.url or "url")}
            batches = pacsv.open_csv(f, parse_options=pacsv.ParseOptions(delimiter="\t" if tab else ",", newlines_in_values=True),
                                     convert_options=pacsv.ConvertOptions(column_types=strings))
        else:
            batches = arrow_batches(f)
        empty = True
        for batch in batches:
            empty = False
            yield pa.Table.from_batches([batch])
        if empty and columns is None:  # check() on an empty file still needs its columns
            yield batches.schema_arrow.empty_table() if piece.format == "parquet" else batches.schema.empty_table()


def arrow_batches(f):
    """Arrow IPC: the stream format (datasets' save_to_disk, HF cache files) or the file format."""
    head = f.read(6)
    f.seek(0)
    if head == b"ARROW1":
        reader = pa.ipc.open_file(f)
        return (reader.get_batch(i) for i in range(reader.num_record_batches))
    return pa.ipc.open_stream(f)


def column(table: pa.Table, path: str) -> pa.Array | None:
    if path in table.column_names:
        return table[path].combine_chunks()
    parts = path.split(".")
    if parts[0] not in table.column_names:
        return None
    values = table[parts[0]].combine_chunks()
    for part in parts[1:]:
        if not pa.types.is_struct(values.type) or values.type.get_field_index(part) < 0:
            return None
        values = pc.struct_field(values, part)
    return values


def table_documents(table: pa.Table, piece: Piece, config: ReaderConfig, schema: pa.Schema, first_row: int) -> Batch:
    n = table.num_rows
    text = column(table, config.text)
    if text is None:
        raise ConfigError(f"{piece.url}: reader key 'text': field '{config.text}' not found; fields found: {', '.join(table.column_names)}")
    ids = column(table, config.id or "id")
    if ids is None or ids.null_count:
        derived = pa.array([derived_id(config, piece.url, first_row + i) for i in range(n)], pa.string())
        ids = derived if ids is None else pc.coalesce(ids.cast(pa.string()), derived)
    columns = {
        "id": ids.cast(pa.string()),
        "source": pa.array([config.source] * n, pa.string()),
        "text": text.cast(pa.large_string()),
        "path": pa.array([piece.url] * n, pa.string()),
    }
    url = column(table, config.url or "url")
    if url is not None:
        columns["url"] = url.cast(pa.string())
    for name, path in config.kept.items():
        values = column(table, path)
        if values is None:
            raise ConfigError(f"{piece.url}: reader key 'keep.{name}': field '{path}' not found; fields found: {', '.join(table.column_names)}")
        try:
            columns[name] = values.cast(schema.field(name).type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise ConfigError(f"{piece.url}: kept field '{path}' is {values.type} here, {schema.field(name).type} "
                              f"in the first file: {error}") from None
    documents = documents_table(columns, n, schema)
    has_text = pc.is_valid(documents["text"])
    if pc.all(has_text).as_py() is not False:
        return Batch(documents)
    missing = documents.filter(pc.invert(has_text))
    rejected = missing.select(DOCUMENT_SCHEMA.names).set_column(2, "text", pa.array([""] * missing.num_rows, pa.large_string()))
    return Batch(documents.filter(has_text), rejected, ["read.no_text"] * missing.num_rows, [f"'{config.text}' is null"] * missing.num_rows)
