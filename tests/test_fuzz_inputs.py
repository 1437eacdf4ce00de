"""Seeded fuzzing of the readers: real WARC, HTML, gzip'd books, tar.gz and zip archives from
../shared/data, truncated at random, with random bytes flipped or garbage spliced in. The real
`curate run` must finish (exit 0) within a time limit, and every input file must be accounted
for: it gave kept documents or recorded rejections, and the stage's stats count exactly the rows
written. Damaged Parquet given to a later stage fails its own shard, by name."""

from __future__ import annotations

import gzip
import io
import json
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO, read_rejected, read_stage
from curate.core.schema import make_documents
from extract_fixtures import write_pipeline

SEEDS_PER_FORMAT = 8
RUN_LIMIT_SECONDS = 300  # far above a healthy run: a hang fails the test instead of stalling it


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Truncate, flip bytes, or splice garbage, at random places."""
    kind = rng.choice(["truncate", "flip", "garbage", "truncate+flip"])
    if "truncate" in kind:
        data = data[: rng.randrange(1, len(data))]
    if "flip" in kind:
        data = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        data = bytes(data)
    if kind == "garbage":
        at = rng.randrange(len(data))
        data = data[:at] + rng.randbytes(rng.randint(1, 4096)) + data[at:]
    return data


def code_archive(kind: str, chapters: list[Path]) -> bytes:
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in chapters:
                archive.writestr(f"book/{path.name}", path.read_bytes())
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in chapters:
                tar.add(path, f"book/{path.name}")
    return buffer.getvalue()


def originals(shared_data: Path, source: str) -> dict[str, bytes]:
    if source == "web":
        warc, html = shared_data / "web" / "warc", shared_data / "web" / "html" / "trafilatura_cache"
        return {
            "crawl.warc.gz": (warc / "dolma_sample-0000.warc.gz").read_bytes(),
            "capture.warc.gz": (warc / "warcio_example.warc.gz").read_bytes(),
            "page.html": (html / sorted(p.name for p in html.glob("*.html"))[0]).read_bytes(),
        }
    if source == "books":
        alice = (shared_data / "books" / "en_alice_pg11.txt").read_bytes()
        return {"alice.txt.gz": gzip.compress(alice), "alice.txt": alice}
    chapters = sorted((shared_data / "quality" / "positives" / "rust_book" / "src").glob("ch0*.md"))[:12]
    return {"repo.tar.gz": code_archive("tar.gz", chapters), "repo.zip": code_archive("zip", chapters)}


@pytest.mark.slow
@pytest.mark.parametrize("source", ["web", "books", "code"])
def test_mutated_inputs_are_all_accounted_for(shared_data, tmp_path, source):
    rng = random.Random(f"fuzz-{source}")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    names = []
    for seed in range(SEEDS_PER_FORMAT):
        for name, data in originals(shared_data, source).items():
            stem, dot, suffix = name.partition(".")
            names.append(f"{stem}-{seed}{dot}{suffix}")
            (inputs / names[-1]).write_bytes(mutate(data, rng))
    output = tmp_path / "out"
    pipeline = write_pipeline(tmp_path, source, [inputs], output, files_per_shard=4, timeout_seconds=5)
    result = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--workers", "2", "--no-progress"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    kept, rejected = read_stage(output, "extract"), read_rejected(output, "extract")
    kept_rows = kept.to_pylist() if kept is not None else []
    rejected_rows = rejected.to_pylist() if rejected is not None else []
    seen = {row["path"].rsplit("/", 1)[1] for row in kept_rows + rejected_rows}
    assert seen == set(names), f"inputs with no document and no rejection: {sorted(set(names) - seen)}"
    assert all(row["reason"] for row in rejected_rows)
    stats = json.loads((output / "stats" / "extract.json").read_text())
    assert stats["docs_out"] == len(kept_rows) and stats["docs_in"] == len(kept_rows) + len(rejected_rows)
    assert sum(stats["dropped"].values()) == len(rejected_rows)
    shutil.rmtree(inputs)


@pytest.mark.slow
def test_mutated_parquet_stage_inputs_fail_their_shard_by_name(shared_data, tmp_path):
    """A later stage trusts Parquet it is given, but damaged files must not crash the run or pass
    unnoticed: each one gives its documents or fails its own shard, named, and the rest finish."""
    rows = [
        {"id": p.name, "source": "books", "text": p.read_text(encoding="utf-8-sig")}
        for p in sorted((shared_data / "books").glob("en_*.txt"))
    ]
    buffer = io.BytesIO()
    pq.write_table(make_documents(rows), buffer)
    rng = random.Random("fuzz-parquet")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    names = [f"m{seed:02d}" for seed in range(SEEDS_PER_FORMAT)] + ["intact"]
    for name in names:
        data = buffer.getvalue()
        (inputs / f"{name}.parquet").write_bytes(data if name == "intact" else mutate(data, rng))
    pipeline = tmp_path / "quality.yaml"
    pipeline.write_text(
        f"name: fuzz\ninput: {inputs}\noutput: {tmp_path / 'out'}\nstages:\n"
        "  - {stage: quality, c4: false, fineweb: false}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--workers", "2", "--no-progress"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_SECONDS,
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]  # never a signal (a crash in pyarrow)
    failed = set()
    if result.returncode == 1:  # the message lists one failed shard a line, then the first traceback
        failed = {
            line.split(":")[0].strip()
            for line in result.stderr.split("first traceback:")[0].splitlines()[1:]
            if line.strip()
        }
        assert result.stderr.startswith(f"curate: stage 'quality' (main): {len(failed)} of {len(names)} shards failed")
    done = {p.stem for p in (tmp_path / "out" / "_state" / "quality" / "main").glob("*.json")}
    assert "intact" in done and done | failed == set(names) and not done & failed


def test_mutated_jsonl_sources_give_records_or_an_error_naming_the_file(shared_data, tmp_path):
    """Classifier training sources (JSONL, gzip'd or not): damage is a ConfigError naming the file."""
    from curate.classify.sources import parse_source, read_file
    from curate.core.params import ConfigError

    jsonl = shared_data / "web" / "jsonl"
    originals = {
        "plain.jsonl": (jsonl / "dolma_cc_en_head-0091.jsonl").read_bytes(),
        "packed.jsonl.gz": (jsonl / "dolma_provided_documents_000.json.gz").read_bytes(),
    }
    rng = random.Random("fuzz-jsonl")
    for seed in range(4 * SEEDS_PER_FORMAT):
        for name, data in originals.items():
            path = tmp_path / f"{seed}-{name}"
            path.write_bytes(mutate(data, rng))
            try:
                assert all(isinstance(text, str) for text in read_file(str(path), parse_source(str(path))))
            except ConfigError as error:
                assert str(path) in str(error)


# ---- documents that already exist: every reader format (issue #31)


READER_FORMATS = ["jsonl", "jsonl.gz", "jsonl.zst", "json", "parquet", "csv", "arrow"]


def document_rows(shared_data: Path) -> list[dict]:
    from read_fixtures import dolma_records

    return [
        {"id": r["id"], "text": r["text"], "url": r["metadata"].get("url"), "added": r["added"]}
        for r in dolma_records(shared_data)
    ]


def wrong_types(rows: list[dict]) -> list[dict]:
    """The same documents with values of other types: text as a number, a list, an object, null; url as an object."""
    odd = [5, [1, 2], {"t": "x"}, None]
    return [
        {**r, "text": odd[i % 4]} if i % 3 == 0 else {**r, "url": {"href": r["url"]}} if i % 3 == 1 else r
        for i, r in enumerate(rows)
    ]


def encode(fmt: str, rows: list[dict], typed: bool = False) -> bytes:
    """rows in a reader format, as its usual writer writes them; typed: the columns' types changed (text a list
    of strings, url a struct: a later file of another schema)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import zstandard

    lines = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    if fmt == "jsonl":
        return lines
    if fmt == "jsonl.gz":
        return gzip.compress(lines)
    if fmt == "jsonl.zst":
        return zstandard.ZstdCompressor().compress(lines)
    if fmt == "json":
        return json.dumps(rows, indent=1).encode()
    table = pa.Table.from_pylist(rows)
    if typed and fmt == "csv":  # CSV has no types: its wrong shape is a row of too many fields
        plain = io.BytesIO()
        pacsv.write_csv(table.drop_columns(["added"]), plain)
        lines = plain.getvalue().split(b"\n")
        return b"\n".join(lines[:10] + [b'"x","y","z","one too many"'] + lines[10:])
    if typed:
        table = table.set_column(
            table.schema.get_field_index("text"), "text", pa.array([[t] for t in table["text"].to_pylist()])
        )
        table = table.set_column(
            table.schema.get_field_index("url"), "url", pa.array([{"href": u} for u in table["url"].to_pylist()])
        )
    buffer = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, buffer, row_group_size=8)
    elif fmt == "csv":
        pacsv.write_csv(table.drop_columns(["added"]), buffer)
    else:  # arrow: the stream format datasets' save_to_disk writes
        with pa.ipc.new_stream(buffer, table.schema) as writer:
            writer.write_table(table, max_chunksize=8)
    return buffer.getvalue()


def reads_as_empty(fmt: str, data: bytes) -> bool:
    """Whether a reference reader (not the project's) reads the bytes as a file of no records: such a file
    gives no document and no rejection, rightly."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import zstandard

    try:
        if fmt == "jsonl.gz":
            data = gzip.decompress(data)
        elif fmt == "jsonl.zst":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        if fmt.startswith("json"):
            return not data.strip() or data.strip() == b"[]"
        if fmt == "parquet":
            return pq.read_table(io.BytesIO(data)).num_rows == 0
        if fmt == "csv":
            return pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(block_size=1 << 26)).num_rows == 0
        return pa.ipc.open_stream(data).read_all().num_rows == 0
    except Exception:  # noqa: BLE001 - the reference cannot read it: not empty, damaged
        return False


@pytest.mark.slow
@pytest.mark.parametrize("fmt", READER_FORMATS)
def test_mutated_documents_in_every_reader_format_are_all_accounted_for(shared_data, tmp_path, fmt):
    """Truncated, bit-flipped, garbage-spliced and wrongly typed files beside an intact one (first: the first
    readable file of a format decides the mapping): the real `curate run` finishes, and every file gave
    documents or rejections with a reason (or is empty to a reference reader), counted in the stats."""
    rows = document_rows(shared_data)
    original = encode(fmt, rows)
    rng = random.Random(f"fuzz-reader-{fmt}")
    inputs = tmp_path / "inputs"
    files = {
        f"a-intact.{fmt}": original,
        f"b-typed.{fmt}": encode(fmt, wrong_types(rows) if fmt.startswith("json") else rows, typed=True),
    }
    files |= {f"m{seed:02d}.{fmt}": mutate(original, rng) for seed in range(2 * SEEDS_PER_FORMAT)}
    for name, data in files.items():
        if fmt == "arrow":  # a datasets.save_to_disk folder each: its .arrow beside the descriptions
            folder = inputs / name.split(".")[0]
            folder.mkdir(parents=True)
            (folder / "data-00000-of-00001.arrow").write_bytes(data)
            (folder / "state.json").write_text('{"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}')
            (folder / "dataset_info.json").write_text("{}")
        else:
            inputs.mkdir(exist_ok=True)
            (inputs / name).write_bytes(data)
    output = tmp_path / "out"
    pipeline = tmp_path / "read.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "name": "fuzz",
                "input": str(inputs),
                "output": str(output),
                "reader": {"shard_bytes": 1_000_000},
                "stages": [{"stage": "langid"}],
            }
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--workers", "2", "--no-progress", "--materialize"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    kept, rejected = read_stage(output, "read"), read_rejected(output, "read")
    kept_rows = kept.to_pylist() if kept is not None else []
    rejected_rows = rejected.to_pylist() if rejected is not None else []
    seen = {row["path"] for row in kept_rows + rejected_rows}
    silent = [
        name
        for name, data in files.items()
        if not any(name.split(".")[0] in path for path in seen) and not reads_as_empty(fmt, data)
    ]
    assert silent == [], f"files with no document and no rejection: {silent}"
    assert all(row["reason"] and row["detail"] for row in rejected_rows)
    assert {r["id"] for r in rows} <= {row["id"] for row in kept_rows}  # the intact file, whole
    stats = json.loads((output / "stats" / "read.json").read_text())
    assert stats["docs_out"] == len(kept_rows) and stats["docs_in"] == len(kept_rows) + len(rejected_rows)
    assert sum(stats["dropped"].values()) == len(rejected_rows)
    typed = [row for row in rejected_rows if "b-typed" in row["path"]]
    assert len(typed) >= (1 if fmt == "csv" else len(rows) // 3)
    assert {row["reason"] for row in typed} <= {"read.no_text", "read.bad_field", "read.bad_row"}
