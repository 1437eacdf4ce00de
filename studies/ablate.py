"""`train ablate ABLATION.yaml`: is one curation better than another? Train the same small proxy model on each
data arm at the same token budget with several seeds, score every run on the same held-out sets and tasks, and
compare (the DCLM / FineWeb method). The YAML:

    name: curated-vs-extracted
    out_dir: runs/ablation-web        # one folder per arm and seed: OUT/ARM/seed-S (relative to where train runs)
    train: {preset: tiny-cpu, n_layer: 2, lr: 3e-3}   # any `train run` key: one proxy config for every arm
    tokens: 2000000                   # training tokens per run (steps = tokens / tokens_per_step)
    seeds: [1, 2, 3]                  # model initialisation; the data order is each manifest's seed
    eval_sets: [{name: held-out-book, path: ../held_out/book.txt}]   # train/eval.py: text, JSONL, Parquet, tokens
    eval_tokens: 8192                 # tokens scored per set every eval_interval steps (the curves)
    final_eval_tokens: 65536          # tokens scored per set on each run's final checkpoint (the table)
    tasks: [{name: continuation, path: ../held_out/continuation.jsonl}]   # train/tasks.py multiple-choice JSONL
    arms:
      - {name: curated, manifest: ../data_manifests/curated.yaml}
      - name: extracted               # or pipeline output + a tokenizer: tokenized into OUT/ARM/data (curate's tokenize stage)
        tokenizer: ../out/tokenizer/tokenizer.json
        seq_len: 1024
        data: [{name: web, path: ../out/web/extract, weight: 0.5}, {name: books, path: ../out/books/dedup, weight: 0.5}]

Manifest, set and task paths are relative to the YAML's folder. Arms may use different tokenizers: text eval
sets are tokenized with each arm's own tokenizer and compared in bits per byte (token-directory sets and the
loss per token only compare within one tokenizer). Each run is resumable (`train run --resume` semantics) and a
finished one (its eval.json written) is skipped, so the command can be killed and started again. To spread the
arms over GPUs or nodes, start one process per arm (`--arm NAME`, with CUDA_VISIBLE_DEVICES), then
`train ablate X.yaml --report` to compare what has finished.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import yaml

from common.typed import ConfigError, read_yaml

KEYS = {"name", "out_dir", "train", "tokens", "seeds", "eval_sets", "eval_tokens", "final_eval_tokens", "tasks",
        "max_task_examples", "arms"}


def load_ablation(path: str | Path) -> dict:
    path = Path(path)
    spec = read_yaml(path, "ablation file")
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: expected a mapping")
    unknown = set(spec) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; expected some of {sorted(KEYS)}")
    for key in ("name", "tokens", "arms"):
        if key not in spec:
            raise ConfigError(f"{path}: {key}: missing")
    if not spec.get("eval_sets") and not spec.get("tasks"):
        raise ConfigError(f"{path}: name eval_sets or tasks to compare the arms on")
    here = path.parent
    resolve = lambda p: str((here / p).resolve()) if not Path(p).is_absolute() else p
    relocate = lambda entry: {**entry, "path": resolve(entry["path"])} if isinstance(entry, dict) else _relocate(entry, resolve)
    spec["eval_sets"] = [relocate(e) for e in spec.get("eval_sets") or []]
    spec["tasks"] = [relocate(e) for e in spec.get("tasks") or []]
    names = []
    for i, arm in enumerate(spec["arms"]):
        if isinstance(arm, dict) and set(arm) == {"name", "manifest"}:
            arm["manifest"] = resolve(arm["manifest"])
        elif isinstance(arm, dict) and {"name", "data", "tokenizer"} <= set(arm) <= {"name", "data", "tokenizer", "seq_len"}:
            arm["tokenizer"] = resolve(arm["tokenizer"])
            arm["data"] = [{**source, "path": resolve(source["path"])} for source in arm["data"]]
        else:
            raise ConfigError(f"{path}: arms[{i}]: expected {{name, manifest}} or {{name, data: [{{name, path, weight}}], "
                              f"tokenizer, seq_len}}, got {arm!r}")
        names.append(arm["name"])
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: arms: names must differ, got {names}")
    spec.setdefault("seeds", [1337])
    spec.setdefault("train", {})
    spec.setdefault("out_dir", f"runs/ablation-{spec['name']}")
    return spec


def _relocate(entry: str, resolve) -> str:
    name, eq, path = entry.partition("=")
    return f"{name}={resolve(path)}" if eq else resolve(entry)


def tokenize_arm(spec: dict, arm: dict) -> str:
    """An arm given as pipeline output (Parquet folders) plus a tokenizer: token shards and a mix manifest under
    OUT/ARM/data (kept, so a rerun reuses them). curate is imported only here: other arms train without it."""
    from curate.api import make_executor
    from curate.core.pipeline import Pipeline
    from curate.core.runner import run_pipeline
    from curate.tokenize.stage import TokenizeParams, TokenizeStage
    root = (Path(spec["out_dir"]) / arm["name"] / "data").resolve()
    sources = []
    for source in arm["data"]:
        out = root / source["name"]
        if not (out / "tokenize" / "train" / "tokens.json").exists():
            params = TokenizeParams(tokenizer=arm["tokenizer"], validation_fraction=0.0, min_validation_docs=0)
            pipeline = Pipeline(source["name"], f"(ablation arm {arm['name']})", [source["path"]], str(out),
                                [TokenizeStage("tokenize", params)])
            run_pipeline(pipeline, make_executor("local", 1), progress=False)
        sources.append({"name": source["name"], "path": str(out / "tokenize" / "train"),
                        "weight": float(source.get("weight", 1.0))})
    manifest = {"name": arm["name"], "tokenizer": {"path": arm["tokenizer"]}, "seq_len": arm.get("seq_len", 1024),
                "seed": 1234, "total_tokens": spec["tokens"], "sources": sources}
    (root / "mix.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return str(root / "mix.yaml")


def run_config(spec: dict, arm: dict, seed: int):
    """The `train run` config of one arm and seed: the shared proxy config, the arm's manifest, the budget."""
    from common.mix import load_manifest
    from train.config import load_config
    values = {**spec["train"], "manifest": arm["manifest"], "seed": seed, "progress": False,
              "out_dir": str(Path(spec["out_dir"]) / arm["name"] / f"seed-{seed}"),
              "eval_sets": spec["eval_sets"], "eval_tokens": spec.get("eval_tokens", 32768)}
    probe = load_config(None, values)
    tokens_per_step = probe.tokens_per_step or probe.micro_batch * load_manifest(arm["manifest"]).seq_len
    values["max_steps"] = math.ceil(spec["tokens"] / tokens_per_step)
    return load_config(None, values)


def run_arm(spec: dict, arm: dict, seed: int, log=print) -> dict:
    """Train (or resume) one run, then score its final checkpoint; the result is kept in RUN/eval.json."""
    from train import checkpoint
    from train.eval import evaluate_checkpoint
    from train.trainer import run_training
    config = run_config(spec, arm, seed)
    run_dir = Path(config.out_dir)
    done = run_dir / "eval.json"
    (run_dir / "failed.json").unlink(missing_ok=True)   # a failed run started again (e.g. after a config change)
    if done.exists():
        log(f"{arm['name']} seed {seed}: finished earlier ({done})")
        return json.loads(done.read_text())
    log(f"{arm['name']} seed {seed}: training {config.max_steps} steps in {run_dir}")
    run_training(config, resume=True, log=lambda *a, **k: None)
    final = checkpoint.checkpoints(run_dir)[-1]
    report = evaluate_checkpoint(final, spec["eval_sets"], max_tokens=spec.get("final_eval_tokens", 65536),
                                 device=config.device if config.device != "auto" else "cpu", tasks=spec["tasks"],
                                 max_examples=spec.get("max_task_examples"))
    report.update(arm=arm["name"], seed=seed, manifest=arm["manifest"])
    done.write_text(json.dumps(report, indent=1) + "\n")
    return report


def run_ablation(path: str | Path, arms: list[str] | None = None, seeds: list[int] | None = None,
                 report_only: bool = False, log=print) -> str:
    spec = load_ablation(path)
    known = [a["name"] for a in spec["arms"]]
    for name in arms or []:
        if name not in known:
            raise ConfigError(f"--arm {name}: not an arm of {path} ({', '.join(known)})")
    if not report_only:
        for arm in spec["arms"]:
            if arms and arm["name"] not in arms:
                continue
            if "manifest" not in arm:
                arm["manifest"] = tokenize_arm(spec, arm)
            for seed in spec["seeds"]:
                if seeds is None or seed in seeds:
                    try:
                        run_arm(spec, arm, seed, log)
                    except RuntimeError as error:   # a diverged run is a result too: recorded, the others go on
                        log(f"{arm['name']} seed {seed}: failed: {error}")
                        failed = Path(spec["out_dir"]) / arm["name"] / f"seed-{seed}" / "failed.json"
                        failed.parent.mkdir(parents=True, exist_ok=True)
                        failed.write_text(json.dumps({"seed": seed, "error": str(error)}) + "\n")
    return write_comparison(spec)


def mean_spread(values: list[float]) -> dict:
    """Mean and sample standard deviation over seeds (0 for one seed)."""
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "n": len(a)}


def compare(spec: dict) -> dict:
    """{arm: {"bpb": {set: mean_spread}, "loss": {...}, "tasks": {task: mean_spread of acc_norm}, "core": ...}}."""
    out = {}
    for arm in spec["arms"]:
        reports = [json.loads(p.read_text()) for p in sorted((Path(spec["out_dir"]) / arm["name"]).glob("seed-*/eval.json"))]
        if not reports:
            continue
        failed = sorted((Path(spec["out_dir"]) / arm["name"]).glob("seed-*/failed.json"))
        entry = {"seeds": [r["seed"] for r in reports], "tokens_trained": reports[0]["tokens_trained"],
                 "failed": [json.loads(p.read_text()) for p in failed],
                 "bpb": {}, "loss": {}, "tasks": {}}
        for name in reports[0].get("sets", {}):
            for key in ("bpb", "loss"):
                if reports[0]["sets"][name].get(key) is not None:
                    entry[key][name] = mean_spread([r["sets"][name][key] for r in reports])
        for name in reports[0].get("tasks", {}):
            if name != "core":
                entry["tasks"][name] = mean_spread([r["tasks"][name]["acc_norm"] for r in reports])
        if "tasks" in reports[0]:
            entry["core"] = mean_spread([r["tasks"]["core"] for r in reports])
        out[arm["name"]] = entry
    return out


def format_comparison(spec: dict, results: dict) -> str:
    arms = list(results)
    sets = list(next(iter(results.values()))["bpb"]) if results else []
    tasks = list(next(iter(results.values()))["tasks"]) if results else []
    fmt = lambda m, digits=4: f"{m['mean']:.{digits}f} ± {m['std']:.{digits}f}"
    lines = [f"# Ablation: {spec['name']}", "",
             f"{spec['tokens']:,} training tokens per run, seeds {spec['seeds']}; mean ± standard deviation over seeds. "
             "Bits per byte (lower is better) on each held-out set and their macro average; task accuracy "
             "(length-normalised, higher is better) and CORE-style centred accuracy.", ""]
    header = ["arm", "runs"] + [f"{s} bpb" for s in sets] + [f"{t} acc_norm" for t in tasks] + (["CORE"] if tasks else [])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm in arms:
        r = results[arm]
        runs = str(len(r["seeds"])) + (f" ({len(r['failed'])} failed)" if r["failed"] else "")
        row = [arm, runs] + [fmt(r["bpb"][s]) for s in sets] + [fmt(r["tasks"][t], 3) for t in tasks]
        row += [fmt(r["core"], 3)] if tasks else []
        lines.append("| " + " | ".join(row) + " |")
    if len(arms) > 1 and "macro" in sets:
        best = min(arms, key=lambda a: results[a]["bpb"]["macro"]["mean"])
        lines += ["", f"Lowest macro bpb: **{best}**. " + separation(results, best, arms)]
    return "\n".join(lines) + "\n"


def separation(results: dict, best: str, arms: list[str]) -> str:
    """Whether the best arm's lead exceeds the seed noise (difference of means vs the larger spread)."""
    notes = []
    for other in arms:
        if other == best:
            continue
        a, b = results[best]["bpb"]["macro"], results[other]["bpb"]["macro"]
        gap, noise = b["mean"] - a["mean"], max(a["std"], b["std"])
        verdict = "larger than" if gap > 2 * noise else "within"
        notes.append(f"vs {other}: {gap:.4f} bpb, {verdict} twice the seed spread ({noise:.4f})")
    return "; ".join(notes) + "."


def write_comparison(spec: dict) -> str:
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    results = compare(spec)
    if not results:
        raise ConfigError(f"{out_dir}: no finished runs to compare yet")
    (out_dir / "comparison.json").write_text(json.dumps({"name": spec["name"], "tokens": spec["tokens"],
                                                         "arms": results}, indent=1) + "\n")
    text = format_comparison(spec, results)
    png = plot_curves(spec, out_dir / "curves.png")
    if png:
        text += f"\n![held-out bpb per arm]({png.name})\n"
    (out_dir / "comparison.md").write_text(text)
    return text + f"\nwritten: {out_dir / 'comparison.md'}, {out_dir / 'comparison.json'}" + (f", {png}" if png else "")


def curves(spec: dict) -> dict[str, np.ndarray]:
    """{arm: (steps, mean macro bpb over seeds)} from the runs' metrics.jsonl (steps every run shares)."""
    from train.metrics import read_metrics
    out = {}
    for arm in spec["arms"]:
        per_seed = []
        for run in sorted((Path(spec["out_dir"]) / arm["name"]).glob("seed-*")):
            if (run / "eval.json").exists():   # finished runs only (a diverged one has failed.json)
                rows = read_metrics(run).get("eval", [])
                per_seed.append({r["step"]: r["eval/macro/bpb"] for r in rows if "eval/macro/bpb" in r})
        common = sorted(set.intersection(*(set(s) for s in per_seed))) if per_seed else []
        if common:
            out[arm["name"]] = np.array([(s, np.mean([seed[s] for seed in per_seed])) for s in common])
    return out


def plot_curves(spec: dict, out_path: Path) -> Path | None:
    """Held-out macro bpb against step, one line per arm (mean over its finished seeds), with matplotlib."""
    data = curves(spec)
    if not data:
        return None
    import matplotlib
    matplotlib.use("Agg")   # files only, no display
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(9, 5.2), dpi=100)
    for name, series in data.items():
        axes.plot(series[:, 0], series[:, 1], linewidth=2, label=name)
    axes.set(xlabel="step", ylabel="held-out bpb (macro, mean over seeds)", title=f"ablation: {spec['name']}")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(out_path)
    plt.close(figure)
    return out_path


def add_ablate_parser(commands) -> None:
    ab = commands.add_parser("ablate", help="train proxy models on each data arm and compare them",
                             description="Train the same small model on each arm (data mix) of an ablation YAML, "
                                         "for each seed, and compare their held-out losses with the spread across "
                                         "seeds. Finished runs are reused; --arm and --seed split the work.")
    ab.add_argument("ablation", help="ablation YAML, e.g. ablations/curated-vs-extracted.yaml")
    ab.add_argument("--arm", action="append", help="run only this arm (repeatable; one arm per GPU or node)")
    ab.add_argument("--seed", action="append", type=int, help="run only this seed (repeatable)")
    ab.add_argument("--report", action="store_true", help="train nothing; compare the finished runs")
    ab.set_defaults(handler=cmd_ablate)


def cmd_ablate(args) -> int:
    print(run_ablation(args.ablation, arms=args.arm, seeds=args.seed, report_only=args.report))
    return 0
