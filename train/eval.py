"""`train eval CKPT`: loss and bits per byte on held-out sets the user names, one figure per set plus the
macro average over sets (Paloma's way of reporting, Magnusson et al. 2023).

Bits per byte (bpb) = the summed loss in nats / ln 2 / the UTF-8 bytes of the text those tokens cover. Loss per
token depends on the tokenizer (a larger vocabulary puts more text in each token); bpb does not, so models with
different tokenizers compare. The byte count of a token is its length after GPT-2's byte-to-unicode map is
undone; special tokens (<|endoftext|>) cover no text and count 0 bytes, but their loss is counted like the
others (every tokenizer predicts one per document, so this stays comparable).

A set is one of:
  * a text file (one document) or a folder of *.txt / *.md files (one document each);
  * a JSONL file (one document per line, its "text" field; .jsonl.gz too);
  * a Parquet file or folder of them (the pipeline's output; "text" column), read lazily with pyarrow, which
    is installed with curate but is not a dependency of train/;
  * a token directory (tokens.json + shards), which must come from the checkpoint's tokenizer.
Text is tokenized with the `tokenizers` package (train/tokenizer.py). Documents are joined, each followed by
<|endoftext|>, into one stream cut in non-overlapping windows of seq_len + 1 tokens that score every token once
(the first of each window sees no context, as at the start of a training window), after one leading
<|endoftext|> so the first text token counts; `max_tokens` caps the tokens scored per set, taking documents in
file order, so the figure is deterministic.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from common.typed import named_path
from train.tasks import evaluate_tasks, format_tasks, read_task
from train.tokenizer import TextTokenizer

TEXT_SUFFIXES = (".txt", ".md")
DEFAULT_MAX_TOKENS = 65536


class EvalSetError(ValueError):
    pass


@dataclass
class EvalSet:
    name: str
    path: Path
    windows: np.ndarray  # (n, seq_len + 1) token ids; -1 pads the last window's tail (not scored)
    documents: int


def read_documents(path: Path):
    """Yield the documents of a text file, text folder, JSONL or Parquet file/folder (see module docstring)."""
    if not path.exists():
        raise EvalSetError(f"{path}: eval set not found")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    kinds = {_kind(f) for f in files} - {None}
    if len(kinds) != 1:
        raise EvalSetError(
            f"{path}: expected text (.txt/.md), JSONL or Parquet files, found "
            f"{', '.join(sorted(kinds)) or 'none of them'}"
        )
    for f in files:
        kind = _kind(f)
        if kind == "text":
            yield f.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n").lstrip("\ufeff")
        elif kind == "jsonl":
            yield from _jsonl_texts(f)
        elif kind == "parquet":
            yield from _parquet_texts(f)


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    if name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    return None


def _jsonl_texts(path: Path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise EvalSetError(f'{path}:{n}: expected a JSON object with a "text" field') from None
            if isinstance(text, str) and text:
                yield text


def _parquet_texts(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise EvalSetError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow, or install curate)") from None
    parquet = pq.ParquetFile(path)
    if "text" not in parquet.schema_arrow.names:
        raise EvalSetError(f'{path}: no "text" column')
    for batch in parquet.iter_batches(columns=["text"], batch_size=1024):
        yield from (t for t in batch.column(0).to_pylist() if t)


def _token_documents(path: Path, tokenizer_hash: str | None):
    from common.shards import read_token_dir

    data = read_token_dir(path)
    if tokenizer_hash and data.tokenizer_hash != tokenizer_hash:
        raise EvalSetError(
            f"{path}: token shards of tokenizer {data.tokenizer_hash[:16]}..., but the model was trained "
            f"with {tokenizer_hash[:16]}...; evaluate the text instead (bpb compares across tokenizers)"
        )
    # token directories store each document with its EOT at the end
    return data.eot_id, (np.asarray(shard[i], dtype=np.int64) for shard in data.shards for i in range(len(shard)))


def load_eval_set(
    name: str,
    path: str | Path,
    tokenizer: TextTokenizer | None,
    seq_len: int,
    tokenizer_hash: str | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> EvalSet:
    """Tokenize (or read) a set into scoring windows, up to `max_tokens` predicted tokens."""
    path = Path(path)
    if (path / "tokens.json").exists():
        eot_id, docs = _token_documents(path, tokenizer_hash)
    else:
        if tokenizer is None:
            raise EvalSetError(f"{path}: a text eval set needs the model's tokenizer.json (pass --tokenizer)")
        if tokenizer.eot_id is None:
            raise EvalSetError(f"{tokenizer.path}: no <|endoftext|> token to separate documents")
        eot_id = tokenizer.eot_id
        docs = (np.asarray(ids + [eot_id], dtype=np.int64) for ids in _encoded(read_documents(path), tokenizer))
    # a leading <|endoftext|>, as before every document in training, so the first token is scored too
    stream, scored, documents = [np.array([eot_id], dtype=np.int64)], 0, 0
    for doc in docs:
        stream.append(doc)
        scored, documents = scored + len(doc), documents + 1
        if scored > max_tokens:
            break
    if not documents:
        raise EvalSetError(f"{path}: eval set has no documents")
    tokens = np.concatenate(stream)[: max_tokens + 1]
    n = math.ceil((len(tokens) - 1) / seq_len)
    windows = np.full((n, seq_len + 1), -1, dtype=np.int64)
    for i in range(n):
        piece = tokens[i * seq_len : i * seq_len + seq_len + 1]
        windows[i, : len(piece)] = piece
    return EvalSet(name, path, windows, documents)


def _encoded(texts, tokenizer: TextTokenizer, batch: int = 64):
    chunk = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == batch:
            yield from tokenizer.encode_batch(chunk)
            chunk = []
    if chunk:
        yield from tokenizer.encode_batch(chunk)


@torch.no_grad()
def score_windows(
    model: torch.nn.Module,
    windows: np.ndarray,
    token_bytes: np.ndarray | None,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    autocast=contextlib.nullcontext,
    advance=None,
) -> dict:
    """Summed loss (nats), scored tokens and covered bytes over the windows; -1 targets are skipped.
    `advance(1)` is called after each batch (a progress bar)."""
    was_training = model.training
    model.eval()
    nats, tokens, nbytes = 0.0, 0, 0
    for start in range(0, len(windows), batch_size):
        rows = torch.from_numpy(windows[start : start + batch_size]).to(device)
        x, y = rows[:, :-1].clamp(min=0), rows[:, 1:]
        with autocast():
            logits, _ = model(x)
        nats += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), ignore_index=-1, reduction="sum").item()
        kept = y[y >= 0].cpu().numpy()
        tokens += len(kept)
        if token_bytes is not None:
            nbytes += int(token_bytes[kept].sum())
        if advance is not None:
            advance(1)
    model.train(was_training)
    return {
        "loss": nats / max(tokens, 1),
        "bpb": nats / math.log(2) / nbytes if nbytes else None,
        "tokens": tokens,
        "bytes": nbytes,
        "nats": nats,
    }


def evaluate_sets(
    model,
    sets: list[EvalSet],
    token_bytes: np.ndarray | None,
    batch_size: int = 8,
    device="cpu",
    autocast=contextlib.nullcontext,
    advance=None,
) -> dict:
    """{set name: {loss, bpb, tokens, bytes, documents}, "macro": mean loss and bpb over the sets}."""
    results = {}
    for s in sets:
        results[s.name] = score_windows(model, s.windows, token_bytes, batch_size, device, autocast, advance)
        results[s.name]["documents"] = s.documents
    bpbs = [r["bpb"] for r in results.values()]
    results["macro"] = {
        "loss": sum(r["loss"] for r in results.values()) / len(sets),
        "bpb": sum(bpbs) / len(bpbs) if None not in bpbs else None,
    }
    return results


def flat_metrics(results: dict, prefix: str = "eval") -> dict:
    """{'eval/books/loss': ..., 'eval/books/bpb': ..., 'eval/macro/bpb': ...} for metrics.jsonl."""
    return {
        f"{prefix}/{name}/{key}": r[key]
        for name, r in results.items()
        for key in ("loss", "bpb")
        if r.get(key) is not None
    }


class PeriodicEval:
    """The config's eval_sets, loaded once, scored every eval_interval steps inside `train run`.
    Every rank scores every set (same forward passes, as FSDP needs); only rank 0 logs."""

    def __init__(
        self,
        entries: list,
        tokenizer_path: str,
        tokenizer_hash: str,
        seq_len: int,
        vocab_size: int,
        max_tokens: int,
        batch_size: int,
    ):
        tokenizer = (
            TextTokenizer(tokenizer_path, vocab_size) if tokenizer_path and Path(tokenizer_path).exists() else None
        )
        self.token_bytes = tokenizer.token_bytes if tokenizer else None
        self.batch_size = batch_size
        self.sets = []
        for i, entry in enumerate(entries):
            name, path = named_path(entry, f"config: eval_sets[{i}]")
            self.sets.append(load_eval_set(name, path, tokenizer, seq_len, tokenizer_hash, max_tokens))

    def __call__(self, model, device, autocast) -> dict:
        return flat_metrics(evaluate_sets(model, self.sets, self.token_bytes, self.batch_size, device, autocast))


def evaluate_checkpoint(
    ckpt: str | Path,
    entries: list,
    tokenizer_path: str | Path | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    batch_size: int = 8,
    device: str = "cpu",
    tasks: list | None = None,
    max_examples: int | None = None,
    progress: bool = False,
) -> dict:
    """Load a checkpoint and score it on the sets (and multiple-choice tasks); the JSON `train eval` writes.
    progress: a bar with ETA over the batches and examples, drawn on a terminal only."""
    from tqdm import tqdm

    from train.sample import load_model

    model, payload = load_model(ckpt, device)
    tokenizer_path = tokenizer_path or payload.get("tokenizer_path")
    tokenizer = None
    if tokenizer_path:
        if not Path(tokenizer_path).exists():
            raise FileNotFoundError(f"tokenizer.json not found ({tokenizer_path}); pass --tokenizer PATH")
        tokenizer = TextTokenizer(tokenizer_path, model.config.vocab_size)
    sets = [
        load_eval_set(
            *named_path(e, "eval set"), tokenizer, model.config.seq_len, payload.get("tokenizer_hash"), max_tokens
        )
        for e in entries
    ]
    report = {
        "checkpoint": str(ckpt),
        "step": payload["state"]["step"],
        "tokenizer": str(tokenizer_path or ""),
        "tokens_trained": payload["state"]["step"] * payload.get("tokens_per_step", 0),
    }
    if tasks and tokenizer is None:
        raise EvalSetError("multiple-choice tasks need the model's tokenizer.json (pass --tokenizer)")
    work = sum(math.ceil(len(s.windows) / batch_size) for s in sets) + sum(
        len(read_task(named_path(t, "task")[1])[:max_examples]) for t in tasks or []
    )
    # disable=None: tqdm draws only when stderr is a terminal
    with tqdm(total=work, desc="eval", unit="batch", disable=None if progress else True, leave=False) as bar:
        if sets:
            report["sets"] = evaluate_sets(
                model, sets, tokenizer.token_bytes if tokenizer else None, batch_size, device, advance=bar.update
            )
        if tasks:
            report["tasks"] = evaluate_tasks(model, tokenizer, tasks, device, max_examples, advance=bar.update)
    return report


def format_report(report: dict) -> str:
    lines = [f"{report['checkpoint']} (step {report['step']}, {report['tokens_trained']:,} tokens trained)"]
    if "sets" in report:
        lines.append(f"{'set':<24} {'docs':>6} {'tokens':>9} {'loss':>8} {'bpb':>7}")
        for name, r in report["sets"].items():
            bpb = f"{r['bpb']:.4f}" if r.get("bpb") is not None else "-"
            counts = f"{r['documents']:>6} {r['tokens']:>9,}" if name != "macro" else " " * 16
            lines.append(f"{name:<24} {counts} {r['loss']:>8.4f} {bpb:>7}")
    if "tasks" in report:
        lines.append(format_tasks(report["tasks"]))
    return "\n".join(lines)
