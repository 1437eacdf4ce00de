"""Checkpoints: atomic, checksummed, the last K kept plus the best by validation loss.

`ckpt-STEP.pt` is written under a temporary name, synced and renamed; then `ckpt-STEP.json` records its size
and sha256. A checkpoint without its record, or whose bytes no longer match it (a crash mid-write, a truncated
copy, a flipped bit), is not used: `load_latest` says why and falls back to the one before. Loading goes through
`torch.load(weights_only=True)`, which unpickles tensors and plain containers only, never arbitrary code.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict


class CheckpointError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def gather_states(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Full (unsharded, unwrapped, on CPU) model and optimizer state; every rank must call it under FSDP."""
    return get_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def restore_states(model: torch.nn.Module, optimizer: torch.optim.Optimizer, payload: dict) -> None:
    set_state_dict(model, optimizer, model_state_dict=payload["model"], optim_state_dict=payload["optimizer"],
                   options=StateDictOptions(full_state_dict=True))


def save(payload: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    record = {"step": payload["step"], "bytes": path.stat().st_size, "sha256": _sha256(path)}
    tmp_record = path.with_name(f".{path.stem}.json.tmp")
    tmp_record.write_text(json.dumps(record) + "\n")
    os.replace(tmp_record, path.with_suffix(".json"))


def save_rotating(payload: dict, run_dir: Path, keep_last: int) -> Path:
    path = run_dir / f"ckpt-{payload['step']:08d}.pt"
    save(payload, path)
    for old in checkpoints(run_dir)[:-keep_last]:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)
    return path


def save_best(path: Path, run_dir: Path) -> None:
    """Copy a verified checkpoint to best.pt (same atomic write-then-rename, then its record)."""
    tmp = run_dir / ".best.pt.tmp"
    shutil.copyfile(path, tmp)
    os.replace(tmp, run_dir / "best.pt")
    shutil.copyfile(path.with_suffix(".json"), run_dir / ".best.json.tmp")
    os.replace(run_dir / ".best.json.tmp", run_dir / "best.json")


def checkpoints(run_dir: Path) -> list[Path]:
    return sorted(Path(run_dir).glob("ckpt-*.pt"))


def load(path: Path) -> dict:
    """A verified checkpoint's payload, or CheckpointError saying what is wrong with the file."""
    path = Path(path)
    record_path = path.with_suffix(".json")
    if not path.exists():
        raise CheckpointError(f"{path}: not found")
    if not record_path.exists():
        raise CheckpointError(f"{path}: no {record_path.name} beside it (the save did not finish)")
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError:
        raise CheckpointError(f"{record_path}: unreadable") from None
    size = path.stat().st_size
    if size != record["bytes"]:
        raise CheckpointError(f"{path}: {size} bytes, {record_path.name} says {record['bytes']} (truncated?)")
    if _sha256(path) != record["sha256"]:
        raise CheckpointError(f"{path}: sha256 differs from {record_path.name} (corrupted)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a bad archive; all mean the same here
        raise CheckpointError(f"{path}: cannot be loaded ({error})") from None
    missing = {"model", "optimizer", "step", "cursor", "config"} - set(payload)
    if missing:
        raise CheckpointError(f"{path}: not a training checkpoint (missing {sorted(missing)})")
    return payload


def load_latest(run_dir: Path, log=print) -> tuple[dict, Path] | tuple[None, None]:
    """The newest checkpoint that loads; broken ones are reported and skipped."""
    for path in reversed(checkpoints(run_dir)):
        try:
            return load(path), path
        except CheckpointError as error:
            log(f"checkpoint skipped: {error}; trying the previous one")
    return None, None
