"""A web page's publication date, from the markup publishers put it in, as htmldate's fast
path reads it, with regular expressions on the decoded HTML (no second parse).

Sources, most reliable first (the first that gives a plausible date wins):
1. a full date in the URL (/2019/03/21/, -2019-03-21-): the CMS wrote it when publishing;
2. <meta> whose property / name / itemprop is one of htmldate's publication-date
   names (article:published_time, datePublished, DC.date, citation_date, ...); modified /
   updated dates are not publication dates and are ignored;
3. schema.org's datePublished, in JSON-LD or as microdata itemprop (content / datetime);
4. <time datetime> marked as the entry's date (pubdate, class entry-date), else the
   earliest <time datetime> on the page (htmldate's "original date" rule).
A date is plausible from 1995-01-01 (htmldate's floor: older web dates are mostly errors)
up to the crawl date (WARC-Date), or today for a page without one. The result is an
ISO 8601 calendar date (YYYY-MM-DD); null when the page states none: no guessing from text.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from email.utils import parsedate

# htmldate's vocabulary of publication-date <meta> names (lower case; htmldate comes with trafilatura)
from htmldate.core import DATE_ATTRIBUTES as PUBLISHED_META

EARLIEST = date(1995, 1, 1)
META = re.compile(r"<meta\b([^>]*)>", re.IGNORECASE)
ATTRIBUTE = re.compile(r"([\w:.-]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>\"']+)")
# schema.org's name, case-sensitive: a plain substring search, then the syntax around it
SCHEMA_ORG = re.compile("datePublished")
JSON_VALUE = re.compile(r"\"\s*:\s*\"([^\"]{6,40})\"")
ITEMPROP_BEFORE = re.compile(r"itemprop\s*=\s*[\"']?$", re.IGNORECASE)
TIME = re.compile(r"<time\b([^>]*\bdatetime\s*=[^>]*)>", re.IGNORECASE)
PUBDATE = re.compile(r"\spubdate\b", re.IGNORECASE)  # HTML5's (withdrawn) boolean attribute, still written
URL_DATE = re.compile(r"\D((?:19|20)\d\d)[/_-](\d{1,2})[/_-](\d{1,2})(?:\D|$)")
NUMERIC = re.compile(r"\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)|\s*(\d{4})(\d\d)(\d\d)(?:\D|$)")
MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
WORDY = re.compile(
    r"(?:(\d{1,2})\.?\s+([a-z]{3})[a-z]*\.?,?\s+(\d{4}))|(?:([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}))",
    re.IGNORECASE,
)


def publication_date(html: str, url: str | None = None, crawl_date: str | None = None) -> str | None:
    latest = parse_date(crawl_date, date(9999, 12, 31)) if crawl_date else None
    latest = latest or datetime.now(timezone.utc).date()
    for value in candidates(html, url):
        found = parse_date(value, latest)
        if found:
            return found.isoformat()
    times = [d for d in (parse_date(attributes(a).get("datetime"), latest) for a in TIME.findall(html)) if d]
    return min(times).isoformat() if times else None


def candidates(html: str, url: str | None):
    """Date strings in the order of trust (the <time> fallback aside), lazily: most pages stop
    at the first."""
    match = URL_DATE.search(url or "")
    if match:
        yield "-".join(match.groups())
    for tag in META.findall(html):  # the whole page: microdata puts <meta itemprop> in the body
        attrs = attributes(tag)
        names = {attrs.get(key, "").lower() for key in ("property", "name", "itemprop", "http-equiv")}
        if names & PUBLISHED_META and attrs.get("content"):
            yield attrs["content"]
    for match in SCHEMA_ORG.finditer(html):
        json = JSON_VALUE.match(html, match.end())
        if json:  # JSON-LD: "datePublished": "2019-03-21T10:00:00Z"
            yield json.group(1)
        elif ITEMPROP_BEFORE.search(html, max(0, match.start() - 20), match.start()):  # microdata: the tag around it
            attrs = attributes(html[html.rfind("<", 0, match.start()) : html.find(">", match.end())])
            yield attrs.get("content") or attrs.get("datetime") or ""
    for tag in TIME.findall(html):
        attrs = attributes(tag)
        if PUBDATE.search(tag) or attrs.get("class", "").startswith(("entry-date", "entry-time")):
            yield attrs.get("datetime") or ""


def attributes(tag: str) -> dict[str, str]:
    return {key.lower(): value.strip("\"'").strip() for key, value in ATTRIBUTE.findall(tag)}


def parse_date(value: str | None, latest: date) -> date | None:
    """A plausible calendar date from ISO 8601 (and its slash / dot / compact forms),
    RFC 2822 ('Thu, 21 Mar 2019 ...') or '21 March 2019' / 'March 21, 2019'; else None."""
    if not value:
        return None
    parts = None
    match = NUMERIC.match(value)
    if match:
        year, month, day = (int(g) for g in match.groups() if g is not None)
        parts = year, month, day
    elif (rfc := parsedate(value)) is not None:
        parts = rfc[:3]
    elif (match := WORDY.search(value)) is not None:
        day, month, year = match.group(1, 2, 3) if match.group(1) else match.group(5, 4, 6)
        month = MONTHS.get(month.lower())
        parts = (int(year), month, int(day)) if month else None
    try:
        found = date(*parts) if parts else None
    except ValueError:  # 2019-02-30, month 13
        return None
    return found if found and EARLIEST <= found <= latest else None
