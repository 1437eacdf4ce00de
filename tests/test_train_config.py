"""train.config: presets, YAML, command-line overrides and the checks made before anything starts."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
import yaml
from train_fixtures import PYTHON, REPO, python_env, token_data, tiny_overrides, write_manifest  # noqa: F401

from train.config import ConfigError, load_config, parse_overrides
from train.trainer import Trainer


@pytest.fixture
def manifest(tmp_path, token_data):  # noqa: F811
    return write_manifest(tmp_path / "m.yaml", token_data)


def write_config(path, **values):
    path.write_text(yaml.safe_dump(values))
    return path


def test_preset_then_yaml_then_command_line(tmp_path, manifest):
    config_path = write_config(tmp_path / "c.yaml", preset="gpt2-124m", manifest="m.yaml", lr=1e-3)
    config = load_config(config_path, parse_overrides(["--lr", "3e-4", "--max-steps=7", "--compile", "false"]))
    assert (config.n_layer, config.n_embd, config.tokens_per_step) == (12, 768, 524288)  # preset
    assert config.manifest == str(manifest.resolve())  # relative to the YAML
    assert (config.lr, config.max_steps, config.compile) == (3e-4, 7, False)  # command line wins


@pytest.mark.parametrize(
    "values, message",
    [
        ({"n_layers": 2}, r"c\.yaml: n_layers: unknown key \(did you mean 'n_layer'\?\)"),
        ({"lr": "fast"}, r"c\.yaml: lr: expected a number, got 'fast'"),
        ({"n_embd": 100, "n_head": 3}, r"n_embd: 100 is not divisible by n_head 3"),
        ({"schedule": "linear"}, r"c\.yaml: schedule: expected one of 'cosine', 'wsd', got 'linear'"),
        ({"min_lr": 1.0}, r"need 0 <= min_lr <= lr"),
        ({"eval_sets": [{"name": "books"}]}, r"config: eval_sets\[0\]: expected \{name: NAME, path: PATH\}"),
        ({"preset": "gpt5"}, r"c\.yaml: preset: expected one of tiny-cpu, gpt2-124m, gpt2-350m, got 'gpt5'"),
        ({"manifest": "missing.yaml"}, r"manifest: .*missing\.yaml not found"),
    ],
)
def test_bad_config_values_are_named(tmp_path, manifest, values, message):
    config_path = write_config(tmp_path / "c.yaml", **{"manifest": "m.yaml", **values})
    with pytest.raises(ConfigError, match=message):
        load_config(config_path)


def test_each_layer_is_named_in_its_errors_and_yaml_exponents_are_numbers(tmp_path, manifest):
    config_path = tmp_path / "c.yaml"
    config_path.write_text("manifest: m.yaml\nlr: 3e-4\nmin_lr: 3e-5\n")  # PyYAML reads these as strings
    assert (load_config(config_path).lr, load_config(config_path).min_lr) == (3e-4, 3e-5)
    with pytest.raises(ConfigError, match=r"command line: n_layer: expected a positive number, got 0"):
        load_config(config_path, parse_overrides(["--n-layer", "0"]))
    with pytest.raises(ConfigError, match=r"command line: compile: expected true or false, got 'maybe'"):
        load_config(config_path, parse_overrides(["--compile", "maybe"]))
    with pytest.raises(
        ConfigError, match=r"p\.yaml: preset: expected one of .*got 'tiny_cpu' \(did you mean 'tiny-cpu'\?\)"
    ):
        load_config(write_config(tmp_path / "p.yaml", manifest="m.yaml", preset="tiny_cpu"))
    assert load_config(config_path, parse_overrides(["--compile", "--progress", "no"])).compile is True


def test_unknown_command_line_key_suggests_the_right_one():
    with pytest.raises(ConfigError, match=r"command line: mxa_steps: unknown key \(did you mean 'max_steps'\?\)"):
        parse_overrides(["--mxa-steps", "3"])


def test_model_vocabulary_smaller_than_the_shards_is_refused(tmp_path, manifest):
    config = load_config(None, tiny_overrides(manifest, tmp_path / "run", vocab_size=512))
    with pytest.raises(ConfigError, match="vocab_size: the model has 512 entries but .* vocabulary of 1024"):
        Trainer(config)


def test_batch_geometry_is_checked(tmp_path, manifest):
    config = load_config(None, tiny_overrides(manifest, tmp_path / "run", tokens_per_step=1000))
    with pytest.raises(ConfigError, match="tokens_per_step: 1000 is not a multiple of"):
        Trainer(config)


@pytest.mark.slow
def test_cli_reports_config_errors_without_traceback(tmp_path, manifest):
    config_path = write_config(tmp_path / "c.yaml", manifest="m.yaml", out_dir=str(tmp_path / "run"))
    result = subprocess.run(
        [PYTHON, "-m", "train.cli", "run", str(config_path), "--learning-rate", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env(),
    )
    assert result.returncode == 2
    assert "learning_rate: unknown key" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["tiny-cpu", "gpt2-124m", "gpt2-350m"])
def test_shipped_configs_fit_the_demo_mix(name):
    """Every config in configs/ runs on the manifest `curate demo` makes: its batch divides into micro-batches
    on 1 and 8 processes and its warmup is shorter than the run."""
    config = load_config(REPO / "configs" / f"{name}.yaml")
    manifest = yaml.safe_load(Path(config.manifest).read_text())
    assert Path(config.manifest).name == "demo.yaml"
    for processes in (1, 8):
        per_pass = config.micro_batch * manifest["seq_len"] * processes
        tokens_per_step = config.tokens_per_step or per_pass
        assert tokens_per_step % per_pass == 0
    steps = config.max_steps or math.ceil(manifest["total_tokens"] / (config.tokens_per_step or per_pass))
    assert config.warmup_steps < steps
