"""A small pure-Python reader of byte-level BPE `tokenizer.json` files (HF `tokenizers`), for `train sample`.

train/ may import only torch, numpy and pyyaml, so it cannot use the `tokenizers` package. Decoding is exact:
ids -> token strings -> GPT-2's byte-to-unicode table backwards -> bytes -> UTF-8. Encoding a prompt applies
the merges in rank order to each pre-token; the pre-tokenizer's regex (which needs \\p{L}/\\p{N} classes that
Python's `re` lacks) is approximated with `re` (letters = [^\\W\\d_], numbers = \\d), so prompts with unusual
scripts or digits may split differently from `tokenizers`; English text encodes identically (tested). Slow but
fine for prompts.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

GPT2_PATTERN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


@lru_cache(maxsize=1)
def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (so BPE never sees whitespace or controls)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = dict(zip(printable, printable)), 0
    for b in range(256):
        if b not in codes:
            codes[b] = 256 + extra
            extra += 1
    return {b: chr(c) for b, c in codes.items()}


class ByteLevelBPE:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        spec = json.loads(self.path.read_text(encoding="utf-8"))
        model = spec["model"]
        if model.get("type") != "BPE":
            raise ValueError(f"{path}: expected a BPE model, got {model.get('type')}")
        self.vocab: dict[str, int] = dict(model["vocab"])
        for added in spec.get("added_tokens", []):
            self.vocab[added["content"]] = added["id"]
        self.special = {a["content"] for a in spec.get("added_tokens", []) if a.get("special")}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.ignore_merges = model.get("ignore_merges", False)
        self.to_unicode = byte_to_unicode()
        self.to_byte = {c: b for b, c in self.to_unicode.items()}

    def _bpe(self, word: str) -> list[str]:
        if self.ignore_merges and word in self.vocab:
            return [word]
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get(pair, float("inf")), i) for i, pair in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == float("inf"):
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return parts

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in GPT2_PATTERN.findall(text):
            mapped = "".join(self.to_unicode[b] for b in piece.encode("utf-8"))
            ids.extend(self.vocab[token] for token in self._bpe(mapped))
        return ids

    def decode(self, ids) -> str:
        out = bytearray()
        for i in ids:
            token = self.id_to_token.get(int(i), "")
            if token in self.special:
                out += token.encode("utf-8")
            else:
                out += bytes(self.to_byte[c] for c in token if c in self.to_byte)
        return out.decode("utf-8", errors="replace")


def hf_tokenizer_files(eot: str = "<|endoftext|>", model_max_length: int | None = None) -> dict[str, dict]:
    """tokenizer_config.json and special_tokens_map.json to sit beside a tokenizer.json, so transformers'
    AutoTokenizer loads it with bos/eos/pad set (without them eos_token is None and `generate` never stops).
    One end-of-text token serves as all three, as in GPT-2. Written by `curate train-tokenizer` and `train export`."""
    special = {"bos_token": eot, "eos_token": eot, "pad_token": eot, "unk_token": eot}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False, **special}
    if model_max_length:
        config["model_max_length"] = model_max_length
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}
