"""`train eval` and eval_sets in `train run`: loss and bits per byte on held-out text, JSONL, Parquet and token
sets; multiple-choice tasks built from real held-out text, where a trained model beats chance and an untrained
one does not."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from train_fixtures import BOOKS, books_dir, documents, tiny_overrides, token_data, write_manifest  # noqa: F401

from train import checkpoint
from train.cli import main
from train.config import load_config
from train.eval import EvalSetError, TextTokenizer, evaluate_checkpoint, load_eval_set, score_windows
from train.metrics import read_metrics
from train.model import GPT
from train.sample import load_model
from train.tasks import TaskError, continuation_task, evaluate_task, read_task, write_task
from train.trainer import run_training


def held_out_book_documents() -> list[str]:
    """The last 5% of each English book's documents: the validation split the fixture never trains on."""
    docs = []
    for name in BOOKS["en"]:
        book = documents((books_dir() / name).read_text(encoding="utf-8"))
        docs += book[int(len(book) * 0.95) :]
    return docs


@pytest.fixture(scope="module")
def eval_inputs(tmp_path_factory, token_data, shared_data):  # noqa: F811
    root = tmp_path_factory.mktemp("eval-inputs")
    chapter = root / "chapter.md"  # one Rust Book chapter: Markdown prose the books never saw
    chapter.write_text((shared_data / "quality/positives/rust_book/src/ch01-00-getting-started.md").read_text())
    rows = held_out_book_documents()
    pq.write_table(pa.table({"id": [str(i) for i in range(len(rows))], "text": rows}), root / "books.parquet")
    return {
        "chapter": chapter,
        "parquet": root / "books.parquet",
        "jsonl": shared_data / "web/jsonl/dolma_cc_en_head-0091.jsonl",
        "rust_book": shared_data / "quality/positives/rust_book/src",
        "tokens": token_data.dirs["en-val"],
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, token_data, eval_inputs):  # noqa: F811
    """A tiny model trained 150 steps on the books, scoring four held-out sets every 50 steps."""
    root = tmp_path_factory.mktemp("eval-run")
    manifest = write_manifest(root / "m.yaml", token_data)
    sets = [
        {"name": "book-text", "path": str(eval_inputs["parquet"])},
        f"web={eval_inputs['jsonl']}",
        str(eval_inputs["rust_book"]),
        {"name": "book-tokens", "path": str(eval_inputs["tokens"])},
    ]
    config = load_config(
        None,
        tiny_overrides(
            manifest,
            root / "run",
            max_steps=150,
            eval_interval=50,
            warmup_steps=10,
            micro_batch=16,
            n_head=4,
            n_embd=128,
            ckpt_interval=150,
            eval_sets=sets,
            eval_tokens=8192,
        ),
    )
    run_training(config, log=lambda *a: None)
    return checkpoint.checkpoints(root / "run")[-1]


def test_bits_per_byte_counts_the_utf8_bytes_of_the_text(token_data, eval_inputs):  # noqa: F811
    tokenizer = TextTokenizer(token_data.tokenizer_path, 1024)
    text = eval_inputs["chapter"].read_text()
    s = load_eval_set("chapter", eval_inputs["chapter"], tokenizer, seq_len=64, max_tokens=10**6)
    assert s.windows.shape[1] == 65 and s.documents == 1
    torch.manual_seed(0)
    model = GPT(load_model_config(vocab=1024, seq_len=64))
    result = score_windows(model, s.windows, tokenizer.token_bytes)
    assert result["bytes"] == len(text.encode("utf-8"))  # every byte once; <|endoftext|> covers none
    assert result["tokens"] == len(tokenizer.encode(text)) + 1  # every token of the text, and its EOT
    assert result["bpb"] == pytest.approx(result["nats"] / math.log(2) / result["bytes"])
    assert result["loss"] == pytest.approx(math.log(1024), abs=0.1)  # untrained: about uniform


def load_model_config(vocab, seq_len):
    from train.model import GPTConfig

    return GPTConfig(vocab_size=vocab, seq_len=seq_len, n_layer=1, n_head=2, n_embd=32)


@pytest.mark.slow
def test_train_run_logs_held_out_sets_and_plot_draws_them(trained):
    metrics = read_metrics(trained.parent)["eval"]
    assert [m["step"] for m in metrics] == [50, 100, 150]
    for name in ("book-text", "web", "src", "book-tokens", "macro"):
        assert {f"eval/{name}/loss", f"eval/{name}/bpb"} <= set(metrics[-1])
    first, last = metrics[0], metrics[-1]
    assert last["eval/book-text/bpb"] < first["eval/book-text/bpb"]
    # the same held-out book text, as text and as the fixture's token shards, gives nearly the same bpb
    assert last["eval/book-tokens/bpb"] == pytest.approx(last["eval/book-text/bpb"], rel=0.05)
    # trained on books: held-out book text is easier than web pages or Markdown with code
    assert last["eval/book-text/bpb"] < min(last["eval/web/bpb"], last["eval/src/bpb"])
    assert main(["plot", str(trained.parent)]) == 0 and (trained.parent / "loss.png").stat().st_size > 1000


@pytest.mark.slow
def test_train_eval_cli_prints_a_table_and_writes_json(trained, eval_inputs, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "eval",
                str(trained),
                "--set",
                f"rust={eval_inputs['rust_book']}",
                "--set",
                str(eval_inputs["jsonl"]),
                "--max-tokens",
                "4096",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "rust" in printed and "dolma_cc_en_head-0091" in printed and "macro" in printed
    report = json.loads(out.read_text())
    sets = report["sets"]
    assert report["step"] == 150 and 4096 <= sets["rust"]["tokens"] <= 4096 + 64
    assert sets["macro"]["bpb"] == pytest.approx((sets["rust"]["bpb"] + sets["dolma_cc_en_head-0091"]["bpb"]) / 2)


@pytest.mark.slow
def test_bad_eval_sets_are_named_errors(trained, token_data, tmp_path, capsys):  # noqa: F811
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"title": "no text field"}\n')
    assert main(["eval", str(trained), "--set", str(bad)]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
    other = tmp_path / "other-tokens"  # shards from another tokenizer cannot be scored by this model
    other.mkdir()
    for f in token_data.dirs["en-val"].iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    summary = json.loads((other / "tokens.json").read_text())
    (other / "tokens.json").write_text(json.dumps({**summary, "tokenizer_hash": "0" * 64}))
    with pytest.raises(EvalSetError, match="another tokenizer|tokenizer 0000"):
        evaluate_checkpoint(trained, [str(other)])
    with pytest.raises(EvalSetError, match="not found"):
        evaluate_checkpoint(trained, [str(tmp_path / "missing.txt")])


@pytest.mark.slow
def test_a_trained_model_beats_chance_on_true_continuations_and_an_untrained_one_does_not(
    trained,
    token_data,  # noqa: F811
    tmp_path,
):
    # held-out narrative (the Gutenberg licence at every book's end was seen in training); distractors: the true
    # continuation's words in another order, so only a model that learned word order can tell
    narrative = [d for d in held_out_book_documents() if "Gutenberg" not in d]
    path = write_task(
        continuation_task(narrative, examples=100, choices=4, seed=1, distractors="shuffled"),
        tmp_path / "continuation.jsonl",
    )
    model, _ = load_model(trained)
    tokenizer = TextTokenizer(token_data.tokenizer_path, model.config.vocab_size)
    examples = read_task(path)
    good = evaluate_task(model, tokenizer, examples)
    torch.manual_seed(0)
    untrained = evaluate_task(GPT(model.config).eval(), tokenizer, examples)
    assert good["chance"] == 0.25
    assert good["acc_norm"] > 0.5 and good["centered"] > 0.3
    assert abs(untrained["acc_norm"] - 0.25) < 0.12 and untrained["centered"] < 0.16
    report = evaluate_checkpoint(trained, [], tasks=[f"cont={path}"], max_examples=40)
    assert report["tasks"]["cont"]["examples"] == 40 and report["tasks"]["core"] == report["tasks"]["cont"]["centered"]


def test_task_files_with_a_bad_line_name_it(tmp_path):
    path = tmp_path / "task.jsonl"
    path.write_text(
        '{"context": "a", "choices": [" b", " c"], "label": 0}\n{"context": "a", "choices": [" b"], "label": 0}\n'
    )
    with pytest.raises(TaskError, match="task.jsonl:2"):
        read_task(path)


@pytest.mark.slow
def test_a_dcp_checkpoint_evaluates_like_its_one_file_twin(trained, eval_inputs, tmp_path):
    """ckpt_format: dcp folders are read by eval (and sample, export): DCP gathers the shards into one process;
    a folder whose shards no longer match its record is refused by name."""
    model, payload = load_model(trained)
    twin = tmp_path / "ckpt-00000150.dcp"
    train_state = {k: v for k, v in payload.items() if k not in ("model", "optimizer", "record")}
    checkpoint.save_sharded(model, [torch.optim.AdamW(model.parameters())], train_state, twin, True, None, lambda: None)
    sets = [f"rust={eval_inputs['rust_book']}"]
    expected = evaluate_checkpoint(trained, sets, max_tokens=2048)
    got = evaluate_checkpoint(twin, sets, max_tokens=2048)
    assert got["sets"] == expected["sets"] and got["step"] == expected["step"] == 150
    shard = next(twin.glob("*.distcp"))
    shard.write_bytes(shard.read_bytes()[:-8])
    with pytest.raises(checkpoint.CheckpointError, match="distcp.*truncated"):
        load_model(twin)
