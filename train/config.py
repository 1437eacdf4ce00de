"""The run configuration: one flat dataclass, a YAML file, command-line overrides, three presets.

Precedence: the preset named by `preset` < the YAML file < `--key value` on the command line. Each field
declares its type and constraints (common/typed.py, the project's one config layer); every value is checked
before anything starts, and a mistake reads "FILE: KEY: expected ..., got ..." (the file, `command line` or
the preset that set it).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from common.typed import (
    NON_NEGATIVE,
    POSITIVE,
    ConfigError,
    Invalid,
    build,
    check,
    check_key,
    did_you_mean,
    interval,
    named_path,
    read_yaml,
)


@dataclass
class TrainConfig:
    manifest: str = ""  # data_manifests/*.yaml; relative to the config file's folder
    out_dir: str = "runs/default"
    preset: str = ""
    # model
    style: Literal["gpt2", "llama"] = (
        "gpt2"  # gpt2: learned positions, LayerNorm, GELU, biases; llama: RoPE, RMSNorm, SwiGLU
    )
    n_layer: Annotated[int, POSITIVE] = 2
    n_head: Annotated[int, POSITIVE] = 2
    n_embd: Annotated[int, POSITIVE] = 64
    vocab_size: Annotated[int, NON_NEGATIVE] = (
        0  # 0: the data's vocabulary rounded up to a multiple of 64 (faster matmuls)
    )
    dropout: Annotated[float, interval("[0, 1)")] = 0.0
    # optimisation
    micro_batch: Annotated[int, POSITIVE] = 8  # sequences per rank per forward pass
    tokens_per_step: Annotated[int, NON_NEGATIVE] = (
        0  # global batch in tokens; 0: one micro-batch per rank, no accumulation
    )
    max_steps: Annotated[int, NON_NEGATIVE] = 0  # 0: the manifest's total_tokens / tokens_per_step
    lr: Annotated[float, POSITIVE] = 1e-3
    min_lr: Annotated[float, NON_NEGATIVE] = 1e-4  # at most lr
    schedule: Literal["cosine", "wsd"] = "cosine"  # wsd: warmup-stable-decay
    warmup_steps: Annotated[int, NON_NEGATIVE] = 10
    decay_frac: Annotated[float, interval("(0, 1]")] = 0.2  # wsd: the final fraction of steps spent decaying
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: Annotated[float, NON_NEGATIVE] = 1.0
    seed: int = 1337  # model initialisation
    data_seed: int | None = None  # the order samples are drawn in; None: the manifest's seed
    optimizer: Literal["adamw", "muon"] = "adamw"  # muon: Muon for the blocks' matrices, AdamW at `lr` for the rest
    muon_lr: float = 0.02  # Muon's peak lr; the schedule scales it as it scales lr
    muon_momentum: float = 0.95
    # system
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bfloat16 on CUDA, float32 on CPU
    compile: bool = False  # torch.compile each transformer block (training and evaluation)
    activation_checkpointing: bool = False  # recompute each block's activations in the backward: less memory
    ckpt_format: Literal["auto", "file", "dcp"] = (
        "auto"  # auto: dcp under FSDP, else file (one .pt); dcp: sharded folder
    )
    ckpt_async: bool = False  # dcp only: write checkpoints in the background while training goes on
    parallel: Literal["ddp", "fsdp"] = "ddp"  # when launched by torchrun with more than one process
    # evaluation, checkpoints, logging
    eval_interval: Annotated[int, POSITIVE] = 50
    eval_batches: Annotated[int, POSITIVE] = 4
    eval_sets: list[Any] = dataclasses.field(
        default_factory=list
    )  # held-out sets scored every eval_interval (train/eval.py)
    eval_tokens: Annotated[int, POSITIVE] = 65536  # tokens scored per eval set
    ckpt_interval: Annotated[int, POSITIVE] = 50
    keep_last: Annotated[int, POSITIVE] = 2
    log_interval: Annotated[int, POSITIVE] = 1
    progress: bool = True
    tensorboard: bool = False
    # loss spikes
    spike_window: Annotated[int, POSITIVE] = 50  # running window of recent losses for the trend fit
    spike_z: Annotated[float, POSITIVE] = (
        6.0  # skip an update whose loss is this many robust deviations above the trend
    )
    spike_patience: Annotated[int, POSITIVE] = 3  # this many spikes in a row: roll back to the last good checkpoint

    def __post_init__(self):
        """What one field's annotation cannot say; files (the manifest) are checked by load_config."""
        if self.n_embd % self.n_head:
            raise Invalid("n_embd", f"{self.n_embd} is not divisible by n_head {self.n_head}")
        if self.style == "llama" and (self.n_embd // self.n_head) % 2:
            raise Invalid("n_head", "llama style needs an even head size for rotary embeddings")
        if self.min_lr > self.lr:
            raise Invalid("min_lr", f"need 0 <= min_lr <= lr, got min_lr {self.min_lr}, lr {self.lr}")
        for i, entry in enumerate(self.eval_sets):
            named_path(entry, f"eval_sets[{i}]")  # the form only; the files are opened when training starts


PRESETS = {
    # lr 1e-3 (nanoGPT's baby GPT): at 2e-3 the demo mix diverged right after warmup for one seed and split
    "tiny-cpu": dict(
        n_layer=2,
        n_head=4,
        n_embd=128,
        micro_batch=8,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=20,
        device="cpu",
        eval_interval=50,
        ckpt_interval=100,
    ),
    "gpt2-124m": dict(
        n_layer=12,
        n_head=12,
        n_embd=768,
        micro_batch=16,
        tokens_per_step=524288,
        lr=6e-4,
        min_lr=6e-5,
        warmup_steps=700,
        compile=True,
        eval_interval=250,
        eval_batches=20,
        ckpt_interval=1000,
        keep_last=3,
    ),
    "gpt2-350m": dict(
        n_layer=24,
        n_head=16,
        n_embd=1024,
        micro_batch=8,
        tokens_per_step=524288,
        lr=3e-4,
        min_lr=3e-5,
        warmup_steps=700,
        compile=True,
        eval_interval=250,
        eval_batches=20,
        ckpt_interval=1000,
        keep_last=3,
    ),
}
BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_overrides(args: list[str]) -> dict:
    """['--lr', '3e-4', '--compile', '--max-steps=10'] -> {'lr': '3e-4', 'compile': True, 'max_steps': '10'};
    numbers stay text until load_config checks them against the fields' types."""
    overrides, i = {}, 0
    hints = typing.get_type_hints(TrainConfig)
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"command line: expected --key value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        check_key(TrainConfig, key, "command line")
        if not eq:
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                value, i = args[i + 1], i + 1
            elif hints[key] is bool:
                value = "true"
            else:
                raise ConfigError(f"command line: {key}: missing value")
        overrides[key] = BOOLEAN_WORDS.get(value.strip().lower(), value) if hints[key] is bool else value
        i += 1
    return overrides


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> TrainConfig:
    """Preset, then YAML, then overrides, each layer checked under its own name; then the whole, and the
    manifest file. `manifest` in a YAML resolves against the YAML's folder."""
    layers = []
    if path is not None:
        path = Path(path)
        raw = read_yaml(path, "config file") or {}
        if isinstance(raw, dict) and isinstance(raw.get("manifest"), str) and raw["manifest"]:
            raw["manifest"] = str((path.parent / raw["manifest"]).resolve())
        layers.append((str(path), raw))
    layers.append(("command line", overrides or {}))
    named = [(where, layer["preset"]) for where, layer in layers if isinstance(layer, dict) and "preset" in layer]
    if named and named[-1][1]:
        where, preset = named[-1]
        if preset not in PRESETS:
            raise ConfigError(
                f"{where}: preset: expected one of {', '.join(PRESETS)}, got {preset!r}"
                f"{did_you_mean(preset, list(PRESETS))}"
            )
        layers.insert(0, (f"preset '{preset}'", PRESETS[preset]))
    values: dict = {}
    for where, layer in layers:
        values.update(check(TrainConfig, layer, where))
    config = build(TrainConfig, values, "config")
    if not config.manifest:
        raise ConfigError("config: manifest: missing; name the data manifest (data_manifests/*.yaml)")
    if not Path(config.manifest).exists():
        raise ConfigError(f"config: manifest: {config.manifest} not found")
    return config


def to_dict(c: TrainConfig) -> dict:
    return dataclasses.asdict(c)
