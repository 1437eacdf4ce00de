"""`train scaling`: the Chinchilla fits recover a known law from noisy synthetic losses (fast); a tiny real sweep
on two mixes of book shards runs end to end and compares them (slow); a killed sweep restarts only what had not
finished (slow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from train_fixtures import token_data, write_manifest  # noqa: F401

from studies.fit import Law, bootstrap_laws, crossings, fit_isoflop, fit_law, interval, isoflop_profiles
from common.typed import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRUE = Law(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)  # Chinchilla's own fit (Hoffmann et al. 2022)


def synthetic(law: Law, N, D, noise: float, seed: int = 0):
    return law.loss(N, D) * np.exp(np.random.default_rng(seed).normal(0, noise, len(N)))


def test_fit_recovers_known_coefficients_from_noisy_losses():
    N = np.repeat([1e6, 3e6, 1e7, 3e7, 1e8], 5)
    D = np.tile([1e7, 3e7, 1e8, 3e8, 1e9], 5)
    L = synthetic(TRUE, N, D, noise=0.005)
    law = fit_law(N, D, L)
    assert abs(law.alpha - TRUE.alpha) < 0.03 and abs(law.beta - TRUE.beta) < 0.03
    assert abs(law.E / TRUE.E - 1) < 0.05
    # what a user relies on: the loss of a run 10x beyond the grid in N and D
    assert abs(law.loss(1e9, 1e10) / TRUE.loss(1e9, 1e10) - 1) < 0.01
    boots = bootstrap_laws(N, D, L, law, samples=20)
    assert len(boots) == 20
    for key in ("alpha", "beta", "E"):  # intervals around the estimate, as wide as its actual error's scale
        low, high = interval([getattr(b, key) for b in boots])
        estimate, truth = getattr(law, key), getattr(TRUE, key)
        assert low < estimate < high and high - low < 0.3 * truth
        assert abs(estimate - truth) < 2 * (high - low)


def test_huber_loss_keeps_one_bad_run_from_moving_the_fit():
    N = np.repeat([1e6, 3e6, 1e7, 3e7, 1e8], 4)
    D = np.tile([1e7, 1e8, 3e8, 1e9], 5)
    L = synthetic(TRUE, N, D, noise=0.002)
    L[7] *= 1.5  # a diverged run
    law = fit_law(N, D, L)
    assert abs(law.alpha - TRUE.alpha) < 0.03 and abs(law.beta - TRUE.beta) < 0.03


def test_compute_optimal_split_is_the_minimum_along_the_isoflop_line():
    for C in (1e18, 1e21, 1e24):
        N_opt, D_opt = TRUE.optimal(C)
        assert np.isclose(6 * N_opt * D_opt, C)
        N = np.logspace(np.log10(N_opt) - 1, np.log10(N_opt) + 1, 2001)
        assert np.isclose(N[np.argmin(TRUE.loss(N, C / (6 * N)))], N_opt, rtol=0.01)
    # N_opt ∝ C^a with a = beta / (alpha + beta): 0.45 for Chinchilla's approach-3 coefficients (their Table 2: 0.46)
    a = np.log(TRUE.optimal(1e24)[0] / TRUE.optimal(1e20)[0]) / np.log(1e4)
    assert np.isclose(a, 0.28 / 0.62)


def test_isoflop_profiles_find_the_minimum_and_flag_a_profile_without_one():
    points = []
    for C in (1e18, 1e19, 1e20):
        centre = TRUE.optimal(C)[0]
        for N in centre * np.logspace(-0.8, 0.8, 7):
            points.append(
                {"params": N, "tokens": C / (6 * N), "flops": C, "isoflop": C, "loss": float(TRUE.loss(N, C / (6 * N)))}
            )
    edge = TRUE.optimal(1e21)[0] * np.logspace(0.3, 1, 4)  # every size above the optimum: no minimum inside
    points += [
        {
            "params": N,
            "tokens": 1e21 / (6 * N),
            "flops": 1e21,
            "isoflop": 1e21,
            "loss": float(TRUE.loss(N, 1e21 / (6 * N))),
        }
        for N in edge
    ]
    profiles = isoflop_profiles(points)
    assert [p.flops for p in profiles] == [1e18, 1e19, 1e20, 1e21]
    for p in profiles[:3]:
        assert np.isclose(p.n_opt, TRUE.optimal(p.flops)[0], rtol=0.1)
    assert profiles[3].n_opt is None and "no minimum" in profiles[3].note
    a, _ = fit_isoflop(profiles)
    assert abs(a - TRUE.beta / (TRUE.alpha + TRUE.beta)) < 0.03


def test_frontiers_cross_where_the_laws_say():
    better_small = Law(E=1.9, A=300.0, B=300.0, alpha=0.34, beta=0.28)  # lower at small compute, higher floor E
    cross, C, gap = crossings(better_small, TRUE, 1e15, 1e25)
    assert len(cross) == 1 and gap[0] < 0 < gap[-1]
    assert np.isclose(better_small.frontier(cross[0]), TRUE.frontier(cross[0]), rtol=1e-3)
    higher = Law(E=1.8, A=TRUE.A, B=TRUE.B, alpha=TRUE.alpha, beta=TRUE.beta)
    assert crossings(TRUE, higher, 1e15, 1e25)[0] == []


# ---- real sweeps ----
def write_spec(tmp_path, token_data, two_mixes: bool = True, **changes):  # noqa: F811
    rel = lambda key: str(token_data.dirs[key])
    en = write_manifest(tmp_path / "en.yaml", token_data, sources=[{"name": "en", "path": rel("en"), "weight": 1.0}])
    defr = write_manifest(
        tmp_path / "defr.yaml", token_data, sources=[{"name": "defr", "path": rel("defr"), "weight": 1.0}]
    )
    mixes = [{"name": "english", "manifest": str(en)}, {"name": "german-french", "manifest": str(defr)}]
    spec = {
        "name": "tiny",
        "out_dir": str(tmp_path / "runs"),
        "train": {
            "micro_batch": 8,
            "lr": 3e-3,
            "min_lr": 3e-4,
            "warmup_steps": 3,
            "ckpt_interval": 5,
            "keep_last": 1,
            "device": "cpu",
        },
        "mixes": mixes if two_mixes else mixes[:1],
        "sizes": [
            {"n_layer": 1, "n_embd": 16, "n_head": 2},
            {"n_layer": 1, "n_embd": 32, "n_head": 2},
            {"n_layer": 2, "n_embd": 48, "n_head": 2},
        ],
        "tokens": [512 * 10, 512 * 30],
        "points": [{"n_layer": 2, "n_embd": 64, "n_head": 2, "tokens": 512 * 30}],
        "holdout": 1,
        "predict": [{"name": "bigger", "params": 1e6, "tokens": 1e6}],
        "eval_sets": [{"name": "english", "path": rel("en-val")}],
        "final_eval_tokens": 4096,
        "workers": 2,
    }
    spec.update(changes)
    path = tmp_path / "scaling.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_tiny_sweep_on_two_mixes_fits_predicts_and_compares(tmp_path, token_data, capsys):  # noqa: F811
    from studies.cli import train as main

    spec = write_spec(tmp_path, token_data)
    assert main(["scaling", str(spec), "--bootstrap", "10"]) == 0
    printed = capsys.readouterr().out
    runs = tmp_path / "runs"
    assert len(list(runs.glob("*/*/*/eval.json"))) == 14  # 2 mixes x (3 sizes x 2 budgets + 1 held out)
    summary = json.loads((runs / "scaling.json").read_text())
    for mix in ("english", "german-french"):
        fit = summary[mix]
        assert fit["points"] == 6 and len(fit["heldout"]) == 1 and fit["heldout"][0]["size"] == "L2-d64-h2"
        held = fit["heldout"][0]
        assert held["error"] == pytest.approx(held["predicted"] / held["loss"] - 1)
        assert fit["predict"][0]["name"] == "bigger"
    # trained on English, the English mix reaches lower loss on held-out English, measured and by its law at the
    # sweep's largest compute; the comparison says so (six points per law: where tiny fits cross is not tested)
    measured = {mix: min(p["loss"] for p in summary[mix]["measured"]) for mix in summary}
    assert measured["english"] < measured["german-french"]
    laws = {mix: Law(**summary[mix]["law"]) for mix in summary}
    top = max(p["flops"] for mix in summary for p in summary[mix]["measured"])
    assert laws["english"].frontier(top) < laws["german-french"].frontier(top)
    comparison = printed.split("## english vs german-french")[1]
    assert "english is lower" in comparison and "FLOPs" in comparison
    assert summary["english"]["bootstrap"] == 10 and "[nan" not in printed
    assert "Held out of the fit, predicted then measured" in printed and "Forecasts:" in printed
    assert (runs / "scaling.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["scaling", str(spec), "--report", "--bootstrap", "10"]) == 0  # nothing retrained
    assert "training" not in capsys.readouterr().out.split("# Scaling law")[0]


def test_spec_mistakes_are_named(tmp_path, token_data):  # noqa: F811
    from studies.scaling import load_spec, plan_points

    path = write_spec(tmp_path, token_data, metric="macro/accuracy")
    with pytest.raises(ConfigError, match="metric"):
        load_spec(path)
    path = write_spec(tmp_path, token_data, tokens=[5120], points=[])
    with pytest.raises(ConfigError, match="points left to fit 5 coefficients"):
        plan_points(load_spec(path))
    spec = yaml.safe_load(path.read_text())
    spec["sizez"] = spec.pop("sizes")
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="unknown keys"):
        load_spec(path)


def point_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "train.cli" in line and "scaling-kill" in line]


@pytest.mark.slow
def test_killed_sweep_restarts_only_unfinished_points(tmp_path, token_data):  # noqa: F811
    """SIGKILL the sweep once one point has finished and another has a checkpoint past step 0: its point
    processes die with it, and the restarted sweep skips the finished point and resumes the other."""
    spec = write_spec(
        tmp_path / "scaling-kill", token_data, two_mixes=False, workers=1, tokens=[512 * 20, 512 * 40], holdout=0
    )
    runs = tmp_path / "scaling-kill" / "runs" / "english"
    command = [sys.executable, "-m", "studies.cli", "train", "scaling", str(spec), "--bootstrap", "5"]
    env = {**os.environ, "PYTHONPATH": REPO}
    sweep = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 900
    partial = None
    while time.time() < deadline and partial is None:
        time.sleep(0.5)
        done = {p.parent for p in runs.glob("*/*/eval.json")}
        if done:
            partial = next(
                (
                    p.parent
                    for p in runs.glob("*/*/ckpt-*.json")
                    if p.parent not in done and not p.name.endswith("00000000.json")
                ),
                None,
            )
    assert partial is not None, "no point finished within 15 minutes"
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    time.sleep(1)
    assert point_processes() == []  # the point being trained died with the sweep
    finished = {p: p.stat().st_mtime for p in runs.glob("*/*/eval.json")}
    assert not (partial / "eval.json").exists()
    data = yaml.safe_load(spec.read_text())
    spec.write_text(yaml.safe_dump({**data, "workers": 2}))  # the restart need not match the killed sweep's workers
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr
    assert {p: p.stat().st_mtime for p in finished} == finished  # not trained or scored again
    assert "resumed from" in (partial / "log.txt").read_text()  # continued from its checkpoint
    assert len(list(runs.glob("*/*/eval.json"))) == 7
    assert f"{len(finished)} done; training {7 - len(finished)}" in result.stdout
