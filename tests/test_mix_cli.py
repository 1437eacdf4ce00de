"""`curate mix`: checks a dataset-mix manifest over real token shards and prints the plan common.mix computes;
and the demo's tokenization step (tokenizer, shards per source, data_manifests/demo.yaml)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import REPO, curate_in_process, run_curate
from curate.core.executor import LocalExecutor
from curate.tokenize.demo import DEMO_SOURCES, demo_manifest, tokenize_demo
from tokenize_fixtures import build_curated, write_parquet
from common.mix import format_plan, load_manifest, plan_mix
from common.shards import read_token_dir

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, shared_data):
    """The demo's tokenization step over real curated documents, in <tmp>/out/demo like `curate demo`."""
    root = tmp_path_factory.mktemp("mix")
    curated = build_curated(root / "curated", shared_data)
    # the curated documents' tokenizer, kept as a rerun of the demo keeps its own (training one: the shared demo run)
    (root / "out" / "demo" / "tokenizer").mkdir(parents=True)
    shutil.copy(curated.tokenizer, root / "out" / "demo" / "tokenizer" / "tokenizer.json")
    result = tokenize_demo(
        root / "out" / "demo",
        {k: str(v) for k, v in curated.folders().items()},
        LocalExecutor(1),
        vocab_size=2048,
        progress=False,
    )
    return SimpleNamespace(root=root, result=result, curated=curated)


def write_manifest(path: Path, demo_root: Path, **changes) -> Path:
    """A manifest over the demo's token directories, with top-level keys or sources[i] entries changed."""
    base = demo_root / "out" / "demo"
    manifest = {
        "name": "t",
        "tokenizer": {"path": str(base / "tokenizer" / "tokenizer.json")},
        "seq_len": 64,
        "seed": 7,
        "total_tokens": 200_000,
        "sources": [
            {
                "name": s,
                "path": str(base / s / "tokenize" / "train"),
                "weight": w,
                "validation": str(base / s / "tokenize" / "val"),
            }
            for s, w in (("web", 2), ("books", 1))
        ],
    }
    for key, value in changes.items():
        if key.startswith("source"):
            manifest["sources"][int(key[-1])].update(value)
        else:
            manifest[key] = value
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_demo_step_and_the_shipped_manifest(demo):
    root, result = demo.root, demo.result
    assert [r.name for r in result.reports] == ["tokenize:web", "tokenize:books", "tokenize:code"]
    assert [s.name for s in result.plan.sources] == ["web", "books", "code"]
    static = REPO / "data_manifests" / "demo.yaml"
    assert yaml.safe_load(static.read_text()) == demo_manifest(
        REPO / "out" / "demo", static.parent, list(DEMO_SOURCES), None
    )
    (root / "data_manifests").mkdir(exist_ok=True)
    shutil.copy(static, root / "data_manifests" / "demo.yaml")  # its ../out/demo paths, against this demo's output
    printed = run_curate("mix", str(root / "data_manifests" / "demo.yaml")).stdout
    plan = plan_mix(load_manifest(root / "data_manifests" / "demo.yaml"))
    assert printed == format_plan(plan) + "\n"
    assert plan.total_tokens == 300 * 8 * 256
    for source in plan.sources:
        summary = json.loads((root / "out" / "demo" / source.name / "tokenize" / "train" / "tokens.json").read_text())
        assert source.available == summary["num_tokens"] and f"{summary['num_tokens']:,}" in printed
        val = read_token_dir(root / "out" / "demo" / source.name / "tokenize" / "val")
        assert max(s.num_tokens for s in val.shards) > 256  # the trainer needs one seq_len + 1 window


def test_plan_table_and_repeat_warning(demo, tmp_path):
    root = demo.root
    small = curate_in_process("mix", str(write_manifest(tmp_path / "a.yaml", root))).stdout
    assert "web" in small and "books" in small and "warning" not in small
    books = read_token_dir(root / "out" / "demo" / "books" / "tokenize" / "train").num_tokens
    big = curate_in_process("mix", str(write_manifest(tmp_path / "b.yaml", root, total_tokens=30 * books))).stdout
    assert "warning: source 'web' repeats" in big and "Muennighoff" in big


def corrupt_copy(demo_root: Path, tmp_path: Path) -> Path:
    """A copy of the web token directory whose first .bin lost its last token."""
    copy = tmp_path / "corrupt"
    shutil.copytree(demo_root / "out" / "demo" / "web" / "tokenize" / "train", copy)
    bin_path = sorted(copy.glob("*.bin"))[0]
    bin_path.write_bytes(bin_path.read_bytes()[:-2])
    return copy


def other_tokenizer_dir(demo, tmp_path: Path) -> Path:
    """The code source tokenized again with a different tokenizer (one token added)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(demo.root / "out" / "demo" / "tokenizer" / "tokenizer.json"))
    tokenizer.add_tokens(["zqxextra"])
    tokenizer.save(str(tmp_path / "other.json"))
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "name": "o",
                "input": str(demo.curated.code),
                "output": str(tmp_path / "o"),
                "stages": [{"stage": "tokenize", "tokenizer": str(tmp_path / "other.json")}],
            }
        )
    )
    curate_in_process("run", str(pipeline), "--no-progress")
    return tmp_path / "o" / "tokenize" / "train"


def empty_dir(demo_root: Path, tmp_path: Path) -> Path:
    write_parquet(tmp_path / "nothing", "part-00000", [])
    pipeline = tmp_path / "e.yaml"
    tokenizer = demo_root / "out" / "demo" / "tokenizer" / "tokenizer.json"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "name": "e",
                "input": str(tmp_path / "nothing"),
                "output": str(tmp_path / "e"),
                "stages": [{"stage": "tokenize", "tokenizer": str(tokenizer)}],
            }
        )
    )
    curate_in_process("run", str(pipeline), "--no-progress")
    return tmp_path / "e" / "tokenize" / "train"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d, t: {"source0": {"wieght": 1}}, r"sources\[0\]\.wieght: unknown key \(did you mean 'weight'\?\)"),
        (lambda d, t: {"seq_lenn": 64}, r"seq_lenn: unknown key \(did you mean 'seq_len'\?\)"),
        (
            lambda d, t: {"source1": {"path": str(t / "nowhere")}},
            r"sources\[1\]\.path: token directory .*nowhere not found",
        ),
        (lambda d, t: {"source1": {"weight": -1}}, r"sources\[1\]\.weight: expected a non-negative number"),
        (lambda d, t: {"source0": {"weight": 0}, "source1": {"weight": 0}}, r"sources: all weights are zero"),
        (
            lambda d, t: {"source1": {"path": str(other_tokenizer_dir(d, t))}},
            r"sources\[1\]\.path: shards made with tokenizer [0-9a-f]{16}\.\.\., but tokenizer\.path uses",
        ),
        (
            lambda d, t: {"source1": {"path": str(empty_dir(d.root, t))}},
            r"sources\[1\]\.path: .*no shards .*0 tokens: an empty source",
        ),
        (
            lambda d, t: {"source0": {"path": str(corrupt_copy(d.root, t))}},
            r"sources\[0\]\.path: .*\.bin: \d+ bytes, expected \d+",
        ),
    ],
    ids=[
        "typo-source-key",
        "typo-top-key",
        "missing-shards",
        "negative-weight",
        "zero-weights",
        "other-tokenizer",
        "empty-source",
        "idx-bin-mismatch",
    ],
)
def test_manifest_errors_name_the_file_and_key(demo, tmp_path, change, message):
    path = write_manifest(tmp_path / "m.yaml", demo.root, **change(demo, tmp_path))
    result = curate_in_process(
        "mix", str(path), check=False
    )  # the real command line: test_demo_step_and_the_shipped_manifest
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"curate: error: {path}: "), result.stderr
    assert re.search(message, result.stderr), result.stderr
