"""`train scaling SPEC.yaml`: measure a scaling law on your own mix and forecast a bigger run before paying for it.

Every point of the sweep is one `train run` (a model size x a token budget, its cosine schedule fitted to that
budget, as Chinchilla trains each point) scored once on held-out sets by `train eval`. The losses are fitted two
ways (studies/fit.py): the parametric L(N, D) = E + A/N^alpha + B/D^beta (Chinchilla approach 3) and, where the spec
asks for IsoFLOP profiles, the loss-minimising size per compute budget (approach 2). The points with the most
compute are held out of the fits and predicted: the measured error of that forecast is the figure to trust. The
YAML (configs/scaling-demo.yaml is a working one):

    name: demo
    out_dir: runs/scaling-demo        # OUT/MIX/SIZE/D<tokens>: one `train run` folder per point
    train: {preset: tiny-cpu, lr: 1.0e-3}   # any `train run` key, shared by every point
    mixes: [{name: demo, manifest: ../data_manifests/demo.yaml}]   # two mixes: two laws compared
    sizes:                            # model shapes: any `train run` keys (n_layer, n_embd, n_head, lr, ...)
      - {n_layer: 1, n_embd: 64, n_head: 2}
      - {n_layer: 2, n_embd: 128, n_head: 4}
    tokens: [75000, 150000, 300000]   # grid: every size at every budget
    isoflops: [1.0e+12, 3.0e+12]      # IsoFLOP profiles: every size at D = C / 6N, if D is in [min_tokens, max_tokens]
    points: [{n_layer: 4, n_embd: 256, n_head: 8, tokens: 600000}]   # single extra runs (a bigger one to hold out)
    holdout: 1                        # the points of most compute kept out of the fits and predicted
    predict: [{name: 10x, n_layer: 6, n_embd: 384, n_head: 6, tokens: 6.0e+6}]   # or {name, params, tokens}
    eval_sets: [{name: books, path: ../out/demo/books/tokenize/val}]   # train eval's sets (text, JSONL, tokens)
    metric: macro/loss                # SET/loss or SET/bpb of the eval report; bpb compares mixes of other tokenizers
    workers: 2                        # points trained at once; threads: torch threads each (default cores / workers)

N is the model's parameter count as the trainer counts it for 6·N·D (every weight that does matmul work per token,
the tied embedding included; learned positions excluded), and C = 6·N·D with D the tokens actually trained (whole
steps). The sweep is resumable: a point with its eval.json is done, an unfinished one continues from its newest
checkpoint (`train run --resume`), so a killed sweep restarts only what had not finished. `--report` fits what has
finished without training.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import queue
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from common.typed import ConfigError, named_path, read_yaml

KEYS = {
    "name",
    "out_dir",
    "train",
    "mixes",
    "sizes",
    "tokens",
    "isoflops",
    "points",
    "min_tokens",
    "max_tokens",
    "holdout",
    "predict",
    "eval_sets",
    "final_eval_tokens",
    "metric",
    "workers",
    "threads",
    "devices",
}
REPO = Path(__file__).resolve().parent.parent  # the checkout whose `train` the points run


@dataclass
class Point:
    mix: str
    size: str  # e.g. L2-d128
    shape: dict  # the size's `train run` keys
    params: int  # N
    tokens: int  # D: whole steps of tokens_per_step
    steps: int
    flops: float  # C = 6 N D
    holdout: bool = False
    isoflop: float = 0.0  # the IsoFLOP budget the point belongs to (0: none)

    @property
    def folder(self) -> str:
        return f"{self.mix}/{self.size}/D{self.tokens}"


def load_spec(path: str | Path) -> dict:
    path = Path(path)
    spec = read_yaml(path, "scaling spec")
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: expected a mapping")
    unknown = set(spec) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; expected some of {sorted(KEYS)}")
    for key in ("name", "mixes", "sizes", "eval_sets"):
        if not spec.get(key):
            raise ConfigError(f"{path}: {key}: missing")
    if not (spec.get("tokens") or spec.get("isoflops") or spec.get("points")):
        raise ConfigError(f"{path}: name tokens (a grid), isoflops (profiles) or points")
    here = path.parent
    resolve = lambda p: str(p) if Path(p).is_absolute() else str((here / p).resolve())
    spec["eval_sets"] = [
        {"name": name, "path": resolve(p)}
        for name, p in (named_path(e, f"{path}: eval_sets[{i}]") for i, e in enumerate(spec["eval_sets"]))
    ]
    for i, mix in enumerate(spec["mixes"]):
        if not (isinstance(mix, dict) and set(mix) == {"name", "manifest"}):
            raise ConfigError(f"{path}: mixes[{i}]: expected {{name, manifest}}, got {mix!r}")
        mix["manifest"] = resolve(mix["manifest"])
    names = [m["name"] for m in spec["mixes"]]
    if len(set(names)) != len(names) or len(names) > 2:
        raise ConfigError(f"{path}: mixes: one or two, with different names; got {names}")
    if not all(isinstance(s, dict) for s in spec["sizes"] + spec.get("points", [])):
        raise ConfigError(f"{path}: sizes and points: expected mappings of `train run` keys")
    set_name, _, value = spec.setdefault("metric", "macro/loss").partition("/")
    if value not in ("loss", "bpb"):
        raise ConfigError(f"{path}: metric: expected SET/loss or SET/bpb, got {spec['metric']!r}")
    for entry in spec.get("predict", []):
        if not isinstance(entry, dict) or "tokens" not in entry or "name" not in entry:
            raise ConfigError(
                f"{path}: predict: expected {{name, tokens, params}} or {{name, tokens, n_layer, ...}}, got {entry!r}"
            )
    spec.setdefault("train", {})
    spec.setdefault("out_dir", f"runs/scaling-{spec['name']}")
    spec.setdefault("holdout", 1)
    spec.setdefault("min_tokens", 0)
    spec.setdefault("max_tokens", float("inf"))
    spec.setdefault("final_eval_tokens", 32768)
    spec.setdefault("workers", 1)
    spec.setdefault("threads", max(1, (os.cpu_count() or 1) // spec["workers"]))
    return spec


SHORT = {"n_layer": "L", "n_embd": "d", "n_head": "h"}


def size_name(shape: dict) -> str:
    """L2-d128-h4 (then any other keys, sorted): the same name however the YAML orders the keys."""
    keys = [k for k in SHORT if k in shape] + sorted(k for k in shape if k not in SHORT)
    return "-".join(f"{SHORT.get(k, k + '=')}{shape[k]}" for k in keys)


def base_config(spec: dict, mix: dict, shape: dict, out_dir: str = "", max_steps: int = 0):
    from train.config import load_config

    values = {**spec["train"], **shape, "manifest": mix["manifest"], "progress": False}
    if out_dir:
        values["out_dir"] = out_dir
    if max_steps:
        # evaluated once, at the end (train eval scores the point); warmup at most a tenth of a short point
        values.update(
            max_steps=max_steps,
            eval_interval=max_steps,
            warmup_steps=min(load_config(None, values).warmup_steps, max(1, max_steps // 10)),
        )
    return load_config(None, values)


def count_params(config) -> tuple[int, int]:
    """(N, tokens per step) of a config, without allocating its weights (meta device)."""
    import torch
    from common.mix import load_manifest
    from train.model import GPT, GPTConfig

    manifest = load_manifest(config.manifest)
    vocab = config.vocab_size or 64 * math.ceil(manifest.vocab_size / 64)
    with torch.device("meta"):
        model = GPT(
            GPTConfig(
                vocab_size=vocab,
                seq_len=manifest.seq_len,
                n_layer=config.n_layer,
                n_head=config.n_head,
                n_embd=config.n_embd,
                style=config.style,
            )
        )
    return model.num_params(), config.tokens_per_step or config.micro_batch * manifest.seq_len


def plan_points(spec: dict) -> list[Point]:
    """Every (mix, size, tokens) of the grid, the IsoFLOP profiles and the single points; the `holdout` points of
    most compute (per mix) are marked."""
    points = []
    for mix in spec["mixes"]:
        ours = {}
        wanted = [(shape, t, 0.0) for shape in spec["sizes"] for t in spec.get("tokens", [])]
        wanted += [({k: v for k, v in p.items() if k != "tokens"}, p["tokens"], 0.0) for p in spec.get("points", [])]
        counted = {}
        for shape in spec["sizes"]:
            counted[size_name(shape)] = count_params(base_config(spec, mix, shape))
        for budget in spec.get("isoflops", []):
            for shape in spec["sizes"]:
                tokens = float(budget) / (6 * counted[size_name(shape)][0])
                if spec["min_tokens"] <= tokens <= spec["max_tokens"]:
                    wanted.append((shape, tokens, float(budget)))
        for shape, tokens, budget in wanted:
            name = size_name(shape)
            if name not in counted:
                counted[name] = count_params(base_config(spec, mix, shape))
            params, per_step = counted[name]
            steps = max(1, round(float(tokens) / per_step))
            point = Point(mix["name"], name, shape, params, steps * per_step, steps, 6.0 * params * steps * per_step)
            kept = ours.setdefault(point.folder, point)  # a grid point that is also on a profile runs once
            kept.isoflop = budget or kept.isoflop
        ranked = sorted(ours.values(), key=lambda p: (p.flops, p.params), reverse=True)
        for point in ranked[: spec["holdout"]]:
            point.holdout = True
        if len(ranked) - spec["holdout"] < 6:
            raise ConfigError(
                f"mix {mix['name']}: {len(ranked) - spec['holdout']} points left to fit 5 coefficients; "
                "give more sizes or token budgets"
            )
        points += ranked
    return points


# ---- running ----
def _die_with_parent() -> None:
    """Linux: the point's process is killed when the sweep dies (prctl PR_SET_PDEATHSIG), so a killed sweep leaves
    no orphan training on into a folder the restarted sweep resumes. Elsewhere a no-op."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def point_command(args: list[str]) -> list[str]:
    """`python -m train.cli ARGS` in a process that dies with this one (prctl survives the exec)."""
    launcher = (
        "import os, sys; from studies.scaling import _die_with_parent; _die_with_parent(); "
        "os.getppid() == 1 and sys.exit(1); os.execv(sys.executable, [sys.executable, '-m', 'train.cli', *sys.argv[1:]])"
    )
    return [sys.executable, "-c", launcher, *args]


def eval_device(device: str) -> str:
    """The device `train eval` scores a point on: the one it trained on (auto: CUDA when there is one)."""
    import torch

    return "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"


def run_point(spec: dict, point: Point, env: dict, log=print) -> dict | None:
    """Train (or resume) one point, then score its final checkpoint with `train eval`; eval.json marks it done."""
    folder = Path(spec["out_dir"]) / point.folder
    done = folder / "eval.json"
    if done.exists():
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    mix = next(m for m in spec["mixes"] if m["name"] == point.mix)
    config = base_config(spec, mix, point.shape, str(folder.resolve()), point.steps)
    from train.config import to_dict

    (folder / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    (folder / "point.json").write_text(json.dumps(asdict(point), indent=1) + "\n")
    (folder / "failed.json").unlink(missing_ok=True)
    started = time.time()
    with open(folder / "log.txt", "a") as out:
        trained = subprocess.run(
            point_command(["run", str(folder / "config.yaml"), "--resume"]),
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        final = sorted(folder.glob("ckpt-*.pt"))
        scored = trained
        if trained.returncode == 0 and final:
            sets = [f"--set={s['name']}={s['path']}" for s in spec["eval_sets"]]
            scored = subprocess.run(
                point_command(
                    [
                        "eval",
                        str(final[-1]),
                        *sets,
                        "--out",
                        str(folder / "eval.tmp"),
                        "--max-tokens",
                        str(spec["final_eval_tokens"]),
                        "--device",
                        eval_device(config.device),
                    ]
                ),
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    if trained.returncode or not final or scored.returncode:
        tail = (folder / "log.txt").read_text()[-2000:]
        (folder / "failed.json").write_text(json.dumps({"returncode": scored.returncode, "log_tail": tail}) + "\n")
        log(f"{point.folder}: failed (see {folder / 'log.txt'})")
        return None
    report = json.loads((folder / "eval.tmp").read_text())
    report.update(point=asdict(point), seconds=round(time.time() - started, 1))
    (folder / "eval.tmp").write_text(json.dumps(report, indent=1) + "\n")
    os.replace(folder / "eval.tmp", done)  # atomic: a kill leaves no half-written result
    log(
        f"{point.folder}: N {point.params:,} D {point.tokens:,} -> {metric_of(spec, report):.4f} "
        f"({report['seconds']:.0f} s)"
    )
    return report


def run_sweep(spec: dict, log=print) -> None:
    """Every unfinished point, `workers` at a time, largest compute first (the longest job starts first, so the
    sweep's end is not one big point running alone); each process gets `threads` torch threads and, with
    `devices`, one GPU of the list (CUDA_VISIBLE_DEVICES)."""
    points = plan_points(spec)
    todo = [p for p in points if not (Path(spec["out_dir"]) / p.folder / "eval.json").exists()]
    log(
        f"{len(points)} points, {len(points) - len(todo)} done; training {len(todo)} with {spec['workers']} "
        f"workers x {spec['threads']} threads"
    )
    slots = queue.Queue()
    for i in range(spec["workers"]):
        slots.put(i)
    devices = [str(d) for d in spec.get("devices") or []]

    def work(point: Point):
        slot = slots.get()
        try:
            env = {
                **os.environ,
                "OMP_NUM_THREADS": str(spec["threads"]),
                "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            }
            if devices:
                env["CUDA_VISIBLE_DEVICES"] = devices[slot % len(devices)]
            return run_point(spec, point, env, log)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(spec["workers"]) as pool:
        list(pool.map(work, todo))


# ---- results ----
def metric_of(spec: dict, report: dict) -> float:
    set_name, _, value = spec["metric"].partition("/")
    sets = report.get("sets", {})
    if set_name not in sets or sets[set_name].get(value) is None:
        raise ConfigError(f"metric {spec['metric']}: the eval report has sets {sorted(sets)} (bpb needs text sets)")
    return float(sets[set_name][value])


def collect(spec: dict) -> dict[str, list[dict]]:
    """{mix: [{size, params, tokens, flops, loss, holdout}]} of the finished points of the plan."""
    out = {m["name"]: [] for m in spec["mixes"]}
    for point in plan_points(spec):
        done = Path(spec["out_dir"]) / point.folder / "eval.json"
        if done.exists():
            report = json.loads(done.read_text())
            out[point.mix].append({**asdict(point), "loss": metric_of(spec, report)})
    return out


# ---- fits and report ----
def fit_mix(spec: dict, points: list[dict], samples: int = 100) -> dict:
    """Both fits of one mix's finished points, the held-out check and the forecasts, as plain numbers."""
    from studies.fit import bootstrap_laws, fit_isoflop, fit_law, interval, isoflop_profiles

    fitted = [p for p in points if not p["holdout"]]
    if len(fitted) < 6:
        raise ConfigError(
            f"mix {points[0]['mix'] if points else '?'}: {len(fitted)} finished points outside the "
            "holdout; a fit of 5 coefficients needs at least 6"
        )
    N, D, L = (np.array([p[k] for p in fitted], dtype=float) for k in ("params", "tokens", "loss"))
    law = fit_law(N, D, L)
    boots = bootstrap_laws(N, D, L, law, samples)
    spread = lambda f: interval([f(b) for b in boots])
    top = max(p["flops"] for p in points)
    ratio = lambda law, C: float(law.optimal(C)[1] / law.optimal(C)[0])
    out = {
        "law": asdict(law),
        "points": len(fitted),
        "bootstrap": len(boots),
        "intervals": {k: spread(lambda b, k=k: getattr(b, k)) for k in ("E", "A", "B", "alpha", "beta")},
        "exponents": {
            "a": law.beta / (law.alpha + law.beta),
            "b": law.alpha / (law.alpha + law.beta),
            "a_interval": spread(lambda b: b.beta / (b.alpha + b.beta)),
            "b_interval": spread(lambda b: b.alpha / (b.alpha + b.beta)),
        },
        "tokens_per_param": {"flops": top, "value": ratio(law, top), "interval": spread(lambda b: ratio(b, top))},
        "residual_rms": float(np.sqrt(np.mean((law.loss(N, D) / L - 1) ** 2))),
        "heldout": [],
        "predict": [],
        "isoflop": None,
    }
    for p in points:
        if p["holdout"]:
            predicted = float(law.loss(p["params"], p["tokens"]))
            out["heldout"].append(
                {
                    **p,
                    "predicted": predicted,
                    "interval": spread(lambda b: float(b.loss(p["params"], p["tokens"]))),
                    "error": predicted / p["loss"] - 1,
                }
            )
    for entry in spec.get("predict", []):
        params = (
            float(entry["params"])
            if "params" in entry
            else float(
                count_params(
                    base_config(spec, spec["mixes"][0], {k: v for k, v in entry.items() if k not in ("name", "tokens")})
                )[0]
            )
        )
        tokens = float(entry["tokens"])
        out["predict"].append(
            {
                "name": entry["name"],
                "params": params,
                "tokens": tokens,
                "flops": 6 * params * tokens,
                "loss": float(law.loss(params, tokens)),
                "interval": spread(lambda b: float(b.loss(params, tokens))),
                "optimal_loss": float(law.frontier(6 * params * tokens)),
                "optimal_params": float(law.optimal(6 * params * tokens)[0]),
            }
        )
    profiles = isoflop_profiles(fitted)
    if profiles:
        line = fit_isoflop(profiles)
        out["isoflop"] = {
            "profiles": [
                {
                    "flops": pr.flops,
                    "params": pr.params.tolist(),
                    "losses": pr.losses.tolist(),
                    "coeffs": None if pr.coeffs is None else pr.coeffs.tolist(),
                    "n_opt": pr.n_opt,
                    "note": pr.note,
                }
                for pr in profiles
            ],
            "a": line[0] if line else None,
            "b": 1 - line[0] if line else None,
            "k": line[1] if line else None,
        }
    return out, law, boots


def fmt_interval(value: float, bounds, digits: int = 3) -> str:
    return f"{value:.{digits}g} [{bounds[0]:.{digits}g}, {bounds[1]:.{digits}g}]"


def format_mix(name: str, fit: dict) -> list[str]:
    law, iv = fit["law"], fit["intervals"]
    ex, tpp = fit["exponents"], fit["tokens_per_param"]
    lines = [
        f"## {name}",
        "",
        f"L(N, D) = E + A / N^alpha + B / D^beta on {fit['points']} points ({fit['bootstrap']} bootstrap refits; "
        f"90% intervals); relative residual rms {fit['residual_rms']:.2%}",
        "",
    ]
    lines += [f"- {k:<5} = {fmt_interval(law[k], iv[k])}" for k in ("E", "A", "B", "alpha", "beta")]
    lines += [
        f"- compute-optimal N_opt ∝ C^{fmt_interval(ex['a'], ex['a_interval'])}, "
        f"D_opt ∝ C^{fmt_interval(ex['b'], ex['b_interval'])}",
        f"- tokens per parameter at C = {tpp['flops']:.3g} FLOPs (the sweep's largest): "
        f"{fmt_interval(tpp['value'], tpp['interval'])} (Chinchilla's rule of thumb: ~20)",
    ]
    iso = fit["isoflop"]
    if iso:
        lines += ["", "IsoFLOP profiles (approach 2):"]
        for pr in iso["profiles"]:
            found = f"N_opt {pr['n_opt']:.3g}, D_opt {pr['flops'] / 6 / pr['n_opt']:.3g}" if pr["n_opt"] else pr["note"]
            lines.append(f"- C = {pr['flops']:.3g}: {len(pr['params'])} sizes; {found}")
        lines.append(
            f"- N_opt ∝ C^{iso['a']:.3f}, D_opt ∝ C^{iso['b']:.3f}"
            if iso["a"] is not None
            else "- fewer than 2 profiles with a minimum inside their sizes: no IsoFLOP exponents"
        )
    if fit["heldout"]:
        lines += ["", "Held out of the fit, predicted then measured:"]
        for h in fit["heldout"]:
            lines.append(
                f"- {h['size']} (N {h['params']:,}), D {h['tokens']:,}, C {h['flops']:.3g}: predicted "
                f"{fmt_interval(h['predicted'], h['interval'], 4)}, measured {h['loss']:.4f}: "
                f"error {h['error']:+.2%}"
            )
    if fit["predict"]:
        lines += ["", "Forecasts:"]
        for f in fit["predict"]:
            lines.append(
                f"- {f['name']}: N {f['params']:.3g}, D {f['tokens']:.3g}, C {f['flops']:.3g}: loss "
                f"{fmt_interval(f['loss'], f['interval'], 4)} (the same compute spent optimally: "
                f"N {f['optimal_params']:.3g}, loss {f['optimal_loss']:.4f})"
            )
    return lines + [""]


def compare_laws(names: list[str], laws: list, low: float, high: float) -> list[str]:
    """Where one mix's frontier (lowest loss per compute) lies below the other's, over [low, high] FLOPs."""
    from studies.fit import crossings

    cross, C, gap = crossings(laws[0], laws[1], low, high)
    below = lambda g: names[0] if g < 0 else names[1]
    lines = [
        f"## {names[0]} vs {names[1]}",
        "",
        f"Frontiers (each mix's lowest loss for a compute, from its fitted law) from {low:.3g} to {high:.3g} FLOPs:",
    ]
    if not cross:
        lines.append(
            f"{below(gap[0])} is lower throughout (by {abs(gap[0]):.4f} at {low:.3g}, {abs(gap[-1]):.4f} at "
            f"{high:.3g} FLOPs)."
        )
    else:
        edges = [low, *cross, high]
        for lo, hi in zip(edges, edges[1:]):
            mid = math.sqrt(lo * hi)
            lines.append(f"- {lo:.3g} to {hi:.3g} FLOPs: {below(np.interp(math.log(mid), np.log(C), gap))} is lower")
        lines.append(f"The frontiers cross at {', '.join(f'{c:.3g}' for c in cross)} FLOPs.")
    return lines + ["(Compare in bits per byte (metric: macro/bpb) when the mixes' tokenizers differ.)", ""]


def report(spec: dict, samples: int = 100) -> str:
    out_dir = Path(spec["out_dir"])
    results = collect(spec)
    text, summary, laws = (
        [
            f"# Scaling law: {spec['name']}",
            "",
            f"metric: {spec['metric']} of the eval sets {', '.join(s['name'] for s in spec['eval_sets'])}",
            "",
        ],
        {},
        {},
    )
    for name, points in results.items():
        failed = sorted((out_dir / name).glob("*/*/failed.json"))
        fit, law, boots = fit_mix(spec, points, samples)
        summary[name] = {**fit, "measured": points, "failed": [str(f.parent) for f in failed]}
        laws[name] = (law, boots)
        text += format_mix(name, fit)
        if failed:
            text += [f"{len(failed)} point(s) failed and are left out: " + ", ".join(str(f.parent) for f in failed), ""]
    all_flops = [p["flops"] for points in results.values() for p in points]
    high = max([max(all_flops)] + [f["flops"] for fit in summary.values() for f in fit["predict"]])
    if len(laws) == 2:
        names = list(laws)
        text += compare_laws(names, [laws[n][0] for n in names], min(all_flops), high)
    from studies.scaling_plot import plot_scaling

    png = plot_scaling(
        spec,
        results,
        summary,
        {n: law for n, (law, _) in laws.items()},
        out_dir / "scaling.png",
        (min(all_flops), high),
    )
    text += [f"![scaling]({png.name})", ""]
    (out_dir / "scaling.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    (out_dir / "scaling.md").write_text("\n".join(text))
    return "\n".join(text) + f"\nwritten: {out_dir / 'scaling.md'}, {out_dir / 'scaling.json'}, {png}"


def run_scaling(path: str | Path, report_only: bool = False, samples: int = 100, log=print) -> str:
    spec = load_spec(path)
    if not report_only:
        run_sweep(spec, log)
    return report(spec, samples)


def cmd_scaling(args) -> int:
    print(run_scaling(args.spec, report_only=args.report, samples=args.bootstrap))
    return 0


def add_scaling_parser(commands) -> None:
    sc = commands.add_parser(
        "scaling",
        help="sweep model sizes x token budgets, fit a scaling law, forecast a bigger run",
        description="Train a grid of model sizes x token budgets (or IsoFLOP profiles) on one or two mixes, each point "
        "a resumable `train run`; fit L(N, D) = E + A/N^alpha + B/D^beta with bootstrap intervals, check it on the "
        "held-out largest points, plot it, and forecast named larger runs (docs/scaling-laws.md).",
    )
    sc.add_argument("spec", help="scaling YAML, e.g. configs/scaling-demo.yaml (studies/scaling.py describes it)")
    sc.add_argument("--report", action="store_true", help="train nothing; fit and plot the finished points")
    sc.add_argument("--bootstrap", type=int, default=100, help="bootstrap refits for the intervals (default 100)")
    sc.set_defaults(handler=cmd_scaling)
