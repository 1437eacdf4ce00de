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
# Legacy CJK labels likewise name the Microsoft / GB supersets pages are really written in:
# a gb2312 page with one character outside GB 2312 fails to decode as gb2312 and would
# otherwise fall through to detection.
WHATWG_SUPERSETS = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
}
# WHATWG labels Python's codec registry does not know
LABEL_ALIASES = {
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "x-gbk": "gb18030",
    "x-euc-jp": "euc_jp",
    "x-mac-roman": "mac_roman",
}
# PEP 263: a coding cookie in the first two lines of a Python file.
CODING_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Single-byte Latin code pages detection confuses: charset-normalizer gives a French text the same
# scores in cp1250, cp1252 and cp1257 ("D'APRČS", "ŕ toi", "naļve faēade") and may rank either first.
SINGLE_BYTE_LATIN = (
    "cp1252",
    "cp1250",
    "cp1257",
    "cp1254",
    "cp1258",
    "iso8859-1",
    "iso8859-2",
    "iso8859-3",
    "iso8859-4",
    "iso8859-9",
    "iso8859-10",
    "iso8859-13",
    "iso8859-14",
    "iso8859-15",
    "iso8859-16",
)
# The non-ASCII letters of the languages written in those code pages. A right decoding gives letters one
# language's alphabet holds; a wrong one mixes alphabets (French in cp1250: è -> č, à -> ŕ, ç stays) or puts
# symbols inside words (Polish in cp1252: ł -> ³, ż -> ¿).
ALPHABETS = (
    "àâæçéèêëîïôœùûüÿ",  # French
    "àèéìíîòóù",  # Italian
    "äöüß",  # German
    "áéíñóúü",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àçèéíïòóúü",  # Catalan
    "áéèëíïóöúü",  # Dutch
    "åäöéæøüðþáíóúý",  # Nordic languages
    "ąćęłńóśźż",  # Polish
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "áéíóöőúüű",  # Hungarian
    "čćđšž",  # Croatian, Slovene, Bosnian
    "ăâîșțşţ",  # Romanian
    "ąčęėįšųūž",  # Lithuanian
    "āčēģīķļņšūž",  # Latvian
    "äõöüšž",  # Estonian
    "çğıöşüâî",
)  # Turkish
SYMBOL_IN_WORD = re.compile(r"(?<=[A-Za-z])[^\x00-\x7f](?=[A-Za-z])")


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KiB mark binary data (images, archives, compiled files);
    UTF-16 text, which also has NULs, starts with a byte-order mark."""
    sample = data[:BINARY_SAMPLE]
    return b"\x00" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def normalise_charset(name: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    try:
        codec = codecs.lookup(LABEL_ALIASES.get(label, label)).name
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


def mostly_utf8(data: bytes) -> bool:
    """More valid multi-byte UTF-8 characters than invalid bytes: UTF-8 text with a few
    stray bytes (a pasted cp1252 quote, a cut character). Legacy 8-bit text almost never
    forms a valid multi-byte sequence, so there the valid count is ~0."""
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    valid = len(NON_ASCII.findall(text)) - text.count("\ufffd")
    return valid > invalid


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
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared = ("utf-16",)
    for charset in ("utf-8", *map(normalise_charset, declared)):
        if charset:
            try:
                return data.decode(charset), charset
            except UnicodeDecodeError:
                pass
    if replace and mostly_utf8(data):
        return data.decode("utf-8", errors="replace"), "utf-8 (with replacements)"
    charset = detect(data)
    if charset:
        try:
            return data.decode(charset), charset
        except UnicodeDecodeError:  # detection saw only a sample
            if replace:
                return data.decode(charset, errors="replace"), f"{charset} (with replacements)"
    if not replace:
        return None, "no charset decodes these bytes"
    return data.decode("utf-8", errors="replace"), "utf-8 (with replacements)"


def detect(data: bytes) -> str | None:
    """The codec charset-normalizer ranks first; among single-byte Latin code pages (which it
    cannot tell apart: same chaos, same coherence), the one whose text reads as one language."""
    results = list(from_bytes(data[:DETECTION_SAMPLE]))
    if not results or not results[0].encoding:
        return None
    best = codecs.lookup(results[0].encoding).name
    if best not in SINGLE_BYTE_LATIN:
        return best
    sample = data[:DETECTION_SAMPLE]
    candidates = dict.fromkeys(("cp1252", *(codecs.lookup(m.encoding).name for m in results if m.encoding)))
    scored = [
        (alphabet_fit(sample.decode(c, errors="replace")), -i, c)
        for i, c in enumerate(candidates)
        if c in SINGLE_BYTE_LATIN
    ]
    return max(scored)[2]  # ties: cp1252 first (the commonest legacy charset of Western text), then detection's order


def alphabet_fit(text: str) -> int:
    """Non-ASCII letters the best-fitting language's alphabet holds, less those it does not, less
    symbols and replacement characters inside words."""
    letters: dict[str, int] = {}
    for char in NON_ASCII.findall(text):
        if char.isalpha():
            lower = char.lower()
            letters[lower] = letters.get(lower, 0) + 1
    total = sum(letters.values())
    held = max(sum(letters.get(c, 0) for c in alphabet) for alphabet in ALPHABETS)
    symbols = sum(1 for c in SYMBOL_IN_WORD.findall(text) if not c.isalpha())
    return held - (total - held) - symbols
