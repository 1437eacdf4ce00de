"""The `train` command as a newcomer meets it (issue 34 item 8): help on every subcommand and option, --version on
`train` and `curate`, progress with an ETA on a terminal and silence elsewhere."""

from __future__ import annotations

import argparse
import subprocess
from importlib.metadata import version

import pytest
import yaml
from conftest import on_a_terminal
from train_fixtures import PYTHON, REPO, python_env, tiny_overrides, token_data, write_manifest  # noqa: F401

from train.cli import build_parser
from train.metrics import progress_line


def test_every_subcommand_has_a_description_and_every_option_help():
    from studies.cli import TRAIN_COMMANDS  # the console script's `train`: train.cli's commands plus ablate

    subcommands = next(
        a for a in build_parser(TRAIN_COMMANDS)._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    assert set(subcommands) == {"run", "estimate", "plot", "sample", "eval", "ablate", "scaling", "export"}
    for name, parser in subcommands.items():
        assert parser.description and len(parser.description) > 40, name
        undocumented = [a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._HelpAction)]
        assert undocumented == [], f"train {name}: {undocumented}"


@pytest.mark.parametrize("module, prog", [("train.cli", "train"), ("curate.cli", "curate")])
def test_version_comes_from_the_package_metadata(module, prog):
    result = subprocess.run(
        [PYTHON, "-m", module, "--version"], capture_output=True, text=True, cwd=REPO, env=python_env(), timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == f"{prog} (rawtollm) {version('rawtollm')}"


def test_progress_line_shows_the_eta():
    line = progress_line(40, 100, 3.21, 12345, None, eta_seconds=75)
    assert line.endswith("step 40/100 | loss 3.2100 | 12,345 tok/s | eta 1m15s")
    assert "eta 1h02m" in progress_line(1, 2, 1.0, 1.0, 0.4, eta_seconds=3725)


@pytest.fixture(scope="module")
def run_config(tmp_path_factory, token_data):  # noqa: F811
    root = tmp_path_factory.mktemp("cli")
    manifest = write_manifest(root / "m.yaml", token_data)
    values = tiny_overrides(manifest, root / "run", max_steps=8, eval_interval=100, ckpt_interval=100)
    values.pop("progress")
    (root / "c.yaml").write_text(yaml.safe_dump(values))
    return root


@pytest.mark.slow
def test_run_progress_has_an_eta_on_a_terminal_only(run_config):
    config = str(run_config / "c.yaml")
    drawn = on_a_terminal([PYTHON, "-m", "train.cli", "run", config, "--output", str(run_config / "a")], python_env())
    assert "step 8/8" in drawn and "| eta " in drawn
    quiet = on_a_terminal(
        [PYTHON, "-m", "train.cli", "run", config, "--output", str(run_config / "b"), "--no-progress"], python_env()
    )
    assert "done: step 8" in quiet and "step 8/8" not in quiet
    piped = subprocess.run(
        [PYTHON, "-m", "train.cli", "run", config, "--output", str(run_config / "c")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env(),
        timeout=600,
    )
    assert piped.returncode == 0 and "step 8/8" not in piped.stderr and "done: step 8" in piped.stdout


@pytest.mark.slow
def test_eval_progress_on_a_terminal_only(run_config, token_data):  # noqa: F811
    checkpoint = run_config / "a" / "ckpt-00000008.pt"
    if not checkpoint.exists():  # the run test did not run first (-k)
        subprocess.run(
            [
                PYTHON,
                "-m",
                "train.cli",
                "run",
                str(run_config / "c.yaml"),
                "--output",
                str(run_config / "a"),
                "--no-progress",
            ],
            check=True,
            capture_output=True,
            cwd=REPO,
            env=python_env(),
            timeout=600,
        )
    command = [
        PYTHON,
        "-m",
        "train.cli",
        "eval",
        str(checkpoint),
        "--set",
        f"val={token_data.dirs['en-val']}",
        "--max-tokens",
        "4096",
    ]
    drawn = on_a_terminal(command, python_env())
    assert "eval: " in drawn and "batch" in drawn and "val " in drawn  # the bar, then the table
    quiet = on_a_terminal(command + ["--no-progress"], python_env())
    assert "eval: " not in quiet and "val " in quiet
