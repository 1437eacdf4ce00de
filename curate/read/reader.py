"""Reading pieces of JSONL, Parquet, CSV and Arrow files into documents of the project's schema.

    schema = check(inputs, config)          # before any work: the mapping holds, the kept columns' types
    for name, pieces in plan(inputs, config):
        for batch in read_piece(piece, config, schema): ...   # Batch(documents, rejected, reasons, details)

A record without usable text, a line that is not JSON or a value of another type is not dropped:
it comes back in `rejected` with a reason (read.no_text, read.bad_json, read.bad_field). A file cut
short or damaged (a truncated .gz, flipped bytes in Parquet) keeps the documents read before the
damage and adds one rejected row, read.damaged_file, naming the file, where reading stopped and why;
errors that may pass (network, permissions) fail the shard instead, so a rerun reads the file whole.
Ids the input lacks are derived from the file and the record's position (row, or byte offset for
JSONL), so the same input gives the same ids on every run however it is sharded.
"""

from __future__ import annotations

import zlib
from typing import Iterator, NamedTuple

import fsspec
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import zstandard

from curate.core.params import ConfigError
from curate.core.schema import DOCUMENT_SCHEMA, doc_id
from curate.read.config import ReaderConfig, split_compression
from curate.read.plan import Piece, list_inputs

BATCH_ROWS = 1024
SAMPLE_RECORDS = 100  # JSON records check() looks at for field names and kept types
# What a damaged or truncated file raises while it is read: decompressors (gzip's EOFError and BadGzipFile,
# zlib, zstandard, bz2's OSError), pyarrow (ArrowInvalid is a ValueError, ArrowIOError an OSError), orjson.
DAMAGE_ERRORS = (EOFError, OSError, ValueError, zlib.error, zstandard.ZstdError, pa.ArrowException)
# ... except these, which say nothing about the file's bytes: the shard fails and a rerun reads it again.
PASSING_ERRORS = (ConnectionError, TimeoutError, PermissionError, FileNotFoundError, ConfigError)
BOM = b"\xef\xbb\xbf"
CSV_BLOCK_BYTES = 4 << 20  # pyarrow parses CSV in blocks; a row must fit in one: grown up to the limit for long rows
CSV_BLOCK_LIMIT = 1 << 30
TEXT_TYPES = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_null,
)


class Batch(NamedTuple):
    documents: pa.Table  # the output schema
    rejected: pa.Table | None = None  # DOCUMENT_SCHEMA rows that could not become documents
    reasons: list[str] = []
    details: list[str | None] = []


class Damage(NamedTuple):
    """In place of the records a damaged file holds from `position` on (a byte for JSONL, a row otherwise)."""

    position: int
    error: BaseException


def is_damage(error: BaseException) -> bool:
    return isinstance(error, DAMAGE_ERRORS) and not isinstance(error, PASSING_ERRORS)


def damage_detail(url: str, damage: Damage, unit: str) -> str:
    return (
        f"{url}: damaged or truncated: reading stopped at {unit} {damage.position} "
        f"({type(damage.error).__name__}: {damage.error}); the records before it are kept"
    )


# ---- checking the mapping before any work


def check(inputs: list[str], config: ReaderConfig) -> pa.Schema:
    """The output schema (the document schema plus kept columns), after checking on the first file of
    each format that every named field exists; a missing one is a ConfigError naming file, key and fields."""
    kept_types: dict[str, pa.DataType] = {}
    seen, unreadable = set(), {}
    for url, fmt, _ in list_inputs(inputs, config):
        if fmt in seen:
            continue
        try:
            fields = sample_fields(url, fmt, config)
        except PASSING_ERRORS:
            raise
        except (
            DAMAGE_ERRORS
        ) as error:  # one damaged file is rejected when read; a format no file is readable in is an error
            unreadable.setdefault(
                fmt,
                f"{url}: not readable as {fmt}: {error} (the reader's format is "
                f"{'given as ' + config.format if config.format else 'inferred from the suffix'})",
            )
            continue
        if not fields:  # an empty file says nothing about the mapping: ask the next one
            continue
        seen.add(fmt)
        named = [("text", config.text), ("id", config.id), ("url", config.url)] + [
            (f"keep.{k}", p) for k, p in config.kept.items()
        ]
        for key, path in named:
            if path is not None and path not in fields:
                raise ConfigError(
                    f"{url}: reader key '{key}': field '{path}' not found; fields found: {', '.join(fields) or 'none'} "
                    f"(name the fields in the pipeline's top-level reader: key, e.g. reader: {{text: body}})"
                )
        if (
            fmt != "jsonl"
        ):  # JSON text of another type is a record's problem (read.no_text); a column's is the mapping's
            require_text(url, config.text, fields)
        for name, path in config.kept.items():
            kept_types.setdefault(name, fields[path])
    for fmt, problem in unreadable.items():
        if fmt not in seen:
            raise ConfigError(problem)
    return pa.schema(list(DOCUMENT_SCHEMA) + [pa.field(n, kept_types.get(n, pa.string())) for n in config.kept])


def require_text(url: str, path: str, fields: dict[str, pa.DataType]) -> None:
    """The text column holds text: a struct or list is named with the way to a string inside it."""
    type_ = fields[path]
    if text_type(type_):
        return
    inner = [
        p
        for p, t in fields.items()
        if p.startswith(path + ".") and (pa.types.is_string(t) or pa.types.is_large_string(t))
    ]
    hint = (
        f"; its text fields: {', '.join(inner)} (e.g. reader: {{text: {inner[0]}}})"
        if inner
        else "; name a column of strings in the pipeline's reader: key, e.g. reader: {text: body}"
    )
    raise ConfigError(f"{url}: reader key 'text': field '{path}' is {type_}, not text{hint}")


def sample_fields(url: str, fmt: str, config: ReaderConfig) -> dict[str, pa.DataType]:
    """Field paths (nested ones dotted) -> type, from the start of a file."""
    if fmt == "jsonl":
        records = [r for _, r in zip(range(SAMPLE_RECORDS), json_records(Piece(url, fmt))) if isinstance(r[1], dict)]
        # a file damaged before its first record is rejected when read; the next file decides the mapping
        paths: dict[str, list] = {}
        for _, record in records:
            _walk(record, "", paths)
        return {path: json_type(values) for path, values in paths.items()}
    schema = next(t for t in tabular_batches(Piece(url, fmt), config, columns=None) if isinstance(t, pa.Table)).schema
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
        return
    position = 0
    try:
        position = piece_first_row(piece)
        for table in tabular_batches(piece, config, columns=needed_columns(config)):
            if isinstance(table, list):  # CSV rows of the wrong shape
                yield bad_rows(table, piece, config, schema, position)
                continue
            yield table_documents(table, piece, config, schema, position)
            position += table.num_rows
    except Exception as error:  # noqa: BLE001 - sorted by is_damage: a damaged file's rest is one rejection
        if not is_damage(error):
            raise
        yield damaged_batch(piece, config, schema, damage_detail(piece.url, Damage(position, error), "row"), position)


def bad_rows(rows: list, piece: Piece, config: ReaderConfig, schema: pa.Schema, position: int) -> Batch:
    """CSV rows of another number of fields than the header, as read.bad_row rejections holding the row's text."""
    n = len(rows)
    rejected = documents_table(
        {
            "id": pa.array([derived_id(config, piece.url, f"bad-row-{position}-{i}") for i in range(n)], pa.string()),
            "source": pa.array([config.source] * n, pa.string()),
            "text": pa.array([row.text for row in rows], pa.large_string()),
            "path": pa.array([piece.url] * n, pa.string()),
        },
        n,
        DOCUMENT_SCHEMA,
    )
    return Batch(
        schema.empty_table(),
        rejected,
        ["read.bad_row"] * n,
        [f"{row.actual_columns} fields where the header has {row.expected_columns}" for row in rows],
    )


def damaged_batch(piece: Piece, config: ReaderConfig, schema: pa.Schema, detail: str, position: int) -> Batch:
    rejected = documents_table(
        {
            "id": pa.array([derived_id(config, piece.url, f"damaged-{position}")], pa.string()),
            "source": pa.array([config.source], pa.string()),
            "text": pa.array([""], pa.large_string()),
            "path": pa.array([piece.url], pa.string()),
        },
        1,
        DOCUMENT_SCHEMA,
    )
    return Batch(schema.empty_table(), rejected, ["read.damaged_file"], [detail])


def documents_table(columns: dict[str, pa.Array], n: int, schema: pa.Schema) -> pa.Table:
    return pa.table([columns.get(f.name, pa.nulls(n, f.type)) for f in schema], schema=schema)


def derived_id(config: ReaderConfig, url: str, position: int | str) -> str:
    return doc_id(config.source, f"{url}#{position}")


# JSONL


def json_records(piece: Piece) -> Iterator[tuple[int, object]]:
    """(position, record or the undecodable line as bytes) of a piece: a whole .json array too."""
    """(position, record or the undecodable line as bytes) of a piece: a whole .json array too. A file
    damaged or cut short ends with (position, Damage) where reading stopped. A leading UTF-8 byte-order
    mark (Windows tools write one) is not part of the first record."""
    _, codec = split_compression(piece.url)
    position = piece.start
    try:
        with fsspec.open(piece.url, "rb", compression=codec) as f:
            head = f.read(256) if piece.start == 0 else b""
            if head.startswith(BOM):
                head, position = head[len(BOM) :], len(BOM)
            if head.lstrip().startswith(b"["):  # a JSON array, not lines: read whole, or rejected whole
                yield from enumerate(orjson.loads(head + f.read()))
                return
        # opened again for lines: compressed streams cannot seek back
        with fsspec.open(piece.url, "rb", compression=codec) as f:
            if piece.start:  # the line under way at start belongs to the previous piece
                f.seek(piece.start - 1)
                position += len(f.readline()) - 1
            else:
                f.read(position)  # past a byte-order mark
            for line in stream_lines(f) if codec else iter(f.readline, b""):
                if piece.stop is not None and position >= piece.stop:
                    break
                if line.strip():
                    try:
                        yield position, orjson.loads(line)
                    except orjson.JSONDecodeError:
                        yield position, line
                position += len(line)
    except Exception as error:  # noqa: BLE001 - sorted by is_damage
        if not is_damage(error):
            raise
        yield position, Damage(position, error)


def stream_lines(f, chunk: int = 1 << 16) -> Iterator[bytes]:
    """The lines of a decompressing stream, read a chunk at a time (read1: what one step decompresses), so the
    lines before a truncation come out before its error: a large buffered read would lose them with it."""
    read = getattr(f, "read1", None) or f.read
    pending: list[bytes] = []
    while block := read(chunk):
        start = 0
        while (end := block.find(b"\n", start)) >= 0:
            pending.append(block[start : end + 1])
            yield b"".join(pending)
            pending, start = [], end + 1
        if start < len(block):
            pending.append(block[start:])
    if pending:
        yield b"".join(pending)


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
        if isinstance(record, Damage):
            bad.append((position, "", "read.damaged_file", damage_detail(piece.url, record, "byte")))
            continue
        if not isinstance(record, dict):
            raw = record.decode("utf-8", "replace") if isinstance(record, bytes) else orjson.dumps(record).decode()
            bad.append((position, raw, "read.bad_json", "not a JSON object"))
            continue
        text = get_path(record, text_path)
        if not isinstance(text, str):
            bad.append(
                (position, orjson.dumps(record).decode(), "read.no_text", f"'{config.text}' is {type(text).__name__}")
            )
            continue
        values = {}
        for name, (path, type_) in kept.items():
            value = get_path(record, path)
            if type_ == pa.string() and value is not None and not isinstance(value, str):
                value = orjson.dumps(value).decode()
            elif not fits(value, type_):
                bad.append(
                    (
                        position,
                        orjson.dumps(record).decode(),
                        "read.bad_field",
                        f"'{name}' is {value!r}, expected {type_}",
                    )
                )
                break
            values[name] = value
        else:
            rows.append((position, text, get_path(record, id_path), get_path(record, url_path), values))
    n = len(rows)
    columns = {
        "id": pa.array(
            [str(i) if i is not None else derived_id(config, piece.url, p) for p, _, i, _, _ in rows], pa.string()
        ),
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
    rejected = documents_table(
        {
            "id": pa.array([derived_id(config, piece.url, p) for p, *_ in bad], pa.string()),
            "source": pa.array([config.source] * len(bad), pa.string()),
            "text": pa.array([raw for _, raw, _, _ in bad], pa.large_string()),
            "path": pa.array([piece.url] * len(bad), pa.string()),
        },
        len(bad),
        DOCUMENT_SCHEMA,
    )
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
    if piece.format == "csv":
        yield from csv_tables(piece, config, codec, columns)
        return
    with fsspec.open(piece.url, "rb", compression=codec) as f:
        if piece.format == "parquet":
            parquet = pq.ParquetFile(f)
            groups = list(range(piece.start, parquet.num_row_groups if piece.stop is None else piece.stop))
            present = None if columns is None else [c for c in columns if c in parquet.schema_arrow.names]
            batches = parquet.iter_batches(BATCH_ROWS, row_groups=groups, columns=present)
        else:
            batches = arrow_batches(f)
        empty = True
        for batch in batches:
            empty = False
            yield pa.Table.from_batches([batch])
        if empty and columns is None:  # check() on an empty file still needs its columns
            yield batches.schema_arrow.empty_table() if piece.format == "parquet" else batches.schema.empty_table()


def csv_tables(
    piece: Piece, config: ReaderConfig, codec: str | None, columns: list[str] | None
) -> Iterator[pa.Table | list]:
    """A CSV/TSV file's rows as tables, and after each, the rows of another number of fields than the header
    (a list of pyarrow's InvalidRow: rejected, the rest read on). pyarrow parses in blocks and a row must fit
    in one (a book in a field does not fit the default 1 MB): on "straddling object" the file is opened again
    with a block four times larger, past the rows already read, up to CSV_BLOCK_LIMIT (then it is damaged)."""
    tab = split_compression(piece.url)[0].lower().endswith(".tsv")
    invalid: list = []
    parse = pacsv.ParseOptions(
        delimiter="\t" if tab else ",",
        newlines_in_values=True,
        invalid_row_handler=lambda row: invalid.append(row) or "skip",
    )
    convert = pacsv.ConvertOptions(
        column_types={name: pa.large_string() for name in (config.text, config.id or "id", config.url or "url")}
    )
    block, done, good = CSV_BLOCK_BYTES, 0, 0  # done: rows past, of the right shape (good) or not
    while True:
        try:
            with fsspec.open(piece.url, "rb", compression=codec) as f:
                reader = pacsv.open_csv(
                    f,
                    read_options=pacsv.ReadOptions(block_size=block, skip_rows_after_names=done),
                    parse_options=parse,
                    convert_options=convert,
                )
                for batch in reader:
                    yield pa.Table.from_batches([batch])
                    if invalid:
                        yield list(invalid)
                    done, good = done + batch.num_rows + len(invalid), good + batch.num_rows
                    invalid.clear()
                if invalid:
                    yield list(invalid)
                if not good and columns is None:  # check() on an empty file still needs its columns
                    yield reader.schema.empty_table()
            return
        except pa.ArrowInvalid as error:
            if "straddling" not in str(error) or block >= CSV_BLOCK_LIMIT:
                raise
            block *= 4
            invalid.clear()


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


def text_type(type_: pa.DataType) -> bool:
    return any(test(type_) for test in TEXT_TYPES) or (pa.types.is_dictionary(type_) and text_type(type_.value_type))


def cast(values: pa.Array, type_: pa.DataType, name: str) -> pa.Array:
    try:
        return values.cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise pa.ArrowInvalid(f"'{name}' is {values.type} here, expected {type_}: {error}") from None


def table_documents(table: pa.Table, piece: Piece, config: ReaderConfig, schema: pa.Schema, first_row: int) -> Batch:
    """A batch of a table as documents. A value that does not convert (a kept column of another type in
    this file, text that is not UTF-8) rejects its row as read.bad_field, not the batch or the file."""
    n = table.num_rows
    text = column(table, config.text)
    if text is None:
        raise ConfigError(
            f"{piece.url}: reader key 'text': field '{config.text}' not found; fields found: {', '.join(table.column_names)}"
        )
    if not text_type(text.type):  # a list or struct here, text in the file check() sampled
        return rows_rejected(
            table,
            piece,
            config,
            schema,
            first_row,
            "read.bad_field",
            f"'{config.text}' is {text.type} in this file, not text",
        )
    try:
        documents = converted(table, text, piece, config, schema, first_row)
    except pa.ArrowInvalid as error:
        if n == 1:
            return rows_rejected(table, piece, config, schema, first_row, "read.bad_field", str(error))
        return joined([table_documents(table.slice(i, 1), piece, config, schema, first_row + i) for i in range(n)])
    has_text = pc.is_valid(documents["text"])
    if pc.all(has_text).as_py() is not False:
        return Batch(documents)
    missing = documents.filter(pc.invert(has_text))
    rejected = missing.select(DOCUMENT_SCHEMA.names).set_column(
        2, "text", pa.array([""] * missing.num_rows, pa.large_string())
    )
    return Batch(
        documents.filter(has_text),
        rejected,
        ["read.no_text"] * missing.num_rows,
        [f"'{config.text}' is null"] * missing.num_rows,
    )


def converted(
    table: pa.Table, text: pa.Array, piece: Piece, config: ReaderConfig, schema: pa.Schema, first_row: int
) -> pa.Table:
    n = table.num_rows
    ids = column(table, config.id or "id")
    if ids is None or ids.null_count:
        derived = pa.array([derived_id(config, piece.url, first_row + i) for i in range(n)], pa.string())
        ids = derived if ids is None else pc.coalesce(cast(ids, pa.string(), "id"), derived)
    columns = {
        "id": cast(ids, pa.string(), "id"),
        "source": pa.array([config.source] * n, pa.string()),
        "text": cast(text, pa.large_string(), config.text),
        "path": pa.array([piece.url] * n, pa.string()),
    }
    url = column(table, config.url or "url")
    if url is not None:
        columns["url"] = cast(url, pa.string(), "url")
    for name, path in config.kept.items():
        values = column(table, path)
        if values is None:
            raise ConfigError(
                f"{piece.url}: reader key 'keep.{name}': field '{path}' not found; fields found: {', '.join(table.column_names)}"
            )
        columns[name] = cast(values, schema.field(name).type, path)
    documents = documents_table(columns, n, schema)
    documents.validate(
        full=True
    )  # Arrow IPC (save_to_disk) is not checked when read: text that is not UTF-8 stops here
    return documents


def rows_rejected(
    table: pa.Table, piece: Piece, config: ReaderConfig, schema: pa.Schema, first_row: int, reason: str, detail: str
) -> Batch:
    """Every row of table rejected, each kept as JSON text (nothing lost), with one reason and detail."""
    n = table.num_rows
    texts = row_texts(table)
    rejected = documents_table(
        {
            "id": pa.array([derived_id(config, piece.url, first_row + i) for i in range(n)], pa.string()),
            "source": pa.array([config.source] * n, pa.string()),
            "text": pa.array(texts, pa.large_string()),
            "path": pa.array([piece.url] * n, pa.string()),
        },
        n,
        DOCUMENT_SCHEMA,
    )
    return Batch(schema.empty_table(), rejected, [reason] * n, [detail] * n)


def row_texts(table: pa.Table) -> list[str]:
    """Each row as JSON text, strings that are not UTF-8 with their bad bytes escaped (\\xNN)."""
    as_bytes = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary()}
    table = pa.table([c.cast(as_bytes.get(c.type, c.type)) for c in table.columns], names=table.column_names)
    try:
        return [orjson.dumps(row, default=json_default).decode() for row in table.to_pylist()]
    except (UnicodeDecodeError, pa.ArrowException):  # bad bytes nested in a list or struct: the row is not shown
        return ["(not shown: holds bytes that are not UTF-8)"] * table.num_rows


def json_default(value):
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)


def joined(batches: list[Batch]) -> Batch:
    rejected = [b.rejected for b in batches if b.rejected is not None]
    return Batch(
        pa.concat_tables([b.documents for b in batches]),
        pa.concat_tables(rejected) if rejected else None,
        [r for b in batches for r in b.reasons],
        [d for b in batches for d in b.details],
    )
