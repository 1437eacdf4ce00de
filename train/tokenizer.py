"""The tokenizer.json a run trained with, through the `tokenizers` library (the one that wrote it): encode and
decode text for `train sample`, `train eval` and the tasks, plus the end-of-text id and the UTF-8 bytes each
token stands for (bits per byte divides by them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, pre_tokenizers

EOT_TOKENS = ("<|endoftext|>", "</s>", "<eos>")  # the first one the vocabulary has separates documents


class TextTokenizer:
    def __init__(self, path: str | Path, vocab_size: int = 0):
        self.path = Path(path)
        self.tokenizer = Tokenizer.from_file(str(self.path))
        vocab = self.tokenizer.get_vocab(with_added_tokens=True)
        self.eot_id = next((vocab[t] for t in EOT_TOKENS if t in vocab), None)
        # A byte-level token spells each byte as one character of GPT-2's byte-to-unicode alphabet, so its byte
        # count is its length in that alphabet; special tokens (<|endoftext|>) stand for no text. Ids the model
        # has beyond the tokenizer's vocabulary count 0.
        special = {t.content for t in self.tokenizer.get_added_tokens_decoder().values() if t.special}
        alphabet = set(pre_tokenizers.ByteLevel.alphabet())
        self.token_bytes = np.zeros(max(vocab_size, len(vocab)), dtype=np.int64)
        for token, i in vocab.items():
            if token not in special:
                self.token_bytes[i] = sum(c in alphabet for c in token)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids) -> str:
        """Text of the ids, special tokens written out (<|endoftext|> shows where a sample's document ends)."""
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)
