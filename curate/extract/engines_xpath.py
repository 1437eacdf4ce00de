"""Faster, identical evaluation of trafilatura's discard XPaths (~45% of its CPU time).

trafilatura removes boilerplate with expressions such as `.//*[(self::div or ...)][contains(@class,
"footer") or ... ~100 tests]`, run by libxml2 on every element of the page, on two copies of
each page. Such a test depends on nothing but the element's tag and a few attributes, and
pages repeat the same (tag, class, id) over and over (menu items, list rows), so the answer
is computed once per distinct (tag, attribute values) with the same expression rewritten as
`self::*[...]`, and remembered. Expressions that look at anything else (text, parents,
children, position) are left to libxml2. The elements returned, and their order, are the ones
the XPath returns: tests/test_extract_engines_xpath.py checks the extracted text is unchanged.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

from lxml import etree
from trafilatura import xpaths

# tokens a predicate on the element alone may use; anything else (text(), .., axes, position())
# makes the rewrite unsafe
LOCAL_TOKENS = re.compile(r"""\s+|"[^"]*"|'[^']*'|self::[\w-]+|@[\w-]+|contains|starts-with|translate|or|and|not|[\[\](),=*]""")
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
        self.candidates = etree.XPath(".//*" + has_any)

    def matches(self, element) -> bool:
        key = (element.tag, *map(element.get, self.attributes))
        found = self.memory.get(key)
        if found is None:
            if len(self.memory) >= MEMORY_LIMIT:
                self.memory.clear()
            found = self.memory[key] = bool(self.test(element))
        return found

    def __call__(self, tree) -> list:
        return [element for element in self.candidates(tree) if self.matches(element)]


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


@contextmanager
def faster_discard_xpaths():
    """Within the block, trafilatura uses the element tests; outside, its own XPaths, so other
    users of trafilatura in the process (a peer in a benchmark) see it unchanged. Threads that
    overlap at worst mix the two: same length, same answers."""
    for expressions, _, fast in SWAPS:
        expressions[:] = fast
    try:
        yield
    finally:
        for expressions, stock, _ in SWAPS:
            expressions[:] = stock
