"""The faster discard tests and parser (curate/extract/engines_xpath.py) must not change what trafilatura
extracts: same elements as its XPaths, same text, and trafilatura untouched outside the block."""
from __future__ import annotations

import pytest
import trafilatura
from lxml import etree
from trafilatura import main_extractor, utils, xpaths
from trafilatura.htmlprocessing import convert_tags, tree_cleaning
from trafilatura.settings import Extractor

from curate.extract.engines_predicates import Unsupported, compile_predicate
from curate.extract.engines_xpath import SWAPS, ElementTest, FirstMatch, faster_trafilatura, first_match, is_local
from curate.extract.web import decode_page


@pytest.fixture(scope="module")
def pages(shared_data):
    folder = shared_data / "web" / "html" / "trafilatura_cache"
    return [decode_page({}, path.read_bytes(), None) for path in sorted(folder.glob("*.htm*"))[:40]]


def test_only_expressions_on_the_element_alone_are_replaced():
    assert is_local(etree.XPath('.//*[(self::div or self::p)][contains(@class, "footer") or @aria-hidden="true"]'))
    assert not is_local(etree.XPath(".//*[contains(@class, 'x')][.//p]"))  # looks at children
    assert not is_local(etree.XPath(".//*[contains(text(), 'x')]"))
    assert not is_local(etree.XPath(".//header"))
    replaced = [fast for _, _, swapped in SWAPS for fast in swapped if isinstance(fast, ElementTest)]
    assert len(replaced) >= 8  # the big discard lists of trafilatura are covered


def test_element_tests_find_the_same_elements_as_the_xpaths(pages):
    for html in pages:
        tree = trafilatura.load_html(html)  # once a page: finding elements leaves the tree as it is
        for _, stock, fast in SWAPS:
            for xpath, test in zip(stock, fast):
                if isinstance(test, FirstMatch):  # only its first element is read (test below)
                    continue
                assert test(tree) == xpath(tree)  # same elements, same (document) order


def test_tag_led_tests_walked_by_lxml_match_libxml2_on_odd_predicates(pages):
    # candidates listed by lxml's tag iterator, not libxml2: predicates without attributes, with
    # negation, or on an empty value must keep elements that have none of the attributes
    html = pages[0].replace("<body", '<body><div class="">x</div><p>y</p><svg:div id="a">z</svg:div><!-- c --><div id="b">w</div', 1)
    for path in ('.//*[(self::div or self::p)]', './/*[(self::div or self::p)][not(@class)]',
                 './/*[(self::div or self::p)][@class=""]', './/*[(self::div or self::p)][contains(@id, "b")]'):
        test, tree = ElementTest(etree.XPath(path)), trafilatura.load_html(html)
        assert test.tags == ("div", "p") and test(tree) == etree.XPath(path)(tree) and test(tree)


def test_main_content_expressions_find_the_first_element_libxml2_finds(pages):
    # trafilatura reads only the first element each BODY_XPATH expression returns
    fast = [first_match(x) for x in xpaths.BODY_XPATH]
    assert all(isinstance(f, FirstMatch) for f in fast)
    assert first_match(etree.XPath("(.//p[@class])[1]")).path == "(.//p[@class])[1]"  # not a form it reads: stock
    options, found = Extractor(precision=True), 0
    for html in pages:
        tree = convert_tags(tree_cleaning(trafilatura.load_html(html), options), options)  # as _extract sees it
        for xpath, first in zip(xpaths.BODY_XPATH, fast):
            expected = next(iter(xpath(tree)), None)
            assert (first(tree) or [None])[0] is expected
            found += expected is not None
    assert found >= 40


def test_compiled_predicates_answer_as_libxml2_on_every_element(pages):
    tests = [test for _, _, fast in SWAPS for test in fast if isinstance(test, ElementTest)]
    tests += [test for _, _, fast in SWAPS for first in fast if isinstance(first, FirstMatch) for _, test in first.alternatives if test]
    assert len(tests) >= 12 and all(test.compiled for test in tests)
    elements = [element for html in pages for element in trafilatura.load_html(html).iter(etree.Element)]
    for test in tests:
        answers = [test.compiled(element.tag, *map(element.get, test.attributes)) for element in elements]
        assert answers == [bool(test.test(element)) for element in elements] and any(answers)


def test_compiled_predicates_keep_xpath_semantics_on_odd_markup():
    html = ('<html><body><div>none</div><div class="">empty</div><div class="Nav-Bar x">a</div><p id="main">b</p>'
            '<div class="FullText" role="article">c</div><span id="ABCx">d</span></body></html>')
    elements = list(trafilatura.load_html(html).iter(etree.Element))
    for predicate in ('[@class=""]', '[not(@class)]', '[@class and not(contains(@class, "x"))]', '[contains(@class, "")]',
                      '[contains(translate(@class, "NB", "nb"), "nav-bar") or starts-with(@id, "mai")]',
                      '[contains(translate(@id, "ABCA", "ab"), "x") and (self::span or self::p)]',
                      '[contains(translate(@class, "N", "n"), "Nav") or contains(translate(@class, "N", "n"), "av-b")]',
                      '[@role="article" or @id="main" or @id="ABCx"][contains(@class, "Text") or contains(@class, "ll")]'):
        test = ElementTest(etree.XPath(".//*" + predicate))
        assert test.compiled, predicate
        assert [test.compiled(e.tag, *map(e.get, test.attributes)) for e in elements] == [bool(test.test(e)) for e in elements]
    with pytest.raises(Unsupported):
        compile_predicate('[contains(text(), "x")]', ())


def test_extracted_text_is_unchanged_and_trafilatura_is_restored_after(pages):
    settings = dict(favor_precision=True, include_comments=False)
    stock = [trafilatura.extract(html, **settings) for html in pages]
    stock_parser = utils.HTML_PARSER
    with faster_trafilatura():
        assert not isinstance(xpaths.OVERALL_DISCARD_XPATH[0], etree.XPath) and utils.HTML_PARSER is not stock_parser
        fast = [trafilatura.extract(html, **settings) for html in pages]
    assert fast == stock and sum(map(bool, fast)) >= 35
    assert all(isinstance(x, etree.XPath) for x in xpaths.OVERALL_DISCARD_XPATH) and utils.HTML_PARSER is stock_parser
    assert main_extractor.prune_unwanted_sections.__module__ == "trafilatura.main_extractor"
