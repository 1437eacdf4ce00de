"""Faults found on data the filters had not seen, each checked on real data from ../shared/data:
bad-word entries with symbols, plays in the book settings, Gutenberg credits, rejection details,
and the Gopher alpha-words denominator."""

from __future__ import annotations

import re

import pyarrow as pa
import yaml

from conftest import REPO, web_rows
from curate.core.params import build_params
from curate.core.schema import make_documents
from curate.extract import books
from curate.extract.stage import ExtractParams
from curate.quality.stage import QualityParams, QualityStage

BOOKS_YAML = next(
    s for s in yaml.safe_load((REPO / "pipelines" / "books.yaml").read_text())["stages"] if s["stage"] == "quality"
)
BOOK_SETTINGS = {k: v for k, v in BOOKS_YAML.items() if k != "stage"}
OLD_BOOK_SETTINGS = {"c4": False, "fineweb": False, "gopher_quality": {"max_words": None, "min_alpha_words_ratio": 0.7}}


def judge(rows: list[dict], languages: list[str], **params):
    stage = QualityStage("quality", build_params(QualityParams, params, "test"))
    stage.setup()
    table = make_documents(rows).append_column("language", pa.array(languages, pa.string()))
    return stage.process(table)


def book(shared_data, name: str) -> dict:
    (row,) = books.read(str(shared_data / "books" / name), ExtractParams(source="books"))
    return row


def english_pages(shared_data) -> list[dict]:
    rows = []
    for path in sorted((shared_data / "web" / "html" / "trafilatura_cache").glob("*.html")):
        rows += [r for r in web_rows(path) if isinstance(r, dict)]
    return [r for r in rows if re.search(r"\b(the|and|of)\b", r["text"]) and r["text"].count(" the ") > 5]


def test_bad_words_with_symbols_are_matched_as_written(shared_data, tmp_path):
    listing = tmp_path / "spellings.txt"
    listing.write_text("a$$\nsh!t\nf*ck\n", encoding="utf-8")  # split into words this list was "a", "sh", "f"
    pages = english_pages(shared_data)
    assert len(pages) >= 20
    settings = {
        "gopher_repetition": False,
        "gopher_quality": False,
        "fineweb": False,
        "c4": {"bad_words_file": str(listing), "remove_lines": False, "min_sentences": None},
    }
    clean = judge(pages, ["en"] * len(pages), **settings)
    assert clean.reasons == [None] * len(pages)  # no real page spells these words
    planted = [
        {**pages[0], "text": pages[0]["text"] + "\nWhat a pain in the a$$."},
        {**pages[1], "text": pages[1]["text"] + " a$$et"},
    ]
    verdict = judge(planted, ["en", "en"], **settings)
    assert verdict.reasons == ["c4.bad_words", None]


def test_book_settings_keep_a_play_with_speaker_paragraphs(shared_data):
    faust = book(shared_data, "kalamine_de_faust_1.txt")
    # Gutenberg's usual play layout: each speaker's name a paragraph of its own ("DIREKTOR.")
    play = {**faust, "text": re.sub(r"(?m)^([A-ZÄÖÜ][A-ZÄÖÜ ]+\.)\n", r"\1\n\n", faust["text"])}
    old = judge([play], ["de"], **OLD_BOOK_SETTINGS)
    assert old.reasons == ["gopher_repetition.dup_para_fraction"]
    assert judge([play], ["de"], **BOOK_SETTINGS).reasons == [None]
    novels = [
        book(shared_data, n)
        for n in (
            "en_alice_pg11.txt",
            "en_moby_dick_pg2701.txt",
            "en_pride_and_prejudice_pg1342.txt",
            "kalamine_fr_alice.txt",
        )
    ]
    assert judge(novels, ["en", "en", "en", "fr"], **BOOK_SETTINGS).reasons == [None] * 4
    doubled = {**novels[0], "text": novels[0]["text"] * 2}  # a book pasted twice is still caught
    assert judge([doubled], ["en"], **BOOK_SETTINGS).reasons[0].startswith("gopher_repetition.")


def test_gutenberg_volunteer_credits_are_removed(shared_data):
    for name in ("en_moby_dick_pg2701.txt", "en_pride_and_prejudice_pg1342.txt"):
        text = book(shared_data, name)["text"]
        assert "Produced by" not in text[:3000]
    assert book(shared_data, "en_moby_dick_pg2701.txt")["text"].startswith("MOBY-DICK;\n\nor, THE WHALE.")
    assert (
        "produced by the" in book(shared_data, "en_pride_and_prejudice_pg1342.txt")["text"]
    )  # the novel's own words stay


def test_rejections_carry_the_value_and_the_limit(shared_data):
    (page,) = web_rows(shared_data / "web" / "html" / "trafilatura_cache" / "rs-ingenieure.de.tragwerksplanung.html")
    verdict = judge([page, {**page, "text": "  "}], ["de", "de"])
    assert verdict.reasons == ["gopher_quality.word_count", "empty_text"]
    assert re.fullmatch(r"gopher_word_count \d+ < 50", verdict.details[0]) and verdict.details[1]


def test_alpha_words_of_words_is_the_papers_ratio(shared_data):
    alice = book(shared_data, "en_alice_pg11.txt")
    tokens = (
        judge(
            [alice], ["en"], **{**OLD_BOOK_SETTINGS, "gopher_quality": {"max_words": None, "alpha_words_of": "tokens"}}
        )
        .table["gopher_alpha_words_ratio"][0]
        .as_py()
    )
    words = (
        judge(
            [alice], ["en"], **{**OLD_BOOK_SETTINGS, "gopher_quality": {"max_words": None, "alpha_words_of": "words"}}
        )
        .table["gopher_alpha_words_ratio"][0]
        .as_py()
    )
    assert tokens < 0.8 < 0.98 < words  # punctuation tokens drag the datatrove ratio under Gopher's 0.8
