"""Checkpoints: atomic, checksummed, verified finite, the last K kept plus the best by validation loss.

Two formats:
  * file (small runs, and the source of `train sample` / export): `ckpt-STEP.pt`, the full unsharded state
    gathered on rank 0, written under a temporary name, synced and renamed;
  * dcp (FSDP runs): `ckpt-STEP.dcp/`, torch.distributed.checkpoint's sharded files, each rank writing its own
    shards (no rank ever holds the whole state), plus `train_state.pt` (step, data cursor, RNG...). It loads
    on any number of processes: DCP reshards on load. Optionally async (ckpt_async): written by a background
    thread while training continues; its record is written only once the write has finished and is complete.
Either is followed by `ckpt-STEP.json`, the record: the bytes and sha256 of every file, whether every weight was
finite, and the validation loss at that step. A checkpoint without its record, or whose bytes no longer match
it (a crash mid-write, a truncated copy, a flipped bit), or whose weights are not finite, is not used: the
loader says why and falls back to the one before. Loading goes through `torch.load(weights_only=True)`, which
unpickles tensors and plain containers only, never arbitrary code.

`best.pt` (or `best.dcp`) is an independent copy of the checkpoint with the lowest validation loss, checked
against that checkpoint's record after copying, so one damaged file cannot take both the resume point and the
best model; `best.json` holds the record it matches. A write that fails (a full disk) removes its temporary
file and raises OSError naming the path.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
from pathlib import Path

import torch

STATE_FILE = "train_state.pt"


class CheckpointError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def _replace_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with _removed_on_failure(tmp, path):
        tmp.write_text(text)
    os.replace(tmp, path)


class _removed_on_failure:
    """Context manager: if writing `tmp` fails, remove it; an OSError (a full disk) is raised again naming
    `path`, the file the user knows, instead of a nameless error."""

    def __init__(self, tmp: Path, path: Path):
        self.tmp, self.path = tmp, path

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None:
            return False
        shutil.rmtree(self.tmp, ignore_errors=True) if self.tmp.is_dir() else self.tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and not error.filename:
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        return False


class _WriteErrors(io.RawIOBase):
    """A file wrapper that keeps the OSError of a failed write: torch.save reports a full disk only as
    'unexpected pos ...' from its zip writer, and this recovers the real cause."""

    def __init__(self, file):
        self.file, self.error = file, None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        self.file.flush()


def all_finite(state: dict) -> bool:
    """Every floating tensor (local shard, under FSDP) of a state dict is finite."""
    for value in state.values():
        if isinstance(value, dict):
            if not all_finite(value):
                return False
        elif isinstance(value, torch.Tensor) and value.is_floating_point():
            local = value.to_local() if hasattr(value, "to_local") else value
            if not torch.isfinite(local).all():
                return False
    return True


def gather_states(model: torch.nn.Module, optimizers: list) -> tuple[dict, dict]:
    """Full (unsharded, unwrapped, on CPU) model and optimizer state; every rank must call it under FSDP."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_state_dict,
    )  # seconds to import: only when saving

    return get_state_dict(model, optimizers, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def restore_states(model: torch.nn.Module, optimizers: list, payload: dict) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    set_state_dict(
        model,
        optimizers,
        model_state_dict=payload["model"],
        optim_state_dict=payload["optimizer"],
        options=StateDictOptions(full_state_dict=True),
    )


def write_record(path: Path, step: int, finite: bool, val_loss: float | None) -> None:
    """The record that makes `path` (file or folder) a checkpoint; written last, so its presence means complete."""
    files = {
        str(f.relative_to(path)) if path.is_dir() else f.name: {"bytes": f.stat().st_size, "sha256": _sha256(f)}
        for f in _files(path)
    }
    record = {"step": step, "finite": finite, "val_loss": val_loss, "files": files}
    _replace_atomically(path.with_suffix(".json"), json.dumps(record) + "\n")


def save(payload: dict, path: Path, val_loss: float | None = None) -> None:
    """One-file checkpoint of a full payload (rank 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with _removed_on_failure(tmp, path), open(tmp, "wb") as f:
        sink = _WriteErrors(f)
        try:
            torch.save(payload, sink)
        except RuntimeError:
            if sink.error is not None:
                raise sink.error from None
            raise
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    write_record(path, payload["state"]["step"], all_finite(payload["model"]), val_loss)


def save_sharded(
    model: torch.nn.Module,
    optimizers: list,
    train_state: dict,
    path: Path,
    is_main: bool,
    val_loss: float | None,
    barrier,
    background: bool = False,
    process_group=None,
):
    """DCP checkpoint: every rank writes its own shards into `path` (a folder), rank 0 the train state and record.
    All ranks must call it. The record is written only after every shard, and a check that DCP's metadata names
    no missing file (`barrier` separates the two), so a run killed mid-write leaves a folder without a record,
    which no loader trusts.
    background=True (async): the state is copied to CPU memory and written by a thread of each rank
    (dcp.async_save, its collectives on `process_group`, one apart from training's) while the caller trains
    on; it returns `finish`, which every rank must call later: it waits for the write, checks it and writes the
    record. `finish.done()` says, without waiting, whether this rank's write has finished."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model_state, optim_state = get_state_dict(model, optimizers)
    finite = all_finite(model_state)
    if torch.distributed.is_initialized():  # a checkpoint is finite only if every rank's shards are
        flag = torch.tensor([float(finite)])
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
        finite = bool(flag.item())
    if is_main and path.exists():
        shutil.rmtree(path)  # a half-written folder from a killed save of the same step
    barrier()
    state = {"model": model_state, "optimizer": optim_state}
    if background:
        future = dcp.async_save(state, checkpoint_id=str(path), process_group=process_group)
    else:
        dcp.save(state, checkpoint_id=str(path))
    if is_main:
        path.mkdir(parents=True, exist_ok=True)
        torch.save(train_state, path / STATE_FILE)

    def finish() -> None:
        if background:
            future.result()  # raises what the writer thread raised
        barrier()
        if is_main:
            _check_dcp_complete(path)
            write_record(path, train_state["state"]["step"], finite, val_loss)
        barrier()

    if not background:
        finish()
        return None
    finish.done = future.done
    return finish


def _check_dcp_complete(path: Path) -> None:
    """Every file DCP's metadata (written last, by the coordinator) names exists: the shards were all written."""
    from torch.distributed.checkpoint import FileSystemReader

    metadata = FileSystemReader(str(path)).read_metadata()
    for item in (metadata.storage_data or {}).values():
        if not (path / item.relative_path).exists():
            raise CheckpointError(f"{path}: DCP metadata names {item.relative_path}, which was not written")


def load_sharded(model: torch.nn.Module, optimizers: list, path: Path) -> None:
    """Load a verified DCP checkpoint into the (wrapped, possibly sharded) model and optimizers; any world size."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    model_state, optim_state = get_state_dict(model, optimizers)
    state = {"model": model_state, "optimizer": optim_state}
    dcp.load(state, checkpoint_id=str(path))
    set_state_dict(model, optimizers, model_state_dict=state["model"], optim_state_dict=state["optimizer"])


def checkpoints(run_dir: Path) -> list[Path]:
    """Every checkpoint (either format) in the folder, oldest step first."""
    found = [p for p in Path(run_dir).glob("ckpt-*") if p.suffix in (".pt", ".dcp")]
    return sorted(found, key=lambda p: (p.stem, p.suffix))


def _check_files(path: Path, record: dict, record_name: str) -> None:
    for name, expected in record["files"].items():
        file = path / name if path.is_dir() else path
        if not file.exists():
            raise CheckpointError(f"{file}: missing, {record_name} lists it")
        size = file.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(f"{file}: {size} bytes, {record_name} says {expected['bytes']} (truncated?)")
        if _sha256(file) != expected["sha256"]:
            raise CheckpointError(f"{file}: sha256 differs from {record_name} (corrupted)")


def _matching(path: Path, candidates: list[dict], record_name: str) -> dict:
    """The candidate record the files match. If none does, the error names the cause for the entry whose sizes
    the files have (a flipped bit: the checksum), else for the first (the current best)."""
    errors = []
    for candidate in candidates:
        try:
            _check_files(path, candidate, record_name)
            return candidate
        except CheckpointError as error:
            errors.append(error)
    sizes_match = [e for e in errors if "sha256" in str(e)]
    raise (sizes_match or errors)[0]


def read_record(path: Path) -> dict:
    """The record of a checkpoint after checking its files against it; CheckpointError says what is wrong.
    best.pt / best.dcp match either entry of best.json (see mark_best)."""
    path = Path(path)
    record_path = path.with_suffix(".json")
    if not path.exists():
        raise CheckpointError(f"{path}: not found")
    if not record_path.exists():
        raise CheckpointError(f"{path}: no {record_path.name} beside it (the save did not finish)")
    try:
        record = json.loads(record_path.read_text())
        candidates = [record["record"], record["previous"]] if path.stem == "best" else [record]
        candidates = [c for c in candidates if c is not None and "files" in c]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise CheckpointError(f"{record_path}: unreadable") from None
    if not candidates:
        raise CheckpointError(f"{record_path}: unreadable")
    record = _matching(path, candidates, record_path.name)
    if not record["finite"]:
        raise CheckpointError(f"{path}: holds non-finite weights (saved after the run diverged)")
    val = record.get("val_loss")
    if val is not None and not math.isfinite(val):
        raise CheckpointError(f"{path}: its validation loss was {val}")
    return record


def _load_payload(file: Path) -> dict:
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a bad archive; all mean the same here
        raise CheckpointError(f"{file}: cannot be loaded ({error})") from None


def load(path: Path) -> dict:
    """A verified checkpoint's payload: for a file everything, for a DCP folder its train state (the weights
    are loaded into a model by load_sharded). CheckpointError says what is wrong with it."""
    path = Path(path)
    record = read_record(path)
    payload = _load_payload(path / STATE_FILE if path.is_dir() else path)
    required = {"state", "config"} | (set() if path.is_dir() else {"model", "optimizer"})
    missing = required - set(payload)
    if missing:
        raise CheckpointError(f"{path}: not a training checkpoint (missing {sorted(missing)})")
    if not path.is_dir() and not all_finite(payload["model"]):
        raise CheckpointError(f"{path}: holds non-finite weights")
    payload["record"] = record
    return payload


def trusted(run_dir: Path, log=print, accept=lambda payload: None) -> list[tuple[dict, Path]]:
    """(payload, path) of the checkpoints that verify, newest first, lazily: broken ones, and ones `accept`
    rejects (it returns a reason), are reported and skipped."""
    for path in reversed(checkpoints(run_dir)):
        try:
            payload = load(path)
        except CheckpointError as error:
            log(f"checkpoint skipped: {error}; trying the previous one")
            continue
        reason = accept(payload)
        if reason:
            log(f"checkpoint skipped: {path}: {reason}; trying the previous one")
            continue
        yield payload, path


def load_latest(run_dir: Path, log=print, accept=lambda payload: None) -> tuple[dict, Path] | tuple[None, None]:
    """The newest checkpoint that verifies (and that `accept` does not reject)."""
    return next(iter(trusted(run_dir, log, accept)), (None, None))


def _verified(path: Path) -> bool:
    """The record is complete and says the weights were finite (its bytes were hashed when it was written)."""
    try:
        record = json.loads(path.with_suffix(".json").read_text())
        return bool(record["finite"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return False


def remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)


def rotate(run_dir: Path, keep_last: int) -> None:
    """Keep the newest `keep_last` verified checkpoints and delete anything older; a broken or non-finite
    checkpoint is never counted, so it cannot push a good one out."""
    every = checkpoints(run_dir)
    kept = [p for p in every if _verified(p)][-keep_last:]
    if len(kept) < keep_last:
        return
    for old in every:
        if (old.stem, old.suffix) < (kept[0].stem, kept[0].suffix):
            remove(old)


def mark_best(path: Path, run_dir: Path) -> None:
    """Make checkpoint `path` the best one: best.json first (the checkpoint's name and record, keeping the
    previous entry), then an independent copy renamed over best.pt (or best.dcp) in one step, after checking the
    copy's bytes against the record (a copy damaged on the way is never made best). A reader checks best.pt
    against either entry of best.json, so a kill between the two renames leaves a valid pair (the previous best)."""
    run_dir = Path(run_dir)
    target = run_dir / f"best{path.suffix}"
    record = json.loads(path.with_suffix(".json").read_text())
    best_json = run_dir / "best.json"
    previous = None
    if best_json.exists():
        try:
            previous = json.loads(best_json.read_text()).get("record")
        except json.JSONDecodeError:
            previous = None
    tmp = run_dir / f".best{path.suffix}.tmp"
    remove(tmp) if tmp.exists() else None
    with _removed_on_failure(tmp, target):
        if path.is_dir():
            shutil.copytree(path, tmp)
        else:
            shutil.copyfile(path, tmp)
        for file in _files(tmp):
            with open(file, "rb") as f:
                os.fsync(f.fileno())
        _check_files(tmp, record, f"{path.with_suffix('.json').name} (copying {path.name} to {target.name})")
    _replace_atomically(best_json, json.dumps({"checkpoint": path.name, "record": record, "previous": previous}) + "\n")
    if path.is_dir():
        old = run_dir / ".best.dcp.old"
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


def repair_best(run_dir: Path, log=print) -> None:
    """Mark best the verified checkpoint with the lowest validation loss when there is no verified best, or a
    worse one: a run killed between writing a checkpoint and marking it best (its state already counts that
    loss as the best, so no later evaluation would mark it), or a damaged best.pt."""
    run_dir = Path(run_dir)
    current = math.inf
    for best_path in (run_dir / "best.pt", run_dir / "best.dcp"):
        if best_path.exists():
            try:
                val = read_record(best_path).get("val_loss")
                current = min(current, math.inf if val is None else val)
            except CheckpointError as error:
                log(f"best: {error}; marking the best verified checkpoint instead")
    best = None
    for path in checkpoints(run_dir):
        try:
            val = read_record(path).get("val_loss")
        except CheckpointError:
            continue
        if val is not None and val < current and (best is None or val < best[0]):
            best = (val, path)
    if best is not None:
        mark_best(best[1], run_dir)
        log(f"best: {best[1].name} (validation loss {best[0]:.4f}) was not marked best; it is now")
