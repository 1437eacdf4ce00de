"""What a report knows about one pipeline run, read from its output folder without re-reading the corpus.

Stage order, documents and bytes come from stats/*.json (and pipeline.yaml, which the runner writes);
everything about individual documents comes from the rejected/<stage>/ folders and the last stage folder
that holds kept documents (in fused runs intermediate folders may be missing): Parquet, or JSON lines
where the run's output_format was jsonl.gz (parsed whole, a file at a time: JSON has no columns to
skip). Each of those folders is a Population: at most `cap` rows drawn uniformly with a seeded RNG,
read with column projection (signals, reason, language, source, host; never the text from Parquet),
each row weighing total/sampled documents, so histograms and counts are estimates with a known
sample size once a folder is larger than `cap`.
Texts are read only for the few rows shown, one row group at a time.
"""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from curate.core import storage
from curate.core.jsonl_sink import read_jsonl_output

HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(?P<host>[^/:?#]+)"
FACETS = ("language", "source", "host", "license")
SHOWN = (
    "id",
    "source",
    "language",
    "url",
    "title",
    "path",
    "repository",
    "relative_path",
    "stage",
    "reason",
    "detail",
    "duplicate_of",
)


def output_files(folder: Path) -> list[Path]:
    """A stage folder's output files directly in it (not its subfolders): Parquet, or JSON lines where the
    run's output_format was jsonl.gz (its last stage's kept rows and every rejected folder)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name.endswith(storage.OUTPUT_SUFFIXES) and not storage.TEMPORARY.search(p.name)
    )


def is_jsonl(path: Path) -> bool:
    return path.name.endswith(".jsonl.gz")


@lru_cache(maxsize=1)
def jsonl_table(path: Path) -> pa.Table:
    """A JSON-lines output file as a table: JSON has no columns or row groups to read apart, so it is
    parsed whole, once for the consecutive reads of one file."""
    return read_jsonl_output(str(path))


def row_count(path: Path) -> int:
    if is_jsonl(path):
        with gzip.open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    return pq.ParquetFile(path).metadata.num_rows


def file_schema(path: Path) -> pa.Schema:
    return jsonl_table(path).schema if is_jsonl(path) else pq.ParquetFile(path).schema_arrow


@dataclass
class Population:
    """A uniform sample of the rows of some output files: small columns only, with where each row lives."""

    files: list[Path]
    total: int
    table: pa.Table  # sampled rows; columns _file and _row locate each in `files`

    @property
    def weight(self) -> float:
        return self.total / self.table.num_rows if self.table.num_rows else 0.0

    def numbers(self, column: str) -> np.ndarray:
        if column not in self.table.column_names:
            return np.zeros(0)
        return pc.cast(self.table[column], pa.float64()).to_numpy(zero_copy_only=False)

    def strings(self, column: str) -> np.ndarray:
        if column not in self.table.column_names:
            return np.full(self.table.num_rows, None, object)
        return self.table[column].to_numpy(zero_copy_only=False)

    def locations(self) -> np.ndarray:
        return (
            np.stack([self.table["_file"].to_numpy(), self.table["_row"].to_numpy()], axis=1)
            if self.table.num_rows
            else np.zeros((0, 2), int)
        )


def is_signal(field: pa.Field) -> bool:
    return pa.types.is_floating(field.type) or pa.types.is_integer(field.type)


def sample_population(files: list[Path], cap: int, rng: np.random.Generator) -> Population:
    counts = [row_count(f) for f in files]
    total = sum(counts)
    chosen = np.sort(rng.choice(total, size=min(total, cap), replace=False)) if total else np.zeros(0, int)
    starts = np.concatenate([[0], np.cumsum(counts)])
    tables = []
    for index, path in enumerate(files):
        rows = chosen[(chosen >= starts[index]) & (chosen < starts[index + 1])] - starts[index]
        if not len(rows):
            continue
        wanted = [
            f.name
            for f in file_schema(path)
            if is_signal(f) or f.name in ("reason", "language", "source", "url", "license")
        ]
        table = read_selected(path, rows, wanted)
        if "url" in table.column_names:
            host = pc.struct_field(
                pc.extract_regex(table["url"].cast(pa.string()), HOST), "host"
            )  # JSON lines: all-null is untyped
            table = table.drop_columns("url").append_column("host", pc.utf8_lower(host))
        table = table.append_column("_file", pa.array(np.full(len(rows), index), pa.int32())).append_column(
            "_row", pa.array(rows, pa.int64())
        )
        tables.append(table)
    table = (
        pa.concat_tables(tables, promote_options="permissive")
        if tables
        else pa.table({"_file": pa.array([], pa.int32()), "_row": pa.array([], pa.int64())})
    )
    return Population(files, total, table)


def reason_samples(files: list[Path], per_reason: int, rng: np.random.Generator) -> dict[str, tuple[int, np.ndarray]]:
    """Every drop reason of a rejected folder: its count and up to `per_reason` (file, row) locations drawn
    uniformly. Reads only the reason column (dictionary-encoded, so cheap for millions of rows)."""
    ids, where, names = [], [], {}
    for index, path in enumerate(files):
        if is_jsonl(path):
            if not row_count(path):
                continue
            column = jsonl_table(path)["reason"].combine_chunks().dictionary_encode()
        else:
            column = pq.read_table(path, columns=["reason"], read_dictionary=["reason"])["reason"].combine_chunks()
        local = [names.setdefault(str(value), len(names)) for value in column.dictionary.to_pylist()]
        ids.append(
            np.asarray(local, np.int64)[column.indices.fill_null(0).to_numpy()]
            if local
            else np.zeros(len(column), np.int64)
        )
        where.append(np.stack([np.full(len(column), index), np.arange(len(column))], axis=1))
    if not ids:
        return {}
    ids, where = np.concatenate(ids), np.concatenate(where)
    found = {}
    for name, code in names.items():
        rows = np.flatnonzero(ids == code)
        if len(rows):
            found[name] = (len(rows), where[np.sort(rng.choice(rows, size=min(len(rows), per_reason), replace=False))])
    return found


def read_selected(path: Path, rows: np.ndarray, columns: list[str]) -> pa.Table:
    """Those rows (sorted) of an output file; of Parquet only the row groups that hold them are read."""
    if is_jsonl(path):
        table = jsonl_table(path)
        return table.select([c for c in columns if c in table.column_names]).take(rows)
    parquet = pq.ParquetFile(path)
    bounds = np.cumsum([0] + [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)])
    groups = np.searchsorted(bounds, rows, side="right") - 1
    needed = np.unique(groups)
    read_start = dict(zip(needed, np.cumsum([0] + [bounds[g + 1] - bounds[g] for g in needed[:-1]])))
    table = parquet.read_row_groups(needed.tolist(), columns=columns)
    return table.take(rows - bounds[groups] + np.array([read_start[g] for g in groups], dtype=np.int64))


def read_rows(files: list[Path], locations: np.ndarray, columns: list[str]) -> list[dict]:
    """Those rows (file index, row) with the named columns that exist, in the order given."""
    found = {}
    for index in np.unique(locations[:, 0]) if len(locations) else []:
        rows = np.unique(locations[locations[:, 0] == index, 1])
        table = read_selected(files[index], rows, [c for c in columns if c in file_schema(files[index]).names])
        for row, record in zip(rows, table.to_pylist()):
            found[(int(index), int(row))] = record
    return [found[(int(f), int(r))] for f, r in locations]


@dataclass
class Run:
    output: Path
    pipeline: dict | None  # OUTPUT/pipeline.yaml, when the runner wrote one
    stages: list[dict]  # stage entries in run order: {"stage": type, "name": name, params...}
    stats: dict[str, dict]  # stage name -> stats/<stage>.json
    rejected: dict[str, Population]  # stage name -> its rejected documents
    reasons: dict[str, dict[str, tuple[int, np.ndarray]]]  # stage name -> reason -> (count, sampled locations)
    kept_stage: str | None  # the last stage whose folder holds kept documents
    kept: Population | None
    tokens: dict[str, dict]  # tokenize stage name -> split -> tokens.json
    warnings: dict[str, list[str]]  # stage name -> what it warned about (reports/<stage>/source_shares.json)

    def passed(self, stage: str) -> list[Population]:
        """Samples of the documents a stage kept: those dropped by a later stage, and the final kept ones."""
        names = [s["name"] for s in self.stages]
        last = names.index(self.kept_stage) if self.kept_stage else len(names) - 1
        later = [self.rejected[n] for n in names[names.index(stage) + 1 : last + 1] if n in self.rejected]
        return later + ([self.kept] if self.kept is not None else [])

    def facet(self, column: str, populations: list[Population]) -> Counter:
        """Estimated document counts per value of language, source or host."""
        counts = Counter()
        for population in populations:
            if column in population.table.column_names:
                for item in pc.value_counts(population.table[column]).to_pylist():
                    counts[item["values"] if item["values"] is not None else "(none)"] += (
                        item["counts"] * population.weight
                    )
            elif population.table.num_rows:  # a population of no rows (a last stage that kept nothing) counts nothing
                counts["(none)"] += population.table.num_rows * population.weight
        return counts

    def everything(self) -> list[Population]:
        names = [s["name"] for s in self.stages]
        last = names.index(self.kept_stage) if self.kept_stage else len(names) - 1
        return [self.rejected[n] for n in names[: last + 1] if n in self.rejected] + (
            [self.kept] if self.kept is not None else []
        )


def stage_order(output: Path, pipeline: dict | None) -> list[dict]:
    """Stages in run order: pipeline.yaml's (the `read` stage first where its `reader:` key put one there),
    then any other stats/*.json (e.g. a tokenize step run on its own) by the time they were written."""
    stages = list(pipeline["stages"]) if pipeline else []
    if pipeline and "reader" in pipeline:  # the top-level reader: key is the `read` stage, run first
        stages.insert(0, {"stage": "read", "name": "read", **pipeline["reader"]})
    known = {s["name"] for s in stages}
    for path in sorted((output / "stats").glob("*.json"), key=lambda p: p.stat().st_mtime):
        if path.stem not in known:  # no parameters known: a stage type only where its output tells
            stages.append(
                {
                    "stage": "tokenize" if (output / path.stem / "train" / "tokens.json").exists() else "unknown",
                    "name": path.stem,
                }
            )
    return stages


def load_run(output: str | Path, cap: int = 100_000, per_reason: int = 5, seed: int = 0) -> Run:
    output = Path(output)
    if not (output / "stats").is_dir():
        raise FileNotFoundError(f"{output}: no stats/ folder; give the output folder of a `curate run`")
    pipeline_file = output / "pipeline.yaml"
    pipeline = yaml.safe_load(pipeline_file.read_text()) if pipeline_file.exists() else None
    stages = stage_order(output, pipeline)
    stats = {
        s["name"]: yaml.safe_load((output / "stats" / f"{s['name']}.json").read_text())
        for s in stages
        if (output / "stats" / f"{s['name']}.json").exists()
    }
    rng = np.random.default_rng(seed)
    rejected, reasons = {}, {}
    for stage in stages:
        files = output_files(output / "rejected" / stage["name"])
        if files:
            rejected[stage["name"]] = sample_population(files, cap, rng)
            reasons[stage["name"]] = reason_samples(files, per_reason, rng)
    kept_stage = next((s["name"] for s in reversed(stages) if output_files(output / s["name"])), None)
    kept = sample_population(output_files(output / kept_stage), cap, rng) if kept_stage else None
    tokens = {}
    for stage in stages:
        splits = {
            split: yaml.safe_load(path.read_text())
            for split in ("train", "val")
            if (path := output / stage["name"] / split / "tokens.json").exists()
        }
        if splits:
            tokens[stage["name"]] = splits
    warnings = {
        s["name"]: yaml.safe_load(path.read_text())["warnings"]
        for s in stages
        if (path := output / "reports" / s["name"] / "source_shares.json").exists()
    }
    return Run(output, pipeline, stages, stats, rejected, reasons, kept_stage, kept, tokens, warnings)
