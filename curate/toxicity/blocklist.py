"""Domain blocklists: files of domains, and whether a URL's host is under one of them.

One domain a line; '#' starts a comment; blank lines are skipped. Also accepted, so
common lists load as they are: a leading '*.' or '.', a whole URL (its host is taken)
and hosts-file lines ('0.0.0.0 example.com'). Blocking a domain blocks its subdomains:
example.com blocks a.b.example.com but not notexample.com or example.com.au.

Lists are big (UT1's "adult" category, which FineWeb and RefinedWeb use, has 4.6M
domains) and every worker holds one, so a list is kept as the sorted xxh3-64 hashes of
its domains: 8 bytes a domain. Loading UT1 adult adds 50-65 MB to a worker, where a
Python set of the names adds 500 MB (bench/url_blocklist.py). A batch of URLs is looked
up with one sorted binary search. Two different domains share a 64-bit hash with
probability 2^-64 a pair: with UT1 adult, about one wrongly blocked URL in 10^12.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import xxhash

from curate.core.params import ConfigError
from curate.dedup.minhash import string_hashes

# A line that is just a domain (after lower-casing), perhaps with '*.'/'.' before or '.' after
_PLAIN_DOMAIN = r"^[*.]*[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$"
_READ_BLOCK_BYTES = 4 << 20  # lines are parsed a block at a time, so a 120 MB list never sits in memory whole


class DomainBlocklist:
    """A set of domains as sorted 64-bit hashes; `blocked(urls)` answers a batch at once."""

    def __init__(self, sorted_hashes: np.ndarray):
        h = sorted_hashes
        self.hashes = h[np.r_[True, h[1:] != h[:-1]]] if len(h) else h  # without repeats

    def __len__(self) -> int:
        return len(self.hashes)

    def blocked(self, urls: list[str | None]) -> list[str | None]:
        """For each URL, the listed domain its host is or is under (the longest), else None."""
        hosts = [url_host(url) if url else None for url in urls]
        distinct = list(dict.fromkeys(h for h in hosts if h))  # a crawl has many pages a host
        if not distinct:
            return [None] * len(urls)
        suffixes = [host_suffixes(host) for host in distinct]
        hits = iter(self.contains(np.fromiter((h for _, hashes in suffixes for h in hashes), np.uint64)).tolist())
        match = {}
        for host, (names, _) in zip(distinct, suffixes):
            found = [name for name in names if next(hits)]
            match[host] = found[0] if found else None
        return [match[h] if h else None for h in hosts]

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        order = np.argsort(hashes)  # sorted queries search 7x sooner: each starts where the last ended
        at = np.empty(len(hashes), np.int64)
        at[order] = np.searchsorted(self.hashes, hashes[order])
        return self.hashes[np.minimum(at, len(self.hashes) - 1)] == hashes


def load_blocklist(paths: str | list[str]) -> DomainBlocklist:
    """The domains of one or more blocklist files; ConfigError if one cannot be read or all list none."""
    paths = [paths] if isinstance(paths, str) else paths
    hashes = np.concatenate([read_domain_hashes(path) for path in paths])
    hashes.sort()  # in place: a worker's peak memory while loading is a few copies of 8 bytes a domain
    blocklist = DomainBlocklist(hashes)
    pa.default_memory_pool().release_unused()  # the parsed text is gone; give its pages back
    if not len(blocklist):
        raise ConfigError(f"blocklist {' + '.join(repr(p) for p in paths)} lists no domains")
    return blocklist


def read_domain_hashes(path: str) -> np.ndarray:
    """Hashes of the domains a file lists; plain lines in bulk with Arrow, the rest one by one."""
    options = (
        pa_csv.ReadOptions(column_names=["line"], block_size=_READ_BLOCK_BYTES, use_threads=False),
        pa_csv.ParseOptions(delimiter="\x01", quote_char=False, escape_char=False),
        pa_csv.ConvertOptions(column_types={"line": pa.large_string()}),
    )
    chunks = [np.zeros(0, np.uint64)]
    try:
        if os.path.getsize(path) == 0:  # Arrow calls an empty file an error; it is just an empty list
            return chunks[0]
        with pa_csv.open_csv(path, *options) as reader:
            for batch in reader:
                lines = pc.utf8_trim_whitespace(pc.utf8_lower(batch.column(0)))
                plain = pc.match_substring_regex(lines, _PLAIN_DOMAIN)
                domains = pc.utf8_trim(pc.filter(lines, plain), characters="*.")
                others = [
                    domain_of_entry(line.split("#", 1)[0]) for line in pc.filter(lines, pc.invert(plain)).to_pylist()
                ]
                chunks.append(np.array(string_hashes(domains, xxhash.xxh3_64_intdigest), np.uint64))
                chunks.append(np.array([domain_hash(d) for d in others if d], np.uint64))
    except (OSError, pa.ArrowInvalid) as error:  # missing file, not UTF-8, ...
        raise ConfigError(f"blocklist '{path}' cannot be read: {error}") from None
    return np.concatenate(chunks)


def domain_of_entry(entry: str) -> str | None:
    fields = entry.split()
    if not fields:
        return None
    value = fields[-1]  # a hosts-file line names the domain last
    if "://" in value:
        value = urlsplit(value).hostname or ""
    return canonical_host(value.lstrip("*").lstrip(".").split("/", 1)[0]) or None


def canonical_host(host: str) -> str:
    """Lower case, no trailing dot, internationalised names in their ASCII (punycode) form."""
    host = host.strip().rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def domain_hash(domain: str) -> int:
    return xxhash.xxh3_64_intdigest(domain.encode("utf-8", "surrogatepass"))


# scheme://[user@]host[:port] then / ? # or the end, with a plain ASCII host: most URLs of a crawl
_SIMPLE_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/?#@]*@)?([A-Za-z0-9.-]+)(?::[0-9]*)?(?:[/?#]|$)")


def url_host(url: str) -> str | None:
    """The host of a URL as blocklists name it; None when it has none."""
    url = url.strip()
    simple = _SIMPLE_URL.match(url)
    if simple:  # the same answer as urlsplit, three times sooner
        return simple.group(1).rstrip(".").lower() or None
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    return canonical_host(host) if host else None


@lru_cache(maxsize=1 << 16)  # pages of one host come in runs
def host_suffixes(host: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The host and every domain above it, longest first (a.b.com, b.com, com), and their hashes."""
    names, dot = [host], host.find(".")
    while dot >= 0:
        names.append(host[dot + 1 :])
        dot = host.find(".", dot + 1)
    return tuple(names), tuple(domain_hash(name) for name in names)
