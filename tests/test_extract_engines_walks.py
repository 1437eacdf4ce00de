"""The faster tree walks (curate/extract/engines_walks.py) must not change what trafilatura computes:
same readability summary, same jusText paragraphs and classes, same extracted text."""
from __future__ import annotations

from copy import deepcopy

import justext.core
import lxml.html
import pytest
import trafilatura
from trafilatura import external, htmlprocessing, main_extractor, utils
from trafilatura.readability_lxml import Document

from curate.extract.engines_walks import FAITHFUL, FastDocument, FastParagraphMaker, faster_walks, remove_control_characters
from curate.extract.engines_xpath import faster_trafilatura
from curate.extract.web import decode_page

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: its tests share the module's parsed pages
pytestmark = pytest.mark.xdist_group("extract_engines_walks")


@pytest.fixture(scope="module")
def trees(shared_data):
    folder = shared_data / "web" / "html" / "trafilatura_cache"
    pages = [decode_page({}, path.read_bytes(), None) for path in sorted(folder.glob("*.htm*"))]
    return [tree for tree in map(trafilatura.load_html, pages) if tree is not None]


def paragraphs(maker, tree):
    found = maker.make_paragraphs(tree)
    justext.core.classify_paragraphs(found, external.JT_STOPLIST or external.jt_stoplist_init(), 50, 200, 0.1, 0.2, 0.2, True)
    justext.core.revise_paragraph_classification(found, 200)  # as trafilatura's custom_justext
    return [(p.dom_path, p.xpath, p.text, p.is_heading, p.tags_count, p.chars_count_in_links, p.class_type) for p in found]


def test_written_for_the_installed_trafilatura():
    assert FAITHFUL  # else the stock code runs (with a warning) and these tests compare it with itself


def test_readability_summary_is_the_stock_one_on_every_shared_page(trees):
    assert len(trees) >= 105
    for tree in trees:
        assert FastDocument(deepcopy(tree)).summary() == Document(deepcopy(tree)).summary()


def test_justext_paragraphs_are_the_stock_ones_on_every_shared_page(trees):
    for tree in trees:
        assert paragraphs(FastParagraphMaker, tree) == paragraphs(justext.core.ParagraphMaker, tree)


def test_markup_the_shortcuts_do_not_read_goes_to_the_stock_code():
    # a comment is serialised with the markup readability regex-searches; lxml.html keeps comments
    html = "<html><body><div>intro<!-- <p>old</p> --></div><div><span>" + "word, " * 30 + "</span></div></body></html>"
    tree = lxml.html.fromstring(html)
    assert FastDocument(deepcopy(tree)).summary() == Document(deepcopy(tree)).summary()
    assert paragraphs(FastParagraphMaker, tree) == paragraphs(justext.core.ParagraphMaker, tree)


def test_unlikely_elements_inside_dropped_ones_drop_as_stock():
    # readability drops a sidebar, then the menus and comments inside it (from the dropped copy);
    # the faster walk skips them: the page must come out the same, tails and frames included
    html = ("<html><body class='sidebar'><div id='main'>" + "text, " * 60 + "<div class='sidebar'>side<div class='menu'>m"
            "</div>menu tail<p id='comment'>c</p>tail</div>after sidebar<!-- c --><p class='footer'>f</p>end</div></body></html>")
    tree = lxml.html.fromstring(html)
    assert FastDocument(deepcopy(tree)).summary() == Document(deepcopy(tree)).summary()


def test_control_characters_removed_as_trafilatura_removes_them(trees):
    lines = [text for tree in trees[:20] for text in tree.itertext()]
    lines += ["tab\there", "bell\x07 and nul\x00", "zero\u200bwidth", "plain words, é ü 中文", "line\u2028sep", ""]
    assert [remove_control_characters(s) for s in lines] == [utils.remove_control_characters(s) for s in lines]


def test_extracted_text_is_unchanged_and_the_stock_fallback_is_restored_after(shared_data):
    folder = shared_data / "web" / "html" / "trafilatura_cache"
    pages = [decode_page({}, path.read_bytes(), None) for path in sorted(folder.glob("*.htm*"))]
    settings = dict(favor_precision=True, include_comments=False)
    stock = [trafilatura.extract(html, **settings) for html in pages]
    with faster_trafilatura(), faster_walks():
        assert external.ReadabilityDocument is FastDocument
        fast = [trafilatura.extract(html, **settings) for html in pages]
    assert fast == stock and sum(map(bool, fast)) >= 100
    assert external.ReadabilityDocument is Document and external.ParagraphMaker is justext.core.ParagraphMaker
    assert main_extractor.delete_by_link_density is htmlprocessing.delete_by_link_density
    assert utils.remove_control_characters.__module__ == "trafilatura.utils"
