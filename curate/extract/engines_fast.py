"""engine: fast -- main text from one walk over Lexbor's C DOM (selectolax), no second extractor.

The ideas are trafilatura's, readability's and jusText's, written for one pass:
1. markup that is never main text goes with its subtree (scripts, styles, media, form fields:
   NEVER_CONTENT);
2. the rest becomes blocks (paragraphs, headings, list items, cells, and text sitting directly
   in a <div>), each with its characters, link characters, its chain of ancestors, and the
   boilerplate parts around it: <nav>, <aside>, <footer>, <form>, and elements whose class / id / role
   names a page part (navigation, share bars, comments, related links: BOILERPLATE);
3. boilerplate parts are dropped, unless one holds most of the page's prose (themes call whole
   layouts "...-sidebar-...", some sites put the article in an <aside>, ASP.NET wraps the page
   in one <form>);
4. every prose block (PROSE_CHARS or more, not link-dense) scores its parent, grandparent and
   great-grandparent (1, 1/2, 1/3 of its score) as readability does; the best container is the
   main content, with its siblings that score a fifth as much (an article split over several
   <div>s). A marked-up article (<article>, <main>, itemprop=articleBody) is taken instead
   when it holds prose and no other marked-up article outside it does (trafilatura, too, looks
   for such markup first);
5. the fallback is a decision, not another extractor: when the chosen part holds under half
   of the page's prose, the text is spread over the page (table layouts, forums), and every
   prose block outside boilerplate is kept;
6. in the kept part, link-dense blocks (menus, tag lists, "read more" links) are dropped unless
   one stands alone between prose (a sentence that is a link), and so are short lines that no
   prose follows before such a block ("Related articles", "Tags:") and headings at the end.
Thresholds are the ones readability and trafilatura use (25-character paragraphs, link density
0.5, a fifth of the top score) or "most" (half); none was fitted to a test set. Where it
loses: docs/extraction.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

# never main text, dropped with everything inside (trafilatura's MANUALLY_CLEANED, in short)
NEVER_CONTENT = {
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "canvas",
    "iframe",
    "frame",
    "object",
    "embed",
    "applet",
    "video",
    "audio",
    "map",
    "picture",
    "figure",
    "button",
    "select",
    "input",
    "textarea",
    "label",
    "option",
    "datalist",
    "dialog",
    "head",
    "title",
    "meta",
    "link",
    "time",
}
# page parts other than the main text, unless they hold most of its prose (a site that puts its
# article in an <aside>, ASP.NET pages wrapped in one <form>): dropped as boilerplate class names are
BOILERPLATE_TAGS = {"nav", "aside", "footer", "menu", "form"}
BLOCKS = {
    "p",
    "pre",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "dt",
    "dd",
    "td",
    "th",
    "caption",
    "address",
    "div",
    "section",
    "article",
    "main",
    "header",
    "ul",
    "ol",
    "dl",
    "table",
    "tr",
    "tbody",
    "thead",
    "tfoot",
    "form",
    "fieldset",
    "center",
    "body",
    "html",
    "details",
    "summary",
    "hr",
}
ARTICLE_TAGS = {"article", "main"}
# words in a class / id / role that name a part of a page other than its main text
BOILERPLATE = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|menubar|breadcrumbs?|footer|sidebar|widget|share|sharing|social|"
    r"related|recommended|popular|trending|comments?|disqus|respond|advert\w*|sponsor\w*|promo|banner|cookies?|"
    r"consent|newsletter|subscribe|subscription|signup|login|popup|modal|pagination|pager|tags|tagcloud|"
    r"byline|author|authors|bio|toolbar|skip|masthead|copyright|legal|disclaimer|keywords|topics|taglist|"
    r"dateline|timestamp|meta|caption|credits?|links|bottom)(?:$|[\s_-])",
    re.IGNORECASE,
)
COMMENTS = re.compile(r"(?:^|[\s_-])(?:comments?|disqus|respond)(?:$|[\s_-])", re.IGNORECASE)
BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "menu", "menubar", "search", "dialog"}
ARTICLE_MARKERS = {"articlebody", "text", "articletext"}  # itemprop values of schema.org article text
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))  # soft hyphens, zero-width marks
PROSE_CHARS = 25  # readability: shorter paragraphs do not score
LINK_DENSITY = 0.5  # trafilatura and readability: more than half the characters in links is navigation
# readability's first score of a container by its tag: a <div> is likelier to hold an article than a list
TAG_SCORES = {
    "div": 5,
    "pre": 3,
    "td": 3,
    "blockquote": 3,
    "address": -3,
    "ol": -3,
    "ul": -3,
    "dl": -3,
    "dd": -3,
    "dt": -3,
    "li": -3,
    "form": -3,
    "h1": -5,
    "h2": -5,
    "h3": -5,
    "h4": -5,
    "h5": -5,
    "h6": -5,
    "th": -5,
}
SIBLING_SHARE = 0.2  # readability: siblings of the top container scoring a fifth as much belong to it
SIBLING_MIN_SCORE = 10  # ... and at least 10 (readability's floor): a lone short paragraph is not a part
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
ITEMS = {"li", "dt", "dd", "tr", "td", "th"}  # short by nature: list items and table cells
KEEP_IF_PROSE_SHARE = 0.5  # a "boilerplate" element holding this share of the page's prose is the layout


@dataclass
class Block:
    chars: int = 0
    link_chars: int = 0
    parts: list = field(default_factory=list)
    ancestors: tuple = ()  # mem_ids of the elements around it, outermost first
    boilerplate: tuple = ()  # mem_ids of the boilerplate-named elements around it
    preformatted: bool = False

    @property
    def link_density(self) -> float:
        return self.link_chars / self.chars if self.chars else 0.0

    @property
    def is_prose(self) -> bool:
        return self.chars >= PROSE_CHARS and self.link_density <= LINK_DENSITY

    def text(self) -> str:
        joined = "".join(self.parts).translate(INVISIBLE)
        if self.preformatted:
            return joined.strip("\n")
        return "\n".join(" ".join(line.split()) for line in joined.split("\n") if line.strip())


class Walker:
    """One depth-first walk that cuts the page into blocks."""

    def __init__(self, include_tables: bool, include_comments: bool):
        self.dropped = NEVER_CONTENT if include_tables else NEVER_CONTENT | {"table"}
        self.include_comments = include_comments
        self.blocks: list[Block] = []
        self.article_ids: set[int] = set()  # marked-up articles (<article>, <main>, itemprop=articleBody)
        self.tags: dict[int, str] = {}  # mem_id -> tag of the block elements
        self.comment_ids: set[int] = set()  # comment sections, kept beside the main text with include_comments
        self.current: Block | None = None

    def walk(self, node, ancestors: tuple, boilerplate: tuple, in_link: bool, pre: bool) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                text = child.text(deep=False)
                if text:
                    self.add_text(text, ancestors, boilerplate, in_link, pre)
                continue
            if tag[0] in "-!_" or tag in self.dropped:  # comments, doctype; never-content markup
                continue
            attributes = child.attributes
            if tag == "br":
                self.add_text("\n", ancestors, boilerplate, in_link, pre)
                continue
            names = " ".join(filter(None, (attributes.get("class"), attributes.get("id"))))
            marks = boilerplate
            if (
                tag in BOILERPLATE_TAGS
                or self.is_boilerplate(names, attributes.get("role"))
                and tag not in ("body", "html")
            ):
                marks = boilerplate + (child.mem_id,)
            if tag in BLOCKS:
                element_id = child.mem_id
                self.tags[element_id] = tag
                if self.include_comments and names and COMMENTS.search(names):
                    self.comment_ids.add(element_id)
                if tag in ARTICLE_TAGS or (attributes.get("itemprop") or "").lower() in ARTICLE_MARKERS:
                    self.article_ids.add(element_id)
                self.current = None  # a block starts: text before it is a block of its own
                inner = ancestors + (element_id,)
                self.walk(child, inner, marks, in_link, pre or tag == "pre")
                self.current = None
            else:
                self.walk(child, ancestors, marks, in_link or tag == "a", pre)

    def is_boilerplate(self, names: str, role: str | None) -> bool:
        if role and role.lower() in BOILERPLATE_ROLES:
            return True
        if not names or not BOILERPLATE.search(names):
            return False
        return not (self.include_comments and COMMENTS.search(names))

    def add_text(self, text: str, ancestors: tuple, boilerplate: tuple, in_link: bool, pre: bool) -> None:
        block = self.current
        if block is None:
            block = self.current = Block(ancestors=ancestors, boilerplate=boilerplate, preformatted=pre)
            self.blocks.append(block)
        block.parts.append(text)
        chars = len(text) if pre else len(text.strip())
        block.chars += chars
        if in_link:
            block.link_chars += chars


def fast_main_text(
    html: str, include_tables: bool = True, include_comments: bool = False
) -> tuple[str | None, str | None]:
    body = LexborHTMLParser(html).body
    if body is None:
        return None, "parse error: no <body>"
    walker = Walker(include_tables, include_comments)
    try:
        walker.walk(body, (body.mem_id,), (), False, False)
    except RecursionError:  # the walk recurses per element: ~1,000 levels (libxml2 stops at 256)
        return None, "HTML nested deeper than the walk allows (about 1,000 elements)"
    blocks = [b for b in walker.blocks if b.chars]
    kept = main_blocks(blocks, walker)
    text = "\n".join(filter(None, (b.text() for b in kept)))
    return (text, None) if text else (None, "no main content found")


def main_blocks(blocks: list[Block], walker: Walker) -> list[Block]:
    """The blocks of the main content, in page order."""
    layout = layout_elements(blocks)
    blocks = [b for b in blocks if not set(b.boilerplate) - layout]
    prose = [b for b in blocks if b.is_prose]
    if not prose:
        return [b for b in blocks if b.link_density <= LINK_DENSITY]
    total = sum(b.chars for b in prose)
    region = main_region(prose, walker, total)
    if region is None:  # the prose is spread over the page: keep all of it
        return without_link_lists(blocks, walker.tags)
    return without_link_lists(
        [b for b in blocks if region.intersection(b.ancestors) or walker.comment_ids.intersection(b.ancestors)],
        walker.tags,
    )


def without_link_lists(blocks: list[Block], tags: dict[int, str]) -> list[Block]:
    """Link-dense blocks go, unless one stands alone between prose blocks (a sentence that is a
    link, jusText's context rule). So do short lines that no prose follows before a dropped block:
    the "Related articles" over a list of links, the "Tags:" before the tags; and headings that
    end the text (as trafilatura drops them). A short closing line that is not a heading (a
    signature) stays, and so do list items and table cells."""

    def linky(i: int) -> bool:
        block = blocks[i]
        if block.link_density <= LINK_DENSITY:
            return False
        alone = 0 < i < len(blocks) - 1 and blocks[i - 1].is_prose and blocks[i + 1].is_prose
        return not (alone and block.chars >= PROSE_CHARS)

    kept, prose_follows, at_end = [], False, True
    for i in reversed(range(len(blocks))):
        block = blocks[i]
        if linky(i):
            prose_follows = at_end = False
        elif block.is_prose:
            kept.append(block)
            prose_follows, at_end = True, False
        elif (
            prose_follows
            or tags.get(block.ancestors[-1]) in ITEMS
            or (at_end and tags.get(block.ancestors[-1]) not in HEADINGS)
        ):  # a short title or line, kept when prose comes after it
            kept.append(block)
    return kept[::-1]


def layout_elements(blocks: list[Block]) -> set[int]:
    """Boilerplate-named elements that hold most of the page's prose: a layout, not a side part."""
    prose_chars: dict[int, int] = {}
    total = 0
    for b in blocks:
        if b.is_prose:
            total += b.chars
            for mark in b.boilerplate:
                prose_chars[mark] = prose_chars.get(mark, 0) + b.chars
    return {mark for mark, chars in prose_chars.items() if chars >= KEEP_IF_PROSE_SHARE * total}


def main_region(prose: list[Block], walker: Walker, total: int) -> set[int] | None:
    """mem_ids of the element(s) holding the main content; None when no element holds half the prose."""
    scores: dict[int, float] = {}
    chars: dict[int, int] = {}
    parent_of: dict[int, int] = {}
    for b in prose:
        # readability: a point, one per comma, one per 100 characters up to 3
        text_score = 1 + sum(part.count(",") for part in b.parts) + min(b.chars / 100, 3)
        ancestors = b.ancestors
        for depth, element in enumerate(reversed(ancestors[-4:-1])):  # its parent, grandparent, great-grandparent
            if element not in scores:
                scores[element] = TAG_SCORES.get(walker.tags.get(element), 0)
            scores[element] += text_score / (1 + depth)
        for i, element in enumerate(ancestors):
            chars[element] = chars.get(element, 0) + b.chars
            if i:
                parent_of[element] = ancestors[i - 1]
    article_ids = walker.article_ids
    articles = [a for a in article_ids if a in chars]
    if articles:  # the innermost marked-up article holding prose, unless prose lies in others too (a listing)
        article = min(articles, key=lambda a: chars[a])
        around = lineage(article, parent_of)
        if not any(chars.get(a) and a not in around and article not in lineage(a, parent_of) for a in article_ids):
            return {article}
    top = climb(max(scores, key=scores.get), scores, parent_of)
    parent = parent_of.get(top)
    region = {top} | {
        e
        for e, s in scores.items()
        if e != top and parent_of.get(e) == parent and s >= max(SIBLING_MIN_SCORE, SIBLING_SHARE * scores[top])
    }
    if sum(chars.get(e, 0) for e in region) < KEEP_IF_PROSE_SHARE * total:
        return None
    return region


def climb(top: int, scores: dict[int, float], parent_of: dict[int, int]) -> int:
    """readability: a score that rises going up from the top container means more of the article
    lies beside it (a lead paragraph, a second column): take that ancestor. Climbing stops where
    an ancestor scores under a third of the last."""
    last, element = scores[top], parent_of.get(top)
    while element is not None and element in parent_of:  # not the <body>
        score = scores.get(element)
        if score is not None:
            if score < last / 3:
                break
            if score > last:
                return element
            last = score
        element = parent_of.get(element)
    return top


def lineage(element: int, parent_of: dict[int, int]) -> set[int]:
    """The element and its ancestors."""
    line = {element}
    while element in parent_of:
        element = parent_of[element]
        line.add(element)
    return line
