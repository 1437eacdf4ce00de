"""`train ablate`: two data arms x two seeds of a tiny proxy model on real book shards, compared on held-out
English text; resumable (finished runs are skipped), one arm at a time, and a report from what has finished."""
from __future__ import annotations

import json

import pytest
import yaml
from train_fixtures import BOOKS, books_dir, documents, token_data, write_manifest  # noqa: F401

from studies.ablate import run_ablation
from studies.cli import train as main
from train.config import ConfigError


@pytest.fixture
def ablation(tmp_path, token_data):  # noqa: F811
    rel = lambda key: str(token_data.dirs[key])
    english = write_manifest(tmp_path / "en.yaml", token_data, sources=[{"name": "en", "path": rel("en"), "weight": 1.0}])
    other = write_manifest(tmp_path / "defr.yaml", token_data, sources=[{"name": "defr", "path": rel("defr"), "weight": 1.0}])
    held_out = tmp_path / "held_out.txt"   # the English books' last documents (the fixture's validation split)
    held_out.write_text("\n\n".join(d for name in BOOKS["en"]
                                    for d in documents((books_dir() / name).read_text(encoding="utf-8"))[-3:]))
    spec = {"name": "en-vs-defr", "out_dir": str(tmp_path / "runs"), "tokens": 64 * 8 * 30, "seeds": [1, 2],
            "train": {"n_layer": 1, "n_head": 2, "n_embd": 32, "micro_batch": 8, "warmup_steps": 3, "lr": 3e-3,
                      "eval_interval": 10, "ckpt_interval": 30, "device": "cpu"},
            "eval_sets": [{"name": "english", "path": "held_out.txt"}], "eval_tokens": 4096,
            "arms": [{"name": "english", "manifest": "en.yaml"}, {"name": "german-french", "manifest": "defr.yaml"}]}
    path = tmp_path / "ablation.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_ablation_trains_every_arm_and_seed_and_compares_them(ablation, capsys):
    runs = ablation.parent / "runs"
    assert main(["ablate", str(ablation), "--arm", "english"]) == 0      # one arm, as on its own GPU
    assert sorted(p.name for p in (runs / "english").iterdir()) == ["seed-1", "seed-2"]
    assert not (runs / "german-french").exists()
    assert main(["ablate", str(ablation)]) == 0                          # the rest; english is not retrained
    printed = capsys.readouterr().out
    assert printed.count("finished earlier") == 2 and "german-french seed 2: training 30 steps" in printed
    result = json.loads((runs / "comparison.json").read_text())["arms"]
    en, defr = result["english"]["bpb"]["english"], result["german-french"]["bpb"]["english"]
    assert en["n"] == defr["n"] == 2 and en["std"] > 0
    assert en["mean"] < defr["mean"]          # trained on English, it predicts held-out English better
    table = (runs / "comparison.md").read_text()
    assert "| english | 2 |" in table and "±" in table and "Lowest macro bpb: **english**" in table
    assert (runs / "curves.png").read_bytes()[:4] == b"\x89PNG"
    metrics = (runs / "english" / "seed-1" / "metrics.jsonl").read_text()
    assert '"eval/english/bpb"' in metrics and '"kind": "eval"' in metrics


def test_report_only_and_bad_ablation_files(ablation, tmp_path):
    with pytest.raises(ConfigError, match="no finished runs"):
        run_ablation(ablation, report_only=True)
    with pytest.raises(ConfigError, match="--arm nope"):
        run_ablation(ablation, arms=["nope"])
    spec = yaml.safe_load(ablation.read_text())
    spec["arms"][1]["name"] = "english"
    ablation.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="names must differ"):
        run_ablation(ablation)
    broken = tmp_path / "broken.yaml"
    broken.write_text("arms: [a\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        run_ablation(broken)
    with pytest.raises(ConfigError, match=r"absent\.yaml: ablation file not found"):
        run_ablation(tmp_path / "absent.yaml")


@pytest.mark.slow
def test_an_arm_given_as_pipeline_output_and_tokenizer_is_tokenized_then_trained(ablation, token_data):  # noqa: F811
    from tokenize_fixtures import write_parquet
    rows = [{"id": f"alice-{i}", "source": "books", "text": d, "path": "alice"}
            for i, d in enumerate(documents((books_dir() / "en_alice_pg11.txt").read_text(encoding="utf-8")))]
    write_parquet(ablation.parent / "curated", "part-0", rows)
    spec = yaml.safe_load(ablation.read_text())
    spec["seeds"], spec["tokens"] = [1], 64 * 8 * 10
    spec["arms"][1] = {"name": "alice", "tokenizer": str(token_data.tokenizer_path), "seq_len": 64,
                       "data": [{"name": "books", "path": "curated"}]}
    ablation.write_text(yaml.safe_dump(spec))
    run_ablation(ablation, log=lambda *a: None)
    data = ablation.parent / "runs" / "alice" / "data"
    manifest = yaml.safe_load((data / "mix.yaml").read_text())
    assert manifest["seq_len"] == 64 and manifest["sources"][0]["name"] == "books"
    tokens = json.loads((data / "books" / "tokenize" / "train" / "tokens.json").read_text())
    assert tokens["num_documents"] == len(rows) and tokens["tokenizer_hash"] == token_data.tokenizer_hash
    assert set(json.loads((ablation.parent / "runs" / "comparison.json").read_text())["arms"]) == {"english", "alice"}


@pytest.mark.slow
def test_diverged_runs_are_recorded_not_fatal(ablation):
    spec = yaml.safe_load(ablation.read_text())
    spec["seeds"], spec["tokens"] = [1], 64 * 8 * 40
    spec["train"].update(lr=1e4, min_lr=1e4, warmup_steps=1, grad_clip=0.0)   # sure to blow up
    ablation.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="no finished runs"):   # every run failed, each one was tried
        run_ablation(ablation, log=lambda *a: None)
    for arm in ("english", "german-french"):
        failed = json.loads((ablation.parent / "runs" / arm / "seed-1" / "failed.json").read_text())
        assert "diverged" in failed["error"]
