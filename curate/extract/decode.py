"""Bytes to text: the declared charsets first, detection as the fallback, and a
clear verdict for binary data."""
from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

BINARY_SAMPLE = 8192
DETECTION_SAMPLE = 200_000
# Browsers (WHATWG Encoding Standard) read these labels as windows-1252, and pages
# labelled latin-1 routinely use its curly quotes and dashes in 0x80-0x9F.
WHATWG_SUPERSETS = {"iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254", "iso8859-11": "cp874"}
# PEP 263: a coding cookie in the first two lines of a Python file.
CODING_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KiB mark binary data (images, archives, compiled files);
    UTF-16 text, which also has NULs, starts with a byte-order mark."""
    sample = data[:BINARY_SAMPLE]
    return b"\x00" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def normalise_charset(name: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when unknown."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return WHATWG_SUPERSETS.get(codec, codec)


def python_coding_cookie(data: bytes) -> str | None:
    """The encoding a Python source file declares (PEP 263), if any."""
    for line in data.split(b"\n", 2)[:2]:
        match = CODING_COOKIE.match(line)
        if match:
            return match.group(1).decode("ascii")
    return None


def decode_bytes(data: bytes, *declared: str | None, replace: bool = True) -> tuple[str | None, str]:
    """(text, charset used), or (None, why) for binary (or, with replace=False, undecodable) data.

    Bytes that are valid UTF-8 are UTF-8 whatever the source declares (non-ASCII bytes
    almost never form valid UTF-8 by chance, and a page saying iso-8859-1 while
    sending UTF-8 is common); otherwise the first declared charset the bytes decode
    with (HTTP header before <meta>, say); otherwise detection. With replace=False,
    bytes nothing decodes cleanly give (None, why) instead of text with U+FFFD."""
    if looks_binary(data):
        return None, "binary data (NUL bytes)"
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared = ("utf-16",)
    for charset in ("utf-8", *map(normalise_charset, declared)):
        if charset:
            try:
                return data.decode(charset), charset
            except UnicodeDecodeError:
                pass
    best = from_bytes(data[:DETECTION_SAMPLE]).best()
    if best is not None and best.encoding:
        charset = codecs.lookup(best.encoding).name
        try:
            return data.decode(charset), charset
        except UnicodeDecodeError:  # detection saw only a sample
            if replace:
                return data.decode(charset, errors="replace"), f"{charset} (with replacements)"
    if not replace:
        return None, "no charset decodes these bytes"
    return data.decode("utf-8", errors="replace"), "utf-8 (with replacements)"
