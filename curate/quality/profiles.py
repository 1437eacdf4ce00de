"""Built-in quality profiles, and the warning when rules made for web pages gut another kind of text.

Every rule of the quality stage was tuned on web crawls (Gopher on MassiveWeb, C4 and FineWeb on
Common Crawl). A profile is the stage's settings for one kind of text; a pipeline picks one for the
stage (`profile: books`) and may give each source label its own (`sources: {books: books, wiki:
encyclopedic}`); settings written beside a profile override it, key by key.

    web           FineWeb's recipe at its published thresholds: Gopher repetition and quality, C4 (its
                  line removal included), FineWeb. For crawled pages: boilerplate, menus, link lists.
    books         long hard-wrapped prose (Gutenberg): no C4 or FineWeb (only a paragraph's last line
                  ends in punctuation, so C4 would keep a tenth of a novel), no count-based repetition
                  rules (a play repeats its speakers' names), no word limit, and punctuation tokens not
                  counted against dialogue. Still catches a book pasted twice and pages of symbols.
    encyclopedic  Wikipedia-style articles: every Gopher rule, C4 measuring without removing lines
                  (headings, lists and tables of an article end in no full stop) and without the brace
                  rule (articles on programming and mathematics quote braces), no FineWeb line rules
                  (an article of lists has many short lines), no word limit (long articles).
    code          source files: the quality stage leaves them alone; the code_quality stage (The Stack /
                  StarCoder rules) is the one for code.

Where they fail: `books` keeps a book of any length in any layout, so an index or a table of contents
pasted as a book passes; `encyclopedic` keeps navigation lines a scraped wiki page still carries.

The warning: for every source label other than those listed as web (`web_sources`, default ["web"]),
the stage counts the bytes it reads and the bytes each rule removes (a dropped document's whole text
under its reason; the lines C4 cut from kept ones under "c4.removed_lines"). When one rule removes more
than `warn_removed_share` (default 25%) of a source's bytes, the run says so on stderr when the stage
ends, and `curate report` shows it; the figures are in OUT/reports/<stage>/source_shares.json. On
web pages the same rules remove 50-70% of the bytes by design, so web sources are not judged.
"""

from __future__ import annotations

from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    "web": {},
    "books": {
        "c4": False,
        "fineweb": False,
        "gopher_repetition": {"max_dup_para_fraction": None, "max_dup_line_fraction": None},
        "gopher_quality": {"max_words": None, "alpha_words_of": "words"},
    },
    "encyclopedic": {
        "c4": {"remove_lines": False, "drop_curly_bracket": False},
        "fineweb": False,
        "gopher_quality": {"max_words": None},
    },
    "code": {"gopher_repetition": False, "gopher_quality": False, "c4": False, "fineweb": False},
}
SOURCE_BYTES = "source_bytes"  # counter "source_bytes:<source>": bytes of a non-web source's texts read
REMOVED_BYTES = "removed_bytes"  # counter "removed_bytes:<source>:<rule>": those bytes a rule removed
REMOVED_LINES = "c4.removed_lines"  # the rule name for C4's line removal in kept documents


def profile_settings(profile: str, filter_name: str, value: Any) -> Any:
    """A filter's setting under a profile: the profile's unless given (None); a mapping given is laid over
    the profile's mapping; true is the profile's mapping (or the published defaults), false is off."""
    base = PROFILES[profile].get(filter_name, True)
    if value is None:
        value = base
    elif value is True:
        value = base if isinstance(base, dict) else True
    elif isinstance(value, dict) and isinstance(base, dict):
        value = {**base, **value}
    return {} if value is True else value


def source_shares(counters: dict[str, int]) -> dict[str, dict]:
    """Per non-web source: its bytes and, per rule, the bytes and share it removed."""
    shares: dict[str, dict] = {}
    for key, value in counters.items():
        kind, _, rest = key.partition(":")
        if kind == SOURCE_BYTES:
            shares.setdefault(rest, {"bytes": 0, "removed": {}})["bytes"] = value
    for key, value in counters.items():
        kind, _, rest = key.partition(":")
        source, _, rule = rest.rpartition(":")
        if kind == REMOVED_BYTES and source in shares:
            total = shares[source]["bytes"]
            shares[source]["removed"][rule] = {"bytes": value, "share": value / total if total else 0.0}
    return shares


def source_warnings(shares: dict[str, dict], limit: float) -> list[str]:
    """One line per (non-web source, rule) whose removed share is over the limit, the largest first."""
    found = [
        (entry["share"], source, rule, data["bytes"], entry["bytes"])
        for source, data in shares.items()
        for rule, entry in data["removed"].items()
        if entry["share"] > limit
    ]
    return [
        f"rule {rule} removed {share:.1%} of source '{source}' ({total / 1e6:.2f} MB -> {(total - removed) / 1e6:.2f} MB "
        f"by this rule alone), over the {limit:.0%} a web-tuned rule may take from a source that is not web: give "
        f"the source a profile of its own (sources: {{{source}: books|encyclopedic|code}}) or change that rule"
        for share, source, rule, total, removed in sorted(found, reverse=True)
    ]
