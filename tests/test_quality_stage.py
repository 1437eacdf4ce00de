"""The quality stage on real documents: web pages extracted by curate's web extractor, Gutenberg
books, a Chinese page; bad input; configuration errors; and a real `curate run`."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from conftest import read_rejected, read_stage, run_curate, web_rows
from curate.core.params import ConfigError, build_params
from curate.core.pipeline import load_pipeline
from curate.core.schema import make_documents
from curate.extract import books, web
from curate.extract.stage import ExtractParams, Rejection
from curate.quality.stage import QualityParams, QualityStage

# Settings for Gutenberg books: no C4 and no FineWeb, whose line rules are about web pages (in
# hard-wrapped text only a paragraph's last line ends in punctuation, so C4 would delete the others;
# a play repeats its speakers' names line after line); no upper word limit (a novel has 100k+
# words), and room for the quotes and dashes of dialogue among the tokens.
BOOK_SETTINGS = {"c4": False, "fineweb": False, "gopher_quality": {"max_words": None, "min_alpha_words_ratio": 0.7}}


def judge(rows: list[dict], languages: list[str] | None = None, **params) -> tuple[list, list[dict]]:
    """Run the stage on documents; (reasons, output rows)."""
    table = make_documents(rows)
    if languages is not None:
        table = table.append_column("language", pa.array(languages, pa.string()))
    stage = QualityStage("quality", build_params(QualityParams, params, "test"))
    stage.setup()
    verdict = stage.process(table)
    return list(verdict.reasons), verdict.table.to_pylist()


def html_page(shared_data, name: str) -> dict:
    (row,) = web_rows(shared_data / "web" / "html" / "trafilatura_cache" / name)
    return row


def stats_page(shared_data) -> dict:
    """A tipping game's table of names and points (German), from the Common Crawl slice."""
    rows = web_rows(shared_data / "web" / "warc" / "resiliparse_warcfile.warc.gz")
    return next(
        r
        for r in rows
        if isinstance(r, dict) and r["url"] == "http://06.live-radsport.ch/tippspiel/stats_140_petzi.html"
    )


@pytest.mark.parametrize(
    "page, language, reason",
    [
        ("lanouvellerepublique.fr.martin.html", "fr", "gopher_repetition.top_3gram"),  # an unrendered page template
        # an article; trafilatura 1.11 extracted its repeated teasers too (dropped by dup_line_char_fraction), 2.x not
        ("landwirt.com.sensortechnik.html", "de", None),
        # a product page: sentences, a list of features and a two-row table; its tokens (every comma and
        # period one) were only 73% words with a letter, its whitespace-separated words are 90%
        ("toralin.de.schmierfett.html", "de", None),
        ("rs-ingenieure.de.tragwerksplanung.html", "de", "gopher_quality.word_count"),  # a menu and a sentence
        ("theguardian.com.academics.html", "en", None),  # articles are kept
        ("spiegel.de.albtraum.html", "de", None),
    ],
)
def test_real_pages_are_dropped_by_the_rule_that_fits(shared_data, page, language, reason):
    reasons, rows = judge([html_page(shared_data, page)], [language])
    assert reasons == [reason]
    assert rows[0]["gopher_word_count"] > 0 and 0 <= rows[0]["gopher_dup_line_fraction"] <= 1


def test_a_table_of_names_and_numbers_is_dropped_by_the_alpha_words_rule(shared_data):
    # (its repeated rows break a Gopher repetition rule first)
    assert judge([stats_page(shared_data)], ["de"], gopher_repetition=False)[0] == ["gopher_quality.alpha_words"]


def test_c4_rewrites_kept_text_and_rejected_documents_keep_theirs(shared_data):
    page = html_page(shared_data, "theguardian.com.academics.html")
    reasons, rows = judge([page], ["en"])
    assert reasons == [None] and 0 < rows[0]["c4_removed_lines_fraction"] < 1
    kept_lines = rows[0]["text"].split("\n")
    assert set(kept_lines) < {line.strip() for line in page["text"].split("\n")}
    assert all(line.endswith((".", "?", "!", '"', "'")) for line in kept_lines)
    reasons, rows = judge([page], ["en"], c4={"min_sentences": 10_000})
    assert reasons == ["c4.sentences"] and rows[0]["text"] == page["text"]
    reasons, rows = judge([page], ["en"], c4={"remove_lines": False})
    assert reasons == [None] and rows[0]["text"] == page["text"]


def test_gutenberg_books_pass_with_book_settings(shared_data):
    rows = [
        row
        for path in sorted((shared_data / "books").glob("*.txt"))
        for row in books.read(str(path), ExtractParams(source="books"))
    ]
    rows = [row for row in rows if not isinstance(row, Rejection)]
    assert len(rows) == 5
    languages = [{"English": "en", "German": "de", "French": "fr"}[row["declared_language"]] for row in rows]
    reasons, out = judge(rows, languages, **BOOK_SETTINGS)
    assert reasons == [None] * 5
    assert [r["text"] for r in out] == [r["text"] for r in rows]  # nothing rewritten
    assert all(r["gopher_stop_words"] >= 2 for r in out)  # German and French by their own stop words
    # with the web defaults, C4 would keep only paragraph-final lines of a hard-wrapped book
    _, out = judge(rows[:1], languages[:1])
    assert out[0]["c4_removed_lines_fraction"] > 0.6


def test_a_chinese_page_has_enough_words(shared_data):
    pages = [r for r in web.read(str(shared_data / "web" / "warc" / "resiliparse_warcfile.warc.gz"), ExtractParams(source="web"))
             if not isinstance(r, Rejection) and r["url"].startswith("http://05925.net/")]  # fmt: skip
    text = pages[0]["text"]
    assert len(text.split()) < 50  # what whitespace splitting would count
    reasons, rows = judge(pages, ["zh"])
    assert rows[0]["gopher_word_count"] >= 100  # one word per Han character
    assert rows[0]["gopher_mean_word_length"] != rows[0]["gopher_mean_word_length"]  # NaN: not measured for Chinese
    assert rows[0]["gopher_stop_words"] != rows[0]["gopher_stop_words"]  # NaN: no stop-word list for zh
    assert not reasons[0].startswith("gopher_quality")
    reasons, _ = judge(pages, ["zh"], c4=False, gopher_repetition=False, fineweb=False)
    assert reasons == [None]


def test_bad_input_is_recorded_as_a_rejection():
    texts = ["", "  \n\t \n ", "😀🎉" * 200, "a" * 5_000_000, "!" * 10_000]
    reasons, rows = judge([{"id": str(i), "source": "web", "text": t} for i, t in enumerate(texts)])
    assert reasons[:2] == ["empty_text", "empty_text"]
    assert reasons[2].startswith(("gopher_repetition.", "gopher_quality."))
    assert reasons[3] == "gopher_quality.word_count"  # one 5 MB word
    assert reasons[4].startswith("gopher_repetition.")
    assert [r["text"] for r in rows] == texts  # rejected documents keep their text


def test_signals_only_annotates_and_drops_nothing(shared_data):
    pages = [stats_page(shared_data), html_page(shared_data, "theguardian.com.academics.html")]
    reasons, rows = judge(pages, ["de", "en"], signals_only=True, gopher_repetition=False)
    assert reasons == [None, None]
    assert [r["quality_failed"] for r in rows] == ["gopher_quality.alpha_words", None]
    assert [r["text"] for r in rows] == [p["text"] for p in pages]


def test_thresholds_can_be_changed_or_switched_off(shared_data):
    page = stats_page(shared_data)
    assert judge([page], ["de"], gopher_repetition=False)[0] == ["gopher_quality.alpha_words"]
    assert judge([page], ["de"], gopher_repetition=False, gopher_quality={"min_alpha_words_ratio": None})[0] != [
        "gopher_quality.alpha_words"
    ]
    assert judge([page], ["de"], gopher_repetition=False, gopher_quality=False)[0] != ["gopher_quality.alpha_words"]
    _, rows = judge([page], ["de"], gopher_quality=False)
    assert "gopher_word_count" not in rows[0]  # a filter switched off computes nothing


@pytest.mark.parametrize(
    "params, message",
    [
        ("gopher_repetition: {max_dup_line_fraction: 1.5}", "max_dup_line_fraction' must be between 0 and 1"),
        ("gopher_repetition: {max_dup_ngram_char_fraction: {5: -0.1}}", "between 0 and 1"),
        ("fineweb: {max_short_line_ratio: 2}", "max_short_line_ratio' must be between 0 and 1"),
        ("gopher_quality: {min_alpha_words_ratio: 80}", "min_alpha_words_ratio' must be between 0 and 1"),
        ("c4: {max_bad_word_ratio: 1.01, bad_words_file: x}", "max_bad_word_ratio' must be between 0 and 1"),
        ("c4: {bad_words_file: /no/such/list.txt}", "cannot be read"),
        ("gopher_quality: {min_word: 10}", "did you mean 'min_words'"),
    ],
)
def test_bad_thresholds_are_config_errors_before_any_work(tmp_path, params, message):
    path = tmp_path / "p.yaml"
    path.write_text(
        f"name: t\ninput: {tmp_path}\noutput: {tmp_path / 'out'}\nstages:\n  - stage: quality\n    {params}\n"
    )
    with pytest.raises(ConfigError, match=message):
        load_pipeline(str(path))


@pytest.mark.slow
def test_curate_run_extract_then_quality_writes_kept_and_rejected(shared_data, tmp_path):
    warcs = [shared_data / "web" / "warc" / f"dolma_sample-000{i}.warc.gz" for i in (0, 1)]
    out = tmp_path / "out"
    path = tmp_path / "web.yaml"
    path.write_text(
        f"name: web\ninput: [{warcs[0]}, {warcs[1]}]\noutput: {out}\nstages:\n"
        "  - stage: extract\n    source: web\n  - stage: quality\n"
    )
    run_curate("run", str(path), "--no-progress")
    extracted, kept, rejected = read_stage(out, "extract"), read_stage(out, "quality"), read_rejected(out, "quality")
    assert (
        kept.num_rows > 10 and rejected.num_rows > 5
    )  # 9 of 37 with the paper's alpha-words count (11+ with datatrove's)
    assert kept.num_rows + rejected.num_rows == extracted.num_rows  # nothing lost
    assert set(rejected.column("stage").to_pylist()) == {"quality"}
    reasons = dict(zip(rejected.column("url").to_pylist(), rejected.column("reason").to_pylist()))
    # a publication list: "Article", "Code" and "- " lines repeat under every title
    assert reasons["https://dwadden.github.io/"] == "gopher_repetition.dup_line_fraction"
    assert (
        "https://commoncrawl.org/faq" not in reasons
    )  # prose questions and answers (1.11 also extracted repeated menus)
    assert reasons["https://creativecommons.org/"] == "gopher_quality.word_count"
    assert {"gopher_word_count", "c4_sentences", "fineweb_newline_ratio"} <= set(kept.column_names)
    stats = json.loads((out / "stats" / "quality.json").read_text())
    assert sum(stats["dropped"].values()) == rejected.num_rows
