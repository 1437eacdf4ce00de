"""Faster, identical trafilatura: the Python tree walks of its fallback and of its link-density test.

Without no_fallback, trafilatura runs readability (its fork, trafilatura/readability_lxml.py)
on an uncleaned copy of every page and jusText on some, and keeps whichever text its length
rules pick. Three readability steps turn every element into a Python object:
- transform_misused_divs_into_paragraphs serialises the children of every <div> (a nested div
  is serialised once per ancestor) to regex-search the markup for
  `<(?:a|blockquote|dl|div|img|ol|p|pre|table|ul)`: the same test is "has a descendant
  element whose name starts so", answered by lxml's C iterator over those names (the page's
  tag names that start so), which stops at the first;
- remove_unlikely_candidates reads class and id of every element, also of those inside an
  element it already dropped (~90% of its drops on the shared pages change nothing): the walk
  here skips a dropped element's subtree; its two regexes run once per distinct pair;
- sanitize counts <p>, <img>, <li>, <embed>, <input> under each block with five findall()
  (a Python object per match) and reads its text three times: one XPath count, one read.
jusText walks the tree through lxml.sax (attribute objects and namespace maps per element,
none of which its ParagraphMaker reads): the same start / text / end / tail events come from
lxml's C iterwalk here; and its paragraphs build their path strings and text only when read.
The main pass's delete_by_link_density lists the links of every div / list / p (a Python
object each) before comparing the element's text with a length limit of at most 300
characters, above which the links are never read: the length is compared first here.
The text output keeps a line's characters that are printable or spaces, with one Python call
per character (remove_control_characters): a line that is all printable (str.isprintable, in C)
is kept whole here, any other goes to the stock code.
Markup these shortcuts cannot read the same way (comments, processing instructions, entities,
namespaces) goes to the stock code. tests/test_extract_engines_walks.py checks the text.

Written against trafilatura 1.11.0 and jusText 3.0.2: if the replaced functions change, a
warning says so and the stock code runs (FAITHFUL is False).
"""
from __future__ import annotations

import hashlib
import inspect
import warnings
from contextlib import contextmanager
from functools import lru_cache

import justext.core
import justext.paragraph
from lxml import etree
from lxml.html import fragment_fromstring
from trafilatura import external, htmlprocessing, main_extractor, readability_lxml, utils
from trafilatura.readability_lxml import LIST_TAGS, Document, text_length, trim
from trafilatura.xml import delete_element

# sha1 of the source of each function replaced or imitated here, as in trafilatura 1.11.0 / jusText 3.0.2
STOCK_SOURCES = {
    Document.transform_misused_divs_into_paragraphs: "f4580e2d6f4a",
    Document.sanitize: "d450e4e38f26",
    Document.remove_unlikely_candidates: "c757d1dd7e4b",
    Document.get_link_density: "c715551a1fdf",
    text_length: "3ff5496e554c",
    external.custom_justext: "df56aed1cb8c",
    htmlprocessing.delete_by_link_density: "621cc66078ec",
    htmlprocessing.link_density_test: "56693d7fbab8",
    justext.core.ParagraphMaker.make_paragraphs: "55b27400980a",
    justext.core.ParagraphMaker._start_new_pragraph: "d763d8417354",
    justext.paragraph.Paragraph.__init__: "1cefb0c821d7",
    justext.paragraph.Paragraph.text.fget: "54813b5f89b5",
    utils.remove_control_characters: "bc9ab3569cde",
    utils.return_printables_and_spaces: "caef6dfe1ed6",
}

# readability's divToPElementsRe, `<(?:a|blockquote|dl|div|img|ol|p|pre|table|ul)` (any case), as name prefixes
BLOCK_PREFIXES = ("a", "blockquote", "dl", "div", "img", "ol", "p", "table", "ul")
BLOCK_COUNTS = etree.XPath("concat(count(.//p), ' ', count(.//img), ' ', count(.//li), ' ', count(.//embed), ' ', "
                           "count(.//input), ' ', count(.//input[@type='hidden']))")
# nodes the serialised-markup test and the SAX walk see differently from the shortcuts
UNUSUAL_NODES = etree.XPath("boolean(//comment() | //processing-instruction() | //*[namespace-uri() != ''])")


def unusual(tree) -> bool:
    return bool(UNUSUAL_NODES(tree)) or next(tree.iter(etree.Entity), None) is not None


@lru_cache(maxsize=100_000)
def unlikely(class_value: str | None, id_value: str | None) -> bool:
    """readability's test of "class id" (2 characters at least, its two regexes), once per
    distinct pair (pages repeat them): a repeat costs a lookup, not a join."""
    attrs = " ".join(filter(None, (class_value, id_value)))
    regexes = readability_lxml.REGEXES
    return (len(attrs) >= 2 and bool(regexes["unlikelyCandidatesRe"].search(attrs))
            and not regexes["okMaybeItsACandidateRe"].search(attrs))


class FastDocument(Document):
    __slots__ = ()

    def transform_misused_divs_into_paragraphs(self):
        if unusual(self.doc):
            return super().transform_misused_divs_into_paragraphs()
        names = {elem.tag for elem in self.doc.iter()}
        if any(":" in name or "{" in name or not name.isascii() for name in names):  # (re.I folds some non-ASCII letters)
            return super().transform_misused_divs_into_paragraphs()
        blocks = [name for name in names if name.lower().startswith(BLOCK_PREFIXES)]
        for elem in self.doc.findall(".//div"):  # a div's descendants are renamed after it is tested
            if not blocks or next(elem.iterdescendants(*blocks), None) is None:
                elem.tag = "p"
        for elem in self.doc.findall(".//div"):  # stock, from here on
            if elem.text and elem.text.strip():
                p_elem = fragment_fromstring("<p/>")
                p_elem.text, elem.text = elem.text, None
                elem.insert(0, p_elem)
            for pos, child in sorted(enumerate(elem), reverse=True):
                if child.tail and child.tail.strip():
                    p_elem = fragment_fromstring("<p/>")
                    p_elem.text, child.tail = child.tail, None
                    elem.insert(pos + 1, p_elem)
                if child.tag == "br":
                    child.drop_tree()

    def remove_unlikely_candidates(self):
        # stock drops every unlikely element of the page, most of them (~90% on the shared pages)
        # inside one it dropped before, which changes nothing in the page: a walk that skips a
        # dropped element's subtree drops the same elements from the page, in the same order
        walk, dropped = etree.iterwalk(self.doc, events=("start",), tag=etree.Element), []
        next(walk)  # the root itself is not a candidate
        for _, elem in walk:
            if unlikely(elem.get("class"), elem.get("id")) and elem.tag not in readability_lxml.FRAME_TAGS:
                dropped.append(elem)
                walk.skip_subtree()
        for elem in dropped:
            elem.drop_tree()

    def sanitize(self, node, candidates):
        for header in node.iter("h1", "h2", "h3", "h4", "h5", "h6"):
            if self.class_weight(header) < 0 or self.get_link_density(header) > 0.33:
                header.drop_tree()
        for elem in node.iter("form", "textarea"):
            elem.drop_tree()
        for elem in node.iter("iframe"):
            if "src" in elem.attrib and readability_lxml.REGEXES["videoRe"].search(elem.attrib["src"]):
                elem.text = "VIDEO"
            else:
                elem.drop_tree()
        allowed = set()
        for elem in reversed(node.xpath("//table|//ul|//div|//aside|//header|//footer|//section")):
            if elem in allowed:
                continue
            weight = self.class_weight(elem)
            score = candidates[elem].score if elem in candidates else 0
            if weight + score < 0:
                elem.drop_tree()
                continue
            text = elem.text_content()
            if text.count(",") >= 10:
                continue
            p, img, li, embed, inputs, hidden = map(int, BLOCK_COUNTS(elem).split())
            li, inputs = li - 100, inputs - hidden
            content_length = len(trim(text))
            if self.should_drop(elem, weight, content_length, p, img, li, embed, inputs, allowed):
                elem.drop_tree()
        self.doc = node
        return readability_lxml._tostring(self.doc)

    def should_drop(self, elem, weight, content_length, p, img, li, embed, inputs, allowed) -> bool:
        """readability's rules in its order; the link density (a read of every link's text) only
        where the rules before it did not decide."""
        if (p and img > 1 + p * 1.3) or (li > p and elem.tag not in LIST_TAGS) or inputs > p / 3:
            return True
        if content_length < self.min_text_length and (img == 0 or img > 2):
            return True
        link_density = sum(text_length(link) for link in elem.findall(".//a")) / (content_length or 1)
        if (weight < 25 and link_density > 0.2) or (weight >= 25 and link_density > 0.5):
            return True
        if (embed == 1 and content_length < 75) or embed > 1:
            return True
        if content_length:
            return False
        siblings = []  # an empty block between long siblings is kept, with the blocks inside it
        for sib in elem.itersiblings():
            sib_content_length = text_length(sib)
            if sib_content_length:
                siblings.append(sib_content_length)
                break
        limit = len(siblings) + 1
        for sib in elem.itersiblings(preceding=True):
            sib_content_length = text_length(sib)
            if sib_content_length:
                siblings.append(sib_content_length)
                if len(siblings) >= limit:
                    break
        if siblings and sum(siblings) > 1000:
            allowed.update(elem.iter("table", "ul", "div", "section"))
            return False
        return True


class FastParagraph(justext.paragraph.Paragraph):
    """jusText's paragraph, with its path strings built when read (most paragraphs are empty and
    dropped) and its text built once per change (jusText reads it ~6 times per paragraph)."""

    def __init__(self, path):
        self.path_steps = tuple(path._elements)  # (tag, position, children): the first two never change
        self.text_nodes, self.chars_count_in_links, self.tags_count, self.class_type = [], 0, 0, ""
        self.text_of = (0, "")

    @property
    def dom_path(self):
        return ".".join(step[0] for step in self.path_steps)

    @property
    def xpath(self):
        return "/" + "/".join("%s[%d]" % step[:2] for step in self.path_steps)

    @property
    def text(self):
        count, text = self.text_of
        if count != len(self.text_nodes):
            self.text_of = count, text = len(self.text_nodes), super().text
        return text


class FastParagraphMaker(justext.core.ParagraphMaker):
    def _start_new_pragraph(self):
        if self.paragraph and self.paragraph.contains_text():
            self.paragraphs.append(self.paragraph)
        self.paragraph = FastParagraph(self.path)

    @classmethod
    def make_paragraphs(cls, root):
        if not isinstance(root, etree._Element) or unusual(root) or root.getprevious() is not None or root.getnext() is not None:
            return super().make_paragraphs(root)
        handler = cls()
        for event, elem in etree.iterwalk(root, events=("start", "end")):  # lxml.sax's events, in its order
            if event == "start":
                handler.startElementNS((None, elem.tag), elem.tag, None)
                if elem.text:
                    handler.characters(elem.text)
            else:
                handler.endElementNS((None, elem.tag), elem.tag)
                if elem.tail:
                    handler.characters(elem.tail)
        handler.endDocument()
        return handler.paragraphs


LONGEST_LINK_TEST = 300  # the largest length limit in link_density_test: longer text is never link-tested


def delete_by_link_density(subtree, tagname, backtracking=False, favor_precision=False):
    deletions = []
    threshold = 200 if favor_precision else 100
    for elem in subtree.iter(tagname):
        elemtext = trim(elem.text_content())
        if len(elemtext) >= LONGEST_LINK_TEST:
            continue  # link_density_test would answer (False, []) after listing the links
        result, templist = htmlprocessing.link_density_test(elem, elemtext, favor_precision)
        if result:
            deletions.append(elem)
        elif backtracking and templist and 0 < len(elemtext) < threshold and len(elem) >= 3:
            deletions.extend(elem)
    for elem in dict.fromkeys(deletions):
        delete_element(elem)
    return subtree


def remove_control_characters(string: str) -> str:
    return string if string.isprintable() else STOCK_REMOVE_CONTROL_CHARACTERS(string)


STOCK_REMOVE_CONTROL_CHARACTERS = utils.remove_control_characters


def source_hash(function) -> str:
    return hashlib.sha1(inspect.getsource(function).encode()).hexdigest()[:12]


CHANGED = [f.__qualname__ for f, known in STOCK_SOURCES.items() if source_hash(f) != known]
FAITHFUL = not CHANGED
if CHANGED:
    warnings.warn(f"curate: trafilatura/jusText changed {', '.join(CHANGED)} (curate's faster copies were written for "
                  "trafilatura 1.11.0, jusText 3.0.2): using the stock fallback code, slower", stacklevel=2)


@contextmanager
def faster_walks():
    """Within the block, trafilatura uses the classes and function above (when FAITHFUL)."""
    if not FAITHFUL:
        yield
        return
    external.ReadabilityDocument, external.ParagraphMaker = FastDocument, FastParagraphMaker
    main_extractor.delete_by_link_density = delete_by_link_density
    utils.remove_control_characters = remove_control_characters
    try:
        yield
    finally:
        utils.remove_control_characters = STOCK_REMOVE_CONTROL_CHARACTERS
        external.ReadabilityDocument, external.ParagraphMaker = Document, justext.core.ParagraphMaker
        main_extractor.delete_by_link_density = htmlprocessing.delete_by_link_density
