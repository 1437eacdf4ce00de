"""The pii stage: e-mail addresses, public IP addresses and (optionally) phone numbers replaced or removed.

    - stage: pii
      emails: true
      ips: true              # public IPv4 and IPv6 addresses: private, loopback, reserved ranges are not personal
      phones: false          # off by default: see "where it fails" below
      mode: replace          # replace (FineWeb's fixed addresses) | remove (delete the match)

Replacements are FineWeb's (datatrove PIIFormatter): e-mails become email@example.com or
firstname.lastname@example.org, IPv4 addresses one of six fixed addresses that did not answer pings
when FineWeb chose them; IPv6 addresses (FineWeb has none) become one of RFC 3849's documentation
addresses (2001:db8::/32, reserved for examples and never routed). Unlike datatrove, which cycles
through them in the order it meets them (so the output depends on the worker and the batch), the
choice is fixed per document (a hash of its id), so a rerun writes the same text. Nothing is
dropped; every edited document is counted in `pii_emails`, `pii_ips`, `pii_phones` (matches
replaced, 0 for none), summed into OUT/reports/<stage>/edits.json at the end. Addresses that
already are one of the replacements are left and not counted, so running the stage twice counts
nothing the second time.

What is found (docs/pii.md has the planted test set and the rate per form):
- e-mails: the RFC 5322 local part less the characters that delimit URLs (/ ? = & % :), so an
  address inside a URL ("...?email=t.mueller@gmx.de&list=7") is cut out and the host, path and
  other parameters stay; Unicode letters in both parts ("jürgen.müller@müller-bau.de"); "%40" for
  "@" (percent-encoded in URLs); and the forms written to dodge scrapers: "[at]", "(at)", "{at}",
  "<at>", " AT ", " @ " with "." or "[dot]"/"(dot)"/" DOT "/" dot " between the labels. A plain
  lowercase " at " (the commonest English word before a web address) counts only when the domain
  spells a dot out ("jane at example dot com"), or the local part is address-shaped
  ("name.surname at domain.com", "j_doe at ..."), or an e-mail word ("e-mail", "mail", "contact",
  "write") comes just before and the local part is not a pronoun ("contact us at example.com" is a
  website). A domain must end in a letters-only top-level domain that is not a file type, so
  "logo@2x.png" (retina image names) and "user@localhost" are not addresses.
- IPv4: must stand alone: not part of a longer dotted run of numbers ("1.2.3.4.5", an OID), not
  after a letter ("v1.2.3.4"), not followed by "-rc1"-style suffixes, without leading zeros, and
  public (ipaddress.is_global); not within a word of a version or section word ("version", "v",
  "release", "build", "kernel", "update to", "section", "§", "art.", ...: VERSION_WORDS), not a
  heading number at the start of a line followed by a word ("3.2.1.4 Definitions"), and, when all
  its numbers are small (first <= 20, others <= 99: "1.2.7.3", "4.3.99.16", the shape of a version;
  about 0.5% of public addresses), only after an address word ("IP", "server", "DNS", "host", ...).
- IPv6: full, compressed ("2606:4700:4700::1111") and bracketed in URLs ("http://[2a00:...]:8080/"),
  valid to Python's ipaddress, global, and inside 2000::/3 (every global unicast address handed
  out so far), so clock times, MAC addresses and C++'s "std::" are never taken.
- phones (opt-in): international shapes, "+" or "00" and a country code, 8 to 15 digits
  ("+49 30 901820", "+44 (0)20 7946 0958"); numbers of 9 to 15 digits in groups split by spaces,
  dots, dashes or brackets ("(202) 555-0143"); and national numbers starting with 0, grouped or
  bare ("0301234567"), only within a few words after a phone word ("Tel.", "phone", "Fax",
  "mobile", "Telefon", "tél", ...). A bare run of digits without a phone word never matches.
Where it fails: an IPv4 address right after a version or section word ("update to 8.8.8.8") is
kept, and so is a small-numbered one without an address word ("8.8.8.8 is down"); a version with a
number over 20 first or over 99 later and no version word near ("Debian's "dpkg (1.16.4.3)" is fine,
"xterm 279.1.2.3" is not) is replaced; a plain-word name before " at " and a spelled-out " dot " ("worked at amazon dot com")
is taken for an address; obfuscations not listed above ("jane (at) example (punkt) de", images of
addresses) are missed; long grouped numbers (account or ISBN-like numbers with separators) can be
taken for phones, which is why phones are opt-in.
Rows are pre-screened with Arrow (no '@'-like marker, no dotted quad or hex colon group: untouched),
so pages without PII cost little; on a screened row each finder runs only where an Arrow test of what
its valid matches need passes (a domain after " at " with an address-shaped name or an e-mail word
before it, a bracketed or spelled marker, a 2xxx:/3xxx: group), and e-mails are searched only in the
lines holding "@" or "%40". bench/pii_speed.py times this against earlier versions and compares outputs.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.stage import DocumentStage, Verdict
from curate.edit_counts import edit_counters, write_edit_counts

EMAIL_REPLACEMENTS = ("email@example.com", "firstname.lastname@example.org")
IP_REPLACEMENTS = (
    "22.214.171.124",
    "126.96.36.199",
    "188.8.131.52",
    "184.108.40.206",
    "220.127.116.11",
    "18.104.22.168",
)
IPV6_REPLACEMENTS = ("2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5", "2001:db8::6")
PHONE_REPLACEMENT = "+1-555-0100"  # a number reserved for fiction

# the local part: RFC 5322's characters less / ? = & % : which delimit a URL's path and query around it
LOCAL = r"[\w!#$'*+^`{|}~-]++(?:\.[\w!#$'*+^`{|}~-]++)*+"  # possessive: "@" cannot follow a shorter run
LABEL = r"[^\W_](?:[\w-]*[^\W_])?"  # a domain label, Unicode letters allowed (IDN)
EMAIL = re.compile(rf"(?<![\w.!#$'*+^`{{|}}~-]){LOCAL}(?:@|%40)(?:{LABEL}\.)+([^\W\d_]{{2,24}})\b(?![.-]?\w)")
AT = r"(?:\s*[\[({<]\s*(?i:at)\s*[\])}>]\s*|\s+AT\s+|\s+at\s+|\s+@\s+)"
DOT = r"(?:\s*[\[({<]\s*(?i:dot)\s*[\])}>]\s*|\s+DOT\s+|\s+dot\s+|\.)"
# possessive: no backtracking into a word that "at" does not follow; no braces, so "press{at}" ends at "{"
LOCAL_ATOMIC = r"[\w!#$'*+^`|~-]++(?:\.[\w!#$'*+^`|~-]++)*+"
OBFUSCATED = re.compile(rf"(?<![\w.@-])({LOCAL_ATOMIC}){AT}((?:{LABEL}{DOT})+)([^\W\d_]{{2,24}})\b(?![.@-]?\w)")
ADDRESS_SHAPED = re.compile(r"[^\W\d_]\w*(?:[._-][^\W\d_]\w*)+|[^\W\d_]{2,}\d+")  # name.surname, j_doe, jdoe77
EMAIL_WORDS = re.compile(r"(?i)\b(?:e-?mail|mail|contact|write|reach)\b[\w\s:,]{0,12}$")
PRONOUNS = frozenset("us me him her them you it one".split())
FILE_TYPES = frozenset(
    "png jpg jpeg gif svg webp bmp ico tif tiff pdf js css html htm php json xml mp3 mp4 webm zip gz "
    "py yaml yml txt md cfg ini toml sh rs go java cpp exe".split()
)

OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IP = re.compile(rf"(?<![\w.]){OCTET}(?:\.{OCTET}){{3}}(?!\.?\d|-?\w)")
IPV6 = re.compile(r"(?<![\w:.%])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:]|\.\d)")
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# a version or section word or a version comparison, then at most one more word ("update to 4.19.2.1",
# "kernel 5.15.0.91", "§ 3.2.1.4", "(>= 2.0.3.4)")
VERSION_WORDS = re.compile(
    r"(?i)(?:\b(?:version|ver|v|release[ds]?|build|rev|revision|firmware|kernel|linux|update[ds]?|upgrade[ds]?|patch(?:ed|es)?"
    r"|since|policy|standards?|bump(?:ed|s)?|section|sec|chapter|art|article|clause|paragraph|para|annex|appendix|rule|item|no)\b\W*(?:\w+\W+)?"
    r"|(?:§|[<>~]=|==)\s*)$"
)  # a word may stand between "version" and the number, not after ">="; a bare < > = is markup or code
# a dotted quad of small numbers ("1.2.7.3", "4.3.99.16") is far likelier a version than an address (about 0.5% of
# public addresses are this small): it is taken only after a word that says it is an address
IP_WORDS = re.compile(
    r"(?i)\b(?:ip|ipv4|address|addr|server|host|dns|resolver|nameserver|ping|proxy|gateway|router|connect\w*|client|peer)\b"
)
HEADING = re.compile(r"\s+[^\W\d_]")  # after a dotted number that opens a line: "3.2.1.4 Definitions"

PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w-]|[ .-]\d)"
)
INTERNATIONAL = re.compile(
    r"(?<![\w+])(?:\+|\b00)[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\(?\d{1,8}\)?){1,6}(?![\w-]|[ .-]\d)"
)
NATIONAL = re.compile(r"(?<![\w+])\(?0\d{1,5}\)?(?:[ ./-]?\d{2,8}){0,4}(?![\w-]|[ ./-]\d)")
PHONE_WORDS = re.compile(
    r"(?i)(?:\b(?:tel|tele(?:f|ph)on[e]?|phone|ph|fon|fax|mobile?|mobil|cell|call|handy|whatsapp|t[ée]l[ée]phone|tel[ée]fono)\b"
    r"|\btél\b|☎|📞)[\w\s.:()/]{0,16}$"
)
DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")

# Arrow (RE2) pre-screens: a row that cannot hold a match is not touched in Python. RE2 builds its DFA afresh on
# every call, and for Unicode classes (\pL, \pZ) that costs more than the scan of a batch, so letters and digits
# are U (any non-ASCII character but punctuation and spaces counts: a superset). RE2's \s and \d are ASCII where
# Python's are Unicode: WS spells out Python's whitespace.
NON_ASCII_ALNUM = (
    r"\xaa\xb2\xb3\xb5\xb9\xba\xbc-\xbe\xc0-\xd6\xd8-\xf6\xf8-\x{1fff}\x{2070}-\x{2fff}\x{3005}-\x{10ffff}"
)
U = rf"[0-9A-Za-z{NON_ASCII_ALNUM}]"
WORD = rf"[0-9A-Za-z_{NON_ASCII_ALNUM}]"
WS = r"[\t-\r\x1c- \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
EMAIL_SCREENS = (
    rf"@\s*{U}[0-9A-Za-z{NON_ASCII_ALNUM}-]*(?:\.|\s+(?i:dot)\s|\s*[\[({{<]\s*(?i:dot))",  # "x @ host dot com" too
    rf"%40{U}",
    rf"[\[({{<]\s*(?i:at)\s*[\])}}>]|\sAT\s|\sat\s+\S+(?:\.|\s+dot\s+){U}",
)
IP_SCREENS = (r"\d\.\d{1,3}\.\d{1,3}\.\d", r":[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]")
PHONE_SCREENS = (r"\d{2,4}[ ./-]\d{2,4}[ .-]?\d|\+\d|\b00\d|0\d{6}",)

# What each finder's valid matches need, tested on a screened row before the finder's Python scan (which costs a
# hundred times more): a row failing it gives the finder nothing, so skipping it changes nothing. Each must stay a
# superset of what the Python side accepts.
# They run on the screened rows only, so they take any non-ASCII character for a letter (LETTER, LETTERS_): looser
# than U, and far cheaper to build
LETTER, LETTER_ = r"[0-9A-Za-z\x{80}-\x{10ffff}]", r"[0-9A-Za-z_\x{80}-\x{10ffff}]"
SPELLED_DOT = rf"{WS}*[\[({{<]{WS}*(?i:dot){WS}*[\])}}>]{WS}*|{WS}+(?:DOT|dot){WS}+"
DOMAIN_START = rf"{LETTER}[0-9A-Za-z_\x{{80}}-\x{{10ffff}}-]*\."  # a first label and a literal dot
OBFUSCATED_NEEDS = "|".join(
    (
        # a marker other than " at " between a local part and a label with any dot after it, or a spelled dot between labels
        rf"[0-9A-Za-z_\x{{80}}-\x{{10ffff}}!#$'*+^`|~-](?:{WS}*[\[({{<]{WS}*(?i:at){WS}*[\])}}>]{WS}*|{WS}+(?:AT|@){WS}+)"
        rf"{LETTER}[0-9A-Za-z_\x{{80}}-\x{{10ffff}}-]*(?:\.|{SPELLED_DOT})",
        rf"{LETTER_}(?:{SPELLED_DOT}){LETTER}",
        rf"(?:[._-]{LETTER}{LETTER_}*|{LETTER}{{2}}[0-9\x{{80}}-\x{{10ffff}}]+){WS}+at{WS}+{DOMAIN_START}",  # an address-shaped local part
        # an e-mail word before (EMAIL_WORDS allows 12 characters to the local part: unbounded here, a far cheaper DFA)
        rf"(?i:mail|contact|write|reach)(?:{LETTER_}|{WS}|[:,!#$'*+^`|~.-])*{WS}at{WS}+{DOMAIN_START}",
    )
)


@dataclass
class PiiParams:
    emails: bool = True
    ips: bool = True
    phones: bool = False
    mode: Literal["replace", "remove"] = "replace"


def is_email(match: re.Match) -> bool:
    return match.group(1).lower() not in FILE_TYPES and match.group(0) not in EMAIL_REPLACEMENTS


def is_obfuscated_email(match: re.Match) -> bool:
    local, domain, tld = match.group(1), match.group(2), match.group(3)
    if tld.lower() in FILE_TYPES or local.rsplit(".", 1)[-1].lower() in FILE_TYPES:  # "config.yaml at github.com"
        return False
    at = match.group(0)[len(local) : match.start(2) - match.start()]
    if at.strip() != "at" or domain.count(".") < len(
        re.findall(DOT, domain)
    ):  # a bracketed, upper-case or spelled marker
        return True
    if ADDRESS_SHAPED.fullmatch(local):
        return True
    return local.lower() not in PRONOUNS and bool(
        EMAIL_WORDS.search(match.string, max(0, match.start() - 30), match.start())
    )


def is_public_ip(match: re.Match) -> bool:
    text, start = match.string, match.start()
    if match.group(0) in IP_REPLACEMENTS or VERSION_WORDS.search(text, max(0, start - 30), start):
        return False
    if (start == 0 or text[start - 1] == "\n") and HEADING.match(text, match.end()):
        return False
    parts = [int(p) for p in match.group(0).split(".")]
    if parts[0] <= 20 and max(parts[1:]) <= 99 and not IP_WORDS.search(text, max(0, start - 40), start):
        return False
    return ipaddress.ip_address(match.group(0)).is_global


def is_public_ipv6(match: re.Match) -> bool:
    groups = [g for g in match.group(0).split(":") if g]
    if len(groups) < 2 or not any(c.isdigit() for c in match.group(0)):  # a year before reST's "::", "dead:beef::"
        return False
    try:
        address = ipaddress.IPv6Address(match.group(0))
    except ValueError:  # clock times, MAC addresses, "std::" and other colon runs
        return False
    return address.is_global and address in GLOBAL_UNICAST


def digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def is_phone(match: re.Match) -> bool:
    number = match.group(0)  # a dotted quad is an IPv4 address (the ips finder's, or its placeholder), not a phone
    return 9 <= digits(number) <= 15 and number != PHONE_REPLACEMENT and not IP.fullmatch(number)


def is_international_phone(match: re.Match) -> bool:
    number = match.group(0).replace("(0)", "")
    return 8 <= digits(number) - number.startswith("00") * 2 <= 15 and match.group(0) != PHONE_REPLACEMENT


def is_national_phone(match: re.Match) -> bool:
    number, start = match.group(0), match.start()
    return (
        7 <= digits(number) <= 12
        and not DATE.fullmatch(number)
        and bool(PHONE_WORDS.search(match.string, max(0, start - 24), start))
    )


@dataclass(frozen=True)
class Finder:
    pattern: re.Pattern
    valid: Callable[[re.Match], bool]
    replacements: tuple[str, ...]
    needs: str | tuple[str, ...]  # RE2, or strings one of which a match holds: a row without holds no valid match
    one_line: bool = False  # a match never spans lines, so with needs strings only lines holding one are searched


@dataclass(frozen=True)
class Kind:
    finders: tuple[Finder, ...]  # run in order
    screens: tuple[str, ...]  # a row matching none of these is not searched


NATIONAL_NEEDS = r"(?i:tel|t[ée]l|ph|fon|fax|mobil|cell|call|handy|whatsapp)|☎|📞"  # PHONE_WORDS, loosened
KINDS = {
    "pii_emails": Kind(
        (
            Finder(EMAIL, is_email, EMAIL_REPLACEMENTS, ("@", "%40"), one_line=True),
            Finder(OBFUSCATED, is_obfuscated_email, EMAIL_REPLACEMENTS, OBFUSCATED_NEEDS),
        ),
        EMAIL_SCREENS,
    ),
    # a global unicast IPv6 address (2000::/3) opens with a four-digit group 2xxx or 3xxx
    "pii_ips": Kind(
        (
            Finder(IP, is_public_ip, IP_REPLACEMENTS, IP_SCREENS[0]),
            Finder(IPV6, is_public_ipv6, IPV6_REPLACEMENTS, r"[23][0-9A-Fa-f]{3}:[0-9A-Fa-f]{0,4}:"),
        ),
        IP_SCREENS,
    ),
    # international first: the grouped pattern would take "+49 30 901820" apart
    "pii_phones": Kind(
        (
            Finder(INTERNATIONAL, is_international_phone, (PHONE_REPLACEMENT,), r"\+[1-9]|00[1-9]"),
            Finder(NATIONAL, is_national_phone, (PHONE_REPLACEMENT,), rf"(?s)(?:{NATIONAL_NEEDS}).*0\p{{Nd}}"),
            Finder(PHONE, is_phone, (PHONE_REPLACEMENT,), r"\p{Nd}\p{Nd}[ .-]\p{Nd}\p{Nd}"),
        ),
        PHONE_SCREENS,
    ),
}


def redact(text: str, finder: Finder, pick: int | None) -> tuple[str, int]:
    """The text with every valid match of the finder replaced (by replacements[pick], or removed for
    pick None), and how many there were."""
    count = 0

    def substitute(match: re.Match) -> str:
        nonlocal count
        if not finder.valid(match):
            return match.group(0)
        count += 1
        return "" if pick is None else finder.replacements[pick % len(finder.replacements)]

    if not finder.one_line:
        return finder.pattern.sub(substitute, text), count
    lines = text.split("\n")  # a page holds a few addresses in thousands of characters: scan only their lines
    for i, line in enumerate(lines):
        if any(needed in line for needed in finder.needs):
            lines[i] = finder.pattern.sub(substitute, line)
    return "\n".join(lines), count


def matches(texts: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(texts, pattern), False).to_numpy(zero_copy_only=False)


def needed(texts: list[str], finder: Finder) -> np.ndarray:
    if isinstance(finder.needs, tuple):
        return np.array([any(needed in text for needed in finder.needs) for text in texts], bool)
    return matches(pa.array(texts, pa.large_string()), finder.needs)


class PiiStage(DocumentStage):
    Params = PiiParams

    def __init__(self, name: str, params: PiiParams):
        super().__init__(name, params)
        wanted = {"pii_emails": params.emails, "pii_ips": params.ips, "pii_phones": params.phones}
        self.kinds = {column: KINDS[column] for column, on in wanted.items() if on}

    def process(self, table: pa.Table) -> Verdict:
        texts = table["text"].combine_chunks()
        # one RE2 pass over every row; then each kind's screens and each finder's needs on the few left
        screens = [screen for kind in self.kinds.values() for screen in kind.screens]
        rows = np.flatnonzero(matches(texts, "|".join(screens))) if screens else np.zeros(0, np.int64)
        candidates = texts.take(rows)
        edited = candidates.to_pylist()  # only rows that may hold PII leave Arrow
        ids = table["id"].take(rows).to_pylist()
        for column, kind in self.kinds.items():
            counts = np.zeros(table.num_rows, dtype=np.int32)
            screened = np.flatnonzero(matches(candidates, "|".join(kind.screens)))
            for finder in kind.finders if len(screened) else ():  # each Arrow call builds its regex: none for nothing
                # needs are tested on the text as the earlier finders left it
                for k in screened[needed([edited[k] for k in screened], finder)]:
                    pick = None if self.params.mode == "remove" else zlib.crc32(ids[k].encode())
                    edited[k], found = redact(edited[k], finder, pick)
                    counts[rows[k]] += found
            table = table.append_column(column, pa.array(counts))
        if len(rows):
            mask = np.zeros(table.num_rows, bool)
            mask[rows] = True
            texts = pc.replace_with_mask(texts, pa.array(mask), pa.array(edited, texts.type))
            table = table.set_column(table.schema.get_field_index("text"), "text", texts)
        return Verdict(table, [None] * table.num_rows, counters=edit_counters(table, self.kinds))

    def finalize(self, ctx, stats) -> None:
        write_edit_counts(ctx, stats, self.kinds)
