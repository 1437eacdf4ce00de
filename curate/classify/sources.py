"""Training documents for `curate train-classifier`: SRC specs to lists of texts.

A SRC is a file or folder, optionally followed by '#' and comma-separated options:

    PATH[#KEY=VALUE,KEY=VALUE...]          several values of one key are joined with '+'

    text=F[+F...]     the field(s) or column(s) holding the text (default: --text-field, 'text');
                      several are joined with a newline; strings nested in lists or objects
                      (self-instruct's "instances") are collected in order
    columns=A+B+...   names for the columns of a CSV without a header row; without it the
                      first row of a CSV is its header
    format=F          text | lines | jsonl | csv | parquet, instead of guessing from the suffix
    max=N             at most N documents from this SRC, a seeded random sample (--seed)
    KEY=V[+V...]      any other key selects records whose field KEY is one of the values
                      (compared as text): 'class=0+1' keeps Davidson's hate and offensive rows

Formats by suffix: .jsonl/.json (one JSON object a line, optionally .gz), .parquet, .csv,
.tsv; any other file is text and the whole file is one document (a book chapter, a web
page); `format=lines` makes each non-empty line a document instead. A folder means every
file under it with one of those suffixes or .txt/.md/.rst (LICENSE and other files without a
known suffix are skipped, and so are folders named _* or .*, such as a stage's _done/), in
sorted order: a stage output folder such as out/web/extract is a valid SRC.

Examples:
    ../shared/data/quality/positives/gsm8k#text=question+answer
    jigsaw_binary_balanced.csv#columns=text+label,label=1
    davidson2017/labeled_data.csv#text=tweet,class=0+1,max=5000
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import sys
import zlib
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from curate.core.params import ConfigError

FORMATS = ("text", "lines", "jsonl", "csv", "parquet")
SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".jsonl.gz": "jsonl",
    ".json.gz": "jsonl",
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "text",
    ".md": "text",
    ".rst": "text",
}


@dataclass
class SourceSpec:
    spec: str  # as the user wrote it, for messages and the metrics file
    path: str
    text_fields: list[str]
    columns: list[str] | None = None
    format: str | None = None
    max_docs: int | None = None
    where: dict[str, set[str]] = field(default_factory=dict)


def parse_source(spec: str, default_text_field: str = "text") -> SourceSpec:
    path, _, options = spec.partition("#")
    source = SourceSpec(spec, path, [default_text_field])
    for option in filter(None, options.split(",")):
        key, eq, value = option.partition("=")
        if not eq or not key or not value:
            raise ConfigError(f"source '{spec}': option '{option}' is not KEY=VALUE")
        values = value.split("+")
        if key == "text":
            source.text_fields = values
        elif key == "columns":
            source.columns = values
        elif key == "format":
            if value not in FORMATS:
                raise ConfigError(f"source '{spec}': format must be one of {', '.join(FORMATS)}, got '{value}'")
            source.format = value
        elif key == "max":
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"source '{spec}': max must be a positive whole number, got '{value}'")
            source.max_docs = int(value)
        else:
            source.where[key] = set(values)
    if not os.path.exists(path):
        raise ConfigError(f"source '{spec}': path '{path}' does not exist")
    return source


def read_source(source: SourceSpec, seed: int) -> list[str]:
    """Every selected document's text (empty ones included; the caller counts and skips them)."""
    files = list_source_files(source)
    if not files:
        raise ConfigError(f"source '{source.spec}': no readable files (suffixes: {', '.join(SUFFIX_FORMATS)})")
    texts = [text for path in files for text in read_file(path, source)]
    if source.max_docs is not None and len(texts) > source.max_docs:
        picked = sorted(random.Random(seed).sample(range(len(texts)), source.max_docs))
        texts = [texts[i] for i in picked]
    return texts


def list_source_files(source: SourceSpec) -> list[str]:
    if os.path.isfile(source.path):
        return [source.path]
    found = []
    for folder, subfolders, names in os.walk(source.path):
        subfolders[:] = [d for d in subfolders if not d.startswith(("_", "."))]  # a stage's _done records, .git
        found += [os.path.join(folder, n) for n in names if file_format(n) is not None]
    return sorted(found)


def file_format(name: str) -> str | None:
    lower = name.lower()
    for suffix, fmt in SUFFIX_FORMATS.items():
        if lower.endswith(suffix):
            return fmt
    return None


def read_file(path: str, source: SourceSpec) -> list[str]:
    fmt = source.format or file_format(path) or "text"
    if fmt in ("text", "lines"):
        if source.where:
            raise ConfigError(
                f"source '{source.spec}': plain text has no fields to select by ({', '.join(source.where)})"
            )
        text = read_text(path)
        return [line for line in text.splitlines() if line.strip()] if fmt == "lines" else [text]
    records = {"jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet}[fmt](path, source)
    return [record_text(r, source, path) for r in records if selected(r, source.where)]


def read_text(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace").lstrip("\ufeff")


def read_jsonl(path: str, source: SourceSpec) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    records, number = [], 0
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ConfigError(f"source '{source.spec}': {path} line {number} is not JSON: {error}") from None
    except (OSError, EOFError, zlib.error) as error:  # a damaged .gz
        raise ConfigError(
            f"source '{source.spec}': {path} is damaged after line {number}: {type(error).__name__}: {error}"
        ) from None
    return records


def read_csv(path: str, source: SourceSpec) -> list[dict]:
    csv.field_size_limit(sys.maxsize)  # a long comment is one field
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        data = f.read().lstrip("\ufeff")
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    if source.columns:
        return [dict(zip(source.columns, row)) for row in csv.reader(io.StringIO(data), delimiter=delimiter)]
    return list(csv.DictReader(io.StringIO(data), delimiter=delimiter))


def read_parquet(path: str, source: SourceSpec) -> list[dict]:
    wanted = set(source.text_fields) | set(source.where)
    names = pq.read_schema(path).names
    missing = sorted(wanted - set(names))
    if missing:
        raise ConfigError(
            f"source '{source.spec}': {path} has no column {', '.join(missing)} (columns: {', '.join(names)})"
        )
    return pq.read_table(path, columns=sorted(wanted)).to_pylist()


def selected(record: dict, where: dict[str, set[str]]) -> bool:
    return all(str(record.get(key)) in values for key, values in where.items())


def record_text(record: dict, source: SourceSpec, path: str) -> str:
    missing = [f for f in source.text_fields if f not in record]
    if missing:
        raise ConfigError(
            f"source '{source.spec}': a record in {path} has no field '{missing[0]}' "
            f"(fields: {', '.join(map(str, record))}); name the text with #text=FIELD"
        )
    return "\n".join(s for f in source.text_fields for s in strings_in(record[f]))


def strings_in(value) -> list[str]:
    """The non-empty strings in a value, nested lists and objects included, in order."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return [] if value is None else [str(value)]
