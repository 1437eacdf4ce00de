"""Real documents in the formats people bring, built at test time from ../shared/data/web/jsonl (real CCNet
and Dolma documents): FineWeb-style Parquet, Dolma-style JSONL.gz, CSV and a datasets.save_to_disk folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def dolma_records(shared: Path) -> list[dict]:
    """The 30 Dolma records (id, text, source, added, created, metadata) of the sample, in file order."""
    folder = shared / "web" / "jsonl"
    records = []
    for path in sorted(folder.iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


def fineweb_rows(records: list[dict]) -> list[dict]:
    """FineWeb's columns: text, id, dump, url, date, file_path, language, language_score, token_count."""
    rows = []
    for i, r in enumerate(records):
        meta = r["metadata"]
        rows.append(
            {
                "text": r["text"],
                "id": f"<urn:uuid:00000000-0000-0000-0000-{i:012d}>",
                "dump": "CC-MAIN-2020-16",
                "url": meta.get("url") or r["id"],
                "date": meta.get("date_download") or r["created"],
                "file_path": meta.get("cc_segment") or "s3://commoncrawl/unknown",
                "language": "en",
                "language_score": float(meta.get("language_score") or 0.9),
                "token_count": len(r["text"].split()),
            }
        )
    return rows


def write_fineweb_parquet(records: list[dict], path: Path, row_group_size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(fineweb_rows(records)), path, row_group_size=row_group_size)
    return path


def write_dolma_jsonl_gz(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps({k: r[k] for k in ("id", "text", "source", "added", "created", "metadata")}) + "\n")
    return path


def write_csv(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "doc_id": [r["id"] for r in records],
            "body": [r["text"] for r in records],
            "link": [r["metadata"].get("url") for r in records],
        }
    )
    pacsv.write_csv(table, path)
    return path


def write_save_to_disk(records: list[dict], path: Path) -> Path:
    import datasets

    rows = [{"text": r["text"], "url": r["metadata"].get("url"), "added": r["added"]} for r in records]
    datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return path
