"""Dataset-mix manifests (`data_manifests/*.yaml`) and the plan the trainer draws by.

`curate mix` prints `format_plan(plan_mix(load_manifest(path)))`; the trainer's sampler (train/data.py) draws
each source with exactly the plan's share, so what `curate mix` shows is what training sees.

How the budget is split: sources given as `tokens` get that many tokens; the rest of `total_tokens` goes to
the `weight` sources in proportion to their weights. A source capped by `max_epochs` can give at most
available × max_epochs tokens; what it cannot take is handed to the uncapped sources, again in proportion to
their weights, until every source is at its share or at its cap. If all sources are capped the plan draws
fewer than `total_tokens` and says so. Repeating a source more than 4 epochs draws a warning: past about
4 epochs, repeated tokens are worth much less than fresh ones (Muennighoff et al. 2023, "Scaling
Data-Constrained Language Models").
"""
from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from train.format import ShardFormatError, TokenDir, read_token_dir

EPOCH_WARNING = 4.0


class ManifestError(ValueError):
    """A manifest mistake; the message names the file, the key and what was expected."""


@dataclass
class Source:
    name: str
    path: Path
    weight: float | None = None
    tokens: int | None = None
    max_epochs: float | None = None
    validation: Path | None = None
    data: TokenDir | None = field(default=None, repr=False)
    validation_data: TokenDir | None = field(default=None, repr=False)


@dataclass
class Manifest:
    path: Path
    name: str
    seq_len: int
    seed: int
    total_tokens: int
    sources: list[Source]
    tokenizer_path: Path | None = None
    tokenizer_hash: str | None = None
    vocab_size: int = 0
    eot_id: int = 0


@dataclass
class SourcePlan:
    name: str
    available: int     # tokens in the source's shards
    drawn: int         # tokens the run draws from it
    share: float       # drawn / total drawn
    epochs: float      # drawn / available


@dataclass
class MixPlan:
    manifest: Manifest
    sources: list[SourcePlan]
    total_tokens: int
    warnings: list[str]


TOP_KEYS = {"name": str, "tokenizer": dict, "seq_len": int, "seed": int, "total_tokens": int, "sources": list}
REQUIRED_TOP = ("name", "seq_len", "total_tokens", "sources")
TOKENIZER_KEYS = {"path": str, "hash": str}
SOURCE_KEYS = {"name": str, "path": str, "weight": float, "tokens": int, "max_epochs": float, "validation": str}
TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", dict: "a mapping", list: "a list"}


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, message: str):
        raise ManifestError(f"{self.path}: {key}: {message}")

    def mapping(self, value, where: str, allowed: dict, required=()) -> dict:
        if not isinstance(value, dict):
            self.fail(where or "(top level)", f"expected a mapping, got {type(value).__name__}")
        prefix = f"{where}." if where else ""
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of {', '.join(allowed)}"
                self.fail(f"{prefix}{key}", f"unknown key{hint}")
        for key in required:
            if key not in value:
                self.fail(f"{prefix}{key}", "missing")
        for key, expected in allowed.items():
            if key in value:
                self.typed(value[key], f"{prefix}{key}", expected)
        return value

    def typed(self, value, key: str, expected: type):
        ok = isinstance(value, expected) and not isinstance(value, bool)
        if expected is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            self.fail(key, f"expected {TYPE_NAMES[expected]}, got {value!r}")

    def token_dir(self, relative: str, key: str) -> tuple[Path, TokenDir]:
        path = (self.path.parent / relative).resolve()
        if not path.is_dir():
            self.fail(key, f"token directory {path} not found")
        try:
            return path, read_token_dir(path)
        except ShardFormatError as error:
            self.fail(key, str(error))


def load_manifest(path: str | Path) -> Manifest:
    """Read and check a manifest, opening every token directory it names."""
    path = Path(path)
    check = _Checker(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"{path}: not valid YAML ({error})") from None
    check.mapping(raw, "", TOP_KEYS, REQUIRED_TOP)
    tokenizer = check.mapping(raw.get("tokenizer", {}), "tokenizer", TOKENIZER_KEYS)
    for key in ("seq_len", "total_tokens"):
        if raw[key] <= 0:
            check.fail(key, f"expected a positive integer, got {raw[key]}")
    if not raw["sources"]:
        check.fail("sources", "expected at least one source")
    sources = [_load_source(check, entry, i) for i, entry in enumerate(raw["sources"])]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        check.fail("sources", f"source names must be unique, got {names}")
    weighted = [s for s in sources if s.weight is not None]
    if weighted and not any(s.weight > 0 for s in weighted):
        check.fail("sources", "all weights are zero; at least one source needs a positive weight")
    manifest = Manifest(path=path, name=raw["name"], seq_len=raw["seq_len"], seed=raw.get("seed", 0),
                        total_tokens=raw["total_tokens"], sources=sources, tokenizer_hash=tokenizer.get("hash"),
                        tokenizer_path=(path.parent / tokenizer["path"]).resolve() if "path" in tokenizer else None)
    _check_same_tokenizer(check, manifest)
    return manifest


def _load_source(check: _Checker, entry, i: int) -> Source:
    where = f"sources[{i}]"
    check.mapping(entry, where, SOURCE_KEYS, ("name", "path"))
    if ("weight" in entry) == ("tokens" in entry):
        check.fail(where, "give either 'weight' or 'tokens' (an absolute token count), not both or neither")
    for key in ("weight", "tokens"):
        if key in entry and entry[key] < 0:
            check.fail(f"{where}.{key}", f"expected a non-negative number, got {entry[key]}")
    if "max_epochs" in entry and entry["max_epochs"] <= 0:
        check.fail(f"{where}.max_epochs", f"expected a positive number, got {entry['max_epochs']}")
    path, data = check.token_dir(entry["path"], f"{where}.path")
    validation, validation_data = (check.token_dir(entry["validation"], f"{where}.validation")
                                   if "validation" in entry else (None, None))
    return Source(name=entry["name"], path=path, weight=entry.get("weight"), tokens=entry.get("tokens"),
                  max_epochs=entry.get("max_epochs"), validation=validation, data=data, validation_data=validation_data)


def _check_same_tokenizer(check: _Checker, manifest: Manifest) -> None:
    """Every token directory must come from one tokenizer: the manifest's, when it names one."""
    reference_key, reference = ("tokenizer.hash", manifest.tokenizer_hash) if manifest.tokenizer_hash else (None, None)
    if manifest.tokenizer_path and manifest.tokenizer_path.exists():
        actual = hashlib.sha256(manifest.tokenizer_path.read_bytes()).hexdigest()
        if manifest.tokenizer_hash and actual != manifest.tokenizer_hash:
            check.fail("tokenizer.hash", f"{manifest.tokenizer_path} has sha256 {actual}, not {manifest.tokenizer_hash}")
        if not manifest.tokenizer_hash:  # the file itself is the reference
            reference_key, reference = "tokenizer.path", actual
    vocab_key, vocab = None, None
    for i, source in enumerate(manifest.sources):
        for key, data in ((f"sources[{i}].path", source.data), (f"sources[{i}].validation", source.validation_data)):
            if data is None:
                continue
            if reference is None:
                reference_key, reference = key, data.tokenizer_hash
            elif data.tokenizer_hash != reference:
                check.fail(key, f"shards made with tokenizer {data.tokenizer_hash[:16]}..., but {reference_key} "
                                f"uses {reference[:16]}...; every source must be tokenized with the same tokenizer")
            if vocab is None:
                vocab_key, vocab, manifest.eot_id = key, data.vocab_size, data.eot_id
            elif data.vocab_size != vocab:
                check.fail(key, f"vocab size {data.vocab_size}, but {vocab_key} has {vocab}")
    manifest.vocab_size = vocab


def plan_mix(manifest: Manifest) -> MixPlan:
    """Split `total_tokens` over the sources (see the module docstring for the rule)."""
    warnings: list[str] = []
    available = {s.name: s.data.num_tokens for s in manifest.sources}
    cap = {s.name: available[s.name] * s.max_epochs if s.max_epochs else float("inf") for s in manifest.sources}
    drawn: dict[str, float] = {}
    for s in manifest.sources:
        if s.tokens is not None:
            if s.tokens > cap[s.name]:
                raise ManifestError(f"{manifest.path}: sources: '{s.name}' asks for {s.tokens} tokens, more than "
                                    f"max_epochs {s.max_epochs} x {available[s.name]} available")
            drawn[s.name] = float(s.tokens)
    budget = manifest.total_tokens - sum(drawn.values())
    if budget < 0:
        raise ManifestError(f"{manifest.path}: sources: absolute 'tokens' add up to {int(sum(drawn.values()))}, "
                            f"more than total_tokens {manifest.total_tokens}")
    open_sources = [s for s in manifest.sources if s.weight is not None and s.weight > 0]
    for s in manifest.sources:
        if s.weight is not None and s.weight == 0:
            drawn[s.name] = 0.0
    while open_sources and budget > 0:
        total_weight = sum(s.weight for s in open_sources)
        capped = [s for s in open_sources if budget * s.weight / total_weight >= cap[s.name]]
        if not capped:
            for s in open_sources:
                drawn[s.name] = budget * s.weight / total_weight
            break
        for s in capped:   # these take all they can; the rest of the budget goes round again
            drawn[s.name] = cap[s.name]
            budget -= cap[s.name]
            open_sources.remove(s)
    for s in open_sources:
        drawn.setdefault(s.name, 0.0)
    counts = _round_preserving_sum(drawn)
    total = sum(counts.values())
    if total < manifest.total_tokens:
        warnings.append(f"every source is at its max_epochs cap: the plan draws {total} tokens, "
                        f"not the {manifest.total_tokens} asked for")
    plans = []
    for s in manifest.sources:
        epochs = counts[s.name] / available[s.name] if available[s.name] else 0.0
        if epochs > EPOCH_WARNING:
            warnings.append(f"source '{s.name}' repeats {epochs:.1f} epochs; beyond ~4 epochs repeated tokens are "
                            "worth much less than fresh ones (Muennighoff et al. 2023)")
        plans.append(SourcePlan(s.name, available[s.name], counts[s.name], counts[s.name] / total if total else 0.0, epochs))
    return MixPlan(manifest=manifest, sources=plans, total_tokens=total, warnings=warnings)


def _round_preserving_sum(values: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding: integers whose sum is the rounded sum of the floats."""
    floors = {k: int(v) for k, v in values.items()}
    missing = round(sum(values.values())) - sum(floors.values())
    for k in sorted(values, key=lambda k: values[k] - floors[k], reverse=True)[:max(missing, 0)]:
        floors[k] += 1
    return floors


def format_plan(plan: MixPlan) -> str:
    m = plan.manifest
    lines = [f"mix '{m.name}' ({m.path}): {plan.total_tokens:,} tokens, seq_len {m.seq_len}, seed {m.seed}",
             f"{'source':<20} {'available':>15} {'drawn':>15} {'share':>8} {'epochs':>7}"]
    for s in plan.sources:
        lines.append(f"{s.name:<20} {s.available:>15,} {s.drawn:>15,} {s.share:>8.2%} {s.epochs:>7.2f}")
    lines += [f"warning: {w}" for w in plan.warnings]
    return "\n".join(lines)
