"""A small pure-Python reader of byte-level BPE `tokenizer.json` files (HF `tokenizers`), for `train sample`.

train/ may import only torch, numpy and pyyaml, so it cannot use the `tokenizers` package. Decoding is exact:
ids -> token strings -> GPT-2's byte-to-unicode table backwards -> bytes -> UTF-8. Encoding a prompt follows
`tokenizers`: added tokens (<|endoftext|>) are cut out first, then the file's own pre-tokenizer splits the rest
(a `Split` regex such as GPT-4's that curate's tokenizer uses, or ByteLevel's GPT-2 regex), then merges apply
in rank order to each piece. The regexes use \\p{L}/\\p{N} classes that Python's `re` lacks, so they are
rewritten with explicit code point ranges from `unicodedata` (and \\s as Unicode White_Space, as in Rust's
regex); characters whose Unicode version differs between Python and `tokenizers` may still split differently.
Normalizers and other pre-tokenizers are refused with an error rather than encoded wrongly. Slow but fine
for prompts.
"""
from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

# The regex of `tokenizers`' ByteLevel pre-tokenizer when use_regex is true (GPT-2's split).
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# Rust regex's \s is the White_Space property; Python's also takes \x1c-\x1f, so both are spelled out.
WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
               (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000)]


@lru_cache(maxsize=1)
def _category_runs() -> list[tuple[int, int, str]]:
    """(first, last, category) runs over all code points, for turning \\p{..} into ranges."""
    runs, start, current = [], 0, unicodedata.category("\0")
    for code in range(1, 0x110000):
        category = unicodedata.category(chr(code))
        if category != current:
            runs.append((start, code - 1, current))
            start, current = code, category
    runs.append((start, 0x10FFFF, current))
    return runs


def _ranges(name: str) -> list[tuple[int, int]]:
    """Code point ranges of a Unicode general category (L, Lu, N, ...) or of \\s."""
    if name == "s":
        return WHITE_SPACE
    merged: list[list[int]] = []
    for first, last, category in _category_runs():
        if category.startswith(name):
            if merged and merged[-1][1] == first - 1:
                merged[-1][1] = last
            else:
                merged.append([first, last])
    if not merged:
        raise ValueError(f"unknown Unicode category \\p{{{name}}}")
    return [(a, b) for a, b in merged]


def _class_body(name: str) -> str:
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in _ranges(name))


def python_regex(pattern: str) -> re.Pattern:
    """A `tokenizers` (Rust regex) pre-tokenizer pattern as a Python regex: \\p{X}, \\P{X}, \\s and \\S become
    explicit ranges, inside or outside [...] (a negated class inside [...] cannot be written, so it is refused)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            kind = pattern[i + 1]
            if kind in "pP":
                m = re.match(r"\{(\w+)\}|(\w)", pattern[i + 2:])
                name, i = m.group(1) or m.group(2), i + 2 + m.end()
            elif kind in "sS":
                name, i = "s", i + 2
            else:
                out.append(pattern[i:i + 2])
                i += 2
                continue
            negated = kind in "PS"
            if in_class and negated:
                raise ValueError(f"pre-tokenizer regex {pattern!r}: \\{kind} inside [...] is not supported")
            body = _class_body(name)
            out.append(body if in_class else f"[{'^' if negated else ''}{body}]")
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            i += 1
            if pattern[i:i + 1] == "^":        # a ']' right after '[' or '[^' is a literal
                out.append("^")
                i += 1
            if pattern[i:i + 1] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return re.compile("".join(out))


def _split_isolated(pattern: re.Pattern, piece: str) -> list[str]:
    """Matches and the text between them, each its own piece (`tokenizers`' behavior "Isolated")."""
    pieces, end = [], 0
    for m in pattern.finditer(piece):
        if m.start() > end:
            pieces.append(piece[end:m.start()])
        if m.end() > m.start():
            pieces.append(m.group())
        end = m.end()
    if end < len(piece):
        pieces.append(piece[end:])
    return pieces


def pre_tokenizer_steps(spec: dict | None) -> list:
    """The pre-tokenizer of a tokenizer.json as a list of functions from one piece of text to pieces."""
    if spec is None:
        return []
    kind = spec.get("type")
    if kind == "Sequence":
        return [step for inner in spec["pretokenizers"] for step in pre_tokenizer_steps(inner)]
    if kind == "Split":
        if spec.get("behavior") != "Isolated" or spec.get("invert"):
            raise ValueError(f"Split pre-tokenizer with behavior {spec.get('behavior')!r}, invert "
                             f"{spec.get('invert')!r} is not supported (only Isolated, not inverted)")
        pattern = spec["pattern"]
        regex = python_regex(pattern["Regex"]) if "Regex" in pattern else re.compile(re.escape(pattern["String"]))
        return [lambda piece: _split_isolated(regex, piece)]
    if kind == "ByteLevel":
        steps = []
        if spec.get("add_prefix_space"):
            steps.append(lambda piece: [piece if piece.startswith(" ") else " " + piece])
        if spec.get("use_regex", True):
            regex = python_regex(GPT2_SPLIT_PATTERN)
            steps.append(lambda piece: _split_isolated(regex, piece))
        return steps
    raise ValueError(f"pre-tokenizer {kind!r} is not supported (Split, ByteLevel and Sequence are)")


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
        # Encoding needs the file's own pre-tokenizer; an unsupported one only fails encode(), not decode().
        try:
            if spec.get("normalizer") is not None:
                raise ValueError(f"normalizer {spec['normalizer'].get('type')!r} is not supported")
            self.pre_tokenizer, self.encode_error = pre_tokenizer_steps(spec.get("pre_tokenizer")), None
        except (ValueError, KeyError, re.error) as e:
            self.pre_tokenizer, self.encode_error = [], f"{self.path}: cannot encode text: {e}"
        added = sorted((a["content"] for a in spec.get("added_tokens", [])), key=len, reverse=True)
        self.added_pattern = re.compile("(" + "|".join(map(re.escape, added)) + ")") if added else None

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

    def pre_tokenize(self, text: str) -> list[str]:
        pieces = [text]
        for step in self.pre_tokenizer:
            pieces = [out for piece in pieces for out in step(piece)]
        return pieces

    def encode(self, text: str) -> list[int]:
        if self.encode_error:
            raise ValueError(self.encode_error)
        ids = []
        # added tokens are matched in the raw text first, as `tokenizers` does, and never split or merged
        for i, part in enumerate(self.added_pattern.split(text) if self.added_pattern else [text]):
            if i % 2:
                ids.append(self.vocab[part])
                continue
            for piece in self.pre_tokenize(part) if part else []:
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
