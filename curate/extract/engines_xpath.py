"""Faster, identical trafilatura: its discard XPaths (~45% of its CPU time) and its parser.

trafilatura removes boilerplate with expressions such as `.//*[(self::div or ...)][contains(@class,
"footer") or ... ~100 tests]`, run by libxml2 on every element of the page, on two copies of
each page. Such a test depends on nothing but the element's tag and a few attributes, and
pages repeat the same (tag, class, id) over and over (menu items, list rows), so the answer
is computed once per distinct (tag, attribute values) with the same expression rewritten as
`self::*[...]` compiled to Python (engines_predicates.py), and remembered. Expressions that
look at anything else (text, parents, children, position) are left to libxml2. The elements
returned, and their order, are the ones the XPath returns: tests/test_extract_engines_xpath.py
checks the extracted text is unchanged.

Candidates: an expression's leading `[(self::div or self::p ...)]` is answered by lxml's C
tag iterator (libxml2 spends ~1 us per element on attribute predicates); in the main pass,
whose seven discard walks run on one subtree with only deletions between them, each element's
attributes are read once and its Python object kept. trafilatura's main-content expressions
(BODY_XPATH) are read only for their first element: the walk stops there.

The parser: lxml.html picks each element's Python class in a Python callback
(HtmlElementClassLookup.lookup), run every time an element becomes a Python object, ~270,000
times on the 106 gold pages (~13% of the engine's time). Every element is an HtmlElement
there except forms and their fields, whose extra methods trafilatura does not call, so a
C-level lookup that always answers HtmlElement gives the same tree and the same text.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager

import lxml.html
from lxml import etree
from trafilatura import main_extractor, utils, xpaths

from curate.extract.engines_predicates import Unsupported, compile_predicate

# tokens a predicate on the element alone may use; anything else (text(), .., axes, position())
# makes the rewrite unsafe
LOCAL_TOKENS = re.compile(r"""\s+|"[^"]*"|'[^']*'|self::[\w-]+|@[\w-]+|contains|starts-with|translate|or|and|not|[\[\](),=*]""")
LEADING_TAG_TEST = re.compile(r"\[\s*\(\s*self::[\w-]+(?:\s+or\s+self::[\w-]+)*\s*\)\s*\]")
MEMORY_LIMIT = 200_000  # distinct keys remembered per expression, then forgotten (ids can be unique per page)


class ElementTest:
    """Callable like the XPath it replaces: tree -> list of matching descendants in document order."""

    def __init__(self, xpath: etree.XPath):
        self.xpath = xpath
        self.predicate = xpath.path.strip()[len(".//*"):]
        self.test = etree.XPath("self::*" + self.predicate)
        self.attributes = tuple(dict.fromkeys(re.findall(r"@([\w-]+)", self.predicate)))
        self.memory: dict = {}
        # libxml2 finds the candidates cheaply: an element with none of the attributes cannot
        # match, unless the predicate negates or tests for an empty string; only candidates
        # become Python objects
        code = re.sub(r"\"[^\"]*\"|'[^']*'", "", self.predicate)
        filter_safe = self.attributes and "not" not in code and '""' not in self.predicate and "''" not in self.predicate
        has_any = "[" + " or ".join("@" + a for a in self.attributes) + "]" if filter_safe else ""
        # a leading [(self::div or self::p ...)] is a condition of its own: libxml2 applies it too,
        # and if no other part of the predicate reads the tag, the tag need not be in the key
        tags = LEADING_TAG_TEST.match(self.predicate)
        self.keyed_by_tag = "self::" in self.predicate[tags.end() if tags else 0:]
        self.candidates = etree.XPath(".//*" + (tags.group(0) if tags else "") + has_any)
        # with a tag test, lxml's C iterator over those tag names lists the candidates ~2.5x faster
        # than libxml2's predicates (~1 us per element); the attribute filter then runs in matches()
        self.tags = tuple(re.findall(r"self::([\w-]+)", tags.group(0))) if tags else ()
        self.no_attribute = (None,) * len(self.attributes) if filter_safe else None
        try:  # a new key is answered in Python, ~3-4x faster than libxml2 (engines_predicates.py)
            self.compiled = compile_predicate(self.predicate, self.attributes)
        except Unsupported:
            self.compiled = None

    def accepts(self, element) -> bool:
        return next(self.matches([element]), None) is not None

    def matches(self, candidates):
        """The candidates the predicate accepts, each distinct key computed once. (One inlined
        loop, no call per element: it runs ~1,000 times per page and test.)"""
        memory, attributes, no_attribute, keyed_by_tag = self.memory, self.attributes, self.no_attribute, self.keyed_by_tag
        compiled, test, seen = self.compiled, self.test, getattr(ATTRIBUTES_SEEN, "tree", None)
        for element in candidates:
            if seen is None:
                values = tuple(map(element.get, attributes))
            else:
                attrib = seen.get(element)
                if attrib is None:
                    attrib = seen[element] = dict(element.attrib)
                values = tuple(map(attrib.get, attributes))
            if values == no_attribute:
                continue
            key = (element.tag, *values) if keyed_by_tag else values
            match = memory.get(key)
            if match is None:
                if len(memory) >= MEMORY_LIMIT:
                    memory.clear()
                match = memory[key] = compiled(element.tag, *values) if compiled else bool(test(element))
            if match:
                yield element

    def candidates_in(self, tree):
        if not isinstance(tree, etree._Element):
            return self.candidates(tree)
        if self.tags:
            return tree.iterdescendants(*self.tags)
        if getattr(ATTRIBUTES_SEEN, "tree", None) is not None:
            return tree.iterdescendants(etree.Element)  # objects and attributes held: beats libxml2's predicates (4-10%)
        return self.candidates(tree)

    def __call__(self, tree) -> list:
        return list(self.matches(self.candidates_in(tree)))


class FirstMatch:
    """trafilatura's BODY_XPATH expressions, e.g. `(.//*[(self::div ...)][contains(@class, ...)])[1] |
    (.//main)[1]`, of which it reads only the first element found (`next(...)`): here the walk stops
    at the first element in document order that one alternative accepts, each a tag-led element
    test or a bare tag. (`.//*[...][1]` is "the first match under each parent"; the first of those
    in document order is the first match in the page.) Returns [that element] or []."""

    def __init__(self, xpath: etree.XPath, alternatives: list):
        self.xpath, self.alternatives = xpath, alternatives  # (tag names, ElementTest or None)
        self.tags = tuple(dict.fromkeys(tag for tags, _ in alternatives for tag in tags))

    def __call__(self, tree) -> list:
        if not isinstance(tree, etree._Element):
            return self.xpath(tree)
        if len(self.alternatives) == 1 and self.alternatives[0][1] is not None:
            test = self.alternatives[0][1]
            first = next(test.matches(test.candidates_in(tree)), None)
            return [] if first is None else [first]
        for element in tree.iterdescendants(*self.tags):
            if any(element.tag in tags and (test is None or test.accepts(element)) for tags, test in self.alternatives):
                return [element]
        return []


FIRST_OF_ALTERNATIVE = re.compile(r"^\((\.//\*\[.*\])\)\[1\]$|^(\.//\*\[.*\])\[1\]$|^\(\.//([\w-]+)\)\[1\]$", re.S)


def first_match(xpath):
    """A FirstMatch for an expression made of such alternatives joined by |; else the XPath itself."""
    alternatives = []
    for part in getattr(xpath, "path", "").strip().split("|"):
        found = FIRST_OF_ALTERNATIVE.match(part.strip())
        if found is None:
            return xpath
        inner = found.group(1) or found.group(2)
        if inner is None:
            alternatives.append(((found.group(3),), None))
            continue
        test = faster([etree.XPath(inner)])[0]
        if not isinstance(test, ElementTest) or not test.tags:
            return xpath
        alternatives.append((test.tags, test))
    return FirstMatch(xpath, alternatives)


def is_local(xpath) -> bool:
    """True for `.//*[...]` whose predicates read only the element's own tag and attributes."""
    path = getattr(xpath, "path", "").strip()
    return path.startswith(".//*[") and LOCAL_TOKENS.sub("", path[len(".//*"):]) == ""


def faster(expressions: list) -> list:
    return [ElementTest(x) if is_local(x) else x for x in expressions]


# trafilatura's modules import these lists by reference, so swapping their contents swaps them everywhere
SWAPS = [(expressions, list(expressions), faster(expressions)) for expressions in
         (getattr(xpaths, name, []) for name in ("OVERALL_DISCARD_XPATH", "PAYWALL_DISCARD_XPATH", "REMOVE_COMMENTS_XPATH",
                                                 "TEASER_DISCARD_XPATH", "PRECISION_DISCARD_XPATH",
                                                 "DISCARD_IMAGE_ELEMENTS", "COMMENTS_DISCARD_XPATH"))]
SWAPS.append((xpaths.BODY_XPATH, list(xpaths.BODY_XPATH), [first_match(x) for x in xpaths.BODY_XPATH]))


# trafilatura's main pass runs 7 discard tests in a row on one subtree (prune_unwanted_sections),
# which only deletes elements between them: each element's attributes are read once there and its
# Python object kept, so the next walks reuse both (9% of the engine's time on new pages). Not on
# the fallback's uncleaned copy: its 3 walks are over a bigger tree and it came out 12% slower.
ATTRIBUTES_SEEN = threading.local()  # per thread: another thread's elements never share it
STOCK_PRUNE_SECTIONS = main_extractor.prune_unwanted_sections


def prune_unwanted_sections(tree, potential_tags, options):
    ATTRIBUTES_SEEN.tree = {}  # element -> its attributes, for this call only
    try:
        return STOCK_PRUNE_SECTIONS(tree, potential_tags, options)
    finally:
        ATTRIBUTES_SEEN.tree = None


def forget() -> None:
    """Empties every element test's memory: the next pages are answered as if seen first (a
    benchmark that repeats the same pages would otherwise measure lookups only)."""
    for _, _, fast in SWAPS:
        for test in fast:
            for member in getattr(test, "alternatives", [(None, test)]):
                if isinstance(member[1], ElementTest):
                    member[1].memory.clear()


# trafilatura's own parser settings (trafilatura.utils.HTML_PARSER), with the C-level lookup
PARSER = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True)
PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity))


@contextmanager
def faster_trafilatura():
    """Within the block, trafilatura uses the element tests and the parser above; outside, its
    own, so other users of trafilatura in the process (a peer in a benchmark) see it unchanged.
    Threads that overlap at worst mix the two: same answers."""
    stock_parser, utils.HTML_PARSER = utils.HTML_PARSER, PARSER
    for expressions, _, fast in SWAPS:
        expressions[:] = fast
    main_extractor.prune_unwanted_sections = prune_unwanted_sections
    try:
        yield
    finally:
        utils.HTML_PARSER = stock_parser
        main_extractor.prune_unwanted_sections = STOCK_PRUNE_SECTIONS
        for expressions, stock, _ in SWAPS:
            expressions[:] = stock
