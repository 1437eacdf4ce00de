"""`train estimate`, `train plot`, `train sample`, the pure-Python tokenizer and the demo entry point."""
from __future__ import annotations

import struct
import subprocess
import zlib

import numpy as np
import pytest
from train_fixtures import (BOOKS, PYTHON, REPO, books_dir, python_env, tiny_overrides, token_data,  # noqa: F401
                            write_manifest)

from train.demo import demo_run
from train.config import load_config
from train.tokenizer import ByteLevelBPE
from train.trainer import Trainer


def cli(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([PYTHON, "-m", "train.cli", *args], capture_output=True, text=True, cwd=REPO,
                            env=python_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def decode_png(path) -> np.ndarray:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * 3)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


def test_estimate_reproduces_gpt3():
    out = cli("estimate", "--params", "175B", "--tokens", "300e9", "--gpu", "h100", "--gpus", "1024",
              "--mfu", "0.4", "--price", "2.5").stdout
    assert "3.15e+23 FLOPs" in out
    gpu_hours = 3.15e23 / (989e12 * 0.4) / 3600
    assert f"{gpu_hours:,.0f} H100-hours" in out and f"${gpu_hours * 2.5:,.0f}" in out
    assert f"{gpu_hours / 1024 / 24:,.2f} days on 1,024 GPUs" in out


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, token_data):  # noqa: F811
    root = tmp_path_factory.mktemp("tools")
    manifest = write_manifest(root / "m.yaml", token_data)
    overrides = tiny_overrides(manifest, root / "run", max_steps=120, eval_interval=30, ckpt_interval=60,
                               spike_z=3.0, n_embd=128, n_head=4, micro_batch=16)

    class OneCorruptBatch(Trainer):
        def batch(self, cursor, micro_step):
            x, y = super().batch(cursor, micro_step)
            return (x, (y * 7 + 3) % 1024) if cursor == 100 else (x, y)
    result = OneCorruptBatch(load_config(None, overrides)).run()
    assert any(e["event"] == "spike_skipped" for e in result.events)
    return root / "run"


def test_plot_writes_a_png_with_curves_and_spikes(trained_run, tmp_path):
    png = cli("plot", str(trained_run)).stdout.strip()
    image = decode_png(trained_run / "loss.png")
    assert png.endswith("loss.png") and image.shape == (520, 900, 3)
    colours = {tuple(c) for c in image.reshape(-1, 3)[::7]}
    assert {(31, 119, 180), (255, 127, 14), (214, 39, 40)} <= colours     # train, validation, spike marks
    assert (232, 244, 232) in colours                                   # the rapid-decrease phase is shaded
    cli("plot", str(trained_run), "--log", "--out", str(tmp_path / "log.png"))
    assert decode_png(tmp_path / "log.png").shape == (520, 900, 3)


def test_sample_generates_text(trained_run):
    out = cli("sample", str(trained_run / "best.pt"), "--prompt", "It is a truth", "--max-new-tokens", "20",
              "--seed", "1").stdout
    assert out.startswith("--- sample 1\nIt is a truth") and len(out) > len("--- sample 1\nIt is a truth") + 20


def test_pure_python_tokenizer_matches_tokenizers(token_data):  # noqa: F811
    from tokenizers import Tokenizer
    reference = Tokenizer.from_file(str(token_data.tokenizer_path))
    ours = ByteLevelBPE(token_data.tokenizer_path)
    text = (books_dir() / BOOKS["en"][1]).read_text(encoding="utf-8")[5000:9000]
    assert ours.encode(text) == reference.encode(text).ids
    german = (books_dir() / BOOKS["defr"][0]).read_text(encoding="utf-8")[9000:11000]
    ids = reference.encode(german).ids + [token_data.eot_id]
    assert ours.decode(ids) == german + "<|endoftext|>"


def test_demo_run_trains_and_plots(tmp_path, token_data):  # noqa: F811
    manifest = write_manifest(tmp_path / "m.yaml", token_data)
    lines = []
    summary = demo_run(manifest, tmp_path / "demo", steps=60, log=lines.append)
    assert summary["final_loss"] < summary["first_loss"] - 0.5
    assert summary["plot"].stat().st_size > 1000
    assert any("train loss" in line for line in lines)
