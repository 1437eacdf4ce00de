"""Shared by test_classify.py and test_toxicity.py: a small real toxicity model and document shards."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from conftest import run_curate
from curate.classify.sources import parse_source, read_source
from curate.core.schema import make_documents

JIGSAW = "toxicity/jigsaw_robtest/jigsaw_binary_balanced.csv"


def jigsaw_spec(shared_data: Path, label: int, extra: str = "") -> str:
    return f"{shared_data / JIGSAW}#columns=text+label,label={label}{extra}"


def train_jigsaw(shared_data: Path, output: Path, per_class: int = 1000) -> Path:
    """A toxic-vs-clean model from a seeded sample of real Jigsaw comments (about a second)."""
    run_curate(
        "train-classifier",
        "jigsaw",
        "--output",
        str(output),
        "--epoch",
        "20",
        "--dim",
        "16",
        "--test-fraction",
        "0.2",
        "--positive",
        jigsaw_spec(shared_data, 1, f",max={per_class}"),
        "--negative",
        jigsaw_spec(shared_data, 0, f",max={per_class}"),
    )
    return output / "jigsaw.bin"


def jigsaw_texts(shared_data: Path, label: int, count: int, seed: int) -> list[str]:
    """Comments drawn with another seed than the model's sample, so mostly unseen ones."""
    return read_source(parse_source(jigsaw_spec(shared_data, label, f",max={count}")), seed)


def write_docs(path: Path, texts: list[str], urls: list[str | None] | None = None) -> Path:
    urls = urls or [None] * len(texts)
    rows = [
        {"id": f"doc-{path.stem}-{i}", "source": "web", "text": t, "url": u}
        for i, (t, u) in enumerate(zip(texts, urls))
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(make_documents(rows), path)
    return path


def write_pipeline(path: Path, inputs: Path, output: Path, stage: dict) -> Path:
    path.write_text(yaml.safe_dump({"name": "t", "input": str(inputs), "output": str(output), "stages": [stage]}))
    return path


def read_metrics(model: Path) -> dict:
    return json.loads(model.with_suffix(".json").read_text())
