"""The tokenization part of `curate demo`: a tokenizer trained on every curated source, token shards per
source, and the mix manifest the trainer's tiny-cpu config reads (data_manifests/demo.yaml for out/demo)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from curate.core.executor import Executor
from curate.core.pipeline import Pipeline
from curate.api import run_pipeline
from curate.core.stats import StageReport
from curate.tokenize.bpe import read_tokenizer, train_tokenizer
from curate.tokenize.stage import TokenizeParams, TokenizeStage

# source: (mix weight, documents held out at least: enough web pages / code files for one validation
# window of seq_len + 1 tokens, one of the few books)
DEMO_SOURCES = {"web": (0.5, 8), "books": (0.3, 1), "code": (0.2, 8)}
DEMO_SEQ_LEN = 256
DEMO_TOTAL_TOKENS = 300 * 8 * 256  # configs/tiny-cpu.yaml: 300 steps of 8 sequences of 256 tokens
DEMO_MAX_EPOCHS = 4.0  # past ~4 epochs repeated tokens are worth little; the rest goes elsewhere
DEMO_VALIDATION_FRACTION = 0.02


@dataclass
class DemoTokens:
    tokenizer: Path
    tokenizer_sha256: str
    reports: list[StageReport]  # one tokenize report per source, for the demo's stats table
    manifest: Path
    plan: object  # common.mix.MixPlan; print it with common.mix.format_plan


def tokenize_demo(
    demo_dir: str | os.PathLike,
    curated: dict[str, str],
    executor: Executor,
    vocab_size: int = 8192,
    sample_bytes: int = 100_000_000,
    progress: bool = True,
) -> DemoTokens:
    """Train (or reuse) <demo_dir>/tokenizer/tokenizer.json on the curated Parquet folders in `curated`
    ({"web": "out/demo/web/dedup", ...}), tokenize each into <demo_dir>/<source>/tokenize/{train,val},
    write <demo_dir>/mix.yaml and plan it. Resumable like every pipeline: an existing tokenizer is kept
    (delete the folder to start over)."""
    from common.mix import load_manifest, plan_mix

    demo_dir = Path(demo_dir)
    unknown = set(curated) - set(DEMO_SOURCES)
    if unknown:
        raise ValueError(f"unknown demo sources {sorted(unknown)}; expected some of {', '.join(DEMO_SOURCES)}")
    tokenizer_path = demo_dir / "tokenizer" / "tokenizer.json"
    if not tokenizer_path.exists():
        train_tokenizer([str(curated[s]) for s in sorted(curated)], str(tokenizer_path), vocab_size, sample_bytes)
    reports = []
    for source, folder in curated.items():
        params = TokenizeParams(
            tokenizer=str(tokenizer_path),
            validation_fraction=DEMO_VALIDATION_FRACTION,
            min_validation_docs=DEMO_SOURCES[source][1],
        )
        pipeline = Pipeline(
            f"{source}-tokenize",
            "(curate demo)",
            [str(folder)],
            str(demo_dir / source),
            [TokenizeStage("tokenize", params)],
        )
        (report,) = run_pipeline(pipeline, executor, progress=progress)
        report.name = f"tokenize:{source}"
        reports.append(report)
    sha256 = read_tokenizer(str(tokenizer_path))[1]
    mixed = [source for source in curated if training_tokens(demo_dir / source / "tokenize" / "train")]
    for source in sorted(set(curated) - set(mixed)):
        print(f"{source}: no training tokens (curation kept no documents of it): left out of the mix")
    if not mixed:
        raise ValueError(f"{demo_dir}: no source has training tokens; nothing to mix")
    manifest = write_demo_manifest(demo_dir, demo_dir / "mix.yaml", mixed, sha256)
    return DemoTokens(tokenizer_path, sha256, reports, manifest, plan_mix(load_manifest(manifest)))


def training_tokens(folder: Path) -> int:
    """The token count a tokenize output folder's tokens.json records (0 when it is missing)."""
    counts = folder / "tokens.json"
    return json.loads(counts.read_text())["num_tokens"] if counts.exists() else 0


def demo_manifest(demo_dir: Path, manifest_dir: Path, sources: list[str], tokenizer_sha256: str | None) -> dict:
    """The demo mix as a manifest mapping, paths relative to the folder the manifest will live in."""

    def relative(path: Path) -> str:
        return Path(os.path.relpath(path.resolve(), manifest_dir.resolve())).as_posix()

    tokenizer = {"path": relative(demo_dir / "tokenizer" / "tokenizer.json")}
    if tokenizer_sha256:
        tokenizer["hash"] = tokenizer_sha256
    return {
        "name": "demo",
        "tokenizer": tokenizer,
        "seq_len": DEMO_SEQ_LEN,
        "seed": 1234,
        "total_tokens": DEMO_TOTAL_TOKENS,
        "sources": [
            {
                "name": s,
                "path": relative(demo_dir / s / "tokenize" / "train"),
                "weight": DEMO_SOURCES[s][0],
                "max_epochs": DEMO_MAX_EPOCHS,
                "validation": relative(demo_dir / s / "tokenize" / "val"),
            }
            for s in DEMO_SOURCES
            if s in sources
        ],
    }


MANIFEST_HEADER = """\
# The demo mix: web, books and code curated by `curate demo`, tokenized with the tokenizer it trained.
#   curate mix data_manifests/demo.yaml     # the plan: tokens available, drawn, share, epochs per source
#   train run configs/tiny-cpu.yaml         # trains on exactly that plan
# total_tokens = 300 steps x 8 sequences x 256 tokens (configs/tiny-cpu.yaml). Without a tokenizer hash,
# `curate mix` checks every shard against the sha256 of the tokenizer file the demo trained.
"""


def write_demo_manifest(demo_dir: Path, path: Path, sources: list[str], tokenizer_sha256: str | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(demo_manifest(demo_dir, path.parent, sources, tokenizer_sha256), sort_keys=False)
    path.write_text(MANIFEST_HEADER + body, encoding="utf-8")
    return path
