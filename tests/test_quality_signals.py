"""Quality signals on real text: values checked by hand, and the fast n-gram code against the
plain string algorithm it replaces; the fast tokenizer and sentence rules against their plain forms."""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from collections import Counter

import pytest

from conftest import web_rows
from curate.extract import books
from curate.extract.stage import ExtractParams
from curate.quality.badwords import bad_word_ratio, load_bad_words
from curate.core.params import ConfigError
from curate.quality.c4 import C4, SENTENCE_BREAK, C4Params, words_of
from curate.quality.filters import Doc
from curate.quality.fineweb import FineWeb, FineWebParams
from curate.quality.gopher_quality import GopherQuality, GopherQualityParams
from curate.quality.gopher_repetition import (
    GopherRepetition,
    GopherRepetitionParams,
    NGrams,
    split_lines,
    split_paragraphs,
)
from curate.quality.words import (
    ASCII_WORD,
    PUNCTUATION,
    PUNCTUATION_PLANES_END,
    TERMINAL_PUNCTUATION,
    TOKEN,
    split_words,
)

AUSTEN = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife."


@pytest.fixture(scope="module")
def pride(shared_data) -> str:
    (book,) = books.read(
        str(shared_data / "books" / "en_pride_and_prejudice_pg1342.txt"), ExtractParams(source="books")
    )
    return book["text"]


def signals(heuristic, text: str, language: str = "en") -> dict[str, float]:
    return dict(zip(heuristic.columns, heuristic.signals(Doc(text, language))))


def test_gopher_quality_counts_words_symbols_and_stop_words_as_checked_by_hand(pride):
    sentence = " ".join(pride[pride.index("It is a truth") :].split()[:23])
    assert sentence == AUSTEN  # the book's first sentence, as written
    values = signals(GopherQuality(GopherQualityParams(alpha_words_of="tokens")), sentence)
    # 23 words of 92 letters; 2 commas and a period are symbols (26 tokens); stop words: that, of, be
    assert values["gopher_word_count"] == 23
    assert values["gopher_mean_word_length"] == 92 / 23
    assert values["gopher_alpha_words_ratio"] == 23 / 26
    assert values["gopher_stop_words"] == 3
    assert values["gopher_hash_ratio"] == values["gopher_ellipsis_ratio"] == 0
    assert values["gopher_bullet_lines_ratio"] == values["gopher_ellipsis_lines_ratio"] == 0
    assert (
        signals(GopherQuality(GopherQualityParams()), sentence)["gopher_alpha_words_ratio"] == 23 / 23
    )  # whitespace words


def test_stop_words_follow_the_language_and_skip_languages_without_a_list():
    german = "Das ist der Anfang und das Ende von allem, was wir in dem Buch lesen."
    heuristic = GopherQuality(GopherQualityParams())
    assert signals(heuristic, german, "en")["gopher_stop_words"] == 0
    assert signals(heuristic, german, "de")["gopher_stop_words"] >= 5
    assert math.isnan(signals(heuristic, "我们今天去公园散步，天气很好。", "zh")["gopher_stop_words"])


def test_tokens_split_punctuation_hyphens_and_clitics_like_spacy():
    assert split_words("Mr. Darcy's state-of-the-art house, e.g. U.S. 3.5 ... don’t") == [
        "Mr.", "Darcy", "'s", "state", "-", "of", "-", "the", "-", "art", "house", ",", "e.g", ".", "U.S", ".",
        "3.5", "...", "don", "’t",
    ]  # fmt: skip
    assert split_words("我们去公园 ok") == ["我", "们", "去", "公", "园", "ok"]


def test_punctuation_covers_every_unicode_punctuation_character():
    """The import-time scan stops at plane 2: no code point past it is punctuation in this Python's Unicode."""
    beyond = (chr(c) for c in range(PUNCTUATION_PLANES_END, sys.maxunicode + 1))
    assert not [c for c in beyond if unicodedata.category(c)[0] == "P"]
    assert {"\u00bf", "\u3001", "\U0001e95e", "\U00016af5"} <= PUNCTUATION  # Latin-1, CJK, plane 1 (Adlam, Bassa Vah)


def test_repetition_fractions_of_duplicated_lines_and_paragraphs_by_hand(pride):
    a, b = "It is a truth universally acknowledged.", "Mr. Bennet replied that he had not."
    assert a[:-1] in pride and b[:-1] in pride
    lines = "\n".join([a, b, a, a])
    values = signals(GopherRepetition(GopherRepetitionParams()), lines)
    assert values["gopher_dup_line_fraction"] == 2 / 4
    assert values["gopher_dup_line_char_fraction"] == 2 * len(a) / len(lines)
    assert values["gopher_dup_para_fraction"] == 0  # one paragraph
    paragraphs = "\n\n".join([a, b, a, a])
    values = signals(GopherRepetition(GopherRepetitionParams()), paragraphs)
    assert values["gopher_dup_para_fraction"] == 2 / 4
    assert values["gopher_dup_para_char_fraction"] == 2 * len(a) / len(paragraphs)


def top_chars_reference(words: list[str], n: int) -> int:
    """Gopher's top n-gram characters, with strings (datatrove's find_top_duplicate)."""
    grams = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    gram, count = grams.most_common(1)[0]
    return len(gram) * count


def duplicate_chars_reference(words: list[str], n: int) -> int:
    """Gopher's duplicated n-gram characters, with strings (datatrove's find_all_duplicate)."""
    seen, repeated, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = "".join(words[i : i + n])
        if gram in seen:
            repeated += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


def test_hashed_ngrams_equal_the_string_algorithm_on_real_text(pride):
    chapter = pride[pride.index("It is a truth") :][:20_000]
    paragraphs = re.split(r"\n\s*\n", chapter)
    boilerplate = "\n".join(paragraphs[:3] * 4 + paragraphs[3:6] + paragraphs[:2])  # repeated blocks, as on a page
    for text in (chapter, boilerplate, paragraphs[0], "word " * 200):
        words = split_words(text)
        grams = NGrams(words)
        for n in (2, 3, 4):
            assert grams.top_chars(n) == top_chars_reference(words, n)
        for n in range(5, 11):
            assert grams.duplicate_chars(n) == duplicate_chars_reference(words, n), (n, text[:40])


def test_fineweb_line_signals_by_hand(pride):
    lines = pride[: pride.index("Mr. Bennet replied")].split("\n")
    title, author, first, second = lines[0], lines[2], lines[9], lines[10]  # the volunteer credits are removed
    assert (title, author) == ("PRIDE AND PREJUDICE", "By Jane Austen") and first.startswith("It is a truth")
    reply = "Mr. Bennet replied that he had not."
    text = "\n".join([title, author, first, second, reply, "", first])  # a blank line (ignored), a repeated line
    values = signals(FineWeb(FineWebParams()), text)
    assert values["fineweb_line_punct_ratio"] == 2 / 6  # "...of a wife." and the reply
    assert values["fineweb_short_line_ratio"] == 2 / 6  # title and author: at most 30 characters
    assert values["fineweb_char_dup_ratio"] == len(first) / (len(text) - 6)
    assert values["fineweb_newline_ratio"] == 6 / len(split_words(text))


def test_c4_removes_navigation_script_and_policy_lines_and_counts_sentences(pride):
    story = pride[pride.index("It is a truth") :].split("\n\n")[:2]  # two real paragraphs, hard-wrapped
    page = "\n".join(
        ["Home | About | Contact", "Please enable JavaScript to view the comments below.",
         "This site uses cookies to improve your experience, see our cookie policy.",
         " ".join(story[0].split()), " ".join(story[1].split()) + "[12]"]
    )  # fmt: skip
    doc = Doc(page, "en")
    values = dict(zip(C4.columns, C4(C4Params()).signals(doc)))
    assert doc.text == " ".join(story[0].split()) + "\n" + " ".join(story[1].split())  # citation mark cut too
    assert values["c4_removed_lines_fraction"] == 3 / 5
    assert values["c4_sentences"] == 2  # the first paragraph is one sentence, the second one as well
    assert values["c4_lorem_ipsum"] == values["c4_curly_bracket"] == 0


def test_tokens_split_by_line_and_kept_by_c4_equal_the_tokens_of_the_whole_text(pride, shared_data):
    """Doc splits tokens line by line and C4 hands on the tokens of the lines it keeps, so nothing is split
    twice: both must be what split_words gives for the whole text, on real pages and books (CRLF, BOM,
    form feeds, citation marks, line separators)."""
    raw = (shared_data / "books" / "en_moby_dick_pg2701.txt").read_bytes().decode("utf-8-sig")[:200_000]
    odd = "A line [1] ends.\r\nThe [edit] next\x0bone, U.S. e-mail a@b.co\x1cthen\u2028words [citation needed].\x85don't stop."
    texts = [pride[:100_000], raw, odd, odd.replace("[", "\n["), "  spaced  \n\n  lines . \n"]
    for text in texts:
        doc = Doc(text, "en")
        assert doc.tokens == split_words(text)
        C4(C4Params(require_terminal_punctuation=False, min_words_per_line=None)).signals(doc)
        assert doc.tokens == split_words(doc.text)
        doc = Doc(text, "en")
        C4(C4Params()).signals(doc)
        assert doc.tokens == split_words(doc.text)
    cut = Doc(odd, "en")
    C4(C4Params()).signals(cut)
    assert cut.text.startswith("A line  ends.") and "1" not in cut.tokens  # a citation mark cut: that line split again


def test_bad_word_ratio_counts_words_and_phrases_of_the_list(tmp_path):
    listing = tmp_path / "bad.txt"
    listing.write_text("# a comment\nDamn\nson of a gun\nX-Rated\na$$\n\n", encoding="utf-8")
    words = load_bad_words(str(listing))
    assert words.entries == {"damn", "son of a gun", "x-rated", "a$$"}  # kept as written
    text = "Damn, you son of a\ngun! X-rated. Kick a$$, a class act."
    tokens = words_of(split_words(text))
    assert bad_word_ratio(text, len(tokens), words) == 8 / len(tokens)  # damn, son of a gun, x rated, a$$
    assert bad_word_ratio("", 0, words) == 0.0
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lists no words"):
        load_bad_words(str(empty))


def test_c4_bad_word_rule_drops_pages_above_the_ratio(tmp_path, pride):
    listing = tmp_path / "bad.txt"
    listing.write_text("wife\n", encoding="utf-8")
    heuristic = C4(C4Params(bad_words_file=str(listing), max_bad_word_ratio=0.01))
    heuristic.setup()
    values = signals(heuristic, AUSTEN)
    assert values["c4_bad_word_ratio"] == 1 / 23  # "wife", of 23 words
    assert [r.name for r in heuristic.rules()][-1] == "bad_words"


def real_texts(shared_data, pride) -> list[str]:
    """Real books (CRLF, BOM) and web pages in several scripts."""
    moby = (shared_data / "books" / "en_moby_dick_pg2701.txt").read_bytes().decode("utf-8-sig")[:300_000]
    faust = (shared_data / "books" / "kalamine_de_faust_1.txt").read_text(encoding="utf-8")[:200_000]
    pages = [
        row["text"]
        for row in web_rows(shared_data / "web" / "warc" / "resiliparse_warcfile.warc.gz")
        if isinstance(row, dict)
    ]
    return [pride[:300_000], moby, faust, *pages]


def real_lines(shared_data, pride) -> list[str]:
    """Lines of real books and web pages, as they are and with their whitespace run together."""
    texts = real_texts(shared_data, pride)
    return [line for text in texts for line in text.splitlines()] + [" ".join(text.split()) for text in texts]


def test_the_tokenizer_shortcuts_give_the_tokens_of_the_plain_rules(shared_data, pride):
    """ASCII_WORD only takes words the later rules would give whole, and the non-space guard only skips
    spaces: without them, the same tokens."""
    full_rules = re.compile(TOKEN.pattern.replace(f"|{ASCII_WORD}", "", 1).replace(r"(?=\S)(?:", "(?:", 1))
    assert "(?=" not in full_rules.pattern[:5] and ASCII_WORD not in full_rules.pattern
    tricky = "mail joe-bar+x@example.com or user@example.org, www.example.com http://a.b/c Mr. Smith's U.S. don't l'homme a_b x2 3.5 naïve"
    for line in [*real_lines(shared_data, pride), tricky]:
        assert split_words(line) == full_rules.findall(line), line


# The sentence counter as first written (each alternative starts with an assertion): the reference
# for the faster form in curate.quality.c4, which starts with the character class.
PLAIN_SENTENCE_BREAK = re.compile(
    rf"(?:[{re.escape(''.join(sorted(TERMINAL_PUNCTUATION - {'.'})))}]"
    r"|(?<!\.)(?<!\b[A-Za-z])(?<!\b(?:Mr|Ms|Dr|St|Jr|Sr|vs|No))(?<!\b(?:Mrs|etc|Inc|Ltd))\.(?!\.))"
    rf"[{re.escape(''.join(sorted(TERMINAL_PUNCTUATION)))}]*[\"'”’)\]»]*"
    r"(?:\s[\W_]*|(?<=[a-z]\.)(?=[A-Z]))(?=[^\W_])"
)


def test_sentence_breaks_are_those_of_the_plain_pattern(shared_data, pride):
    tricky = 'Dr. No. e.g. U.S.A. Then... What?! Yes." No.) It ended.Then 3.5 etc. Inc. J. R. R. Tolkien. 你好。好！'
    for line in [*real_lines(shared_data, pride), tricky]:
        assert SENTENCE_BREAK.findall(line) == PLAIN_SENTENCE_BREAK.findall(line), line


def test_line_and_paragraph_splits_are_the_regex_splits_at_runs_of_newlines(shared_data, pride):
    edges = [
        "",
        " ",
        "\n",
        "\n\n",
        "a\n",
        "\na",
        "\n\na\n\n\nb\n\n",
        "a\r\n\r\n\nb",
        " \n \n",
        "a\n\n\n\nb",
        "a\n\n\n\n\nb\n\n\nc",
    ]
    for text in [*real_texts(shared_data, pride), *edges]:
        assert split_lines(text) == re.split(r"\n+", text)
        assert split_paragraphs(text) == re.split(r"\n{2,}", text.strip())
