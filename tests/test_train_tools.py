"""`train estimate`, `train plot`, `train sample`, its tokenizer and the demo entry point."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from train_fixtures import (
    BOOKS,
    PYTHON,
    REPO,
    books_dir,
    python_env,
    tiny_overrides,
    token_data,  # noqa: F401
    write_manifest,
)

from train.config import load_config
from train.tokenizer import TextTokenizer
from train.trainer import Trainer


def cli(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [PYTHON, "-m", "train.cli", *args], capture_output=True, text=True, cwd=REPO, env=python_env(), timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result


def in_process(capsys, *args: str) -> str:
    """`train ARGS` through train.cli.main in this process (stdout): for commands whose real command line is run
    by another test here (estimate: test_cli_errors_are_one_line_but_bugs_keep_their_traceback; plot)."""
    from train.cli import main

    assert main(list(args)) == 0
    return capsys.readouterr().out


def read_png(path) -> np.ndarray:
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return (matplotlib.image.imread(path)[:, :, :3] * 255).round().astype(int)


def has_colour(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 8) -> bool:
    return bool((np.abs(image - np.array(rgb)).max(axis=-1) <= tolerance).any())


def test_estimate_reproduces_gpt3(capsys):
    out = in_process(
        capsys,
        "estimate",
        "--params",
        "175B",
        "--tokens",
        "300e9",
        "--gpu",
        "h100",
        "--gpus",
        "1024",
        "--mfu",
        "0.4",
        "--price",
        "2.5",
    )
    assert "3.15e+23 FLOPs" in out
    gpu_hours = 3.15e23 / (989e12 * 0.4) / 3600
    assert f"{gpu_hours:,.0f} H100-SXM-hours" in out and f"${gpu_hours * 2.5:,.0f}" in out
    assert f"{gpu_hours / 1024 / 24:,.1f} days on 1,024 GPUs" in out


def test_estimate_defaults_to_compute_optimal_tokens_in_readable_units(capsys):
    out = in_process(capsys, "estimate", "--params", "10M", "--gpu", "h100-pcie")
    assert "none given: the compute-optimal D = 20 x N = 2e+08 tokens" in out
    assert "1.2e+16 FLOPs" in out
    seconds = 1.2e16 / (756e12 * 0.4)
    assert f"GPU time    {seconds:.1f} seconds of one H100-PCIE" in out and "756 TFLOP/s bf16 peak" in out


def test_peak_table_tells_form_factors_apart_and_v100_has_no_bf16():
    from train.estimate import gpu_key, peak_for

    assert gpu_key("NVIDIA H100 80GB HBM3", 132) == "h100-sxm" and peak_for("h100-sxm", "bf16") == 989e12
    assert gpu_key("NVIDIA H100 PCIe", 114) == "h100-pcie" and peak_for("h100-pcie", "bf16") == 756e12
    assert gpu_key("NVIDIA H100", 114) == "h100-pcie"  # the SM count tells, where the name does not
    assert gpu_key("NVIDIA H100 NVL", 132) == "h100-nvl" and peak_for("h100-nvl", "bf16") == 835e12
    assert gpu_key("NVIDIA A100-SXM4-80GB", 108) == "a100"
    assert gpu_key("Tesla V100-SXM2-16GB", 80) == "v100" and peak_for("v100", "bf16") is None


@pytest.mark.slow
def test_cli_errors_are_one_line_but_bugs_keep_their_traceback(tmp_path):
    bad = subprocess.run(
        [PYTHON, "-m", "train.cli", "estimate", "--params", "lots"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env(),
        timeout=300,
    )
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "train: error: expected a number such as 175e9 or 175B, got 'lots'"
    )
    (tmp_path / "metrics.jsonl").write_text('{"kind": "train", "step": 0, "loss": "high"}\n')
    bug = subprocess.run(
        [PYTHON, "-m", "train.cli", "plot", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env(),
        timeout=300,
    )
    assert bug.returncode == 1 and "Traceback" in bug.stderr


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, token_data):  # noqa: F811
    root = tmp_path_factory.mktemp("tools")
    manifest = write_manifest(root / "m.yaml", token_data)
    overrides = tiny_overrides(
        manifest,
        root / "run",
        max_steps=120,
        eval_interval=30,
        ckpt_interval=60,
        spike_z=3.0,
        n_embd=128,
        n_head=4,
        micro_batch=16,
    )

    class OneCorruptBatch(Trainer):
        def batch(self, cursor, micro_step):
            x, y = super().batch(cursor, micro_step)
            return (x, (y * 7 + 3) % 1024) if cursor == 100 else (x, y)

    result = OneCorruptBatch(load_config(None, overrides)).run()
    assert any(e["event"] == "spike_skipped" for e in result.events)
    return root / "run"


@pytest.mark.slow
def test_plot_writes_a_png_with_curves_and_spikes(trained_run, tmp_path, capsys):
    png = cli("plot", str(trained_run)).stdout.strip()
    image = read_png(trained_run / "loss.png")
    assert png.endswith("loss.png") and image.shape == (520, 900, 3)
    for colour in ((31, 119, 180), (255, 127, 14), (214, 39, 40)):  # train, validation, spike marks
        assert has_colour(image, colour), colour
    assert has_colour(image, (232, 244, 232), tolerance=1)  # the rapid-decrease phase is shaded
    in_process(capsys, "plot", str(trained_run), "--log", "--output", str(tmp_path / "log.png"))
    assert read_png(tmp_path / "log.png").shape == (520, 900, 3)


@pytest.mark.slow
def test_plot_skips_a_line_torn_by_a_kill(trained_run, tmp_path):
    import shutil

    run = tmp_path / "torn"
    shutil.copytree(trained_run, run)
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "time": 1.0, "step": 120, "lo')
    result = cli("plot", str(run))
    assert "metrics.jsonl:" in result.stderr and "unreadable line skipped" in result.stderr
    assert read_png(run / "loss.png").shape == (520, 900, 3)


@pytest.mark.slow
def test_sample_generates_text(trained_run):
    out = cli(
        "sample", str(trained_run / "best.pt"), "--prompt", "It is a truth", "--max-new-tokens", "20", "--seed", "1"
    ).stdout
    assert out.startswith("--- sample 1\nIt is a truth") and len(out) > len("--- sample 1\nIt is a truth") + 20


def test_sample_decodes_what_the_tokenizer_encodes_special_tokens_included(token_data):  # noqa: F811
    """`train sample` encodes its prompt and decodes the continuation with the run's own tokenizer.json
    (`tokenizers`): text in any script comes back byte for byte and <|endoftext|> is written out."""
    ours = TextTokenizer(token_data.tokenizer_path)
    german = (books_dir() / BOOKS["defr"][0]).read_text(encoding="utf-8")[9000:11000]
    ids = ours.encode(german) + [token_data.eot_id]
    assert ours.decode(ids) == german + "<|endoftext|>"
    assert ours.decode(ours.encode(MIXED_PROMPT)) == MIXED_PROMPT
    assert ours.encode("a<|endoftext|>b")[1] == token_data.eot_id == ours.eot_id


# digits, other scripts, superscripts, Unicode spaces, code indentation and an added token
MIXED_PROMPT = (
    "It's 2026: I paid 1234567 € for x² and ½ cup—\"WE'LL\" see.\n\n    def f(a_b):\r\n\treturn a_b  \n"
    "Größe naïve café 東京は日本の首都です。 Привет мир! مرحبا 123٤٥٦ ₂ \u00a0nbsp\u3000ideo \x1cfs"
    "<|endoftext|>next"
)


@pytest.mark.slow
@pytest.mark.xdist_group("demo")  # under pytest-xdist: the worker that made the shared demo run (conftest curate_demo)
def test_demo_run_trains_and_plots(curate_demo):
    """studies.demo.demo_run as `curate demo` calls it: the shared demo run (conftest) trains tiny-cpu 50 steps on its
    own mix, logging through print; one training run serves this test and test_demo.py's."""
    demo, result = curate_demo
    first, final = map(float, re.search(r"train loss ([\d.]+) -> ([\d.]+)", result.stdout).groups())  # the summary
    assert final < first - 0.5
    assert (demo / "train" / "loss.png").stat().st_size > 1000
    assert re.search(r"^step +\d+  train loss ", result.stdout, re.M)  # demo_run's own log lines
