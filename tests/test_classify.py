"""`curate train-classifier` on real labelled text and the classify stage through `curate run`."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from classify_fixtures import jigsaw_spec, jigsaw_texts, read_metrics, train_jigsaw, write_docs, write_pipeline
from conftest import curate_in_process, read_rejected, read_stage, run_curate
from curate.classify.model import roc_auc
from curate.classify.sources import parse_source, read_source
from curate.core.params import ConfigError
from curate.core.pipeline import load_pipeline

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: one trained model (conftest jigsaw_model) for this module and test_toxicity
pytestmark = pytest.mark.xdist_group("jigsaw")


@pytest.fixture(scope="module")
def model(jigsaw_model):
    return jigsaw_model  # conftest: trained once for this module and test_toxicity.py


@pytest.fixture(scope="module")
def docs(tmp_path_factory, shared_data):
    """Two shards of real comments, toxic and clean, plus the inputs that must not crash a scorer."""
    folder = tmp_path_factory.mktemp("docs")
    toxic, clean = jigsaw_texts(shared_data, 1, 60, seed=11), jigsaw_texts(shared_data, 0, 60, seed=11)
    odd = ["", "   \n\t ", "🙂🙂🔥", "a" * 5_000_000]
    write_docs(folder / "part-0.parquet", toxic[:30] + clean[:30] + odd)
    write_docs(folder / "part-1.parquet", toxic[30:] + clean[30:])
    return folder


@pytest.mark.slow
def test_held_out_metrics_on_real_comments_are_printed_and_saved(model):
    report = read_metrics(model)
    metrics = report["test_metrics"]
    # 2,000 real Jigsaw comments, 20 epochs: about F1 0.82, AUC 0.89 held out; chance is 0.5
    assert metrics["f1"] > 0.72 and metrics["roc_auc"] > 0.8
    assert report["counts"]["train"]["positive"] + report["counts"]["test"]["positive"] == 1000
    assert 300 < sum(report["counts"]["test"].values()) < 500  # --test-fraction 0.2 of 2,000
    assert report["settings"]["epoch"] == 20 and report["train_seconds"] > 0
    assert [s["label"] for s in report["sources"]] == ["positive", "negative"]


@pytest.mark.slow
def test_training_is_reproducible_with_one_thread(model, tmp_path, shared_data):
    again = train_jigsaw(shared_data, tmp_path)
    assert read_metrics(again)["test_metrics"] == read_metrics(model)["test_metrics"]
    assert again.read_bytes() == model.read_bytes()


@pytest.mark.slow
def test_training_in_a_long_running_process_gives_the_fresh_process_model(model, tmp_path, shared_data):
    """fastText leaves most input rows as whatever malloc returns: in a process that freed big float buffers
    (a pipeline, a notebook, a test session) that was garbage, and training gave another model or NaN."""
    from curate.classify.train import TrainSettings, train_classifier

    for _ in range(3):  # freed 20 MB buffers of huge floats: glibc hands the memory out again uncleared
        buffer = np.full(5_000_000, 1e30, np.float32) * np.float32(3.0)
        del buffer
    specs = [jigsaw_spec(shared_data, label, ",max=1000") for label in (1, 0)]
    train_classifier("jigsaw", specs[:1], specs[1:], str(tmp_path), TrainSettings(epoch=20, dim=16, test_fraction=0.2))
    assert (tmp_path / "jigsaw.bin").read_bytes() == model.read_bytes()  # the CLI trained it in a fresh process


def test_source_specs_read_real_files(shared_data):
    quality = shared_data / "quality" / "positives"
    gsm8k = read_source(parse_source(f"{quality / 'gsm8k' / 'train.jsonl'}#text=question+answer"), 0)
    assert len(gsm8k) == 7473 and gsm8k[0].startswith("Natalia sold clips") and "#### 72" in gsm8k[0]
    tasks = read_source(parse_source(f"{quality / 'self_instruct' / 'seed_tasks.jsonl'}#text=instruction+instances"), 0)
    assert "oatmeal banana protein shake" in tasks[0]  # strings nested in "instances" are collected
    chapters = read_source(parse_source(str(quality / "rust_book")), 0)  # a folder: one document per .md file
    assert len(chapters) == len(list((quality / "rust_book").rglob("*.md")))

    davidson = shared_data / "toxicity" / "davidson2017" / "labeled_data.csv"
    with open(davidson, newline="", encoding="utf-8") as f:
        classes = [row["class"] for row in csv.DictReader(f)]
    offensive = read_source(parse_source(f"{davidson}#text=tweet,class=0+1"), 0)
    assert len(offensive) == sum(c in ("0", "1") for c in classes)
    toxic = read_source(parse_source(jigsaw_spec(shared_data, 1)), 0)
    assert len(toxic) == 6090 and toxic[0] != "text"  # no header row in the Jigsaw file
    assert len(read_source(parse_source(jigsaw_spec(shared_data, 1, ",max=50")), 0)) == 50


@pytest.mark.parametrize(
    "spec, message",
    [
        ("{data}/nope.csv", "does not exist"),
        ("{data}/toxicity/davidson2017/labeled_data.csv#text=tweet,max=0", "max must be a positive whole number"),
        ("{data}/toxicity/davidson2017/labeled_data.csv#colour", "is not KEY=VALUE"),
    ],
)
def test_bad_source_spec_is_a_config_error(shared_data, spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_source(spec.format(data=shared_data))


@pytest.mark.slow
def test_missing_text_field_is_reported_by_the_command(tmp_path, shared_data):
    davidson = shared_data / "toxicity" / "davidson2017" / "labeled_data.csv"
    result = run_curate(
        "train-classifier",
        "x",
        "--output",
        str(tmp_path),
        "--positive",
        f"{davidson}#class=0",
        "--negative",
        f"{davidson}#class=2",
        check=False,
    )
    assert result.returncode == 2 and "has no field 'text'" in result.stderr and "#text=FIELD" in result.stderr


def test_roc_auc_matches_pairwise_count_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    labels = rng.integers(0, 2, 60)
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert roc_auc(labels, scores) == pytest.approx(expected)
    assert roc_auc(np.ones(3), np.arange(3.0)) is None


def run_classify(tmp_path, docs, **stage):
    out = tmp_path / "out"
    pipeline = write_pipeline(tmp_path / "p.yaml", docs, out, {"stage": "classify", "name": "tox", **stage})
    curate_in_process("run", str(pipeline), "--no-progress", "--workers", "2")
    return read_stage(out, "tox"), read_rejected(out, "tox")


@pytest.mark.slow
def test_annotate_only_adds_the_score_column_and_keeps_everything(tmp_path, docs, model):
    kept, rejected = run_classify(tmp_path, docs, model=str(model))
    assert rejected is None and kept.num_rows == 124
    scores = dict(zip(kept["id"].to_pylist(), kept["tox_score"].to_pylist()))
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    toxic = [scores[f"doc-part-0-{i}"] for i in range(30)]
    clean = [scores[f"doc-part-0-{i}"] for i in range(30, 60)]
    assert np.mean(toxic) > np.mean(clean) + 0.2  # unseen real comments are told apart


@pytest.mark.slow
def test_threshold_drops_low_scores_with_reason(tmp_path, docs, model):
    kept, rejected = run_classify(tmp_path, docs, model=str(model), threshold=0.5)
    assert kept.num_rows + rejected.num_rows == 124 and kept.num_rows > 20 and rejected.num_rows > 20
    assert min(kept["tox_score"].to_pylist()) >= 0.5 and max(rejected["tox_score"].to_pylist()) < 0.5
    assert set(rejected["reason"].to_pylist()) == {"tox.below_threshold"}
    assert rejected["detail"][0].as_py().startswith("score 0.")


@pytest.mark.slow
def test_keep_fraction_keeps_each_shards_top_scores(tmp_path, docs, model):
    kept, rejected = run_classify(tmp_path, docs, model=str(model), keep_fraction=0.25)
    for shard, size in (("part-0", 64), ("part-1", 60)):
        mine = lambda t: [
            s for i, s in zip(t["id"].to_pylist(), t["tox_score"].to_pylist()) if i.startswith(f"doc-{shard}-")
        ]
        assert len(mine(kept)) == round(0.25 * size)
        assert min(mine(kept)) >= max(mine(rejected))
    assert set(rejected["reason"].to_pylist()) == {"tox.below_top_fraction"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage, message",
    [
        ({"model": "{tmp}/missing.bin"}, "model '{tmp}/missing.bin' cannot be read"),
        ({"model": "{tmp}/p.yaml"}, "model '{tmp}/p.yaml' is not a fastText model"),
        ({"model": "{model}", "threshold": 1.5}, "'threshold' must be between 0 and 1"),
        ({"model": "{model}", "keep_fraction": -0.1}, "'keep_fraction' must be between 0 and 1"),
        ({"model": "{model}", "positive_label": "hq"}, "has no label 'hq' (its labels: negative, positive)"),
    ],
)
def test_bad_configuration_fails_before_work_naming_the_problem(tmp_path, docs, model, stage, message):
    stage = {k: v.format(tmp=tmp_path, model=model) if isinstance(v, str) else v for k, v in stage.items()}
    pipeline = write_pipeline(tmp_path / "p.yaml", docs, tmp_path / "out", {"stage": "classify", **stage})
    with pytest.raises(ConfigError) as error:
        load_pipeline(str(pipeline))
    assert message.format(tmp=tmp_path) in str(error.value)
    result = curate_in_process(
        "run", str(pipeline), "--no-progress", check=False
    )  # the command's message and exit code
    assert result.returncode == 2 and message.format(tmp=tmp_path) in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_quantized_model_is_small_and_scores_like_the_full_one(tmp_path, shared_data, docs, model):
    run_curate(
        "train-classifier",
        "small",
        "--output",
        str(tmp_path),
        "--epoch",
        "20",
        "--dim",
        "16",
        "--test-fraction",
        "0.2",
        "--quantize",
        "5000",
        "--positive",
        jigsaw_spec(shared_data, 1, ",max=1000"),
        "--negative",
        jigsaw_spec(shared_data, 0, ",max=1000"),
    )
    small = tmp_path / "small.ftz"
    assert small.stat().st_size < 1_000_000 < model.stat().st_size
    metrics, full = read_metrics(small)["test_metrics"], read_metrics(model)["test_metrics"]
    assert metrics["roc_auc"] > full["roc_auc"] - 0.05
    kept, _ = run_classify(tmp_path, docs, model=str(small), threshold=0.5)
    assert min(kept["tox_score"].to_pylist()) >= 0.5
