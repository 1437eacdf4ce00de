"""The pii stage: e-mail addresses, public IP addresses and (optionally) phone numbers replaced or removed.

    - stage: pii
      emails: true
      ips: true              # public addresses only: private, loopback, reserved ranges are not personal
      phones: false          # off by default: see "where it fails" below
      mode: replace          # replace (FineWeb's fixed addresses) | remove (delete the match)

Replacements are FineWeb's (datatrove PIIFormatter): e-mails become email@example.com or
firstname.lastname@example.org, IPs one of six fixed addresses that did not answer pings when
FineWeb chose them. Unlike datatrove, which cycles through them in the order it meets them (so
the output depends on the worker and the batch), the choice is fixed per document (a hash of
its id), so a rerun writes the same text. Nothing is dropped; every edited document is counted
in `pii_emails`, `pii_ips`, `pii_phones` (matches replaced, 0 for none), summed into
OUT/reports/<stage>/edits.json at the end. Addresses that already
are one of the replacements are left and not counted, so running the stage twice counts nothing
the second time.

Precision, on top of datatrove's patterns:
- an e-mail's domain must end in a letters-only top-level domain that is not a file type, so
  "logo@2x.png" (retina image names) and "user@localhost" are not addresses;
- an IP must stand alone: not part of a longer dotted run of numbers ("1.2.3.4.5", a version
  or an OID), not after a letter or "v" ("v1.2.3.4"), not after "version"/"release"/"build",
  without leading zeros ("01.02.2019.1" is no address), and public (ipaddress.is_global);
- a phone number needs 9 to 15 digits in groups split by spaces, dots, dashes or brackets, an
  optional +country code; a bare run of digits (an order number, a timestamp) never matches.
Where it fails: a version string written as plain four numbers with a public first octet and no
"version" before it ("update to 4.19.2.1") is taken for an IP; phone numbers of other shapes
("0800 12 34 56 78" style with 2-digit groups) are partly missed, and long grouped numbers
(account or ISBN-like numbers with separators) can be taken for phones, which is why phones are opt-in.
Rows are pre-screened with Arrow (no '@', no dotted quad: untouched), so pages without PII cost little.
"""
from __future__ import annotations

import ipaddress
import re
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.stage import DocumentStage, Verdict
from curate.edit_counts import edit_counters, write_edit_counts

EMAIL_REPLACEMENTS = ("email@example.com", "firstname.lastname@example.org")
IP_REPLACEMENTS = ("22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11", "18.104.22.168")
PHONE_REPLACEMENT = "+1-555-0100"  # a number reserved for fiction

# datatrove's address pattern (RFC 5322 local part), domain ending in a letters-only TLD
EMAIL = re.compile(
    r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+([A-Za-z]{2,24})\b(?![.-]?\w)"
)
FILE_TYPES = frozenset("png jpg jpeg gif svg webp bmp ico tif tiff pdf js css html htm php json xml mp3 mp4 webm zip gz".split())
OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IP = re.compile(rf"(?<![\w.]){OCTET}(?:\.{OCTET}){{3}}(?!\.?\d|\w)")
VERSION_WORD = re.compile(r"(?i)\b(?:version|ver\.?|release|build|rev\.?|firmware|v)\s*$")
# a number inside a longer run of numbers (a calendar, a list of years, page numbers) is no phone
PHONE = re.compile(r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w-]|[ .-]\d)")

# Arrow (RE2) pre-screens: a row that cannot hold a match is not touched in Python
EMAIL_SCREEN = r"@[A-Za-z0-9-]+\."
IP_SCREEN = r"\d\.\d{1,3}\.\d{1,3}\.\d"
PHONE_SCREEN = r"\d{2,4}[ .-]\d{2,4}[ .-]?\d"


@dataclass
class PiiParams:
    emails: bool = True
    ips: bool = True
    phones: bool = False
    mode: Literal["replace", "remove"] = "replace"


def is_email(match: re.Match) -> bool:
    return match.group(1).lower() not in FILE_TYPES and match.group(0) not in EMAIL_REPLACEMENTS


def is_public_ip(match: re.Match) -> bool:
    if match.group(0) in IP_REPLACEMENTS or VERSION_WORD.search(match.string, max(0, match.start() - 12), match.start()):
        return False
    return ipaddress.ip_address(match.group(0)).is_global


def is_phone(match: re.Match) -> bool:
    digits = sum(c.isdigit() for c in match.group(0))
    return 9 <= digits <= 15 and match.group(0) != PHONE_REPLACEMENT


KINDS = {  # column: (pattern, validator, replacements, pre-screen)
    "pii_emails": (EMAIL, is_email, EMAIL_REPLACEMENTS, EMAIL_SCREEN),
    "pii_ips": (IP, is_public_ip, IP_REPLACEMENTS, IP_SCREEN),
    "pii_phones": (PHONE, is_phone, (PHONE_REPLACEMENT,), PHONE_SCREEN),
}


def redact(text: str, pattern: re.Pattern, valid, replacement: str) -> tuple[str, int]:
    """The text with every valid match replaced, and how many there were."""
    count = 0

    def substitute(match: re.Match) -> str:
        nonlocal count
        if not valid(match):
            return match.group(0)
        count += 1
        return replacement

    return pattern.sub(substitute, text), count


class PiiStage(DocumentStage):
    Params = PiiParams

    def __init__(self, name: str, params: PiiParams):
        super().__init__(name, params)
        wanted = {"pii_emails": params.emails, "pii_ips": params.ips, "pii_phones": params.phones}
        self.kinds = {column: KINDS[column] for column, on in wanted.items() if on}

    def process(self, table: pa.Table) -> Verdict:
        texts = table["text"].combine_chunks()
        screens = [pc.fill_null(pc.match_substring_regex(texts, kind[3]), False).to_numpy(zero_copy_only=False) for kind in self.kinds.values()]
        rows = np.flatnonzero(np.logical_or.reduce(screens)) if screens else np.zeros(0, np.int64)
        edited = texts.take(rows).to_pylist()  # only rows that may hold PII leave Arrow
        ids = table["id"].take(rows).to_pylist()
        for (column, (pattern, valid, replacements, _)), screen in zip(self.kinds.items(), screens):
            counts = np.zeros(table.num_rows, dtype=np.int32)
            for k in np.flatnonzero(screen[rows]):
                replacement = "" if self.params.mode == "remove" else replacements[zlib.crc32(ids[k].encode()) % len(replacements)]
                edited[k], counts[rows[k]] = redact(edited[k], pattern, valid, replacement)
            table = table.append_column(column, pa.array(counts))
        if len(rows):
            mask = np.zeros(table.num_rows, bool)
            mask[rows] = True
            texts = pc.replace_with_mask(texts, pa.array(mask), pa.array(edited, texts.type))
            table = table.set_column(table.schema.get_field_index("text"), "text", texts)
        return Verdict(table, [None] * table.num_rows, counters=edit_counters(table, self.kinds))

    def finalize(self, ctx, stats) -> None:
        write_edit_counts(ctx, stats, self.kinds)
