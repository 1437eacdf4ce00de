"""Text normalisation and word splitting for dedup, a whole Arrow batch at a time.

Two documents count as the same when their normalised word sequences are equal:
case folded, punctuation and symbols dropped (prose) or kept as tokens (code),
every decimal digit turned into 0, whitespace runs collapsed. Scripts written
without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Burmese) are
split into one token per character, so their shingles are character n-grams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNSPACED_SCRIPTS = r"([\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}])"
PUNCTUATION = r"[\p{P}\p{S}]+"
WORDS_TYPE = pa.large_list(pa.large_string())
CODE_PUNCTUATION = r"([^\p{L}\p{N}_\s])"  # every operator/bracket character becomes a token of its own


@dataclass(frozen=True)
class Normalization:
    lowercase: bool = True
    strip_punctuation: bool = True
    normalize_digits: bool = True


def words(texts: pa.Array, code: bool, norm: Normalization) -> pa.Array:
    """A list<string> array: the normalised words (prose) or tokens (code) of each text."""
    texts = pc.cast(texts, pa.large_string())
    if norm.lowercase:
        texts = pc.utf8_lower(texts)
    if norm.normalize_digits:
        texts = pc.replace_substring_regex(texts, r"\p{Nd}", "0")
    if code:
        texts = pc.replace_substring_regex(texts, CODE_PUNCTUATION, r" \1 ")
    elif norm.strip_punctuation:
        texts = pc.replace_substring_regex(texts, PUNCTUATION, " ")
    texts = pc.replace_substring_regex(texts, UNSPACED_SCRIPTS, r" \1 ")
    return drop_empty_words(pc.utf8_split_whitespace(texts))


def drop_empty_words(split: pa.Array) -> pa.Array:
    """Splitting yields '' for leading/trailing whitespace and for empty texts: remove those."""
    flat = pc.list_flatten(split)
    keep = pc.greater(pc.binary_length(flat), 0)
    if pc.all(keep).as_py() is not False:
        return split.cast(WORDS_TYPE)
    parents = pc.list_parent_indices(split).to_numpy().astype(np.int64)
    lengths = np.bincount(parents[keep.to_numpy(zero_copy_only=False)], minlength=len(split))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return pa.LargeListArray.from_arrays(pa.array(offsets), flat.filter(keep))


def batch_words(texts: pa.Array, is_code: pa.Array | None, norm: Normalization) -> pa.Array:
    """words() for a batch mixing prose and code: `is_code` picks the tokenizer per row."""
    if is_code is None or not pc.any(is_code).as_py():
        return words(texts, False, norm)
    if pc.all(is_code).as_py():
        return words(texts, True, norm)
    code_rows = pc.indices_nonzero(is_code)
    prose_rows = pc.indices_nonzero(pc.invert(is_code))
    merged = pa.concat_arrays([words(texts.take(prose_rows), False, norm), words(texts.take(code_rows), True, norm)])
    back = pc.sort_indices(pa.concat_arrays([prose_rows, code_rows]))  # position of each original row in `merged`
    return merged.take(back)
