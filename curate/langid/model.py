"""Loading a fastText language-ID model and predicting the language of many texts at once.

The default model is lid.176.ftz (176 languages, 917 KB, CC BY-SA 3.0), which ships with this
package as package data (curate/langid/resources/, with its licence notice), so language ID
works offline right after `pip install`. lid.176.bin, the larger
and slightly more accurate version FineWeb uses, or any other fastText model with
`__label__<language>` labels (GlotLID, ...) can be named instead.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from functools import lru_cache

import numpy as np

from curate.core.params import ConfigError

LID_176_BIN_URL = "https://dl.fbaipublicfiles.com/fasttext/supervised-models/lid.176.bin"
LABEL_PREFIX = "__label__"
FASTTEXT_MAGIC, FASTTEXT_VERSION = 793712314, 12
ARGS_BYTES = 12 * 4 + 8  # fastText's Args: twelve int32 and one double


def default_model_path() -> str:
    """lid.176.ftz as shipped in this package (curate/langid/resources/)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resources", "lid.176.ftz")
    if not os.path.isfile(path):
        raise ConfigError(
            f"langid: no 'model' given and the default {path} is missing (an install without package data?); "
            f"reinstall rawtollm, or download lid.176.bin from {LID_176_BIN_URL} and set 'model: path/to/lid.176.bin'"
        )
    return path


@lru_cache(maxsize=4)
def load_model(path: str):
    """The fastText model at `path`, or ConfigError naming the path and what is wrong with it."""
    from fasttext.FastText import _FastText  # the class itself: fasttext.load_model prints a warning

    if not os.path.isfile(path):
        raise ConfigError(f"langid: model file '{path}' does not exist")
    problem = file_problem(path)
    if problem:
        raise ConfigError(f"langid: '{path}' is not a fastText model ({problem})")
    try:
        model = _FastText(model_path=path)
    except (ValueError, MemoryError, RuntimeError) as error:  # wrong format; truncated files fail to allocate
        raise ConfigError(f"langid: '{path}' is not a fastText model ({type(error).__name__}: {error})") from None
    labels = model.get_labels()
    if not labels or not all(label.startswith(LABEL_PREFIX) for label in labels):
        raise ConfigError(f"langid: '{path}' is a fastText model without __label__ classes, not a language identifier")
    return model


def file_problem(path: str) -> str | None:
    """What makes `path` unloadable, found by walking fastText's file layout (header, dictionary,
    matrix sizes) without loading it; None when it is whole. fastText itself does not check for
    the end of the file: a truncated download makes it read one endless word until memory runs out
    (minutes and ~16 GB), or load a model with a piece of its matrix missing."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size < 8:
            return "shorter than a fastText header"
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    with data:
        magic, version = struct.unpack_from("<ii", data, 0)
        if magic != FASTTEXT_MAGIC or version > FASTTEXT_VERSION:
            return "no fastText header"
        try:
            walk_model(data, 8 + ARGS_BYTES)
        except (struct.error, EOFError):
            return "the file ends early: a truncated download?"
        return None  # bytes after the end are left alone, as fastText does


def walk_model(data, pos: int) -> int:
    """The offset where a fastText model laid out from `pos` (its dictionary) ends."""
    size, _, _, _, prune_size = struct.unpack_from("<iiiqq", data, pos)
    pos += 28
    for _ in range(size):  # each word: bytes, NUL, int64 count, int8 type
        pos = data.find(b"\0", pos)
        if pos < 0:
            raise EOFError
        pos += 1 + 9
    pos += 8 * max(prune_size, 0)
    for _ in range(2):  # the input, then the output matrix, each after a one-byte "quantized" flag
        if not 0 <= pos < len(data):
            raise EOFError
        pos = walk_matrix(data, pos + 1, bool(data[pos]))
    if pos > len(data):
        raise EOFError
    return pos


def walk_matrix(data, pos: int, quantized: bool) -> int:
    if not quantized:  # int64 rows, int64 columns, float32 values
        rows, columns = struct.unpack_from("<qq", data, pos)
        return pos + 16 + 4 * rows * columns
    norms_quantized = data[pos]
    rows, _, code_size = struct.unpack_from("<qqi", data, pos + 1)
    pos = walk_quantizer(data, pos + 1 + 20 + code_size)
    return walk_quantizer(data, pos + rows) if norms_quantized else pos  # norm codes (a byte a row), their quantizer


def walk_quantizer(data, pos: int) -> int:
    dim = struct.unpack_from("<i", data, pos)[0]  # then nsubq, dsub, lastdsub; then 256 centroids per dimension
    if dim < 0:
        raise EOFError
    return pos + 16 + 4 * dim * 256


# Every apostrophe and quote look-alike read as its ASCII form: lid.176 saw few of them in training, and
# "You don’t like Flint?" scores 0.58 English with U+2019 but 0.997 with "'" (below FineWeb's 0.65);
# ´ (U+00B4), ʼ (U+02BC), ＇ (U+FF07) and ` stand in for "'" in text typed on other keyboards.
ASCII_QUOTES = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u02bc": "'",
    "\uff07": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
}
# a list line's number or bullet: "10. ", "(a) ", "iv) ", "• ", "- " carry no language and pull short lines off it
LIST_MARK = re.compile(
    r"(?m)^[ \t]*(?:[-*\u2022\u00b7\u25aa\u25e6\u2023\u2013\u2014\u25ba]+|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcIVXLC]{1,6})[.)])[ \t]+"
)


def as_fasttext_line(text: str) -> str:
    """The text as the model reads it, on one line: list numbers and bullets cut from line starts, quotes
    and apostrophe look-alikes as ASCII, and text in capitals lower-cased (lid.176 learnt from mixed-case
    text; "HEARTHRUG, NEAR THE FENDER" reads as English only in lower case). The stored text is not changed.
    Each str.replace is a C scan of the text: together a fifteenth of the time of one str.translate."""
    text = LIST_MARK.sub("", text).replace("\n", " ")
    for quote, ascii_quote in ASCII_QUOTES.items():
        text = text.replace(quote, ascii_quote)
    return text.lower() if text[:2000].isupper() else text  # isupper: every cased letter a capital (C speed)


class LanguageIdentifier:
    """Top-1 language and probability for a batch of texts, each predicted whole."""

    def __init__(self, path: str):
        self.model = load_model(path)
        self.languages = frozenset(label[len(LABEL_PREFIX) :] for label in self.model.get_labels())

    def predict(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        # fastText predicts one line at a time: the whole text goes in as one line, as in
        # FineWeb, and the batch goes to fastText's C++ loop in a single call.
        # The model reads as_fasttext_line(text) (ASCII quotes, no list marks); the text keeps its own.
        labels, probs = self.model.predict([as_fasttext_line(t) for t in texts], k=1)
        languages = [label[0][len(LABEL_PREFIX) :] if label else None for label in labels]
        scores = np.array([p[0] if len(p) else 0.0 for p in probs], dtype=np.float64)
        return languages, np.minimum(scores, 1.0)  # fastText's softmax can round a hair above 1
