"""Dataset-mix manifests (`data_manifests/*.yaml`) and the plan the trainer draws by.

A manifest's keys are the fields of `Manifest`, `Source` and `Tokenizer` below, with their types and
constraints; common/typed.py checks every key before a token directory is opened. `curate mix` prints
`format_plan(plan_mix(load_manifest(path)))`; the trainer's sampler (train/data.py) draws
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

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from common.shards import ShardFormatError, TokenDir, read_token_dir
from common.typed import NON_EMPTY, NON_NEGATIVE, POSITIVE, ConfigError, Invalid, build, read_yaml

EPOCH_WARNING = 4.0


ManifestError = ConfigError  # the name callers catch; one error type for every config in the project


@dataclass
class Source:
    name: str
    path: Path  # a token directory, relative to the manifest's folder
    weight: Annotated[float, NON_NEGATIVE] | None = None  # a share of what the `tokens` sources leave
    tokens: Annotated[int, NON_NEGATIVE] | None = None  # an absolute token count
    max_epochs: Annotated[float, POSITIVE] | None = None
    validation: Path | None = None  # held-out token directory of the same source
    data: TokenDir | None = field(default=None, init=False, repr=False)  # opened by load_manifest
    validation_data: TokenDir | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if (self.weight is None) == (self.tokens is None):
            raise ValueError("give either 'weight' or 'tokens' (an absolute token count), not both or neither")


@dataclass
class Tokenizer:
    path: Path | None = None  # tokenizer.json, relative to the manifest's folder
    hash: str | None = None  # its sha256


@dataclass
class Manifest:
    name: str
    seq_len: Annotated[int, POSITIVE]
    total_tokens: Annotated[int, POSITIVE]
    sources: Annotated[list[Source], NON_EMPTY]
    seed: int = 0
    tokenizer: Tokenizer = field(default_factory=Tokenizer)
    path: Path = field(default=Path(), init=False)  # the manifest file; the rest is filled in from the shards
    vocab_size: int = field(default=0, init=False)
    eot_id: int = field(default=0, init=False)

    def __post_init__(self):
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise Invalid("sources", f"source names must be unique, got {names}")
        weights = [s.weight for s in self.sources if s.weight is not None]
        if weights and not any(weights):
            raise Invalid("sources", "all weights are zero; at least one source needs a positive weight")

    @property
    def tokenizer_path(self) -> Path | None:
        return self.tokenizer.path

    @property
    def tokenizer_hash(self) -> str | None:
        return self.tokenizer.hash


@dataclass
class SourcePlan:
    name: str
    available: int  # tokens in the source's shards
    drawn: int  # tokens the run draws from it
    share: float  # drawn / total drawn
    epochs: float  # drawn / available


@dataclass
class MixPlan:
    manifest: Manifest
    sources: list[SourcePlan]
    total_tokens: int
    warnings: list[str]


def load_manifest(path: str | Path) -> Manifest:
    """Read and check a manifest (common/typed.py), then open every token directory it names."""
    path = Path(path)
    raw = read_yaml(path, "manifest")
    manifest = build(Manifest, raw, str(path))
    manifest.path = path
    folder = path.parent
    if manifest.tokenizer.path:
        manifest.tokenizer.path = (folder / manifest.tokenizer.path).resolve()
    for i, source in enumerate(manifest.sources):
        source.path, source.data = _token_dir(path, folder / source.path, f"sources[{i}].path")
        if source.validation:
            source.validation, source.validation_data = _token_dir(
                path, folder / source.validation, f"sources[{i}].validation"
            )
    _check_same_tokenizer(manifest)
    return manifest


def _token_dir(manifest_path: Path, folder: Path, key: str) -> tuple[Path, TokenDir]:
    folder = folder.resolve()
    if not folder.is_dir():
        raise ManifestError(f"{manifest_path}: {key}: token directory {folder} not found")
    try:
        return folder, read_token_dir(folder)
    except ShardFormatError as error:
        raise ManifestError(f"{manifest_path}: {key}: {error}") from None


def _check_same_tokenizer(manifest: Manifest) -> None:
    """Every token directory must come from one tokenizer: the manifest's, when it names one."""

    def fail(key: str, problem: str):
        raise ManifestError(f"{manifest.path}: {key}: {problem}")

    reference_key, reference = ("tokenizer.hash", manifest.tokenizer_hash) if manifest.tokenizer_hash else (None, None)
    if manifest.tokenizer_path and manifest.tokenizer_path.exists():
        actual = hashlib.sha256(manifest.tokenizer_path.read_bytes()).hexdigest()
        if manifest.tokenizer_hash and actual != manifest.tokenizer_hash:
            fail("tokenizer.hash", f"{manifest.tokenizer_path} has sha256 {actual}, not {manifest.tokenizer_hash}")
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
                fail(
                    key,
                    f"shards made with tokenizer {data.tokenizer_hash[:16]}..., but {reference_key} "
                    f"uses {reference[:16]}...; every source must be tokenized with the same tokenizer",
                )
            if vocab is None:
                vocab_key, vocab, manifest.eot_id = key, data.vocab_size, data.eot_id
            elif data.vocab_size != vocab:
                fail(key, f"vocab size {data.vocab_size}, but {vocab_key} has {vocab}")
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
                raise ManifestError(
                    f"{manifest.path}: sources: '{s.name}' asks for {s.tokens} tokens, more than "
                    f"max_epochs {s.max_epochs} x {available[s.name]} available"
                )
            drawn[s.name] = float(s.tokens)
    budget = manifest.total_tokens - sum(drawn.values())
    if budget < 0:
        raise ManifestError(
            f"{manifest.path}: sources: absolute 'tokens' add up to {int(sum(drawn.values()))}, "
            f"more than total_tokens {manifest.total_tokens}"
        )
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
        for s in capped:  # these take all they can; the rest of the budget goes round again
            drawn[s.name] = cap[s.name]
            budget -= cap[s.name]
            open_sources.remove(s)
    for s in open_sources:
        drawn.setdefault(s.name, 0.0)
    counts = _round_preserving_sum(drawn)
    total = sum(counts.values())
    if total < manifest.total_tokens:
        warnings.append(
            f"every source is at its max_epochs cap: the plan draws {total} tokens, "
            f"not the {manifest.total_tokens} asked for"
        )
    plans = []
    for s in manifest.sources:
        epochs = counts[s.name] / available[s.name] if available[s.name] else 0.0
        if epochs > EPOCH_WARNING:
            warnings.append(
                f"source '{s.name}' repeats {epochs:.1f} epochs; beyond ~4 epochs repeated tokens are "
                "worth much less than fresh ones (Muennighoff et al. 2023)"
            )
        plans.append(
            SourcePlan(s.name, available[s.name], counts[s.name], counts[s.name] / total if total else 0.0, epochs)
        )
    return MixPlan(manifest=manifest, sources=plans, total_tokens=total, warnings=warnings)


def _round_preserving_sum(values: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding: integers whose sum is the rounded sum of the floats."""
    floors = {k: int(v) for k, v in values.items()}
    missing = round(sum(values.values())) - sum(floors.values())
    for k in sorted(values, key=lambda k: values[k] - floors[k], reverse=True)[: max(missing, 0)]:
        floors[k] += 1
    return floors


def format_plan(plan: MixPlan) -> str:
    m = plan.manifest
    lines = [
        f"mix '{m.name}' ({m.path}): {plan.total_tokens:,} tokens, seq_len {m.seq_len}, seed {m.seed}",
        f"{'source':<20} {'available':>15} {'drawn':>15} {'share':>8} {'epochs':>7}",
    ]
    for s in plan.sources:
        lines.append(f"{s.name:<20} {s.available:>15,} {s.drawn:>15,} {s.share:>8.2%} {s.epochs:>7.2f}")
    lines += [f"warning: {w}" for w in plan.warnings]
    return "\n".join(lines)
