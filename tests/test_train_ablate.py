"""`train ablate`: two data arms x init and data-order seeds of a tiny proxy model on real book shards, compared
set by set on held-out English text; resumable (finished runs are skipped), one arm at a time, a report from
what has finished; ladder arms, the verdict math, --dry-run and the held-out overlap check."""

from __future__ import annotations

import json

import pytest
import yaml
from train_fixtures import BOOKS, books_dir, documents, token_data, write_manifest  # noqa: F401

from studies.ablate import load_ablation, run_ablation, run_config, seed_runs
from studies.cli import train as main
from studies.heldout import write_held_out
from studies.ladder import expand, pipeline_stage_names
from studies.verdict import paired_difference, spreads, tally, verdicts
from train.config import ConfigError


@pytest.fixture
def ablation(tmp_path, token_data):  # noqa: F811
    rel = lambda key: str(token_data.dirs[key])
    write_manifest(tmp_path / "en.yaml", token_data, sources=[{"name": "en", "path": rel("en"), "weight": 1.0}])
    write_manifest(tmp_path / "defr.yaml", token_data, sources=[{"name": "defr", "path": rel("defr"), "weight": 1.0}])
    held_out = tmp_path / "held_out.txt"  # the English books' last documents (the fixture's validation split)
    held_out.write_text(
        "\n\n".join(d for name in BOOKS["en"] for d in documents((books_dir() / name).read_text(encoding="utf-8"))[-3:])
    )
    spec = {
        "name": "en-vs-defr",
        "out_dir": str(tmp_path / "runs"),
        "tokens": 64 * 8 * 30,
        "seeds": {"init": [1, 2], "data": [1, 2]},
        "train": {
            "n_layer": 1,
            "n_head": 2,
            "n_embd": 32,
            "micro_batch": 8,
            "warmup_steps": 3,
            "lr": 3e-3,
            "eval_interval": 10,
            "ckpt_interval": 30,
            "device": "cpu",
        },
        "eval_sets": [{"name": "english", "path": "held_out.txt"}],
        "eval_tokens": 4096,
        "arms": [{"name": "english", "manifest": "en.yaml"}, {"name": "german-french", "manifest": "defr.yaml"}],
    }
    path = tmp_path / "ablation.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_ablation_trains_every_arm_and_seed_and_compares_them(ablation, capsys):
    runs = ablation.parent / "runs"
    assert main(["ablate", str(ablation), "--arm", "english"]) == 0  # one arm, as on its own GPU
    assert sorted(p.name for p in (runs / "english").iterdir()) == ["init-1-data-1", "init-1-data-2", "init-2-data-1"]
    assert not (runs / "german-french").exists()
    assert main(["ablate", str(ablation)]) == 0  # the rest; english is not retrained
    printed = capsys.readouterr().out
    assert printed.count("finished earlier") == 3 and "german-french init 1 data 2: training 30 steps" in printed
    result = json.loads((runs / "comparison.json").read_text())["arms"]
    en, defr = result["english"]["bpb"]["english"], result["german-french"]["bpb"]["english"]
    assert en["n"] == defr["n"] == 3 and en["n_init"] == en["n_data"] == 2
    assert en["init_sd"] > 0 and en["data_sd"] > 0  # both kinds of seed move the result
    assert en["mean"] < defr["mean"]  # trained on English, it predicts held-out English better
    page = (runs / "comparison.md").read_text()
    assert "| english | 3 |" in page and "(sd init / data)" in page
    assert "## Verdict per held-out set" in page and "german-french vs english" in page
    assert "**loses**" in page  # German and French lose to English on English text, beyond the noise
    assert "Per-step attribution" in page and "curves.png" in page
    assert (runs / "curves.png").read_bytes()[:4] == b"\x89PNG"
    metrics = (runs / "english" / "init-1-data-1" / "metrics.jsonl").read_text()
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

    rows = [
        {"id": f"alice-{i}", "source": "books", "text": d, "path": "alice"}
        for i, d in enumerate(documents((books_dir() / "en_alice_pg11.txt").read_text(encoding="utf-8")))
    ]
    write_parquet(ablation.parent / "curated", "part-0", rows)
    spec = yaml.safe_load(ablation.read_text())
    spec["seeds"], spec["tokens"] = [1], 64 * 8 * 10  # a plain list: init seeds, the manifest's data order
    spec["arms"][1] = {
        "name": "alice",
        "tokenizer": str(token_data.tokenizer_path),
        "seq_len": 64,
        "data": [{"name": "books", "path": "curated"}],
    }
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
    spec["train"].update(lr=1e4, min_lr=1e4, warmup_steps=1, grad_clip=0.0)  # sure to blow up
    ablation.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="no finished runs"):  # every run failed, each one was tried
        run_ablation(ablation, log=lambda *a: None)
    for arm in ("english", "german-french"):
        failed = json.loads((ablation.parent / "runs" / arm / "seed-1" / "failed.json").read_text())
        assert "diverged" in failed["error"]


WEB = "pipelines/web.yaml"


def test_a_ladder_expands_to_one_arm_per_step_and_leave_one_out_arms():
    ladder = {
        "pipeline": WEB,
        "work": "w",
        "base": {"name": "extracted", "stages": ["extract", "normalize"]},
        "steps": [
            {"name": "langid", "stages": ["langid"]},
            "quality",
            "dedup",
            {"name": "full", "stages": ["toxicity", "pii"]},
        ],
        "leave_one_out": ["quality", "dedup"],
    }
    arms = {a["name"]: a["stages"] for a in expand(ladder, pipeline_stage_names(WEB))}
    assert list(arms) == ["extracted", "langid", "quality", "dedup", "full", "full-minus-quality", "full-minus-dedup"]
    assert arms["extracted"] == ["extract", "normalize"]
    assert arms["quality"] == ["extract", "normalize", "langid", "quality"]
    assert arms["full"] == pipeline_stage_names(WEB)
    assert arms["full-minus-quality"] == ["extract", "normalize", "langid", "dedup", "toxicity", "pii"]
    assert arms["full-minus-dedup"] == ["extract", "normalize", "langid", "quality", "toxicity", "pii"]
    with pytest.raises(ConfigError, match="no stage 'clasify'"):
        expand({**ladder, "steps": ["clasify"]}, pipeline_stage_names(WEB))
    with pytest.raises(ConfigError, match="'langid2' is not a step"):
        expand({**ladder, "leave_one_out": ["langid2"]}, pipeline_stage_names(WEB))


def test_the_shipped_ladder_file_loads_with_every_size():
    for size in ("cpu", "small", "gpu"):
        spec = load_ablation("ablations/web-ladder.yaml", size)
        assert len(spec["arms"]) == 7 and len(spec["eval_sets"]) >= 5
    assert len(load_ablation("ablations/web-ladder.yaml")["runs"]) == 5  # the first size: cpu, 3 + 3 seeds
    assert load_ablation("ablations/web-ladder.yaml", "gpu")["train"]["n_layer"] == 6
    with pytest.raises(ConfigError, match="--size huge"):
        load_ablation("ablations/web-ladder.yaml", "huge")


def test_data_seeds_change_the_order_the_mix_is_drawn_in_and_init_seeds_do_not(ablation):
    from common.mix import load_manifest, plan_mix
    from train.data import MixSampler

    spec = load_ablation(ablation)
    assert spec["runs"] == seed_runs({"init": [1, 2], "data": [1, 2]}, ablation) == [(1, 1), (2, 1), (1, 2)]
    arm = spec["arms"][0]
    plan = plan_mix(load_manifest(arm["manifest"]))
    order = lambda run: MixSampler(plan, 64, run_config(spec, arm, run).data_seed).samples(range(16))
    assert (order((1, 1)) == order((2, 1))).all()  # only the initialisation differs
    assert not (order((1, 1)) == order((1, 2))).all()  # the data seed reorders the samples
    assert run_config(spec, arm, (2, 1)).seed == 2


def test_verdict_math_on_made_up_numbers():
    a = {(1, 1): 2.00, (2, 1): 2.02, (3, 1): 2.01, (1, 2): 1.99, (1, 3): 2.03}
    b = {k: v + 0.10 for k, v in a.items()}  # b worse by exactly 0.10 on every run
    d = paired_difference(a, b)
    assert d["n"] == 5 and d["diff"] == pytest.approx(-0.10) and d["verdict"] == "wins"
    assert d["low"] == pytest.approx(-0.10) and d["high"] == pytest.approx(-0.10)  # no spread in the differences
    noisy = {(1, 1): 2.05, (2, 1): 1.95, (3, 1): 2.06, (1, 2): 1.97, (1, 3): 2.02}
    tie = paired_difference(a, noisy)  # differences -0.05 .. +0.07: the interval spans 0
    assert tie["verdict"] == "ties" and tie["low"] < 0 < tie["high"]
    # differences -0.05, 0.07, -0.05, 0.02, 0.01: mean 0, sd 0.0510; t(4) = 2.776 -> half width 0.0633
    assert tie["diff"] == pytest.approx(0, abs=1e-12) and tie["high"] == pytest.approx(0.0633, abs=1e-4)
    assert paired_difference(b, a)["verdict"] == "loses"
    assert paired_difference({(1, 1): 1.0}, {(1, 1): 2.0})["verdict"] == "ties"  # one pair: no interval
    s = spreads(a)
    assert s["n_init"] == 3 and s["init_sd"] == pytest.approx(0.01)  # 2.00, 2.02, 2.01
    assert s["n_data"] == 3 and s["data_sd"] == pytest.approx(0.0208, abs=1e-4)  # 2.00, 1.99, 2.03
    runs = {
        "x": {k: {"web": v, "books": v + 1} for k, v in a.items()},
        "y": {k: {"web": v + 0.1, "books": noisy[k] + 1} for k, v in a.items()},
    }
    found = verdicts(runs, [("x", "y")], ["web", "books"])[("x", "y")]
    assert tally(found, ["web", "books"]) == {"wins": 1, "ties": 1, "loses": 0}


def test_dry_run_prints_arms_tokens_epochs_seeds_and_time(ablation, capsys):
    assert main(["ablate", str(ablation), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "runs per arm: 3 (init 1 data 1, init 2 data 1, init 1 data 2); 15,360 training tokens each" in out
    assert "english:" in out and "german-french:" in out and "epochs" in out
    assert "6 runs x 30 steps" in out and "h in one process" in out
    assert not (ablation.parent / "runs").exists()  # nothing trained


def test_held_out_documents_that_overlap_the_training_text_are_dropped(tmp_path):
    import os
    from pathlib import Path

    shared = Path(os.environ.get("SHARED_DATA", "../shared/data"))
    if not (shared / "books").exists():
        pytest.skip(f"shared sample data not found at {shared}")
    from studies.heldout import SETS

    leaked = SETS["math"](shared)[3]  # a training text that contains one gsm8k test problem
    record = write_held_out(shared, tmp_path, ["Some unrelated words.", "Preamble. " + leaked])
    assert record["math"]["dropped_for_overlap"] == 1 and record["math"]["kept"] == record["math"]["read"] - 1
    assert leaked not in (tmp_path / "math.jsonl").read_text() and record["books"]["dropped_for_overlap"] == 0
    assert set(record) == {"books", "web", "math", "instructions", "technical", "talk"}
