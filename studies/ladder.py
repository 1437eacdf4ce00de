"""Arms that isolate each curation step, declared as a ladder over one pipeline instead of copied pipelines:

    ladder:
      pipeline: ../pipelines/web.yaml    # the full recipe; every arm runs a subset of its stages on the same crawl
      base: {name: extracted, stages: [extract, normalize]}   # the first arm: what every arm starts from
      steps:                             # each arm adds one step to the arm before it
        - {name: langid, stages: [langid]}         # the control
        - {name: quality, stages: [quality]}
        - {name: dedup, stages: [dedup]}
        - {name: full, stages: [toxicity, pii]}    # the last step's arm is the full recipe
      leave_one_out: [quality, dedup]    # the full recipe minus a step's stages: arms full-minus-quality, ...
      also: [{name: books, pipeline: ../pipelines/books.yaml, input: [...], weight: 0.5}]   # in every arm, same data
      web_weight: 0.5                    # the pipeline's share of each arm's tokens
      work: ../out/ablation-ladder       # pipeline outputs, tokenizer, token shards, held-out sets
      vocab_size: 4096
      seq_len: 128

`expand` turns this into arms {name, stages}; `prepare` runs the base stages once, each arm's remaining stages
on the base output, trains one tokenizer on everything any arm draws from, tokenizes, and writes WORK/ARM.yaml
mix manifests (kept: a rerun reuses every finished piece). Paths inside the pipeline files are relative to the
folder the command runs in (the repository root), as for `curate run`.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from common.typed import ConfigError

LADDER_KEYS = {"pipeline", "base", "steps", "leave_one_out", "also", "web_weight", "work", "vocab_size", "seq_len"}


def _step(entry, where: str) -> dict:
    if isinstance(entry, str):
        return {"name": entry, "stages": [entry]}
    if isinstance(entry, dict) and set(entry) == {"name", "stages"} and entry["stages"]:
        return {"name": str(entry["name"]), "stages": [str(s) for s in entry["stages"]]}
    raise ConfigError(f"{where}: expected a stage name or {{name, stages: [...]}}, got {entry!r}")


def expand(ladder: dict, pipeline_stages: list[str], where: str = "ladder") -> list[dict]:
    """[{name, stages}] in pipeline order: the base, each rung (base + steps so far), then full minus each
    leave-one-out step. Every stage named must be one of the pipeline's."""
    unknown = set(ladder) - LADDER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; expected some of {sorted(LADDER_KEYS)}")
    base = _step(ladder.get("base") or {}, f"{where}.base")
    steps = [_step(s, f"{where}.steps[{i}]") for i, s in enumerate(ladder.get("steps") or [])]
    if not steps:
        raise ConfigError(f"{where}.steps: name at least one step to add to the base")
    for step in [base] + steps:
        for stage in step["stages"]:
            if stage not in pipeline_stages:
                raise ConfigError(
                    f"{where}: step {step['name']}: no stage '{stage}' in the pipeline ({', '.join(pipeline_stages)})"
                )
    order = lambda names: [s for s in pipeline_stages if s in names]
    arms, stages = [{"name": base["name"], "stages": order(base["stages"])}], set(base["stages"])
    for step in steps:
        stages |= set(step["stages"])
        arms.append({"name": step["name"], "stages": order(stages)})
    by_name = {s["name"]: s for s in steps}
    for name in ladder.get("leave_one_out") or []:
        if name not in by_name:
            raise ConfigError(f"{where}.leave_one_out: {name!r} is not a step ({', '.join(by_name)})")
        arms.append(
            {"name": f"{steps[-1]['name']}-minus-{name}", "stages": order(stages - set(by_name[name]["stages"]))}
        )
    names = [a["name"] for a in arms]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: arm names must differ, got {names}")
    return arms


def pipeline_stage_names(path: str) -> list[str]:
    from common.typed import read_yaml

    raw = read_yaml(Path(path), "pipeline file")
    return [s.get("name", s["stage"]) for s in raw["stages"]]


def manifest_path(ladder: dict, arm: str) -> str:
    return str(Path(ladder["work"]) / f"{arm}.yaml")


def prepare(ladder: dict, arms: list[dict], tokens: int, log=print) -> None:
    """Curate, tokenize and write a manifest for every arm (see the module docstring); finished parts are kept."""
    from curate.api import Pipeline
    from curate.tokenize.bpe import train_tokenizer
    from common.typed import read_yaml

    work = Path(ladder["work"])
    raw = read_yaml(Path(ladder["pipeline"]), "pipeline file")
    entries = {e.get("name", e["stage"]): e for e in raw["stages"]}
    base_stages = arms[0]["stages"]
    base = work / "web" / "base"
    if not (base / base_stages[-1] / "_SUCCESS").exists() and not _finished(base / base_stages[-1]):
        log(f"curating the base ({', '.join(base_stages)}) into {base}")
        inputs = raw["input"] if isinstance(raw["input"], list) else [raw["input"]]
        Pipeline.of(inputs, str(base), [entries[s] for s in base_stages], name="ablation-base").run()
    base_out = base / base_stages[-1]
    outputs = {arms[0]["name"]: base_out}
    for arm in arms[1:]:
        rest = [s for s in arm["stages"] if s not in base_stages]
        out = work / "web" / arm["name"]
        if not _finished(out / rest[-1]):
            log(f"curating arm {arm['name']} ({', '.join(rest)}) into {out}")
            Pipeline.of(str(base_out), str(out), [entries[s] for s in rest], name=f"ablation-{arm['name']}").run()
        outputs[arm["name"]] = out / rest[-1]
    also = {}
    for source in ladder.get("also") or []:
        out = work / source["name"]
        from curate.api import load_pipeline

        pipeline = load_pipeline(source["pipeline"], source.get("input"), str(out))
        if not _finished(out / pipeline.stages[-1].name):
            log(f"curating {source['name']} with {source['pipeline']}")
            pipeline.run()
        also[source["name"]] = (out / pipeline.stages[-1].name, float(source["weight"]))
    tokenizer = work / "tokenizer" / "tokenizer.json"
    if (
        not tokenizer.exists()
    ):  # one tokenizer for every arm, trained on all any arm draws from (the base is a superset)
        train_tokenizer(
            [str(base_out)] + [str(p) for p, _ in also.values()],
            str(tokenizer),
            vocab_size=ladder.get("vocab_size", 4096),
            sample_bytes=50_000_000,
        )
    shards = {name: _tokenize(path, tokenizer, work / "tokens" / name) for name, path in outputs.items()}
    shards.update({name: _tokenize(path, tokenizer, work / "tokens" / name) for name, (path, _) in also.items()})
    web_weight = float(ladder.get("web_weight", 1.0 - sum(w for _, w in also.values())))
    for arm in arms:
        sources = [{"name": "web", "path": os.path.relpath(shards[arm["name"]], work), "weight": web_weight}]
        sources += [
            {"name": name, "path": os.path.relpath(shards[name], work), "weight": weight}
            for name, (_, weight) in also.items()
        ]
        manifest = {
            "name": arm["name"],
            "tokenizer": {"path": "tokenizer/tokenizer.json"},
            "seq_len": ladder.get("seq_len", 128),
            "seed": 1234,
            "total_tokens": tokens,
            "sources": sources,
        }
        Path(manifest_path(ladder, arm["name"])).write_text(yaml.safe_dump(manifest, sort_keys=False))
    held = work / "held_out"
    if not (held / "overlap.json").exists():
        from studies.heldout import write_held_out

        shared = Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
        log(f"writing held-out sets to {held} (12-word overlap with the training text dropped)")
        write_held_out(shared, held, _texts([base_out] + [p for p, _ in also.values()]))


def _finished(folder: Path) -> bool:
    """A stage output folder that holds Parquet files (the runner writes them atomically)."""
    return folder.is_dir() and any(folder.rglob("*.parquet"))


def _texts(folders):
    import pyarrow.parquet as pq

    for folder in folders:
        for path in sorted(Path(folder).rglob("*.parquet")):
            yield from (t for t in pq.read_table(path, columns=["text"]).column(0).to_pylist() if t)


def _tokenize(folder: Path, tokenizer: Path, out: Path) -> Path:
    from curate.api import Pipeline
    from curate.tokenize.stage import TokenizeParams, TokenizeStage

    if not (out / "tokenize" / "train" / "tokens.json").exists():
        params = TokenizeParams(tokenizer=str(tokenizer), validation_fraction=0.0, min_validation_docs=0)
        Pipeline(out.name, "(ablation)", [str(folder)], str(out), [TokenizeStage("tokenize", params)]).run()
    return out / "tokenize" / "train"
