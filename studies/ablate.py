"""`train ablate ABLATION.yaml`: is one curation better than another? Train the same small proxy model on each
data arm at the same token budget with several seeds, score every run on the same held-out sets and tasks, and
compare set by set (the DCLM / FineWeb method, with Paloma's per-domain reporting). The YAML:

    name: curated-vs-extracted
    out_dir: runs/ablation-web        # one folder per arm and run: OUT/ARM/init-I-data-D (relative to where train runs)
    train: {preset: tiny-cpu, n_layer: 2, lr: 3e-3}   # any `train run` key: one proxy config for every arm
    tokens: 2000000                   # training tokens per run (steps = tokens / tokens_per_step)
    seeds: {init: [1, 2, 3], data: [1, 2, 3]}   # see below; a plain list [1, 2, 3] varies the initialisation only
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
    ladder: {...}                     # instead of arms: one arm per curation step of one pipeline (studies/ladder.py)
    sizes:                            # named overrides of the keys above; --size NAME picks one (default: the first)
      cpu: {tokens: 51200}
      gpu: {tokens: 20000000, train: {n_layer: 12, n_embd: 768}}

Seeds: `init` seeds set the model initialisation, `data` seeds the order the mix draws samples in (train's
`data_seed`). Each arm runs every init seed at the first data seed and every data seed at the first init seed
(3 + 3 seeds: 5 runs), so the two spreads are measured apart; the verdicts pair runs of the same seeds.

Manifest, set and task paths are relative to the YAML's folder. Arms may use different tokenizers: text eval
sets are tokenized with each arm's own tokenizer and compared in bits per byte (token-directory sets and the
loss per token only compare within one tokenizer). Each run is resumable (`train run --resume` semantics) and a
finished one (its eval.json written) is skipped, so the command can be killed and started again. To spread the
arms over GPUs or nodes, start one process per arm (`--arm NAME`, with CUDA_VISIBLE_DEVICES), then
`train ablate X.yaml --report` to compare what has finished. `--dry-run` prints the plan without training.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import numpy as np
import yaml

from common.typed import ConfigError, read_yaml
from studies import ladder as ladders
from studies.verdict import attribution, spreads, tally, verdicts

KEYS = {
    "name",
    "out_dir",
    "train",
    "tokens",
    "seeds",
    "eval_sets",
    "eval_tokens",
    "final_eval_tokens",
    "tasks",
    "max_task_examples",
    "arms",
    "ladder",
    "sizes",
}


def load_ablation(path: str | Path, size: str | None = None) -> dict:
    path = Path(path)
    spec = read_yaml(path, "ablation file")
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: expected a mapping")
    unknown = set(spec) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; expected some of {sorted(KEYS)}")
    spec = with_size(spec, size, path)
    for key in ("name", "tokens"):
        if key not in spec:
            raise ConfigError(f"{path}: {key}: missing")
    if ("arms" in spec) == ("ladder" in spec):
        raise ConfigError(f"{path}: give either arms or ladder")
    if not spec.get("eval_sets") and not spec.get("tasks"):
        raise ConfigError(f"{path}: name eval_sets or tasks to compare the arms on")
    here = path.parent
    resolve = lambda p: str((here / p).resolve()) if not Path(p).is_absolute() else p
    relocate = lambda entry: (
        {**entry, "path": resolve(entry["path"])} if isinstance(entry, dict) else _relocate(entry, resolve)
    )
    spec["eval_sets"] = [relocate(e) for e in spec.get("eval_sets") or []]
    spec["tasks"] = [relocate(e) for e in spec.get("tasks") or []]
    if "ladder" in spec:
        spec["ladder"] = resolve_ladder(spec["ladder"], resolve, path)
        steps = ladders.expand(
            spec["ladder"], ladders.pipeline_stage_names(spec["ladder"]["pipeline"]), f"{path}: ladder"
        )
        spec["arms"] = [{**arm, "manifest": ladders.manifest_path(spec["ladder"], arm["name"])} for arm in steps]
    else:
        check_arms(spec, resolve, path)
    spec["runs"] = seed_runs(spec.get("seeds", [1337]), path)
    spec.setdefault("train", {})
    spec.setdefault("out_dir", f"runs/ablation-{spec['name']}")
    return spec


def with_size(spec: dict, size: str | None, path: Path) -> dict:
    """The spec with the named size's overrides merged in (`train` merged key by key); default the first size."""
    sizes = spec.pop("sizes", None) or {}
    if size is None and not sizes:
        return spec
    if size is None:
        size = next(iter(sizes))
    if size not in sizes:
        raise ConfigError(f"{path}: --size {size}: not a size of this file ({', '.join(sizes) or 'none declared'})")
    spec = copy.deepcopy(spec)
    for key, value in sizes[size].items():
        if key not in KEYS - {"sizes"}:
            raise ConfigError(f"{path}: sizes.{size}.{key}: not an ablation key")
        spec[key] = {**spec.get(key, {}), **value} if key == "train" else value
    spec["size"] = size
    return spec


def resolve_ladder(ladder: dict, resolve, path: Path) -> dict:
    if not isinstance(ladder, dict) or not {"pipeline", "work"} <= set(ladder):
        raise ConfigError(f"{path}: ladder: expected a mapping with pipeline, work, base and steps")
    ladder = {**ladder, "pipeline": resolve(ladder["pipeline"]), "work": resolve(ladder["work"])}
    ladder["also"] = [
        {**a, "pipeline": resolve(a["pipeline"]), "input": [resolve(i) for i in a.get("input") or []] or None}
        for a in ladder.get("also") or []
    ]
    return ladder


def check_arms(spec: dict, resolve, path: Path) -> None:
    names = []
    for i, arm in enumerate(spec["arms"]):
        if isinstance(arm, dict) and set(arm) == {"name", "manifest"}:
            arm["manifest"] = resolve(arm["manifest"])
        elif isinstance(arm, dict) and {"name", "data", "tokenizer"} <= set(arm) <= {
            "name",
            "data",
            "tokenizer",
            "seq_len",
        }:
            arm["tokenizer"] = resolve(arm["tokenizer"])
            arm["data"] = [{**source, "path": resolve(source["path"])} for source in arm["data"]]
        else:
            raise ConfigError(
                f"{path}: arms[{i}]: expected {{name, manifest}} or {{name, data: [{{name, path, weight}}], "
                f"tokenizer, seq_len}}, got {arm!r}"
            )
        names.append(arm["name"])
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: arms: names must differ, got {names}")


def seed_runs(seeds, path: Path) -> list[tuple[int, int | None]]:
    """(init seed, data seed) of every run of an arm: a list varies only init (data: the manifest's seed, None);
    {init, data}: every init seed at the first data seed, then every other data seed at the first init seed."""
    if isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds):
        return [(s, None) for s in seeds]
    if isinstance(seeds, dict) and set(seeds) == {"init", "data"} and seeds["init"] and seeds["data"]:
        init, data = [int(s) for s in seeds["init"]], [int(s) for s in seeds["data"]]
        return [(i, data[0]) for i in init] + [(init[0], d) for d in data[1:]]
    raise ConfigError(f"{path}: seeds: expected a list of ints or {{init: [...], data: [...]}}, got {seeds!r}")


def run_name(run: tuple[int, int | None]) -> str:
    init, data = run
    return f"seed-{init}" if data is None else f"init-{init}-data-{data}"


def run_label(run: tuple[int, int | None]) -> str:
    init, data = run
    return f"seed {init}" if data is None else f"init {init} data {data}"


def _relocate(entry: str, resolve) -> str:
    name, eq, path = entry.partition("=")
    return f"{name}={resolve(path)}" if eq else resolve(entry)


def tokenize_arm(spec: dict, arm: dict) -> str:
    """An arm given as pipeline output (Parquet folders) plus a tokenizer: token shards and a mix manifest under
    OUT/ARM/data (kept, so a rerun reuses them). curate is imported only here: other arms train without it."""
    from curate.api import make_executor
    from curate.core.pipeline import Pipeline
    from curate.api import run_pipeline
    from curate.tokenize.stage import TokenizeParams, TokenizeStage

    root = (Path(spec["out_dir"]) / arm["name"] / "data").resolve()
    sources = []
    for source in arm["data"]:
        out = root / source["name"]
        if not (out / "tokenize" / "train" / "tokens.json").exists():
            params = TokenizeParams(tokenizer=arm["tokenizer"], validation_fraction=0.0, min_validation_docs=0)
            pipeline = Pipeline(
                source["name"],
                f"(ablation arm {arm['name']})",
                [source["path"]],
                str(out),
                [TokenizeStage("tokenize", params)],
            )
            run_pipeline(pipeline, make_executor("local", 1), progress=False)
        sources.append(
            {
                "name": source["name"],
                "path": str(out / "tokenize" / "train"),
                "weight": float(source.get("weight", 1.0)),
            }
        )
    manifest = {
        "name": arm["name"],
        "tokenizer": {"path": arm["tokenizer"]},
        "seq_len": arm.get("seq_len", 1024),
        "seed": 1234,
        "total_tokens": spec["tokens"],
        "sources": sources,
    }
    (root / "mix.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return str(root / "mix.yaml")


def run_config(spec: dict, arm: dict, run: tuple[int, int | None]):
    """The `train run` config of one arm and run: the shared proxy config, the arm's manifest, the budget."""
    from common.mix import load_manifest
    from train.config import load_config

    init, data = run
    values = {
        **spec["train"],
        "manifest": arm["manifest"],
        "seed": init,
        "data_seed": data,
        "progress": False,
        "out_dir": str(Path(spec["out_dir"]) / arm["name"] / run_name(run)),
        "eval_sets": spec["eval_sets"],
        "eval_tokens": spec.get("eval_tokens", 32768),
    }
    probe = load_config(None, values)
    tokens_per_step = probe.tokens_per_step or probe.micro_batch * load_manifest(arm["manifest"]).seq_len
    values["max_steps"] = math.ceil(spec["tokens"] / tokens_per_step)
    return load_config(None, values)


def run_arm(spec: dict, arm: dict, run: tuple[int, int | None], log=print) -> dict:
    """Train (or resume) one run, then score its final checkpoint; the result is kept in RUN/eval.json."""
    from train import checkpoint
    from train.eval import evaluate_checkpoint
    from train.trainer import run_training

    config = run_config(spec, arm, run)
    run_dir = Path(config.out_dir)
    done = run_dir / "eval.json"
    (run_dir / "failed.json").unlink(missing_ok=True)  # a failed run started again (e.g. after a config change)
    if done.exists():
        log(f"{arm['name']} {run_label(run)}: finished earlier ({done})")
        return json.loads(done.read_text())
    log(f"{arm['name']} {run_label(run)}: training {config.max_steps} steps in {run_dir}")
    run_training(config, resume=True, log=lambda *a, **k: None)
    final = checkpoint.checkpoints(run_dir)[-1]
    report = evaluate_checkpoint(
        final,
        spec["eval_sets"],
        max_tokens=spec.get("final_eval_tokens", 65536),
        device=config.device if config.device != "auto" else "cpu",
        tasks=spec["tasks"],
        max_examples=spec.get("max_task_examples"),
    )
    report.update(arm=arm["name"], seed=run[0], data_seed=run[1], manifest=arm["manifest"])
    done.write_text(json.dumps(report, indent=1) + "\n")
    return report


def run_ablation(
    path: str | Path,
    arms: list[str] | None = None,
    seeds: list[int] | None = None,
    report_only: bool = False,
    size: str | None = None,
    log=print,
) -> str:
    spec = load_ablation(path, size)
    known = [a["name"] for a in spec["arms"]]
    for name in arms or []:
        if name not in known:
            raise ConfigError(f"--arm {name}: not an arm of {path} ({', '.join(known)})")
    if not report_only:
        if "ladder" in spec and not all(Path(a["manifest"]).exists() for a in spec["arms"]):
            ladders.prepare(spec["ladder"], spec["arms"], spec["tokens"], log)
        chosen = [arm for arm in spec["arms"] if not arms or arm["name"] in arms]
        for arm in chosen:
            if "manifest" not in arm:
                arm["manifest"] = tokenize_arm(spec, arm)
        # run by run, every arm at each: a run cut short leaves every arm with the same seeds finished
        for run in spec["runs"]:
            if seeds is not None and run[0] not in seeds:
                continue
            for arm in chosen:
                try:
                    run_arm(spec, arm, run, log)
                except RuntimeError as error:  # a diverged run is a result too: recorded, the others go on
                    log(f"{arm['name']} {run_label(run)}: failed: {error}")
                    failed = Path(spec["out_dir"]) / arm["name"] / run_name(run) / "failed.json"
                    failed.parent.mkdir(parents=True, exist_ok=True)
                    failed.write_text(json.dumps({"seed": run[0], "data_seed": run[1], "error": str(error)}) + "\n")
    return write_comparison(spec)


def dry_run(path: str | Path, size: str | None = None, time_steps: int = 3) -> str:
    """The plan, without training: arms, tokens and epochs of each source, seeds, runs, estimated time here (a
    few timed training steps of the proxy model on this machine, times the steps of every run)."""
    from common.mix import load_manifest, plan_mix

    spec = load_ablation(path, size)
    lines = [
        f"ablation {spec['name']}" + (f" (size {spec['size']})" if spec.get("size") else ""),
        f"runs per arm: {len(spec['runs'])} ({', '.join(run_label(r) for r in spec['runs'])}); "
        f"{spec['tokens']:,} training tokens each",
        "arms:",
    ]
    seq_len = vocab = None
    for arm in spec["arms"]:
        what = f"stages {', '.join(arm['stages'])}" if "stages" in arm else arm.get("manifest", "pipeline output")
        if "manifest" in arm and Path(arm["manifest"]).exists():
            manifest = load_manifest(arm["manifest"])
            manifest.total_tokens = spec["tokens"]
            seq_len, vocab = manifest.seq_len, manifest.vocab_size
            plan = plan_mix(manifest)
            data = "; ".join(
                f"{s.name} {s.drawn:,} of {s.available:,} tokens = {s.epochs:.2f} epochs" for s in plan.sources
            )
        else:
            data = "data not prepared yet (the first run curates and tokenizes it)"
        lines.append(f"  {arm['name']}: {what}\n      {data}")
    seq_len = seq_len or (spec.get("ladder") or {}).get("seq_len", 128)
    vocab = vocab or (spec.get("ladder") or {}).get("vocab_size", 4096)
    total_runs = len(spec["runs"]) * len(spec["arms"])
    steps = math.ceil(
        spec["tokens"] / spec["train"].get("tokens_per_step", spec["train"].get("micro_batch", 8) * seq_len)
    )
    if spec["train"].get("device", "cpu") == "cuda":
        lines.append(f"{total_runs} runs x {steps} steps on CUDA: not timed here (a CPU step says nothing of a GPU's)")
        return "\n".join(lines)
    per_step = time_training_step(spec, vocab, seq_len, time_steps)
    evals = (
        len(spec["eval_sets"])
        * (
            spec.get("final_eval_tokens", 65536)
            + spec.get("eval_tokens", 32768) * steps // spec["train"].get("eval_interval", 50)
        )
        / (spec["train"].get("micro_batch", 8) * seq_len)
    )
    seconds = (
        total_runs * (steps + evals / 2.7) * per_step
    )  # scoring a window costs ~1/2.7 of a training step (bench/RESULTS.md)
    lines.append(
        f"{total_runs} runs x {steps} steps; a training step takes {per_step:.3f} s here now "
        f"(load average {open('/proc/loadavg').read().split()[0]}): about {seconds / 3600:.1f} h in one process, "
        f"training and evaluation (less with one process per arm: --arm)"
    )
    return "\n".join(lines)


def time_training_step(spec: dict, vocab: int, seq_len: int, steps: int) -> float:
    """Seconds per training step of the proxy (forward, backward, AdamW) on random tokens."""
    import torch
    from dataclasses import fields
    from types import SimpleNamespace
    from train.config import PRESETS, TrainConfig

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    c = SimpleNamespace(**{**defaults, **PRESETS.get(spec["train"].get("preset", ""), {}), **spec["train"]})
    from train.model import GPT, GPTConfig

    model = GPT(
        GPTConfig(vocab_size=vocab, seq_len=seq_len, n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd, style=c.style)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randint(0, vocab, (c.micro_batch, seq_len))
    times = []
    for _ in range(steps + 1):  # the first step warms up allocations and is not counted
        start = time.perf_counter()
        _, loss = model(x, x)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    tokens_per_step = c.tokens_per_step or c.micro_batch * seq_len
    accumulation = max(1, tokens_per_step // (c.micro_batch * seq_len))
    return float(np.median(times[1:])) * accumulation


def finished_runs(spec: dict, arm: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(spec["out_dir"]) / arm).glob("*/eval.json"))]


def run_key(report: dict) -> tuple[int, int]:
    return report["seed"], -1 if report.get("data_seed") is None else report["data_seed"]


def compare(spec: dict) -> dict:
    """{arm: {"bpb": {set: spreads}, "runs": {run key: {set: bpb}}, "tasks": {task: spreads of acc_norm}, ...}}."""
    out = {}
    for arm in spec["arms"]:
        reports = finished_runs(spec, arm["name"])
        if not reports:
            continue
        failed = sorted((Path(spec["out_dir"]) / arm["name"]).glob("*/failed.json"))
        runs = {
            run_key(r): {name: s["bpb"] for name, s in r.get("sets", {}).items() if s.get("bpb") is not None}
            for r in reports
        }
        entry = {
            "runs": runs,
            "tokens_trained": reports[0]["tokens_trained"],
            "failed": [json.loads(p.read_text()) for p in failed],
            "bpb": {},
            "tasks": {},
        }
        for name in next(iter(runs.values())):
            entry["bpb"][name] = spreads({k: r[name] for k, r in runs.items()})
        for name in reports[0].get("tasks", {}):
            if name != "core":
                entry["tasks"][name] = spreads({run_key(r): r["tasks"][name]["acc_norm"] for r in reports})
        if "tasks" in reports[0]:
            entry["core"] = spreads({run_key(r): r["tasks"]["core"] for r in reports})
        out[arm["name"]] = entry
    return out


def arm_pairs(spec: dict, arms: list[str]) -> list[tuple[str, str, str]]:
    """(arm, baseline, what the difference measures). A ladder: each rung against the one below it (the step
    added) and the full recipe against each leave-one-out arm (the step's worth inside the full recipe); plain
    arms: each against the first."""
    if "ladder" not in spec:
        return [(a, arms[0], f"{a} vs {arms[0]}") for a in arms[1:]]
    names = [a["name"] for a in spec["arms"]]
    rungs = [n for n in names if "-minus-" not in n]
    pairs = [(b, a, f"+{b} (vs {a})") for a, b in zip(rungs, rungs[1:])]
    pairs += [
        (rungs[-1], n, f"{n.split('-minus-')[1]} within the full recipe ({rungs[-1]} vs {n})")
        for n in names
        if "-minus-" in n
    ]
    return [p for p in pairs if p[0] in arms and p[1] in arms]


def format_comparison(spec: dict, results: dict) -> str:
    arms = list(results)
    sets = [s for s in next(iter(results.values()))["bpb"] if s != "macro"]
    tasks = list(next(iter(results.values()))["tasks"])
    sd = lambda v: "-" if v is None else f"{v:.4f}"
    lines = [
        f"# Ablation: {spec['name']}" + (f" (size {spec['size']})" if spec.get("size") else ""),
        "",
        f"{spec['tokens']:,} training tokens per run; runs per arm: {', '.join(run_label(r) for r in spec['runs'])}. "
        "Bits per byte on each held-out set (lower is better): mean over runs, then the standard deviation over "
        "initialisation seeds and over data-order seeds.",
        "",
    ]
    header = ["arm", "runs"] + [f"{s} bpb (sd init / data)" for s in sets] + ["macro bpb"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm in arms:
        r = results[arm]
        runs = str(len(r["runs"])) + (f" ({len(r['failed'])} failed)" if r["failed"] else "")
        row = [arm, runs] + [
            f"{r['bpb'][s]['mean']:.4f} ({sd(r['bpb'][s]['init_sd'])} / {sd(r['bpb'][s]['data_sd'])})" for s in sets
        ]
        row.append(f"{r['bpb']['macro']['mean']:.4f}" if "macro" in r["bpb"] else "-")
        lines.append("| " + " | ".join(row) + " |")
    pairs = arm_pairs(spec, arms)
    found = verdicts({a: results[a]["runs"] for a in arms}, [(a, b) for a, b, _ in pairs], sets + ["macro"])
    if found:
        lines += [
            "",
            "## Verdict per held-out set",
            "",
            "Difference in bpb (first arm minus second; negative: the step helps), its 95% t interval over the "
            "paired runs, and the verdict (wins: the whole interval below 0; loses: above 0; else ties).",
            "",
        ]
        header = ["step (arm vs arm)"] + sets + ["wins / ties / loses", "macro (beside, not instead)"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        cell = lambda v: (
            "-"
            if v["diff"] is None
            else f"{v['diff']:+.4f} [{_bound(v['low'])}, {_bound(v['high'])}] **{v['verdict']}**"
        )
        for a, b, label in pairs:
            per_set = found[(a, b)]
            t = tally(per_set, sets)
            lines.append(
                "| "
                + " | ".join(
                    [label]
                    + [cell(per_set[s]) for s in sets]
                    + [f"{t['wins']} / {t['ties']} / {t['loses']}", cell(per_set["macro"])]
                )
                + " |"
            )
        lines += ["", "Per-step attribution (bpb change the step causes on each set):", ""]
        lines += [f"- {attribution(label, found[(a, b)], sets)}" for a, b, label in pairs]
    if tasks:
        lines += [
            "",
            "| arm | " + " | ".join(f"{t} acc_norm" for t in tasks) + " | CORE |",
            "|---|" + "---|" * (len(tasks) + 1),
        ]
        for arm in arms:
            r = results[arm]
            lines.append(
                f"| {arm} | "
                + " | ".join(f"{r['tasks'][t]['mean']:.3f}" for t in tasks)
                + f" | {r['core']['mean']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def _bound(value) -> str:
    return "-" if value is None else f"{value:+.4f}"


def write_comparison(spec: dict) -> str:
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    results = compare(spec)
    if not results:
        raise ConfigError(f"{out_dir}: no finished runs to compare yet")
    as_json = {
        arm: {**r, "runs": {f"init-{k[0]}-data-{k[1]}": v for k, v in r["runs"].items()}} for arm, r in results.items()
    }
    (out_dir / "comparison.json").write_text(
        json.dumps({"name": spec["name"], "tokens": spec["tokens"], "arms": as_json}, indent=1) + "\n"
    )
    text = format_comparison(spec, results)
    png = plot_curves(spec, out_dir / "curves.png")
    if png:
        text += f"\n![held-out bpb per arm and set]({png.name})\n"
    (out_dir / "comparison.md").write_text(text)
    return text + f"\nwritten: {out_dir / 'comparison.md'}, {out_dir / 'comparison.json'}" + (f", {png}" if png else "")


def curves(spec: dict) -> dict[str, dict[str, np.ndarray]]:
    """{set: {arm: (steps, mean bpb over finished runs)}} from the runs' metrics.jsonl (steps every run shares)."""
    from train.metrics import read_metrics

    out: dict[str, dict[str, np.ndarray]] = {}
    for arm in spec["arms"]:
        rows_per_run = [
            read_metrics(p.parent).get("eval", [])
            for p in sorted((Path(spec["out_dir"]) / arm["name"]).glob("*/eval.json"))
        ]
        names = {
            k.split("/")[1]
            for rows in rows_per_run
            for r in rows
            for k in r
            if k.startswith("eval/") and k.endswith("/bpb")
        }
        for name in names:
            per_run = [
                {r["step"]: r[f"eval/{name}/bpb"] for r in rows if f"eval/{name}/bpb" in r} for rows in rows_per_run
            ]
            common = sorted(set.intersection(*(set(s) for s in per_run))) if per_run else []
            if common:
                out.setdefault(name, {})[arm["name"]] = np.array(
                    [(s, np.mean([run[s] for run in per_run])) for s in common]
                )
    return out


def plot_curves(spec: dict, out_path: Path) -> Path | None:
    """Held-out bpb against step, one panel per set (macro last), one line per arm (mean over its finished runs)."""
    data = curves(spec)
    if not data:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    names = sorted(n for n in data if n != "macro") + (["macro"] if "macro" in data else [])
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), dpi=100, squeeze=False)
    for ax, name in zip(axes.flat, names):
        for arm, series in data[name].items():
            ax.plot(series[:, 0], series[:, 1], linewidth=1.6, label=arm)
        ax.set(title=name, xlabel="step", ylabel="held-out bpb")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.suptitle(f"ablation: {spec['name']} (mean over runs)")
    figure.tight_layout()
    figure.savefig(out_path)
    plt.close(figure)
    return out_path


def add_ablate_parser(commands) -> None:
    ab = commands.add_parser(
        "ablate",
        help="train proxy models on each data arm and compare them set by set",
        description="Train the same small model on each arm (data mix) of an ablation YAML, "
        "for each init and data-order seed, and compare their held-out bits per byte "
        "set by set, with intervals over seeds. Finished runs are reused; --arm and "
        "--seed split the work; --dry-run prints the plan.",
    )
    ab.add_argument("ablation", help="ablation YAML, e.g. ablations/web-ladder.yaml")
    ab.add_argument("--arm", action="append", help="run only this arm (repeatable; one arm per GPU or node)")
    ab.add_argument("--seed", action="append", type=int, help="run only the runs of this init seed (repeatable)")
    ab.add_argument("--size", help="one of the file's sizes (default: its first)")
    ab.add_argument("--report", action="store_true", help="train nothing; compare the finished runs")
    ab.add_argument("--dry-run", action="store_true", help="print arms, tokens, epochs, seeds and the time estimate")
    ab.set_defaults(handler=cmd_ablate)


def cmd_ablate(args) -> int:
    if args.dry_run:
        print(dry_run(args.ablation, args.size))
        return 0
    print(run_ablation(args.ablation, arms=args.arm, seeds=args.seed, report_only=args.report, size=args.size))
    return 0
