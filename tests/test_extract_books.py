"""Books extraction on the real Project Gutenberg texts in ../shared/data/books."""

from __future__ import annotations

import shutil

import pytest

from conftest import curate_in_process, read_stage, run_curate
from extract_fixtures import extract, write_pipeline

pytestmark = pytest.mark.slow  # every test here runs a pipeline, a demo, a trainer or a subprocess (tests/conftest.py)


@pytest.fixture(scope="module")
def books(shared_data, tmp_path_factory):
    kept, rejected = extract(tmp_path_factory.mktemp("books"), "books", [shared_data / "books"], files_per_shard=2)
    return {r["path"].rsplit("/", 1)[-1]: r for r in kept}, rejected


def test_title_author_and_language_come_from_the_header(books):
    kept, _ = books
    pride = kept["en_pride_and_prejudice_pg1342.txt"]
    assert (pride["title"], pride["author"], pride["declared_language"]) == (
        "Pride and Prejudice",
        "Jane Austen",
        "English",
    )
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
        "LICENSE_GITenberg_ProjectGutenberg.txt": "license_text",
        "LICENSE_kalamine_corpus_gutenberg.txt": "license_text",
    }


def test_a_file_added_to_the_inputs_changes_only_the_shard_it_lands_in(shared_data, tmp_path):
    books = tmp_path / "books"
    shutil.copytree(shared_data / "books", books)
    pipeline = write_pipeline(tmp_path, "books", [books], tmp_path / "out", files_per_shard=2)
    curate_in_process("run", str(pipeline), "--no-progress")  # the refused run below is the real command line
    records = tmp_path / "out" / "_state" / "extract" / "main"
    before = {p.name: p.stat().st_mtime_ns for p in records.iterdir()}
    names = sorted(p.name for p in books.iterdir())
    added = books / (names[len(names) // 2] + "_added.txt")  # sorts inside a middle shard's range
    added.write_text(
        (books / names[len(names) // 2]).read_text(encoding="utf-8-sig").replace("the", "teh"), encoding="utf-8"
    )

    refused = run_curate("run", str(pipeline), "--no-progress", check=False)
    assert refused.returncode == 2 and "1 finished shard(s)" in refused.stderr
    curate_in_process("run", str(pipeline), "--allow-changed-inputs", "--no-progress")
    after = {p.name: p.stat().st_mtime_ns for p in records.iterdir()}
    redone = [name for name in before if after[name] != before[name]]
    assert len(redone) == 1 and set(after) == set(before)  # the others kept their shard and their record
    shard = read_stage(tmp_path / "out", "extract")
    assert str(added) in shard["path"].to_pylist()
    fresh = write_pipeline(tmp_path, "books", [books], tmp_path / "fresh", files_per_shard=2)
    curate_in_process("run", str(fresh), "--no-progress")
    assert sorted(shard["id"].to_pylist()) == sorted(read_stage(tmp_path / "fresh", "extract")["id"].to_pylist())
