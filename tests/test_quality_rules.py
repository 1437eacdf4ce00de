"""Each rule of the heuristic filters on a few inline lines: the text that breaks it and the nearest
text that does not, one behaviour a test (as datatrove's tests/pipeline/filters). The documents go
through the real quality (or code_quality) stage, with only the filter under test switched on."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from curate.core.params import ConfigError, build_params
from curate.core.schema import make_documents
from curate.quality.badwords import BadWords, bad_word_ratio
from curate.quality.code import CodeQualityParams, CodeQualityStage
from curate.quality.stage import QualityParams, QualityStage

# Six sentences of ordinary prose, one a line: every filter's defaults keep it.
PROSE_LINES = [
    "The river runs through the old town and past the mill that has stood there for two centuries.",
    "In the spring the water rises, and the people who live along the banks move their boats to higher ground.",
    "Children walk to the school on the hill with their books and their lunches packed in small baskets.",
    "The baker opens his shop before dawn, and the smell of fresh bread drifts down to the square.",
    "Visitors often stop at the bridge to watch the fishermen, who have worked the same water for generations.",
    "By evening the lights come on in the windows, and the town settles into a quiet that lasts until morning.",
]
PROSE = "\n".join(PROSE_LINES)
FILTERS_OFF = {"gopher_repetition": False, "gopher_quality": False, "c4": False, "fineweb": False}


def run(text: str, only: str | None = None, language: str = "en", **settings) -> tuple[str | None, dict]:
    """The quality stage on one document: its reason (None: kept) and its output row. With `only`, that
    filter alone runs, with `settings` as its parameters; else `settings` are the stage's."""
    params = {**FILTERS_OFF, only: settings or True} if only else settings
    stage = QualityStage("quality", build_params(QualityParams, params, "test"))
    stage.setup()
    table = make_documents([{"id": "0", "source": "web", "text": text}]).append_column("language", pa.array([language]))
    verdict = stage.process(table)
    return verdict.reasons[0], verdict.table.to_pylist()[0]


def reason(text: str, only: str, language: str = "en", **settings) -> str | None:
    return run(text, only, language, **settings)[0]


def test_ordinary_prose_passes_every_filter_untouched():
    reason_, row = run(PROSE)
    assert reason_ is None and row["text"] == PROSE


# Gopher quality (Rae et al. 2021, A1.1)


def test_gopher_too_few_words():
    assert (
        reason("Too short to be a page, this line has only a few words in it.", "gopher_quality")
        == "gopher_quality.word_count"
    )
    assert reason(PROSE, "gopher_quality") is None


def test_gopher_too_many_words():
    assert reason(PROSE, "gopher_quality", max_words=50) == "gopher_quality.word_count"
    assert reason(PROSE, "gopher_quality", max_words=200) is None


def test_gopher_word_count_skips_punctuation():
    _, row = run("Yes , no ; maybe ! ( ok ) - fine ...", "gopher_quality")
    assert row["gopher_word_count"] == 5


def test_gopher_words_too_short_on_average():
    assert (
        reason("I am a cat, so I go up to my mat and sit on it. " * 8, "gopher_quality")
        == "gopher_quality.mean_word_length"
    )


def test_gopher_words_too_long_on_average():
    text = "Internationalization counterrevolutionaries misunderstanding telecommunications. " * 15
    assert reason(text, "gopher_quality") == "gopher_quality.mean_word_length"


def test_gopher_mean_word_length_does_not_apply_to_chinese():
    reason_, row = run(
        "我们今天去公园散步，天气很好。我们看到了很多花。然后我们回家吃饭了！" * 5, "gopher_quality", "zh"
    )
    assert row["gopher_word_count"] >= 50  # a word per Han character
    assert math.isnan(row["gopher_mean_word_length"]) and reason_ is None  # and zh has no stop-word list


def test_gopher_too_many_hashes():
    assert reason(PROSE + "\n" + "#news #today #local " * 8, "gopher_quality") == "gopher_quality.hash_ratio"
    assert reason(PROSE + "\n#news #today", "gopher_quality") is None


def test_gopher_too_many_ellipses():
    text = PROSE.replace(", ", " ... ").replace(" the ", " ... the ")
    assert reason(text, "gopher_quality") == "gopher_quality.ellipsis_ratio"


def test_gopher_mostly_bullet_lines():
    assert reason("\n".join("• " + line for line in PROSE_LINES), "gopher_quality") == "gopher_quality.bullet_lines"
    assert (
        reason("\n".join(("- " + line) if i % 2 else line for i, line in enumerate(PROSE_LINES)), "gopher_quality")
        is None
    )


def test_gopher_too_many_lines_end_in_an_ellipsis():
    cut = [line[:-1] + "..." if i < 2 else line for i, line in enumerate(PROSE_LINES)]  # 2 of 6 lines
    assert reason("\n".join(cut), "gopher_quality") == "gopher_quality.ellipsis_lines"
    assert reason("\n".join(cut[1:]), "gopher_quality") is None  # 1 of 5


def test_gopher_too_few_tokens_with_a_letter():
    table = "Price list 2024: 12.50 14.99 17.25 3.10 8.80 9.90 11.00 13.75 6.40 2.20 4.45 7.70 5.55 1.05 " * 3
    assert reason(PROSE + "\n" + table, "gopher_quality") == "gopher_quality.alpha_words"


# Wikipedia-style prose: dates, parentheses and citations, as an encyclopedia writes them
ENCYCLOPEDIC = (
    "Mercury (0.39 AU from the Sun) is the smallest planet of the Solar System; its orbit takes 87.97 days. "
    "It was observed by Sumerian astronomers (c. 3000 BC), and Galileo's contemporaries, e.g. Zupi in 1639, saw its phases. "
    "Mariner 10 (1974-75) mapped 45% of its surface, and MESSENGER (2011-15) mapped the rest: craters, scarps, plains. "
    "The planet has no moons, a 3:2 spin-orbit resonance, and a day of 176 Earth days [1]."
)


def test_alpha_words_are_whitespace_words_by_default_so_encyclopedic_punctuation_does_not_count():
    _, row = run(ENCYCLOPEDIC, "gopher_quality")
    assert row["gopher_alpha_words_ratio"] > 0.8  # "(0.39", "87.97", "(1974-75)", "45%", "[1]." have no letter
    assert (
        reason(ENCYCLOPEDIC, "gopher_quality", alpha_words_of="tokens", min_words=None) == "gopher_quality.alpha_words"
    )


def test_alpha_words_of_tokens_is_datatrove_every_punctuation_mark_a_word():
    _, row = run("Yes, no; maybe!", "gopher_quality", alpha_words_of="tokens")
    assert row["gopher_alpha_words_ratio"] == 3 / 6
    _, row = run("Yes, no; maybe!", "gopher_quality", alpha_words_of="words")
    assert row["gopher_alpha_words_ratio"] == 3 / 3


def test_alpha_words_a_pipe_table_counts_against_a_page_under_whitespace_words_only():
    words = PROSE.replace(",", "").replace(".", "").split()
    rows = [" | ".join(words[i : i + 5]) + f" | {1990 + i}" for i in range(0, 100, 5)]  # five words and a year a row
    table = "\n".join(["| " + row + " |" for row in rows])
    assert reason(table, "gopher_quality", min_stop_words=None) == "gopher_quality.alpha_words"
    assert reason(table, "gopher_quality", min_stop_words=None, alpha_words_of="words") is None


def test_gopher_too_few_stop_words():
    text = (
        "Green hills rise above quiet valleys where farmers grow wheat, barley, oats. "
        "Cows graze near old stone walls while swallows circle overhead. "
    ) * 4
    assert reason(text, "gopher_quality") == "gopher_quality.stop_words"


def test_gopher_stop_words_are_the_documents_language():
    german = (
        "Der Fluss fließt durch die alte Stadt und an der Mühle vorbei, die dort seit zwei Jahrhunderten steht. "
        "Im Frühling steigt das Wasser, und die Leute am Ufer bringen ihre Boote in Sicherheit. "
    ) * 3
    assert reason(german, "gopher_quality", "en") == "gopher_quality.stop_words"
    assert reason(german, "gopher_quality", "de") is None


def test_gopher_stop_words_are_case_sensitive_as_in_datatrove():
    _, row = run("The cat. The dog. The bird. THE END. To be.", "gopher_quality")
    assert row["gopher_stop_words"] == 1  # only "be"


# Gopher repetition (Rae et al. 2021, table A1)


def test_repeated_paragraphs():
    a, b = PROSE_LINES[0], PROSE_LINES[1]
    assert reason("\n\n".join([a, b, a, a]), "gopher_repetition") == "gopher_repetition.dup_para_fraction"
    assert reason("\n\n".join(PROSE_LINES), "gopher_repetition") is None


def test_a_long_repeated_paragraph_among_short_ones():
    long = " ".join(PROSE_LINES[:4])
    short = [f"Note {word} follows here." for word in ("one", "two", "three", "four", "five", "six", "seven", "eight")]
    text = "\n\n".join([long, *short, long])  # 1 of 10 paragraphs repeats, but it is a third of the text
    assert reason(text, "gopher_repetition", max_dup_line_fraction=None) == "gopher_repetition.dup_para_char_fraction"


def test_repeated_lines():
    a, b = PROSE_LINES[0], PROSE_LINES[1]
    assert reason("\n".join([a, b, a, a]), "gopher_repetition") == "gopher_repetition.dup_line_fraction"


def test_a_long_repeated_line_among_short_ones():
    long = " ".join(PROSE_LINES[:4])
    short = [f"Note {word} follows here." for word in ("one", "two", "three", "four", "five", "six", "seven", "eight")]
    assert reason("\n".join([long, *short, long]), "gopher_repetition") == "gopher_repetition.dup_line_char_fraction"


def test_one_two_word_phrase_covers_too_much():
    text = " ".join(f"New York {word}." for word in PROSE.split()[:40])
    assert reason(text, "gopher_repetition") == "gopher_repetition.top_2gram"


def test_each_ngram_size_is_a_rule_of_its_own():
    text = " ".join(f"New York City {word}." for word in PROSE.split()[:40])
    only_3grams = {"max_top_ngram_char_fraction": {3: 0.18}, "max_dup_ngram_char_fraction": {}}
    assert reason(text, "gopher_repetition", **only_3grams) == "gopher_repetition.top_3gram"
    _, row = run(text, "gopher_repetition", **only_3grams)
    assert "gopher_top_2gram_char_fraction" not in row  # a size not asked for is not measured


def test_repeated_long_phrases():
    text = " ".join([PROSE_LINES[0], PROSE_LINES[1], PROSE_LINES[0], PROSE_LINES[1], PROSE_LINES[2], PROSE_LINES[3]])
    assert reason(text, "gopher_repetition") == "gopher_repetition.dup_5gram"
    assert reason(" ".join(PROSE_LINES), "gopher_repetition") is None


# C4 (Raffel et al. 2020, section 2.2): lines removed, then the page judged on what is left


def c4_text(text: str, **settings) -> str:
    reason_, row = run(text, "c4", min_sentences=None, **settings)
    assert reason_ is None
    return row["text"]


def test_c4_removes_a_line_without_terminal_punctuation():
    assert c4_text("Home | About | Contact\n" + PROSE) == PROSE


def test_c4_removes_a_line_ending_in_an_ellipsis():
    assert c4_text(PROSE + "\nAnd then the story goes on...") == PROSE


def test_c4_removes_a_line_of_fewer_than_three_words():
    assert c4_text("Yes, indeed.\n" + PROSE) == PROSE


def test_c4_removes_a_line_with_a_word_over_1000_characters():
    assert c4_text(PROSE + "\nThe key is " + "x" * 1001 + " here.") == PROSE


def test_c4_cuts_citation_marks():
    assert (
        c4_text("The mill was built in 1820.[1] It burned down[citation needed] and was rebuilt.[edit]")
        == "The mill was built in 1820. It burned down and was rebuilt."
    )


def test_c4_removes_javascript_and_policy_lines():
    noise = [
        "Please enable JavaScript to view the comments.",
        "This site uses cookies to improve your visit.",
        "Read our privacy policy before you sign up.",
    ]
    assert c4_text("\n".join([*noise, PROSE])) == PROSE


def test_c4_lorem_ipsum_drops_the_page():
    assert reason(PROSE + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", "c4") == "c4.lorem_ipsum"
    assert (
        reason(PROSE + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", "c4", drop_lorem_ipsum=False)
        is None
    )


def test_c4_curly_bracket_drops_the_page():
    assert reason(PROSE + "\nThe function is written as f(x) { return x; } in the code.", "c4") == "c4.curly_bracket"


def test_c4_too_few_sentences():
    assert reason("\n".join(PROSE_LINES[:4]), "c4") == "c4.sentences"
    assert reason("\n".join(PROSE_LINES[:5]), "c4") is None


def test_c4_sentences_skip_abbreviations():
    _, row = run(
        "Mr. Smith met Dr. Jones in Washington D.C. on Monday. They spoke about the U.S. economy, e.g. jobs. "
        "It rained! Did they stay?",
        "c4",
        min_sentences=None,
    )
    assert row["c4_sentences"] == 4


def test_c4_a_page_without_any_kept_line():
    assert reason("Home | About | Contact\nMenu\nLogin", "c4", min_sentences=None) == "c4.no_lines_kept"


def test_c4_measures_without_rewriting_when_asked():
    page = "Home | About | Contact\n" + PROSE
    reason_, row = run(page, "c4", remove_lines=False)
    assert reason_ is None and row["text"] == page and row["c4_removed_lines_fraction"] == 1 / 7


def test_c4_rejected_pages_keep_their_original_text():
    page = "Home | About\n" + "\n".join(PROSE_LINES[:3])
    reason_, row = run(page, "c4")
    assert reason_ == "c4.sentences" and row["text"] == page


# bad words (C4's LDNOOBW rule, with a ratio)


def bad(*entries: str) -> BadWords:
    return BadWords(frozenset(entries))


def test_a_listed_word_drops_the_page(tmp_path):
    listing = tmp_path / "bad.txt"
    listing.write_text("# a list\nbaskets\n", encoding="utf-8")
    assert reason(PROSE, "c4", bad_words_file=str(listing)) == "c4.bad_words"
    assert reason(PROSE, "c4", bad_words_file=str(listing), max_bad_word_ratio=0.05) is None  # 1 of 112 words


def test_a_listed_word_inside_a_longer_word_does_not_count():
    assert bad("ass").count("a class act, a passing grade") == 0
    assert bad("ass").count("what an ass.") == 1


def test_listed_words_match_in_any_case_and_symbols_as_written():
    assert bad("damn", "a$$").count("DAMN it, kick a$$ and assets") == 2


def test_a_listed_phrase_matches_across_any_whitespace_and_counts_its_words():
    assert bad("son of a gun").count("you son of a\ngun!") == 4
    assert bad_word_ratio("you son of a\ngun", 5, bad("son of a gun")) == 4 / 5


def test_an_empty_bad_word_list_is_a_config_error(tmp_path):
    listing = tmp_path / "empty.txt"
    listing.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lists no words"):
        run(PROSE, "c4", bad_words_file=str(listing))


# FineWeb (Penedo et al. 2024)


def test_fineweb_too_few_lines_end_in_punctuation():
    lines = [line.rstrip(".") for line in PROSE_LINES] * 2
    lines[0] += "."  # 1 of 12 lines: 0.08 < 0.12
    assert reason("\n".join(f"{i} {line}" for i, line in enumerate(lines)), "fineweb") == "fineweb.line_punct_ratio"


def test_fineweb_too_many_short_lines():
    short = ["It rained all day.", "We stayed in.", "The fire was warm.", "Tea was served."]
    assert (
        reason(
            "\n".join([*short, *short[::-1], *short[1:3], PROSE_LINES[0]]).replace("in.", "inside."),
            "fineweb",
            max_char_dup_ratio=None,
        )
        == "fineweb.short_line_ratio"
    )


def test_fineweb_repeated_line_characters():
    assert reason(PROSE + "\n" + PROSE_LINES[2], "fineweb") == "fineweb.char_dup_ratio"
    assert reason(PROSE, "fineweb") is None


def test_fineweb_too_many_newlines_per_word():
    links = "\n".join(f"https://example.com/archive/2024/page-number-{i}." for i in range(20))
    assert reason(links, "fineweb") == "fineweb.newline_ratio"


def test_fineweb_is_measured_on_the_lines_c4_kept():
    _, alone = run("Home\nMenu\nLogin\nSearch\n" + PROSE, "fineweb")
    _, after_c4 = run(
        "Home\nMenu\nLogin\nSearch\n" + PROSE, c4={"min_sentences": None}, gopher_quality=False, gopher_repetition=False
    )
    assert alone["fineweb_short_line_ratio"] == 4 / 10 and after_c4["fineweb_short_line_ratio"] == 0


# the stage around the filters


def test_a_text_without_words_is_empty_text():
    assert run(" \n\t ")[0] == "empty_text"
    assert run("!!! ??? ...")[0] != "empty_text"  # punctuation is tokens: measured, then dropped by a rule


def test_a_text_over_the_byte_budget_is_too_large():
    assert run(PROSE, max_doc_bytes=100)[0] == "too_large"


def test_a_threshold_set_to_null_turns_its_rule_off():
    assert (
        reason("Too short to be a page, this line has only a few words in it.", "gopher_quality", min_words=None)
        is None
    )


def test_signals_only_records_the_reason_and_drops_nothing():
    reason_, row = run(PROSE_LINES[0], signals_only=True, gopher_repetition=False)
    assert reason_ is None and row["quality_failed"] == "gopher_quality.word_count"


def test_a_short_text_breaks_the_top_ngram_rule_first():
    assert run(PROSE_LINES[0])[0] == "gopher_repetition.top_4gram"  # every 4-gram occurs once: the first covers 23%


def test_the_first_broken_rule_names_the_reason_and_its_value():
    stage = QualityStage("quality", build_params(QualityParams, {"gopher_repetition": False}, "test"))
    verdict = stage.process(make_documents([{"id": "0", "source": "web", "text": PROSE_LINES[0]}]))
    assert verdict.reasons == ["gopher_quality.word_count"] and verdict.details == ["gopher_word_count 18 < 50"]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"fineweb": {"max_short_line_ratio": 1.5}}, "'max_short_line_ratio' must be between 0 and 1"),
        ({"gopher_quality": {"min_words": -1}}, "'min_words' must be 0 or more"),
        ({"fineweb": {"short_line_length": -1}}, "'short_line_length' must be 0 or more"),
        (
            {"gopher_quality": {"alpha_words_of": "letters"}},
            "alpha_words_of: expected one of 'whitespace', 'tokens', 'words'",
        ),
        ({"c4": {"drop_lorem_ipsum": 0.5}}, "drop_lorem_ipsum: expected true or false"),
    ],
)
def test_bad_limits_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        build_params(QualityParams, settings, "test")


# code_quality (The Stack / StarCoder), on source == "code" rows


def code_reason(text: str, language: str = "Python", source: str = "code", **settings) -> str | None:
    stage = CodeQualityStage("code_quality", build_params(CodeQualityParams, settings, "test"))
    table = pa.table({"id": ["0"], "source": [source], "text": [text], "programming_language": [language]})
    return stage.process(table).reasons[0]


FUNCTION = 'def area(width, height):\n    """The area of a rectangle."""\n    return width * height\n'


def test_code_ordinary_function_is_kept():
    assert code_reason(FUNCTION) is None


def test_code_a_line_over_1000_characters():
    assert code_reason(FUNCTION + "x = " + "1 + " * 300 + "1\n") == "code_quality.max_line_length"


def test_code_lines_too_long_on_average():
    assert (
        code_reason("values = [" + ", ".join(f"item{i}" for i in range(20)) + "]\n") == "code_quality.mean_line_length"
    )


def test_code_too_few_letters_and_digits():
    assert code_reason("# " + "=-" * 40 + "\n" + "    " * 10 + "()\n") == "code_quality.alphanum_fraction"


def test_code_generated_marker_in_the_first_lines():
    assert code_reason("# Code generated by protoc. DO NOT EDIT.\n" + FUNCTION) == "code_quality.autogenerated"
    assert code_reason(FUNCTION * 3 + "# generated by hand\n") is None  # line 10: past the first 5
    assert code_reason("# auto-generated\n" + FUNCTION, autogenerated_lines=0) is None


def test_code_a_long_base64_run():
    blob = "\n".join(["QUJD" * 19] * 20)  # 1,539 characters of base64, in lines of 76
    assert code_reason(FUNCTION * 20 + f'DATA = """\n{blob}\n"""\n') == "code_quality.encoded_data"
    assert code_reason(FUNCTION * 20 + f'DATA = """\n{blob[:900]}\n"""\n') is None


def test_code_a_table_of_literals():
    table = "TABLE = [\n" + "".join(f"    0x{i:04x}, {i * 3}, 'name{i}',  # entry {i}\n" for i in range(120)) + "]\n"
    assert code_reason(FUNCTION + table) == "code_quality.literal_table"
    assert code_reason(FUNCTION + table, literal_table_min_lines=200) is None  # fewer lines than asked


def test_code_limits_per_language():
    wide = "values = [" + ", ".join(f"item{i}" for i in range(20)) + "]\n"
    assert code_reason(wide, "JSON", languages={"json": {"max_mean_line_length": 500}}) is None
    assert (
        code_reason(wide, "Python", languages={"json": {"max_mean_line_length": 500}})
        == "code_quality.mean_line_length"
    )


def test_code_rules_skip_documents_that_are_not_code():
    assert code_reason("x" * 5000, source="web") is None


def test_a_filter_is_one_class_whose_signals_make_its_params_columns_and_rules():
    from curate.quality.filters import Doc, HeuristicFilter, Signal, ratio

    class Shouting(HeuristicFilter):
        name, prefix = "shouting", "shouting"
        upper_lines_ratio = Signal(fraction=True, max_upper_lines_ratio=0.5)

        def measure(self, doc: Doc) -> dict[str, float]:
            return {"upper_lines_ratio": ratio(sum(line.isupper() for line in doc.lines), len(doc.lines))}

    shouting = Shouting(build_params(Shouting.Params, {"max_upper_lines_ratio": 0.4}, "test"))
    assert shouting.columns == ("shouting_upper_lines_ratio",)
    assert [(r.name, r.max) for r in shouting.rules()] == [("upper_lines_ratio", 0.4)]
    assert shouting.signals(Doc("BUY NOW\nCHEAP\nA quiet line.", "en")) == (2 / 3,)
    with pytest.raises(ConfigError, match="'max_upper_lines_ratio' must be between 0 and 1"):
        build_params(Shouting.Params, {"max_upper_lines_ratio": 2}, "test")

    class Shadowed(HeuristicFilter):
        name, prefix = "shadowed", "shadowed"
        upper_lines_ratio = Signal(max_upper_lines_ratio=0.5)

        def upper_lines_ratio(self):  # noqa: F811 - a method named like a signal replaces its declaration: said, not silent
            pass

        def measure(self, doc: Doc) -> dict[str, float]:
            return {"upper_lines_ratio": 0.0}

    with pytest.raises(KeyError, match="the declared signals are"):
        Shadowed(Shadowed.Params()).signals(Doc("A line.", "en"))
