"""The secrets stage: keys, tokens, passwords, e-mail and IP addresses in code replaced by typed placeholders.

    - stage: secrets
      kinds: [private_key, aws_key, ...]   # default: every kind below

StarCoder's data removed these before training with detect-secrets plus its own detectors. The
patterns here are detect-secrets' (its AWS, Azure, GitHub, GitLab, Slack, private-key, basic-auth,
JWT and keyword plugins) and Google's key formats, written as regexes run only on the documents an
Arrow (RE2) pre-screen picks (and on each, only the detectors whose screen matched): detect-secrets
itself scans 0.05-0.09 MB/s on one core, this stage 3.5 MB/s (bench/RESULTS.md).

| kind | what | placeholder |
|---|---|---|
| private_key | the body of a -----BEGIN ... PRIVATE KEY----- block (PEM, OpenSSH, PGP; also with \\n escapes in JSON) | <KEY> |
| aws_key | an access key id (AKIA..., ASIA..., 20 characters) | <KEY> |
| gcp_key | a Google API key (AIza...) or OAuth client secret (GOCSPX-...) | <KEY> |
| azure_key | a storage AccountKey= or SharedAccessKey= value | <KEY> |
| github_token | ghp_/gho_/ghu_/ghs_/ghr_ tokens, github_pat_ fine-grained tokens | <KEY> |
| gitlab_token | glpat-, gldt-, glrt-, ... tokens | <KEY> |
| slack_token | xoxb-/xoxp-/... tokens and the secret path of a hooks.slack.com webhook | <KEY> |
| jwt | header.payload.signature whose header decodes to JSON | <KEY> |
| basic_auth | the password of scheme://user:password@host | <PASSWORD> |
| password | a string literal assigned to a name with password/passwd in it (`db_password = "..."`, `"password": "..."`) | <PASSWORD> |
| high_entropy | a high-entropy string literal assigned to a name with secret/token/key/credential/auth in it | <KEY> |
| email | an e-mail address (curate/pii's pattern), not at a reserved example domain (example.com, .test, ...) | <EMAIL> |
| ip | a public IPv4 address (curate/pii's checks), not assigned to a name holding "version" | <IP_ADDRESS> |

Only the secret itself is replaced, never a quote around it, so a replaced Python string literal
stays a string literal and the file still parses. Passwords, high-entropy values and basic-auth
passwords are skipped when they are templated (`{db_pass}`, `${PASS}`, `%s`, `<password>`),
sequential or repeated (`123456`, `xxxxxx`), UUIDs, or dummy words ("example", "changeme",
"password", "test", ...), detect-secrets' filters. high_entropy needs 16+ characters of base64 or
hex with Shannon entropy at least 3.5 (base64) or 3.0 (hex) bits per character and both letters
and digits. Nothing is dropped: each document's `secrets_removed` (int32) counts its replacements,
and the counters `secrets_<kind>` (matches) and `secrets_<kind>_documents` are summed into
stats/<stage>.json and OUT/reports/<stage>/edits.json. Running the stage twice replaces nothing
the second time.

Where it fails: a password that is not a string literal beside its name (`login(user, "hunter22")`,
an unquoted `PASSWORD=hunter22` in a .env file) is missed; a key split over several string
concatenations is missed; a test vector named like a key (`key = "0a1b2c..."` in an HMAC test)
is replaced; e-mail and IP addresses are replaced wherever they are, not only in comments and strings
(in code they can hardly be anywhere else).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.stage import DocumentStage, Verdict
from curate.edit_counts import write_edit_counts
from curate.pii.stage import EMAIL, EMAIL_SCREENS, IP, IP_SCREENS, is_email, is_public_ip

KEY, PASSWORD = "<KEY>", "<PASSWORD>"
NAME_KEYWORDS = (
    r"passw(?:or)?d|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth|private[_-]?key|credential|key"
)
# a name holding a keyword (from the keyword on: a leading [\w.-]* would be tried at every position, 20x
# slower), an assignment or a mapping colon, and a one-line string literal (group "value")
ASSIGNED = re.compile(
    rf"""(?i)(?P<name>(?:{NAME_KEYWORDS})[\w-]*)["']?\]?\s*(?::=|=>|[:=])\s*[rbu]?(?P<quote>["'])"""
    r"""(?:Bearer |Basic |token )?(?P<value>(?:(?!(?P=quote))[^\\\n]|\\.){1,300})(?P=quote)"""
)
PASSWORD_NAME = re.compile(r"(?i)passw(?:or)?d|passwd")
TEMPLATED = re.compile(r"[{}<>$%`]|^\*+$")
UUID = re.compile(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DUMMY_WORDS = (
    "example",
    "changeme",
    "change_me",
    "dummy",
    "placeholder",
    "your",
    "xxx",
    "redacted",
    "secret",
    "password",
    "passwd",
    "test",
    "fake",
    "sample",
    "none",
    "null",
    "todo",
    "mypass",
    "foobar",
)
HEX = re.compile(r"^[0-9a-fA-F]+$")
BASE64ISH = re.compile(r"^[A-Za-z0-9+/=_-]+$")
VERSION_ASSIGNED = re.compile(r"(?i)version\w*[\"']?\]?\s*(?::=|=>|[:=])\s*[rbu]?[\"']?$")
RESERVED_DOMAINS = re.compile(
    r"(?i)@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|[\w-]+\.(?:test|example|invalid|localhost))$"
)


def entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def is_dummy(value: str) -> bool:
    """detect-secrets' filters: templates, dummy words, sequences, repeats, UUIDs."""
    lowered = value.lower()
    return (
        TEMPLATED.search(value) is not None
        or any(word in lowered for word in DUMMY_WORDS)
        or len(set(value)) <= 2
        or lowered in "0123456789abcdefghijklmnopqrstuvwxyz"
        or lowered in "qwertyuiopasdfghjklzxcvbnm"
        or UUID.match(value) is not None
    )


def high_entropy(value: str) -> bool:
    if len(value) < 16 or not any(c.isdigit() for c in value) or not any(c.isalpha() for c in value):
        return False
    if HEX.match(value):
        return entropy(value) >= 3.0
    return BASE64ISH.match(value) is not None and entropy(value) >= 3.5


def assigned_secret(match: re.Match) -> str | None:
    """The kind of a keyword assignment's value, or None to leave it."""
    value = match.group("value")
    if is_dummy(value) or " " in value:
        return None
    if PASSWORD_NAME.search(match.group("name")):
        return "password" if len(value) >= 6 and "/" not in value and "\\" not in value else None
    return "high_entropy" if high_entropy(value) else None


def is_jwt(match: re.Match) -> bool:
    header = match.group(1).split(".")[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and ("alg" in decoded or "typ" in decoded)


def public_address(match: re.Match) -> bool:
    return is_email(match) and RESERVED_DOMAINS.search(match.group(0)) is None


def public_ip(match: re.Match) -> bool:
    """pii's checks, and not the value of a name holding "version" (`__version__ = "1.2.3.4"`)."""
    return (
        is_public_ip(match) and VERSION_ASSIGNED.search(match.string, max(0, match.start() - 40), match.start()) is None
    )


@dataclass
class Detector:
    pattern: re.Pattern
    placeholder: str
    screen: str  # an RE2 pattern every text with a match holds
    valid: object = None  # match -> bool, or None for every match
    group: int | str | None = None  # what is replaced: a group, or None for the first group that matched


PATTERNS = {
    "private_key": Detector(
        re.compile(
            r"-----BEGIN[A-Z ]{0,30} PRIVATE KEY(?: BLOCK)?-----([\s\S]{16,20000}?)-----END[A-Z ]{0,30} PRIVATE KEY(?: BLOCK)?-----"
        ),
        KEY,
        r"PRIVATE KEY",
    ),
    "aws_key": Detector(
        re.compile(r"(?<![A-Z0-9])((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Z0-9])"),
        KEY,
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
    ),
    "gcp_key": Detector(
        re.compile(r"(?<![\w-])(AIza[0-9A-Za-z_-]{35}|GOCSPX-[0-9A-Za-z_-]{28})(?![\w-])"), KEY, r"AIza|GOCSPX-"
    ),
    "azure_key": Detector(
        re.compile(r"(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,}={0,2})"),
        KEY,
        r"(?:AccountKey|SharedAccessKey)=",
    ),
    "github_token": Detector(
        re.compile(r"(?<![\w])((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})(?![\w])"),
        KEY,
        r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_",
    ),
    "gitlab_token": Detector(
        re.compile(r"(?<![\w-])((?:glpat|gldt|glrt|glptt|glcbt|glft|glimt|glagent|gloas)-[A-Za-z0-9_-]{20,})"),
        KEY,
        r"gl(?:pat|dt|rt|ptt|cbt|ft|imt|agent|oas)-",
    ),
    "slack_token": Detector(
        re.compile(
            r"(?<![\w-])(xox[abposr]-[0-9A-Za-z]+-[0-9A-Za-z-]{8,})|hooks\.slack\.com/services/(T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]{16,})"
        ),
        KEY,
        r"xox[abposr]-|hooks\.slack\.com",
    ),
    "jwt": Detector(
        re.compile(r"(?<![\w-])(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
        KEY,
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ",
        is_jwt,
    ),
    "basic_auth": Detector(
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@'\"<>]+:([^\s:/?#@'\"<>]+)@"),
        PASSWORD,
        r"://[^\s:/?#@]+:[^\s:/?#@]+@",
        lambda m: not is_dummy(m.group(1)),
    ),
    "assigned": Detector(
        ASSIGNED, "", rf"(?i)(?:{NAME_KEYWORDS})[\w-]*[\"']?\]?\s*(?::=|=>|[:=])\s*[rbu]?[\"']", group="value"
    ),
    # the pii stage's screens for plain addresses ("@" or "%40") and IPv4, as one RE2 pattern each
    "email": Detector(EMAIL, "<EMAIL>", "|".join(EMAIL_SCREENS[:2]), public_address, group=0),
    "ip": Detector(IP, "<IP_ADDRESS>", IP_SCREENS[0], public_ip, group=0),
}
KINDS = [
    "private_key",
    "aws_key",
    "gcp_key",
    "azure_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "jwt",
    "basic_auth",
    "password",
    "high_entropy",
    "email",
    "ip",
]
ASSIGNED_KINDS = ("password", "high_entropy")  # both found by the "assigned" detector
PLACEHOLDERS = {
    kind: {"basic_auth": PASSWORD, "password": PASSWORD, "email": "<EMAIL>", "ip": "<IP_ADDRESS>"}.get(kind, KEY)
    for kind in KINDS
}


def detector_of(kind: str) -> str:
    return "assigned" if kind in ASSIGNED_KINDS else kind


def replace_secrets(text: str, kinds: list[str], found: Counter, detectors: list[str] | None = None) -> str:
    """The text with every secret of the given kinds replaced; `found` counts them by kind. `detectors`:
    only those (the ones whose pre-screen matched the text), in PATTERNS order."""
    for name in detectors or dict.fromkeys(detector_of(kind) for kind in kinds):
        detector = PATTERNS[name]
        pieces, last = [], 0
        for match in detector.pattern.finditer(text):
            group = (
                detector.group
                if detector.group is not None
                else next(g for g in range(1, match.re.groups + 1) if match.group(g))
            )
            if name == "assigned":
                kind = assigned_secret(match)
                placeholder = PASSWORD if kind == "password" else KEY
            else:
                kind = name if detector.valid is None or detector.valid(match) else None
                placeholder = detector.placeholder
            if kind is None or kind not in kinds:
                continue
            start, end = match.span(group)
            pieces += [text[last:start], placeholder]
            last = end
            found[kind] += 1
        if pieces:
            text = "".join(pieces) + text[last:]
    return text


@dataclass
class SecretsParams:
    kinds: list[str] = field(default_factory=lambda: list(KINDS))

    def __post_init__(self):
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown:
            raise ValueError(f"parameter 'kinds': unknown {', '.join(map(repr, unknown))}; known: {', '.join(KINDS)}")


class SecretsStage(DocumentStage):
    Params = SecretsParams

    def process(self, table: pa.Table) -> Verdict:
        texts = table["text"].combine_chunks()
        names = [name for name in PATTERNS if name in {detector_of(kind) for kind in self.params.kinds}]
        # only rows an RE2 screen picks leave Arrow, and only the detectors whose screen matched run on them
        screens = (
            np.stack(
                [
                    pc.fill_null(pc.match_substring_regex(texts, PATTERNS[name].screen), False).to_numpy(
                        zero_copy_only=False
                    )
                    for name in names
                ],
                axis=1,
            )
            if table.num_rows
            else np.zeros((0, len(names)), bool)
        )
        rows = np.flatnonzero(screens.any(axis=1))
        removed = np.zeros(table.num_rows, np.int32)
        counters = {f"secrets_{kind}{suffix}": 0 for kind in self.params.kinds for suffix in ("", "_documents")}
        edited = []
        for row, text in zip(rows, texts.take(rows).to_pylist()):
            found = Counter()
            edited.append(
                replace_secrets(text, self.params.kinds, found, [names[i] for i in np.flatnonzero(screens[row])])
            )
            removed[row] = sum(found.values())
            for kind, count in found.items():
                counters[f"secrets_{kind}"] += count
                counters[f"secrets_{kind}_documents"] += 1
        if len(rows):
            mask = np.zeros(table.num_rows, bool)
            mask[rows] = True
            texts = pc.replace_with_mask(texts, pa.array(mask), pa.array(edited, texts.type))
            table = table.set_column(table.schema.get_field_index("text"), "text", texts)
        return Verdict(
            table.append_column("secrets_removed", pa.array(removed)), [None] * table.num_rows, counters=counters
        )

    def finalize(self, ctx, stats) -> None:
        write_edit_counts(ctx, stats, [f"secrets_{kind}" for kind in self.params.kinds])
