"""Domain blocklists: a file of domains, and whether a URL's host is under one of them.

One domain a line; '#' starts a comment; blank lines are skipped. Also accepted, so
common lists load as they are: a leading '*.' or '.', a whole URL (its host is taken)
and hosts-file lines ('0.0.0.0 example.com'). Blocking a domain blocks its subdomains:
example.com blocks a.b.example.com but not notexample.com or example.com.au.
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from curate.core.params import ConfigError


def load_blocklist(path: str) -> frozenset[str]:
    """The domains of a blocklist file; ConfigError if it cannot be read or lists none."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"blocklist '{path}' cannot be read: {error}") from None
    domains = {domain_of_entry(line.split("#", 1)[0]) for line in lines}
    domains.discard(None)
    if not domains:
        raise ConfigError(f"blocklist '{path}' lists no domains")
    return frozenset(domains)


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


@lru_cache(maxsize=65536)
def url_host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    return canonical_host(host) if host else None


def blocked_domain(url: str | None, domains: frozenset[str]) -> str | None:
    """The listed domain a URL's host is, or is under; None when it is not blocked."""
    host = url_host(url) if url else None
    if not host:
        return None
    labels = host.split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        if candidate in domains:
            return candidate
    return None
