"""Books extraction on the real Project Gutenberg texts in ../shared/data/books."""
from __future__ import annotations

import pytest

from extract_fixtures import extract


@pytest.fixture(scope="module")
def books(shared_data, tmp_path_factory):
    kept, rejected = extract(tmp_path_factory.mktemp("books"), "books", [shared_data / "books"], files_per_shard=2)
    return {r["path"].rsplit("/", 1)[-1]: r for r in kept}, rejected


def test_title_author_and_language_come_from_the_header(books):
    kept, _ = books
    pride = kept["en_pride_and_prejudice_pg1342.txt"]
    assert (pride["title"], pride["author"], pride["declared_language"]) == ("Pride and Prejudice", "Jane Austen", "English")
    moby = kept["en_moby_dick_pg2701.txt"]
    assert moby["title"].startswith("Moby") and moby["author"] == "Herman Melville"
    assert kept["en_alice_pg11.txt"]["author"] == "Lewis Carroll"


def test_gutenberg_header_footer_and_license_are_stripped(books):
    kept, _ = books
    assert len(kept) == 5
    for name, book in kept.items():
        text = book["text"]
        for boilerplate in ("Project Gutenberg License", "START OF THE PROJECT", "END OF THE PROJECT", "\ufeff", "\r"):
            assert boilerplate not in text, (name, boilerplate)
    assert kept["en_pride_and_prejudice_pg1342.txt"]["text"].count("It is a truth universally acknowledged") == 1
    assert "Habe nun, ach! Philosophie" in kept["kalamine_de_faust_1.txt"]["text"]


def test_license_files_are_rejected_not_kept_as_books(books):
    _, rejected = books
    assert {r["path"].rsplit("/", 1)[-1]: r["reason"] for r in rejected} == {
        "LICENSE_GITenberg_ProjectGutenberg.txt": "license_text", "LICENSE_kalamine_corpus_gutenberg.txt": "license_text"}
