"""Curated Parquet of real documents for the tokenization tests, built once per session.

books: the real `extract` stage over ../shared/data/books (English, German, French; one shard is empty).
web: the dolma/CCNet JSONL documents plus raw HTML of German and French saved pages (markup is text too).
code: Python standard-library files, including some with non-ASCII text.
"""

from __future__ import annotations

import gzip
import json
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from curate.core.executor import LocalExecutor
from curate.core.pipeline import load_pipeline
from curate.api import run_pipeline
from curate.core.schema import doc_id, make_documents

REPO = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])
CODE_FILES = [
    "json/*.py",
    "email/*.py",
    "test/test_unicode_identifiers.py",
    "test/test_source_encoding.py",
    "test/test_csv.py",
    "encodings/cp1252.py",
]
HTML_PAGES = ["adac.de.kindersitze.html", "austria.info.radfahren.html", "basicthinking.de.tweets.html"]
_CACHE: dict[str, "Curated"] = {}


@dataclass
class Curated:
    books: Path  # folder of Parquet shards
    web: Path
    code: Path
    tokenizer: Path

    def folders(self) -> dict[str, Path]:
        return {"web": self.web, "books": self.books, "code": self.code}


def write_parquet(folder: Path, name: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(make_documents(rows), folder / f"{name}.parquet")


def web_rows(shared: Path) -> list[dict]:
    rows = []
    for path in sorted((shared / "web" / "jsonl").iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f):
                record = json.loads(line)
                rows.append(
                    {
                        "id": doc_id("web", f"{path.name}:{n}"),
                        "source": "web",
                        "text": record["text"],
                        "url": record["id"],
                        "path": str(path),
                    }
                )
    for name in HTML_PAGES:
        path = shared / "web" / "html" / "trafilatura_cache" / name
        rows.append(
            {
                "id": doc_id("web", str(path)),
                "source": "web",
                "path": str(path),
                "text": path.read_bytes().decode("utf-8", errors="replace"),
            }
        )
    return rows


def code_rows() -> list[dict]:
    files = sorted(p for pattern in CODE_FILES for p in STDLIB.glob(pattern))
    return [
        {
            "id": doc_id("code", str(p)),
            "source": "code",
            "path": str(p),
            "programming_language": "Python",
            "text": p.read_bytes().decode("utf-8", errors="replace"),
        }
        for p in files
    ]


def build_curated(root: Path, shared: Path) -> Curated:
    if "curated" in _CACHE:
        return _CACHE["curated"]
    from curate.tokenize.bpe import train_tokenizer

    pipeline = load_pipeline(str(REPO / "pipelines" / "books.yaml"), [str(shared / "books")], str(root / "books"))
    run_pipeline(pipeline, LocalExecutor(1), progress=False)
    web = web_rows(shared)
    write_parquet(root / "web", "web-00000", web[: len(web) // 2])
    write_parquet(root / "web", "web-00001", web[len(web) // 2 :])
    code = code_rows()
    write_parquet(root / "code", "code-00000", code[: len(code) // 2])
    write_parquet(root / "code", "code-00001", code[len(code) // 2 :])
    curated = Curated(root / "books" / "extract", root / "web", root / "code", root / "tokenizer" / "tokenizer.json")
    train_tokenizer(
        [str(f) for f in curated.folders().values()], str(curated.tokenizer), vocab_size=2048, sample_bytes=3_000_000
    )
    _CACHE["curated"] = curated
    return curated


def read_documents(folder: Path) -> dict[str, list[dict]]:
    """{shard name: [{"id", "text"}, ...] in file order} of a folder of Parquet shards."""
    return {p.stem: pq.read_table(p, columns=["id", "text"]).to_pylist() for p in sorted(folder.glob("*.parquet"))}
