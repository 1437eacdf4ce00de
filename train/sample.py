"""`train sample CKPT --prompt ...`: generate text from a checkpoint with top-k / temperature sampling."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from train import checkpoint
from train.model import GPT, GPTConfig
from train.tokenizer import TextTokenizer


def load_model(path: str | Path, device: str = "cpu") -> tuple[GPT, dict]:
    """A verified checkpoint as an eval-mode model: a ckpt-*.pt / best.pt file, or a DCP folder (ckpt_format:
    dcp), whose shards DCP gathers into this one process whatever the world size that wrote them."""
    path = Path(path)
    payload = checkpoint.load(path)
    model = GPT(GPTConfig(**payload["model_config"]))
    if path.is_dir():
        import torch.distributed.checkpoint as dcp

        sharded = {"model": model.state_dict()}
        with warnings.catch_warnings():  # "assuming the intent is to load in a single process": it is
            warnings.filterwarnings("ignore", message=".*single process")
            try:
                dcp.load(sharded, checkpoint_id=str(path))
            except Exception as error:  # DCP raises CheckpointException or RuntimeError for missing/odd shards
                raise checkpoint.CheckpointError(f"{path}: DCP shards cannot be loaded ({error})") from None
        payload["model"] = sharded["model"]
    state = {k: v for k, v in payload["model"].items() if k != "lm_head.weight"}  # tied to wte.weight
    model.load_state_dict(state, strict=False)
    missing = {k for k, _ in model.named_parameters()} - set(state) - {"lm_head.weight"}
    if missing:
        raise checkpoint.CheckpointError(f"{path}: model weights missing: {sorted(missing)}")
    return model.to(device).eval(), payload


def generate_text(
    ckpt: str | Path,
    prompt: str,
    tokenizer_path: str | Path | None = None,
    max_new_tokens: int = 100,
    temperature: float = 0.8,
    top_k: int | None = 50,
    num_samples: int = 1,
    seed: int = 0,
    device: str = "cpu",
) -> list[str]:
    model, payload = load_model(ckpt, device)
    tokenizer_path = tokenizer_path or payload.get("tokenizer_path")
    if not tokenizer_path or not Path(tokenizer_path).exists():
        raise FileNotFoundError(f"tokenizer.json not found ({tokenizer_path!r}); pass --tokenizer PATH")
    tokenizer = TextTokenizer(tokenizer_path)
    ids = tokenizer.encode(prompt) or [tokenizer.eot_id or 0]
    generator = torch.Generator(device=device).manual_seed(seed)
    start = torch.tensor([ids] * num_samples, dtype=torch.long, device=device)
    out = model.generate(start, max_new_tokens, temperature=temperature, top_k=top_k, generator=generator)
    return [tokenizer.decode(row.tolist()) for row in out]
