"""The faster discard tests and parser (curate/extract/engines_xpath.py) must not change what trafilatura
extracts: same elements as its XPaths, same text, and trafilatura untouched outside the block."""
from __future__ import annotations

import pytest
import trafilatura
from lxml import etree
from trafilatura import utils, xpaths

from curate.extract.engines_xpath import SWAPS, ElementTest, faster_trafilatura, is_local
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
                assert test(tree) == xpath(tree)  # same elements, same (document) order


def test_extracted_text_is_unchanged_and_trafilatura_is_restored_after(pages):
    settings = dict(favor_precision=True, include_comments=False)
    stock = [trafilatura.extract(html, **settings) for html in pages]
    stock_parser = utils.HTML_PARSER
    with faster_trafilatura():
        assert not isinstance(xpaths.OVERALL_DISCARD_XPATH[0], etree.XPath) and utils.HTML_PARSER is not stock_parser
        fast = [trafilatura.extract(html, **settings) for html in pages]
    assert fast == stock and sum(map(bool, fast)) >= 35
    assert all(isinstance(x, etree.XPath) for x in xpaths.OVERALL_DISCARD_XPATH) and utils.HTML_PARSER is stock_parser
