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
so pages without PII cost little.
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
IP_REPLACEMENTS = ("22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11", "18.104.22.168")
IPV6_REPLACEMENTS = ("2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5", "2001:db8::6")
PHONE_REPLACEMENT = "+1-555-0100"  # a number reserved for fiction

# the local part: RFC 5322's characters less / ? = & % : which delimit a URL's path and query around it
LOCAL = r"[\w!#$'*+^`{|}~-]+(?:\.[\w!#$'*+^`{|}~-]+)*"
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
FILE_TYPES = frozenset("png jpg jpeg gif svg webp bmp ico tif tiff pdf js css html htm php json xml mp3 mp4 webm zip gz "
                       "py yaml yml txt md cfg ini toml sh rs go java cpp exe".split())

OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IP = re.compile(rf"(?<![\w.]){OCTET}(?:\.{OCTET}){{3}}(?!\.?\d|-?\w)")
IPV6 = re.compile(r"(?<![\w:.%])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:]|\.\d)")
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# a version or section word or a version comparison, then at most one more word ("update to 4.19.2.1",
# "kernel 5.15.0.91", "§ 3.2.1.4", "(>= 2.0.3.4)"). A comparison has two characters: a bare "=", "<" or ">" comes
# before addresses (`SERVER = "93.184.216.34"`, "<td>93.184.216.34</td>", the secrets stage's "<EMAIL>" a line above)
VERSION_WORDS = re.compile(
    r"(?i)(?:\b(?:version|ver|v|release[ds]?|build|rev|revision|firmware|kernel|linux|update[ds]?|upgrade[ds]?|patch(?:ed|es)?"
    r"|since|policy|standards?|bump(?:ed|s)?|section|sec|chapter|art|article|clause|paragraph|para|annex|appendix|rule|item|no)\b|§|[<>~!=]=)"
    r"\W*(?:\w+\W+)?$")
# a dotted quad of small numbers ("1.2.7.3", "4.3.99.16") is far likelier a version than an address (about 0.5% of
# public addresses are this small): it is taken only after a word that says it is an address
IP_WORDS = re.compile(r"(?i)\b(?:ip|ipv4|address|addr|server|host|dns|resolver|nameserver|ping|proxy|gateway|router|connect\w*|client|peer)\b")
HEADING = re.compile(r"\s+[^\W\d_]")  # after a dotted number that opens a line: "3.2.1.4 Definitions"

PHONE = re.compile(r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w-]|[ .-]\d)")
INTERNATIONAL = re.compile(r"(?<![\w+])(?:\+|\b00)[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\(?\d{1,8}\)?){1,6}(?![\w-]|[ .-]\d)")
NATIONAL = re.compile(r"(?<![\w+])\(?0\d{1,5}\)?(?:[ ./-]?\d{2,8}){0,4}(?![\w-]|[ ./-]\d)")
PHONE_WORDS = re.compile(r"(?i)(?:\b(?:tel|tele(?:f|ph)on[e]?|phone|ph|fon|fax|mobile?|mobil|cell|call|handy|whatsapp|t[ée]l[ée]phone|tel[ée]fono)\b"
                         r"|\btél\b|☎|📞)[\w\s.:()/]{0,16}$")
DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")

# Arrow (RE2) pre-screens: a row that cannot hold a match is not touched in Python. Each pattern starts with
# a literal character where it can ('@', '%', ':'), which RE2 finds with memchr: ten times the speed of a scan
EMAIL_SCREENS = (r"@\s*[\pL\pN][\pL\pN-]*\.", r"%40[\pL\pN]", r"[\[({<]\s*(?i:at)\s*[\])}>]|\sAT\s|\sat\s+\S+(?:\.|\s+dot\s+)\pL")
IP_SCREENS = (r"\d\.\d{1,3}\.\d{1,3}\.\d", r":[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]")
PHONE_SCREENS = (r"\d{2,4}[ ./-]\d{2,4}[ .-]?\d|\+\d|\b00\d|0\d{6}",)


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
    if at.strip() != "at" or domain.count(".") < len(re.findall(DOT, domain)):  # a bracketed, upper-case or spelled marker
        return True
    if ADDRESS_SHAPED.fullmatch(local):
        return True
    return local.lower() not in PRONOUNS and bool(EMAIL_WORDS.search(match.string, max(0, match.start() - 30), match.start()))


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
    return 9 <= digits(match.group(0)) <= 15 and match.group(0) != PHONE_REPLACEMENT


def is_international_phone(match: re.Match) -> bool:
    number = match.group(0).replace("(0)", "")
    return 8 <= digits(number) - number.startswith("00") * 2 <= 15 and match.group(0) != PHONE_REPLACEMENT


def is_national_phone(match: re.Match) -> bool:
    number, start = match.group(0), match.start()
    return (7 <= digits(number) <= 12 and not DATE.fullmatch(number)
            and bool(PHONE_WORDS.search(match.string, max(0, start - 24), start)))


@dataclass(frozen=True)
class Kind:
    finders: tuple[tuple[re.Pattern, Callable[[re.Match], bool], tuple[str, ...]], ...]  # run in order: pattern, valid, replacements
    screens: tuple[str, ...]  # a row matching none of these holds no match


KINDS = {
    "pii_emails": Kind(((EMAIL, is_email, EMAIL_REPLACEMENTS), (OBFUSCATED, is_obfuscated_email, EMAIL_REPLACEMENTS)), EMAIL_SCREENS),
    "pii_ips": Kind(((IP, is_public_ip, IP_REPLACEMENTS), (IPV6, is_public_ipv6, IPV6_REPLACEMENTS)), IP_SCREENS),
    # international first: the grouped pattern would take "+49 30 901820" apart
    "pii_phones": Kind(((INTERNATIONAL, is_international_phone, (PHONE_REPLACEMENT,)), (NATIONAL, is_national_phone, (PHONE_REPLACEMENT,)),
                        (PHONE, is_phone, (PHONE_REPLACEMENT,))), PHONE_SCREENS),
}


def redact(text: str, kind: Kind, pick: int | None) -> tuple[str, int]:
    """The text with every valid match of the kind replaced (by replacements[pick], or removed for
    pick None), and how many there were."""
    count = 0
    for pattern, valid, replacements in kind.finders:

        def substitute(match: re.Match) -> str:
            nonlocal count
            if not valid(match):
                return match.group(0)
            count += 1
            return "" if pick is None else replacements[pick % len(replacements)]

        text = pattern.sub(substitute, text)
    return text, count


class PiiStage(DocumentStage):
    Params = PiiParams

    def __init__(self, name: str, params: PiiParams):
        super().__init__(name, params)
        wanted = {"pii_emails": params.emails, "pii_ips": params.ips, "pii_phones": params.phones}
        self.kinds = {column: KINDS[column] for column, on in wanted.items() if on}

    def process(self, table: pa.Table) -> Verdict:
        texts = table["text"].combine_chunks()
        screens = [np.logical_or.reduce([pc.fill_null(pc.match_substring_regex(texts, screen), False).to_numpy(zero_copy_only=False)
                                         for screen in kind.screens]) for kind in self.kinds.values()]
        rows = np.flatnonzero(np.logical_or.reduce(screens)) if screens else np.zeros(0, np.int64)
        edited = texts.take(rows).to_pylist()  # only rows that may hold PII leave Arrow
        ids = table["id"].take(rows).to_pylist()
        for (column, kind), screen in zip(self.kinds.items(), screens):
            counts = np.zeros(table.num_rows, dtype=np.int32)
            for k in np.flatnonzero(screen[rows]):
                pick = None if self.params.mode == "remove" else zlib.crc32(ids[k].encode())
                edited[k], counts[rows[k]] = redact(edited[k], kind, pick)
            table = table.append_column(column, pa.array(counts))
        if len(rows):
            mask = np.zeros(table.num_rows, bool)
            mask[rows] = True
            texts = pc.replace_with_mask(texts, pa.array(mask), pa.array(edited, texts.type))
            table = table.set_column(table.schema.get_field_index("text"), "text", texts)
        return Verdict(table, [None] * table.num_rows, counters=edit_counters(table, self.kinds))

    def finalize(self, ctx, stats) -> None:
        write_edit_counts(ctx, stats, self.kinds)
