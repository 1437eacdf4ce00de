"""Main-text engines for web pages: HTML (already decoded) to the page's main text.

trafilatura   trafilatura 2.x through its public API with FineWeb's settings (precision mode,
              tables on, per-file deduplicate): the default
fast          curate's own main-text rules on Lexbor's C DOM (curate/extract/engines_fast.py):
              ~4.7x trafilatura's pages per CPU-second, ~0.013 F1 below it on the dev set
resiliparse   resiliparse's main_content heuristics: ~11x faster, keeps far more boilerplate
auto          trafilatura without its fallback extractors (readability, jusText), and the full
              trafilatura only where that first pass is short (no faster than the default on 2.x)

Where trafilatura's precision mode finds nothing, its balanced mode is asked once more: on the
shared WARC sample that gives back the text trafilatura 1.11 kept (docs/extraction.md, "Empty pages").

Every engine returns (text, None) or (None, why there is no text), so a rejection can say
"no main content found" apart from "parse error" or "text already seen in this file".
See docs/extraction.md for measured quality and speed of each.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass

import trafilatura
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree
from trafilatura.deduplication import LRUCache

from curate.extract.engines_fast import fast_main_text

# trafilatura's own rule for when its first pass needs no second opinion (its recall mode
# skips the fallback extractors above 10 x min_extracted_size = 2,500 characters): the
# fallbacks exist to rescue short or empty extractions.
TRUSTED_FIRST_PASS_CHARS = 2500
DEDUP_MEMORY = 4096  # texts remembered per file: trafilatura's own process-wide size (LRU_SIZE)


@dataclass(frozen=True)
class EngineOptions:
    engine: str = "trafilatura"
    favor_precision: bool = True
    include_tables: bool = True
    include_comments: bool = False
    deduplicate: bool = True
    markdown: bool = False  # headings, lists, emphasis and tables kept as Markdown


class FileMemory:
    """trafilatura's `deduplicate` memory, scoped to one input file (trafilatura 2.x takes an
    LRUCache as `deduplicate`): a file's output does not depend on what a worker read before."""

    seen = LRUCache(maxsize=DEDUP_MEMORY)


def new_file() -> None:
    FileMemory.seen = LRUCache(maxsize=DEDUP_MEMORY)


def extract_main_text(html: str, options: EngineOptions) -> tuple[str | None, str | None]:
    if options.engine == "resiliparse":
        return resiliparse_text(html, options)
    if options.engine == "fast":
        return fast_main_text(html, options.include_tables, options.include_comments)
    return trafilatura_main_text(html, options)


def trafilatura_main_text(html: str, options: EngineOptions) -> tuple[str | None, str | None]:
    tree = trafilatura.load_html(html)
    if tree is None:
        return None, "parse error: no HTML document tree could be built (text without markup?)"
    dedup = FileMemory.seen if options.deduplicate else False
    if options.engine == "auto":
        # trafilatura prunes the tree it is given: the first pass works on a copy (~1/5 of a parse)
        text = trafilatura_text(deepcopy(tree), options, fast=True, deduplicate=dedup)
        if text and len(text) >= TRUSTED_FIRST_PASS_CHARS:
            return text, None
        dedup = False  # the first pass already counted this page's text in the dedup memory
    text = trafilatura_text(tree, options, deduplicate=dedup)
    if text:
        return text, None
    # rare from here on (2 of 164 shared pages): the page is parsed again rather than copied on every page
    if dedup and trafilatura_text(trafilatura.load_html(html), options):
        return None, "only text already seen earlier in this file (deduplicate)"
    if options.favor_precision:  # a second opinion only where precision mode found nothing
        text = trafilatura_text(trafilatura.load_html(html), options, deduplicate=dedup, precision=False)
    return (text, None) if text else (None, "no main content found")


def trafilatura_text(
    tree, options: EngineOptions, fast: bool = False, deduplicate=False, precision: bool = True
) -> str | None:
    text = trafilatura.extract(
        tree,
        fast=fast,
        favor_precision=options.favor_precision and precision,
        include_tables=options.include_tables,
        include_comments=options.include_comments,
        deduplicate=deduplicate,
        output_format="markdown" if options.markdown else "txt",
        include_formatting=options.markdown,
    )
    # trafilatura 2.x writes a paragraph holding only (non-breaking) spaces as a line of spaces: no text, and
    # Gopher's repetition rules would count each one as a repeated line
    return "\n".join(line for line in text.split("\n") if not line.isspace()) if text else text


def resiliparse_text(html: str, options: EngineOptions) -> tuple[str | None, str | None]:
    tree = HTMLTree.parse(html)
    if tree.body is None:
        return None, "parse error: no <body>"
    text = extract_plain_text(
        tree,
        main_content=True,
        preserve_formatting=True,
        list_bullets=True,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
        comments=options.include_comments,
        skip_elements=None if options.include_tables else ["table"],
    ).strip()
    return (text, None) if text else (None, "no main content found")
