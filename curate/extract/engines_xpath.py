"""Faster, identical trafilatura: its discard XPaths (~45% of its CPU time) and its parser.

trafilatura removes boilerplate with expressions such as `.//*[(self::div or ...)][contains(@class,
"footer") or ... ~100 tests]`, run by libxml2 on every element of the page, on two copies of
each page. Such a test depends on nothing but the element's tag and a few attributes, and
pages repeat the same (tag, class, id) over and over (menu items, list rows), so the answer
is computed once per distinct (tag, attribute values) with the same expression rewritten as
`self::*[...]`, and remembered. Expressions that look at anything else (text, parents,
children, position) are left to libxml2. The elements returned, and their order, are the ones
the XPath returns: tests/test_extract_engines_xpath.py checks the extracted text is unchanged.

The parser: lxml.html picks each element's Python class in a Python callback
(HtmlElementClassLookup.lookup), run every time an element becomes a Python object, ~270,000
times on the 106 gold pages (~13% of the engine's time). Every element is an HtmlElement
there except forms and their fields, whose extra methods trafilatura does not call, so a
C-level lookup that always answers HtmlElement gives the same tree and the same text.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

import lxml.html
from lxml import etree
from trafilatura import utils, xpaths

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
        self.tags = LEADING_TAG_TEST.match(self.predicate)
        self.tag_test = self.tags.group(0) if self.tags else ""
        self.rest = self.predicate[self.tags.end() if self.tags else 0:]
        self.keyed_by_tag = "self::" in self.rest
        self.candidates = etree.XPath(".//*" + self.tag_test + has_any)

    def __call__(self, tree) -> list:
        # the loop is inlined (no method call per element): it runs ~1,500 times per page
        memory, attributes, keyed_by_tag, found = self.memory, self.attributes, self.keyed_by_tag, []
        for element in self.candidates(tree):
            key = (element.tag, *map(element.get, attributes)) if keyed_by_tag else tuple(map(element.get, attributes))
            match = memory.get(key)
            if match is None:
                if len(memory) >= MEMORY_LIMIT:
                    memory.clear()
                match = memory[key] = bool(self.test(element))
            if match:
                found.append(element)
        return found


class ValueTest(ElementTest):
    """For a predicate that is an `or` of tests each reading one attribute (after an optional tag
    test), as trafilatura's big discard lists are: an element matches if and only if one of its
    attribute values passes on its own. libxml2 lists the values (strings, no element objects),
    each distinct value is tested once on a bare element holding just that attribute (the tests
    on absent attributes are false: no empty literals), and libxml2 selects the elements
    holding a passing value, in document order. Most pages have none, and the search stops there."""

    def __init__(self, xpath: etree.XPath):
        super().__init__(xpath)
        self.probe_tag = re.search(r"self::([\w-]+)", self.tag_test).group(1) if self.tags else "div"
        self.values = [etree.XPath(f".//*{self.tag_test}/@{a}", smart_strings=False) for a in self.attributes]
        self.passing: dict = {}
        self.selectors: dict = {}

    def __call__(self, tree) -> list:
        try:
            passing = [[v for v in set(values(tree)) if self.passes(a, v)] for a, values in zip(self.attributes, self.values)]
        except ValueError:  # a value lxml will not put on an element (control characters): ask per element
            return super().__call__(tree)
        if not any(passing):
            return []
        shape = tuple(map(len, passing))
        selector = self.selectors.get(shape)
        if selector is None:
            tests = [f"@{a}=$v{i}_{j}" for i, (a, n) in enumerate(zip(self.attributes, shape)) for j in range(n)]
            selector = self.selectors[shape] = etree.XPath(f".//*{self.tag_test}[{' or '.join(tests)}]")
        return selector(tree, **{f"v{i}_{j}": v for i, values in enumerate(passing) for j, v in enumerate(values)})

    def passes(self, attribute: str, value: str) -> bool:
        match = self.passing.get((attribute, value))
        if match is None:
            if len(self.passing) >= MEMORY_LIMIT:
                self.passing.clear()
            probe = etree.Element(self.probe_tag)
            probe.set(attribute, value)
            match = self.passing[attribute, value] = bool(self.test(probe))
        return match


def one_attribute_per_term(test: ElementTest) -> bool:
    """True for a predicate `[a or b or ...]` (after the tag test) whose terms each read one
    attribute and nothing else: no and / not / self::, no empty literal."""
    if not test.attributes or test.keyed_by_tag or '""' in test.predicate or "''" in test.predicate:
        return False
    code = re.sub(r"\"[^\"]*\"|'[^']*'", "''", test.rest).strip()
    inner = code[1:-1] if code.startswith("[") and code.endswith("]") else None
    if inner is None or re.search(r"[\[\]]", inner):
        return False
    terms, depth, start = [], 0, 0
    for token in re.finditer(r"[()]|(?<![\w@-])or(?![\w-])", inner):
        if token.group() in "()":
            depth += 1 if token.group() == "(" else -1
        elif depth == 0:
            terms.append(inner[start:token.start()])
            start = token.end()
    terms.append(inner[start:])
    return all(len(set(re.findall(r"@([\w-]+)", term))) == 1 and not re.search(r"(?<![\w@-])(and|not)(?![\w-])", term)
               for term in terms)


def element_test(xpath: etree.XPath) -> ElementTest:
    test = ElementTest(xpath)
    return ValueTest(xpath) if one_attribute_per_term(test) else test


def is_local(xpath) -> bool:
    """True for `.//*[...]` whose predicates read only the element's own tag and attributes."""
    path = getattr(xpath, "path", "").strip()
    return path.startswith(".//*[") and LOCAL_TOKENS.sub("", path[len(".//*"):]) == ""


def faster(expressions: list) -> list:
    return [element_test(x) if is_local(x) else x for x in expressions]


# trafilatura's modules import these lists by reference, so swapping their contents swaps them everywhere
SWAPS = [(expressions, list(expressions), faster(expressions)) for expressions in
         (getattr(xpaths, name, []) for name in ("OVERALL_DISCARD_XPATH", "PAYWALL_DISCARD_XPATH", "REMOVE_COMMENTS_XPATH",
                                                 "TEASER_DISCARD_XPATH", "PRECISION_DISCARD_XPATH",
                                                 "DISCARD_IMAGE_ELEMENTS", "COMMENTS_DISCARD_XPATH"))]


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
    try:
        yield
    finally:
        utils.HTML_PARSER = stock_parser
        for expressions, stock, _ in SWAPS:
            expressions[:] = stock
