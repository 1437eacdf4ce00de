"""Main-text engines for web pages: HTML (already decoded) to the page's main text.

trafilatura   precision-favouring trafilatura, tables on: FineWeb's setting (the default)
resiliparse   resiliparse's main_content heuristics: ~10x faster, keeps far more boilerplate
auto          trafilatura without its fallback extractors (readability, jusText), and the full
              trafilatura only where that first pass is short

Every engine returns (text, None) or (None, why there is no text), so a rejection can say
"no main content found" apart from "parse error" or "text already seen in this file".
See docs/extraction.md for measured quality and speed of each.
"""
from __future__ import annotations

from copy import copy
from dataclasses import dataclass
from functools import lru_cache

import trafilatura
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree
from trafilatura.deduplication import LRU_TEST
from trafilatura.settings import Extractor

from curate.extract.engines_walks import faster_walks
from curate.extract.engines_xpath import faster_trafilatura

ENGINES = ("trafilatura", "resiliparse", "auto")
# trafilatura's own rule for when its first pass needs no second opinion (its recall mode
# skips the fallback extractors above 10 x min_extracted_size = 2,500 characters): the
# fallbacks exist to rescue short or empty extractions.
TRUSTED_FIRST_PASS_CHARS = 2500


@dataclass(frozen=True)
class EngineOptions:
    engine: str = "trafilatura"
    favor_precision: bool = True
    include_tables: bool = True
    include_comments: bool = False
    deduplicate: bool = True
    markdown: bool = False  # headings, lists, emphasis and tables kept as Markdown


def new_file() -> None:
    """trafilatura's `deduplicate` remembers text seen earlier in this process; starting each
    file afresh makes a file's output independent of what a worker did before."""
    LRU_TEST.clear()


def extract_main_text(html: str, options: EngineOptions) -> tuple[str | None, str | None]:
    if options.engine == "resiliparse":
        return resiliparse_text(html, options)
    with faster_trafilatura(), faster_walks():  # same text, faster (engines_xpath.py, engines_walks.py)
        return trafilatura_main_text(html, options)


def trafilatura_main_text(html: str, options: EngineOptions) -> tuple[str | None, str | None]:
    tree = trafilatura.load_html(html)  # parsed once, for the first pass and the fallback alike
    if tree is None:
        return None, "parse error: no HTML document tree could be built (text without markup?)"
    deduplicate = options.deduplicate
    if options.engine == "auto":
        untouched = copy(tree)  # trafilatura prunes the tree it is given; a copy costs ~1/5 of a parse
        text = trafilatura_text(tree, options, no_fallback=True)
        if text and len(text) >= TRUSTED_FIRST_PASS_CHARS:
            return text, None
        tree = untouched
        deduplicate = False  # the first pass already counted this page's text in the dedup memory
    text = trafilatura_text(tree, options, no_fallback=False, deduplicate=deduplicate)
    if text:
        return text, None
    if deduplicate and trafilatura_text(trafilatura.load_html(html), options, no_fallback=False, deduplicate=False):
        return None, "only text already seen earlier in this file (deduplicate)"
    return None, "no main content found"


def trafilatura_text(tree, options: EngineOptions, no_fallback: bool, deduplicate: bool | None = None) -> str | None:
    return trafilatura.extract(tree, options=extractor(options, no_fallback, options.deduplicate if deduplicate is None else deduplicate))


@lru_cache(maxsize=64)
def extractor(options: EngineOptions, no_fallback: bool, deduplicate: bool) -> Extractor:
    """trafilatura's settings object, built once instead of per page (it reads its config file
    values on every extract() call otherwise); trafilatura does not change it while extracting."""
    return Extractor(fast=no_fallback, precision=options.favor_precision, tables=options.include_tables,
                     comments=options.include_comments, dedup=deduplicate,
                     output_format="markdown" if options.markdown else "txt", formatting=options.markdown)


def resiliparse_text(html: str, options: EngineOptions) -> tuple[str | None, str | None]:
    tree = HTMLTree.parse(html)
    if tree.body is None:
        return None, "parse error: no <body>"
    text = extract_plain_text(tree, main_content=True, preserve_formatting=True, list_bullets=True, alt_texts=False,
                              links=False, form_fields=False, noscript=False, comments=options.include_comments,
                              skip_elements=None if options.include_tables else ["table"]).strip()
    return (text, None) if text else (None, "no main content found")
