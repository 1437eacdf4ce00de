"""`curate train-tokenizer`: a GPT-4-style byte-level BPE trained on a deterministic sample of curated Parquet."""

from __future__ import annotations

import hashlib
import re
import sys

import pytest
from tokenizers import Tokenizer

from conftest import on_a_terminal, run_curate
from curate.tokenize.bpe import document_inputs, sample_texts
from curate.tokenize.cli import parse_size
from tokenize_fixtures import build_curated, read_documents

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)

SAMPLES = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune…",
    "Habe nun, ach! Philosophie, Juristerei und Medizin, Und leider auch Theologie!",
    "« Je voudrais bien savoir ce qui m’est arrivé », dit Alice.",
    "def main(argv):\n    for i in range(10):\n\t\tprint(i ** 2)  # indented\r\n",
    "统计数据 1234567 📈 — ünïcödé\x00 control",
]


@pytest.fixture(scope="module")
def curated(tmp_path_factory, shared_data):
    return build_curated(tmp_path_factory.mktemp("curated"), shared_data)


def test_cli_trains_a_tokenizer_that_round_trips_any_text(tmp_path, curated):
    output = tmp_path / "tok" / "tokenizer.json"
    result = run_curate(
        "train-tokenizer",
        str(curated.books),
        str(curated.web),
        str(curated.code),
        "--output",
        str(output),
        "--vocab-size",
        "1000",
        "--sample-bytes",
        "2MB",
        "--special-token",
        "<|endoftext|>",
        "--special-token",
        "<|pad|>",
    )
    assert f"sha256: {hashlib.sha256(output.read_bytes()).hexdigest()}" in result.stdout
    tokenizer = Tokenizer.from_file(str(output))
    assert tokenizer.get_vocab_size() == 1000
    assert (tokenizer.token_to_id("<|endoftext|>"), tokenizer.token_to_id("<|pad|>")) == (0, 1)
    for text in SAMPLES:  # byte-level: no unknown tokens, exact decode, even for scripts never seen
        assert tokenizer.decode(tokenizer.encode(text).ids) == text
    assert len(tokenizer.encode("the house of the King").ids) < len("the house of the King") / 2  # it learned merges


@pytest.mark.slow
def test_progress_bars_on_a_terminal_only(tmp_path, curated):
    """Issue 34 item 8: nothing was printed while a tokenizer trained; now the tokenizers library's bars are drawn
    on a terminal, and neither in a pipe nor under --no-progress."""
    command = [
        sys.executable,
        "-m",
        "curate.cli",
        "train-tokenizer",
        str(curated.books),
        str(curated.web),
        str(curated.code),
        "--output",
        str(tmp_path / "t.json"),
        "--vocab-size",
        "500",
        "--sample-bytes",
        "2MB",
    ]
    assert "Compute merges" in on_a_terminal(command)
    assert "Compute merges" not in on_a_terminal(command + ["--no-progress"])
    piped = run_curate(*command[3:])
    assert "Compute merges" not in piped.stderr + piped.stdout


def test_pre_tokenizer_splits_digits_in_threes_and_keeps_indentation(curated):
    tokenizer = Tokenizer.from_file(str(curated.tokenizer))
    pieces = [p for p, _ in tokenizer.pre_tokenizer.pre_tokenize_str("x = 1234567\n        return x")]
    assert ["123", "456", "7"] == [p for p in pieces if p.isdigit()]
    assert "ĠĠĠĠĠĠĠ" in pieces and "Ġreturn" in pieces  # 7 spaces of indentation, then " return"


def test_sample_is_deterministic_spread_over_inputs_and_capped(curated):
    files = document_inputs([str(f) for f in curated.folders().values()])
    assert all("/_" not in f for f in files) and len(files) == 8
    first = list(sample_texts(files, 300_000, seed=1))
    assert first == list(sample_texts(files, 300_000, seed=1))
    assert first != list(sample_texts(files, 300_000, seed=2))
    assert sum(len(t.encode()) for t in first[:-1]) < 300_000  # stops once the budget is reached
    everything = [d["text"] for f in curated.folders().values() for docs in read_documents(f).values() for d in docs]
    assert sorted(sample_texts(files, 10**9)) == sorted(everything)  # a budget above the data takes it all
    documents = {d["text"]: name for name, docs in read_documents(curated.web).items() for d in docs}
    documents.update({d["text"]: "code" for docs in read_documents(curated.code).values() for d in docs})
    assert {"code", "web-00000", "web-00001"} <= {documents.get(t) for t in first}  # not just the first files


def test_transformers_loads_the_tokenizer(curated):
    transformers = pytest.importorskip("transformers", reason="transformers not installed (pip install transformers)")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(curated.tokenizer), eos_token="<|endoftext|>")
    tokenizer = Tokenizer.from_file(str(curated.tokenizer))
    assert fast.eos_token_id == tokenizer.token_to_id("<|endoftext|>")
    for text in SAMPLES:
        ids = fast(text, add_special_tokens=False)["input_ids"]
        assert ids == tokenizer.encode(text).ids
        assert fast.decode(ids, clean_up_tokenization_spaces=False) == text


def test_bad_inputs_are_clear_errors(tmp_path, curated):
    (tmp_path / "empty").mkdir()
    result = run_curate("train-tokenizer", str(tmp_path / "empty"), "--output", str(tmp_path / "t.json"), check=False)
    assert result.returncode == 2 and re.search(
        r"empty: no document files \(.parquet or a pipeline.s .jsonl.gz output\)", result.stderr
    )
    result = run_curate(
        "train-tokenizer", str(curated.code), "--output", str(tmp_path / "t.json"), "--vocab-size", "100", check=False
    )
    assert result.returncode == 2 and "vocab_size 100 is too small" in result.stderr
    assert not (tmp_path / "t.json").exists()
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
    assert (parse_size("100MB"), parse_size("1.5G"), parse_size("4096")) == (100_000_000, 1_500_000_000, 4096)
