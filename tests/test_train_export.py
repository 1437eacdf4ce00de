"""`train export`: a Hugging Face folder that transformers loads with the same logits, a tokenizer whose special
tokens are set, a model card; an unsupported model option is refused by name."""

from __future__ import annotations

import json

import pytest
import torch
from train_fixtures import books_dir, tiny_overrides, token_data, write_manifest  # noqa: F401

from train import checkpoint
from train.cli import main
from train.config import load_config
from train.export import ExportError, export_checkpoint
from train.sample import load_model
from train.trainer import run_training

transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory, token_data):  # noqa: F811
    """trained_checkpoint(style): a tiny model of that style trained 30 steps, trained once per module
    (the tests only read the checkpoint)."""
    root = tmp_path_factory.mktemp("export")
    manifest = write_manifest(root / "m.yaml", token_data)
    trained = {}

    def train(style: str):
        if style not in trained:
            run_dir = root / f"run-{style}"
            run_training(
                load_config(
                    None,
                    tiny_overrides(manifest, run_dir, style=style, max_steps=30, eval_interval=30, ckpt_interval=30),
                ),
                log=lambda *a: None,
            )
            trained[style] = checkpoint.checkpoints(run_dir)[-1]
        return trained[style]

    return train


def held_out_ids(token_data, length=64):  # noqa: F811
    from tokenizers import Tokenizer

    text = (books_dir() / "en_pride_and_prejudice_pg1342.txt").read_text(encoding="utf-8")
    ids = Tokenizer.from_file(str(token_data.tokenizer_path)).encode(text[-20000:]).ids
    return torch.tensor([ids[:length], ids[length : 2 * length]])


@pytest.mark.slow
@pytest.mark.parametrize("style,architecture", [("gpt2", "GPT2LMHeadModel"), ("llama", "LlamaForCausalLM")])
def test_export_loads_in_transformers_with_the_same_logits(
    tmp_path,
    token_data,  # noqa: F811
    trained_checkpoint,
    style,
    architecture,
):
    ckpt = trained_checkpoint(style)
    out = tmp_path / "hf"
    assert main(["export", str(ckpt), str(out)]) == 0
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "README.md",
    } <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["architectures"] == [architecture]

    ours, _ = load_model(ckpt)
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32).eval()
    assert type(hf).__name__ == architecture
    ids = held_out_ids(token_data)
    with torch.no_grad():
        expected, _ = ours(ids)
        got = hf(ids).logits
    assert (expected - got).abs().max().item() <= 1e-4

    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.eos_token_id == token_data.eot_id
    assert tokenizer.pad_token_id == token_data.eot_id
    prompt = tokenizer("It is a truth universally acknowledged", return_tensors="pt")
    generated = hf.generate(**prompt, max_new_tokens=12, do_sample=False)
    assert generated.shape[1] > prompt["input_ids"].shape[1]
    with torch.no_grad():  # greedy decoding agrees with the project's own generate
        mine = ours.generate(prompt["input_ids"], 12, temperature=0)
    n = generated.shape[1]
    assert torch.equal(generated[0], mine[0, :n])
    card = (out / "README.md").read_text()
    assert "Data mix" in card and "en" in card and "tokens trained" in card


@pytest.mark.slow
def test_export_refuses_an_option_transformers_cannot_express(tmp_path, trained_checkpoint):
    ckpt = trained_checkpoint("gpt2")
    payload = checkpoint.load(ckpt)
    payload["model_config"]["n_kv_head"] = 1  # grouped-query attention: a field a future model may add
    modified = tmp_path / "gqa" / "ckpt-00000030.pt"
    checkpoint.save(payload, modified)
    with pytest.raises(ExportError, match="n_kv_head"):
        export_checkpoint(modified, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_curate_train_tokenizer_writes_special_tokens_transformers_reads(tmp_path, shared_data):
    from tokenize_fixtures import web_rows, write_parquet

    from curate.tokenize.bpe import train_tokenizer

    write_parquet(tmp_path / "web", "part-0", web_rows(shared_data))
    output = tmp_path / "tok" / "tokenizer.json"
    train_tokenizer([str(tmp_path / "web")], str(output), vocab_size=600, sample_bytes=300_000)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert tokenizer.eos_token == tokenizer.bos_token == tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.eos_token_id == 0
    text = "Real web pages, tokenized."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
