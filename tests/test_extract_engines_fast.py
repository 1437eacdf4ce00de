"""engine: fast (curate/extract/engines_fast.py), one test per rule, on pages written here."""

from __future__ import annotations

import pytest

pytest.importorskip("selectolax", reason="engine fast needs selectolax (a dependency of the project)")

from curate.extract.engines_fast import fast_main_text  # noqa: E402

PROSE = (
    "The committee met on Tuesday to discuss the river's water quality, which has fallen for three "
    "years in a row, and agreed to publish its measurements every month from now on."
)
MORE = (
    "Residents had asked for the figures since the spring, when a local school found traces of "
    "fertiliser in samples its pupils took near the old mill."
)


def page(body: str) -> str:
    return f"<html><head><title>t</title><script>var x = 'script text';</script></head><body>{body}</body></html>"


def article(*paragraphs: str) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def text_of(body: str, **options) -> str:
    text, why = fast_main_text(page(body), **options)
    assert text is not None, why
    return text


def test_paragraphs_of_the_article_are_kept_in_order_one_per_line():
    assert text_of(f"<div>{article(PROSE, MORE)}</div>") == f"{PROSE}\n{MORE}"


def test_scripts_styles_and_form_fields_are_never_text():
    text = text_of(
        f"<div>{article(PROSE)}<style>p {{color: red}}</style><button>Click here to subscribe</button>"
        f"<select><option>Choose a country from the list</option></select></div>"
    )
    assert text == PROSE


@pytest.mark.parametrize(
    "part",
    [
        "<nav>{}</nav>",
        "<footer>{}</footer>",
        "<aside>{}</aside>",
        '<div class="site-footer">{}</div>',
        '<div id="main-nav">{}</div>',
        '<div class="share-buttons">{}</div>',
        '<div role="navigation">{}</div>',
        '<section class="related-posts">{}</section>',
        '<div class="comments">{}</div>',
        '<div class="entry-meta">{}</div>',
        '<div class="footer-links">{}</div>',
    ],
)
def test_boilerplate_parts_by_tag_class_id_or_role_are_dropped(part):
    side = "This part of the page talks about something else entirely, at some length too."
    text = text_of(f"<div>{article(PROSE, MORE)}</div>" + part.format(f"<p>{side}</p>"))
    assert side not in text and PROSE in text


def test_class_words_match_whole_words_only():
    """'navigation' drops a part, but a class that only contains the letters ('canvas-wrap') does not."""
    text = text_of(f'<div class="canvas-wrap">{article(PROSE, MORE)}</div>')
    assert PROSE in text


def test_a_boilerplate_named_element_holding_most_of_the_prose_is_the_layout_and_stays():
    text = text_of(f'<div class="content-with-sidebar">{article(PROSE, MORE)}</div><nav><a href="/">Home</a></nav>')
    assert text == f"{PROSE}\n{MORE}"


def test_comments_are_kept_when_asked_for():
    comment = "I live by that river and the water has indeed looked worse every summer since 2019."
    body = f"<div>{article(PROSE, MORE)}</div><div class='comments'><p>{comment}</p></div>"
    assert comment not in text_of(body) and comment in text_of(body, include_comments=True)


def test_tables_are_dropped_when_asked():
    cell = "Nitrate concentration measured at the old mill, in milligrams per litre"
    body = f"<div>{article(PROSE, MORE)}<table><tr><td>{cell}</td></tr></table></div>"
    assert cell in text_of(body) and cell not in text_of(body, include_tables=False)


def test_the_container_with_most_prose_wins_over_a_teaser_box():
    teaser = "Another story: the town's new bridge opens next week after two years of works on it."
    body = f"<div id='story'>{article(PROSE, MORE, PROSE.upper())}</div><div id='box'><p>{teaser}</p></div>"
    text = text_of(body)
    assert teaser not in text and MORE in text


def test_an_article_split_over_sibling_containers_is_kept_whole():
    body = f"<div id='body'><div class='part'>{article(PROSE, MORE)}</div><div class='part'>{article(MORE.upper(), PROSE.upper())}</div></div>"
    text = text_of(body)
    assert PROSE in text and PROSE.upper() in text


def test_a_marked_up_article_holding_most_prose_is_taken_whole_with_its_title():
    body = (
        f"<div><p>{MORE}</p></div><article><h1>River report</h1>{article(PROSE, PROSE.upper(), MORE.upper())}</article>"
    )
    text = text_of(body)
    assert text.startswith("River report\n") and MORE not in text.replace(MORE.upper(), "")


def test_a_lead_paragraph_beside_the_article_body_comes_along_when_the_score_rises_above_it():
    """readability's climb: going up from the best container (the body text), the score falls and
    then rises again where the lead paragraph adds to it: that ancestor, lead and body, is the article."""
    lead = "A lead paragraph says in two lines what happened where and why in this town."
    body = (
        f"<div id='article'><p>{lead}</p><div class='wrap'><div class='text'>{article(PROSE, MORE)}</div></div></div>"
        f"<div id='other'><p>{MORE.upper()}</p></div>"
    )
    text = text_of(body)
    assert lead in text and PROSE in text and MORE.upper() not in text


def test_short_lines_at_the_end_stay_but_a_closing_heading_or_a_title_over_links_goes():
    items = "<ul><li>200 g flour</li><li>2 eggs</li></ul>"
    assert text_of(f"<div>{article(PROSE, MORE)}{items}</div>").endswith("200 g flour\n2 eggs")
    assert text_of(f"<div>{article(PROSE, MORE)}<p>Anna, the editors</p></div>").endswith("Anna, the editors")
    assert "More from us" not in text_of(f"<div>{article(PROSE, MORE)}<h3>More from us</h3></div>")
    links = "<p>Read also:</p><ul><li><a href='/a'>Home</a></li><li><a href='/b'>News</a></li></ul>"
    assert "Read also" not in text_of(f"<div>{article(PROSE, MORE)}{links}</div>")


def test_prose_spread_over_the_page_is_kept_all_the_fallback_decision():
    cells = "".join(f"<tr><td><p>{p}</p></td></tr>" for p in (PROSE, MORE, PROSE.upper(), MORE.upper()))
    text = text_of(f"<table>{cells}</table>")
    assert all(p in text for p in (PROSE, MORE, PROSE.upper(), MORE.upper()))


def test_link_lists_inside_the_article_are_dropped_with_their_title():
    links = (
        "<h3>Read more</h3><ul>"
        + "".join(f"<li><a href='/{i}'>Another article number {i} on the site</a></li>" for i in range(5))
        + "</ul>"
    )
    text = text_of(f"<div>{article(PROSE, MORE)}{links}</div>")
    assert text == f"{PROSE}\n{MORE}"


def test_a_sentence_that_is_a_link_between_paragraphs_stays():
    link = "<p><a href='/report'>The full report of the committee is online</a></p>"
    text = text_of(f"<div><p>{PROSE}</p>{link}<p>{MORE}</p></div>")
    assert "The full report of the committee is online" in text


def test_line_breaks_stay_and_whitespace_and_soft_hyphens_collapse():
    text = text_of(
        f"<div><p>{PROSE}</p><p>First line of the poem, long enough<br>  second   line, in\u00ad visible</p></div>"
    )
    assert text.endswith("First line of the poem, long enough\nsecond line, in visible")


def test_preformatted_text_keeps_its_layout():
    code = "def f(x):\n    return x + 1  # the river's level"
    assert code in text_of(f"<div>{article(PROSE)}<pre>{code}</pre></div>")


def test_a_page_wrapped_in_one_form_keeps_its_text_but_a_login_form_goes():
    assert PROSE in text_of(f"<form id='aspnetForm'><div>{article(PROSE, MORE)}</div></form>")
    login = text_of(
        f"<div>{article(PROSE, MORE)}</div><form><span>Sign in to your account to read everything</span></form>"
    )
    assert "Sign in" not in login


def test_markup_nested_too_deep_is_an_answer_not_a_crash():
    text, why = fast_main_text(page("<div>" * 5000 + PROSE + "</div>" * 5000))
    assert text is None and "nested deeper" in why


def test_a_page_without_text_says_so():
    assert fast_main_text(page("<div><img src='a.png'></div>")) == (None, "no main content found")
    assert fast_main_text("") == (None, "no main content found")
