"""The run configuration: one flat dataclass, a YAML file, command-line overrides, three presets.

Precedence: the preset named by `preset` < the YAML file < `--key value` on the command line. Every value is
checked before anything starts; a mistake names the file or flag, the key and what was expected.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from train.typed import ConfigError  # noqa: F401 - one error type for every config in the project


@dataclass
class TrainConfig:
    manifest: str = ""               # data_manifests/*.yaml; relative to the config file's folder
    out_dir: str = "runs/default"
    preset: str = ""
    # model
    style: str = "gpt2"              # gpt2: learned positions, LayerNorm, GELU, biases; llama: RoPE, RMSNorm, SwiGLU
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    vocab_size: int = 0              # 0: the data's vocabulary rounded up to a multiple of 64 (faster matmuls)
    dropout: float = 0.0
    # optimisation
    micro_batch: int = 8             # sequences per rank per forward pass
    tokens_per_step: int = 0         # global batch in tokens; 0: one micro-batch per rank, no accumulation
    max_steps: int = 0               # 0: the manifest's total_tokens / tokens_per_step
    lr: float = 1e-3
    min_lr: float = 1e-4
    schedule: str = "cosine"         # cosine | wsd (warmup-stable-decay)
    warmup_steps: int = 10
    decay_frac: float = 0.2          # wsd: the final fraction of steps spent decaying
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 1337                 # model initialisation; the data order follows the manifest's seed
    optimizer: str = "adamw"         # adamw | muon (Muon for the blocks' matrices, AdamW at `lr` for the rest)
    muon_lr: float = 0.02            # Muon's peak lr; the schedule scales it as it scales lr
    muon_momentum: float = 0.95
    # system
    device: str = "auto"             # auto | cpu | cuda
    dtype: str = "auto"              # auto (bfloat16 on CUDA, float32 on CPU) | float32 | bfloat16
    compile: bool = False            # torch.compile each transformer block (training and evaluation)
    activation_checkpointing: bool = False   # recompute each block's activations in the backward: less memory
    ckpt_format: str = "auto"        # auto (dcp under FSDP, else file) | file (one .pt) | dcp (sharded folder)
    ckpt_async: bool = False         # dcp only: write checkpoints in the background while training goes on
    parallel: str = "ddp"            # ddp | fsdp, when launched by torchrun with more than one process
    # evaluation, checkpoints, logging
    eval_interval: int = 50
    eval_batches: int = 4
    eval_sets: list = dataclasses.field(default_factory=list)   # held-out sets scored every eval_interval (train/eval.py)
    eval_tokens: int = 65536         # tokens scored per eval set
    ckpt_interval: int = 50
    keep_last: int = 2
    log_interval: int = 1
    progress: bool = True
    tensorboard: bool = False
    # loss spikes
    spike_window: int = 50           # running window of recent losses for the trend fit
    spike_z: float = 6.0             # skip an update whose loss is this many robust deviations above the trend
    spike_patience: int = 3          # this many spikes in a row: roll back to the last good checkpoint


PRESETS = {
    # lr 2e-3: at 3e-3 the demo mix (a small web source seen 4 times) diverged right after warmup
    "tiny-cpu": dict(n_layer=2, n_head=4, n_embd=128, micro_batch=8, lr=2e-3, min_lr=2e-4, warmup_steps=20,
                     device="cpu", eval_interval=50, ckpt_interval=100),
    "gpt2-124m": dict(n_layer=12, n_head=12, n_embd=768, micro_batch=16, tokens_per_step=524288, lr=6e-4, min_lr=6e-5,
                      warmup_steps=700, compile=True, eval_interval=250, eval_batches=20, ckpt_interval=1000, keep_last=3),
    "gpt2-350m": dict(n_layer=24, n_head=16, n_embd=1024, micro_batch=8, tokens_per_step=524288, lr=3e-4, min_lr=3e-5,
                      warmup_steps=700, compile=True, eval_interval=250, eval_batches=20, ckpt_interval=1000, keep_last=3),
}
CHOICES = {"style": ("gpt2", "llama"), "schedule": ("cosine", "wsd"), "device": ("auto", "cpu", "cuda"),
           "dtype": ("auto", "float32", "bfloat16"), "parallel": ("ddp", "fsdp"),
           "optimizer": ("adamw", "muon"), "ckpt_format": ("auto", "file", "dcp")}
POSITIVE = ("n_layer", "n_head", "n_embd", "micro_batch", "eval_batches", "eval_interval", "ckpt_interval",
            "eval_tokens", "keep_last", "log_interval", "spike_window", "spike_patience")
NON_NEGATIVE = ("vocab_size", "tokens_per_step", "max_steps", "warmup_steps", "weight_decay", "grad_clip", "dropout")
FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _fail(where: str, key: str, message: str):
    raise ConfigError(f"{where}: {key}: {message}")


def _check_key(key: str, where: str) -> None:
    if key not in FIELDS:
        close = difflib.get_close_matches(key, FIELDS, n=1)
        _fail(where, key, "unknown key" + (f"; did you mean '{close[0]}'?" if close else ""))


def _coerce(key: str, value, where: str):
    """A YAML or command-line value as the field's type (command-line values arrive as strings)."""
    kind = type(getattr(TrainConfig(), key))
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text not in ("true", "false", "1", "0", "yes", "no"):
                _fail(where, key, f"expected true or false, got {value!r}")
            return text in ("true", "1", "yes")
        try:
            value = int(value) if kind is int else float(value)
        except ValueError:
            _fail(where, key, f"expected {kind.__name__}, got {value!r}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)   # 5.24288e5 in YAML
    if type(value) is not kind:
        _fail(where, key, f"expected {kind.__name__}, got {value!r}")
    return value


def parse_overrides(args: list[str]) -> dict:
    """['--lr', '3e-4', '--compile', '--max-steps=10'] -> {'lr': '3e-4', 'compile': 'true', 'max_steps': '10'}."""
    overrides, i = {}, 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"command line: expected --key value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        _check_key(key, "command line")
        if not eq:
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                value, i = args[i + 1], i + 1
            elif isinstance(FIELDS[key].default, bool):
                value = "true"
            else:
                raise ConfigError(f"command line: --{key}: missing value")
        overrides[key] = value
        i += 1
    return overrides


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> TrainConfig:
    """Preset, then YAML, then overrides. `manifest` in a YAML resolves against the YAML's folder."""
    values: dict = {}
    layers = []
    if path is not None:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of keys to values")
        if isinstance(raw.get("manifest"), str) and raw["manifest"]:
            raw["manifest"] = str((path.parent / raw["manifest"]).resolve())
        layers.append((str(path), raw))
    layers.append(("command line", overrides or {}))
    preset = next((layer["preset"] for _, layer in reversed(layers) if "preset" in layer), "")
    if preset:
        if preset not in PRESETS:
            raise ConfigError(f"preset: unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
    for where, layer in layers:
        for key, value in layer.items():
            _check_key(key, where)
            values[key] = _coerce(key, value, where)
    config = TrainConfig(**values)
    validate(config)
    return config


def validate(c: TrainConfig) -> None:
    where = "config"
    for key, allowed in CHOICES.items():
        if getattr(c, key) not in allowed:
            _fail(where, key, f"expected one of {', '.join(allowed)}, got {getattr(c, key)!r}")
    for key in POSITIVE:
        if getattr(c, key) <= 0:
            _fail(where, key, f"expected a positive value, got {getattr(c, key)}")
    for key in NON_NEGATIVE:
        if getattr(c, key) < 0:
            _fail(where, key, f"expected a non-negative value, got {getattr(c, key)}")
    if not c.manifest:
        _fail(where, "manifest", "missing: name the data manifest (data_manifests/*.yaml)")
    if not Path(c.manifest).exists():
        _fail(where, "manifest", f"{c.manifest} not found")
    if c.n_embd % c.n_head:
        _fail(where, "n_embd", f"{c.n_embd} is not divisible by n_head {c.n_head}")
    if c.style == "llama" and (c.n_embd // c.n_head) % 2:
        _fail(where, "n_head", "llama style needs an even head size for rotary embeddings")
    if not 0 < c.lr or not 0 <= c.min_lr <= c.lr:
        _fail(where, "lr", f"need 0 <= min_lr <= lr and lr > 0, got lr {c.lr}, min_lr {c.min_lr}")
    if not 0 < c.decay_frac <= 1:
        _fail(where, "decay_frac", f"expected a fraction in (0, 1], got {c.decay_frac}")
    if not 0 <= c.dropout < 1:
        _fail(where, "dropout", f"expected a probability in [0, 1), got {c.dropout}")
    if c.spike_z <= 0:
        _fail(where, "spike_z", f"expected a positive z-score, got {c.spike_z}")


def to_dict(c: TrainConfig) -> dict:
    return dataclasses.asdict(c)
