"""Bytes to text: the declared charset first, detection as the fallback, and a
clear verdict for binary data."""
from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

BINARY_SAMPLE = 8192


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KiB mark binary data (images, archives, compiled files);
    UTF-16 text, which also has NULs, starts with a byte-order mark."""
    sample = data[:BINARY_SAMPLE]
    return b"\x00" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def normalise_charset(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str | None, str]:
    """(text, charset used), or (None, why) for binary data.

    Bytes that are valid UTF-8 are UTF-8 whatever the page declares (non-ASCII bytes
    almost never form valid UTF-8 by chance, and a page saying iso-8859-1 while
    sending UTF-8 is common); otherwise the declared charset if the bytes decode with
    it, otherwise detection."""
    if looks_binary(data):
        return None, "binary data (NUL bytes)"
    for charset in ("utf-8", normalise_charset(declared)):
        if charset:
            try:
                return data.decode(charset), charset
            except UnicodeDecodeError:
                pass
    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding:
        return data.decode(best.encoding, errors="replace"), codecs.lookup(best.encoding).name
    return data.decode("utf-8", errors="replace"), "utf-8 (with replacements)"
