"""Adversarial inputs (issue #21): each case is processed or recorded as a rejection naming the
file, never a crashed shard, a silent skip or a leak. Inputs are built at test time from
../shared/data files."""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from conftest import REPO, curate_in_process, read_rejected, read_stage, run_curate
from curate.extract.books import parse_book
from extract_fixtures import extract, write_pipeline


def reasons(rejected):
    return {(row["relative_path"] or row["path"].rsplit("/", 1)[-1], row["reason"]) for row in rejected}


def rust_chapter(shared_data, n=0) -> bytes:
    return sorted((shared_data / "quality" / "positives" / "rust_book" / "src").glob("ch*.md"))[n].read_bytes()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- file names that are not UTF-8 -------------------------------------------------------------


@pytest.mark.slow
def test_names_that_are_not_utf8_are_read_and_recorded_losslessly(shared_data, tmp_path):
    tree = tmp_path / "repo"
    tree.mkdir()
    bad = os.fsdecode(b"caf\xe9-\xff.md")  # Latin-1 e-acute and a byte no encoding gives a name
    (tree / bad).write_bytes(rust_chapter(shared_data))
    (tree / "ok.md").write_bytes(rust_chapter(shared_data, 1))
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / "repo.tar.gz").write_bytes(tar_gz({"src/" + bad: rust_chapter(shared_data, 2)}))
    kept, rejected = extract(tmp_path, "code", [tree, tmp_path / "archives"])
    assert not rejected
    names = sorted(row["relative_path"] for row in kept)
    assert names == ["caf\\xe9-\\xff.md", "ok.md", "src/caf\\xe9-\\xff.md"]
    by_name = {row["relative_path"]: row for row in kept}
    assert by_name["caf\\xe9-\\xff.md"]["text"] == rust_chapter(shared_data).decode()
    # the escape maps back to the very bytes on disk
    assert os.fsencode(bad) == by_name["caf\\xe9-\\xff.md"]["path"].rsplit("/", 1)[1].encode().decode(
        "unicode_escape"
    ).encode("latin-1")


@pytest.mark.slow
def test_a_book_with_a_name_that_is_not_utf8(shared_data, tmp_path):
    shutil.copy(shared_data / "books" / "en_alice_pg11.txt", tmp_path / os.fsdecode(b"alice-\xe9.txt"))
    kept, rejected = extract(tmp_path, "books", [tmp_path])
    assert not rejected and [row["path"].rsplit("/", 1)[1] for row in kept] == ["alice-\\xe9.txt"]


# --- links leaving the input and folders that cannot be listed ----------------------------------


@pytest.mark.slow
def test_links_out_of_the_input_are_rejected_not_read(shared_data, tmp_path):
    tree = tmp_path / "repo"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "real.md").write_bytes(rust_chapter(shared_data))
    (tree / "leak.py").symlink_to("/etc/passwd")
    (tree / "books").symlink_to(shared_data / "books")  # a folder outside: not followed
    (tree / "inside.md").symlink_to(tree / "pkg" / "real.md")  # inside the input: read
    (tree / "pkg2").symlink_to(tree / "pkg")  # a folder inside: its files are read at their real place
    kept, rejected = extract(tmp_path, "code", [tree])
    assert sorted(row["relative_path"] for row in kept) == ["inside.md", "pkg/real.md"]
    assert reasons(rejected) == {("leak.py", "outside_input"), ("books/", "outside_input"), ("pkg2/", "linked_folder")}
    assert not any("root:" in row["text"] for row in kept + rejected)
    books, books_rejected = extract(tmp_path, "books", [tree], name="books")
    assert not books and {row["reason"] for row in books_rejected} == {"outside_input", "linked_folder"}


def run_without_root_privileges(args: list[str]) -> subprocess.CompletedProcess:
    """`curate` as this user; as root, without the capabilities that let root read any folder."""
    command = [sys.executable, "-m", "curate.cli", *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: no folder is unreadable to root")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["books", "code"])
def test_a_folder_that_cannot_be_listed_is_a_rejection(shared_data, tmp_path, source):
    tree, name = tmp_path / "in", "alice.txt" if source == "books" else "alice.md"
    (tree / "locked").mkdir(parents=True)
    shutil.copy(shared_data / "books" / "en_alice_pg11.txt", tree / name)
    shutil.copy(shared_data / "books" / "en_alice_pg11.txt", tree / "locked" / name)
    (tree / "locked").chmod(0)
    try:
        pipeline = write_pipeline(tmp_path, source, [tree], tmp_path / "out")
        result = run_without_root_privileges(["run", str(pipeline), "--no-progress"])
    finally:
        (tree / "locked").chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert [p.rsplit("/", 1)[1] for p in read_stage(tmp_path / "out", "extract")["path"].to_pylist()] == [name]
    rejected = read_rejected(tmp_path / "out", "extract").to_pylist()
    assert [(row["path"], row["reason"]) for row in rejected] == [(f"{tree}/locked/", "unreadable_folder")]


# --- size budgets ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_book_over_max_doc_bytes_is_rejected_without_being_read_whole(shared_data, tmp_path):
    moby = (shared_data / "books" / "en_moby_dick_pg2701.txt").read_bytes()
    (tmp_path / "moby.txt.gz").write_bytes(gzip.compress(moby * 8))  # 10 MB of text in 0.4 MB of gzip
    shutil.copy(shared_data / "books" / "en_alice_pg11.txt", tmp_path / "alice.txt")
    kept, rejected = extract(tmp_path, "books", [tmp_path], max_doc_bytes=2_000_000)
    assert [row["path"].rsplit("/", 1)[1] for row in kept] == ["alice.txt"]
    assert [(row["path"].rsplit("/", 1)[1], row["reason"]) for row in rejected] == [("moby.txt.gz", "too_large")]
    assert "max_doc_bytes 2000000" in rejected[0]["detail"]


@pytest.mark.slow
def test_quality_drops_a_huge_document_before_computing_any_signal(shared_data, tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    shutil.copy(shared_data / "books" / "en_moby_dick_pg2701.txt", books / "moby.txt")  # 1.2 MB of text
    shutil.copy(shared_data / "books" / "en_alice_pg11.txt", books / "alice.txt")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        f"name: t\ninput: {books}\noutput: {tmp_path / 'out'}\nstages:\n"
        "  - {stage: extract, source: books}\n"
        "  - {stage: quality, c4: false, fineweb: false, max_doc_bytes: 1000000, "
        "gopher_quality: {max_words: null, min_alpha_words_ratio: 0.7}}\n"
    )  # as pipelines/books.yaml
    curate_in_process("run", str(pipeline), "--no-progress")
    rejected = read_rejected(tmp_path / "out", "quality").to_pylist()
    assert [(row["path"].rsplit("/", 1)[1], row["reason"]) for row in rejected] == [("moby.txt", "too_large")]
    assert (
        rejected[0]["gopher_word_count"] is None or rejected[0]["gopher_word_count"] != rejected[0]["gopher_word_count"]
    )  # NaN: never measured
    assert len(rejected[0]["text"]) > 1_000_000  # kept whole in rejected/
    assert read_stage(tmp_path / "out", "quality").num_rows == 1


@pytest.mark.slow
def test_a_tar_bomb_stops_at_the_archive_budget(shared_data, tmp_path):
    chapter = rust_chapter(shared_data)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in [("a.md", chapter), ("zeros.py", b"\0" * 60_000_000), ("after.md", chapter)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "bomb.tar.gz").write_bytes(buffer.getvalue())  # 60 MB of zeros in ~60 KB
    kept, rejected = extract(tmp_path, "code", [tmp_path / "bomb.tar.gz"], max_archive_bytes=10_000_000)
    assert [row["relative_path"] for row in kept] == ["a.md"]
    assert [row["reason"] for row in rejected] == ["archive_budget"]
    assert "zeros.py" in rejected[0]["detail"] and "max_archive_bytes 10000000" in rejected[0]["detail"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_an_archive_with_too_many_members_stops_at_the_budget(shared_data, tmp_path, kind):
    members = {f"m{i:03d}.md": rust_chapter(shared_data, i % 5) for i in range(30)}
    if kind == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        data = buffer.getvalue()
    else:
        data = tar_gz(members)
    (tmp_path / f"many.{kind}").write_bytes(data)
    kept, rejected = extract(tmp_path, "code", [tmp_path / f"many.{kind}"], max_archive_members=12)
    assert len(kept) == 12 and [row["reason"] for row in rejected] == ["archive_budget"]


# --- books not in UTF-8 ---------------------------------------------------------------------------


def book_text(shared_data, name) -> str:
    return (shared_data / "books" / name).read_bytes().decode("utf-8-sig")


@pytest.mark.slow
def test_books_not_in_utf8_are_decoded_right_and_marked_when_unsure(shared_data, tmp_path):
    french = book_text(shared_data, "kalamine_fr_alice.txt")
    german = book_text(shared_data, "kalamine_de_faust_1.txt")
    alice = book_text(shared_data, "en_alice_pg11.txt")
    declared = re.sub(r"(Language: German\r?\n)", r"\1Character set encoding: ISO-8859-1\n", german, count=1)
    (tmp_path / "faust_latin1_declared.txt").write_bytes(
        declared.encode("cp1252", "replace")
    )  # as ISO-8859-1 labels are used
    (tmp_path / "alice_fr_latin1_undeclared.txt").write_bytes(french.encode("latin-1", "replace"))
    broken = alice.encode("utf-8")
    middle = len(broken) // 2
    (tmp_path / "alice_broken_utf8.txt").write_bytes(broken[:middle] + b"\xff\xfe" + broken[middle:])
    kept, rejected = extract(tmp_path, "books", [tmp_path])
    assert not rejected
    rows = {row["path"].rsplit("/", 1)[1]: row for row in kept}

    faust = rows["faust_latin1_declared.txt"]
    assert faust["charset"] == "cp1252" and "Schüler" in faust["text"]
    assert faust["text"] == parse_book(declared.encode("cp1252", "replace").decode("cp1252"))["text"]
    french_row = rows["alice_fr_latin1_undeclared.txt"]
    assert french_row["charset"] == "cp1252 (detected)"  # detection: said so in the column
    assert french_row["text"] == parse_book(french.encode("latin-1", "replace").decode("latin-1"))["text"]  # not cp1257
    english = rows["alice_broken_utf8.txt"]
    assert english["charset"] == "utf-8 (with 2 replacements)"
    assert "ALICE’S" in english["text"] and "‚Äô" not in english["text"]  # not mac-roman mojibake


def test_listing_a_missing_folder_is_empty_not_a_rejection(tmp_path):
    from curate.core.storage import list_files

    assert list_files(str(tmp_path / "not-there")) == [] and list_files("memory://not-there/either") == []


# --- web: links out of the input and size budgets ---------------------------------------------------


def web_name(row) -> str:
    return row["path"].rstrip("/").rsplit("/", 1)[1] + ("/" if row["path"].endswith("/") else "")


@pytest.mark.slow
def test_web_links_out_of_the_input_are_rejected_not_read(shared_data, tmp_path):
    pages = shared_data / "web" / "html" / "trafilatura_cache"
    tree = tmp_path / "pages"
    tree.mkdir()
    shutil.copy(pages / "theguardian.com.academics.html", tree / "page.html")
    (tree / "leak.html").symlink_to(pages / "faz.net.streaming.html")  # a page outside the input
    (tree / "crawl.warc.gz").symlink_to(shared_data / "web" / "warc" / "warcio_example.warc.gz")
    (tree / "more").symlink_to(shared_data / "web" / "warc")  # a folder outside: not followed
    kept, rejected = extract(tmp_path, "web", [tree])
    assert [web_name(row) for row in kept] == ["page.html"]
    assert {(web_name(row), row["reason"]) for row in rejected} == {
        ("leak.html", "outside_input"),
        ("crawl.warc.gz", "outside_input"),
        ("more/", "outside_input"),
    }
    assert all(row["text"] == "" for row in rejected)


def payload_sizes(warc) -> dict[str, int]:
    """Each page record's payload size by WARC-Record-ID, read with warcio, the reader's own parser."""
    from warcio.archiveiterator import ArchiveIterator

    with open(warc, "rb") as f:
        return {
            r.rec_headers.get_header("WARC-Record-ID"): len(r.content_stream().read())
            for r in ArchiveIterator(f)
            if r.rec_type in ("response", "conversion")
        }


@pytest.mark.slow
def test_web_pages_and_warc_payloads_over_max_doc_bytes_are_rejected(shared_data, tmp_path):
    warc = shared_data / "web" / "warc" / "dolma_sample-0000.warc.gz"
    sizes = payload_sizes(warc)
    limit = sorted(sizes.values())[len(sizes) // 2]  # half the records are over it
    pages = shared_data / "web" / "html" / "trafilatura_cache"
    small, large = pages / "die-partei.net.luebeck.html", pages / "pcgamer.com.skyrim.html"
    assert small.stat().st_size <= limit < large.stat().st_size
    tree = tmp_path / "in"
    tree.mkdir()
    for path in (warc, small, large):
        shutil.copy(path, tree / path.name)
    kept, rejected = extract(tmp_path, "web", [tree], max_doc_bytes=limit)
    too_large = [row for row in rejected if row["reason"] == "too_large"]
    over = {record for record, size in sizes.items() if size > limit}
    assert {row["warc_record_id"] for row in too_large if row["warc_record_id"]} == over
    assert [web_name(row) for row in too_large if not row["warc_record_id"]] == [large.name]
    assert all(f"max_doc_bytes {limit}" in row["detail"] for row in too_large)
    assert not over & {row["warc_record_id"] for row in kept}  # the records after a skipped one are still read
    assert len(kept) + len(rejected) == len(sizes) + 2


# --- inputs holding nothing the pipeline reads (issue #17) ------------------------------------------


@pytest.mark.slow
def test_documents_given_to_an_extract_pipeline_are_an_error_naming_them_and_the_reader_key(shared_data, tmp_path):
    """The issue's case: a folder of JSON lines given to pipelines/web.yaml ran on 0 documents and exited 0."""
    documents = shared_data / "web" / "jsonl"
    out = tmp_path / "web"
    refused = run_curate("run", "pipelines/web.yaml", "--input", str(documents), "--output", str(out), check=False)
    assert refused.returncode == 2 and "no file extract (source: web) reads (3 others, e.g. " in refused.stderr
    assert str(documents / "dolma_cc_en_head-0091.jsonl") in refused.stderr and ".warc.lz4" in refused.stderr
    assert "'reader:'" in refused.stderr and "Traceback" not in refused.stderr and not (out / "extract").exists()
    named = documents / "dolma_cc_en_head-0091.jsonl"
    refused = run_curate(
        "run", "pipelines/books.yaml", "--input", str(named), "--output", str(tmp_path / "books"), check=False
    )
    assert refused.returncode == 2 and f"input '{named}': not a file extract (source: books) reads" in refused.stderr
    assert ".txt" in refused.stderr and not (tmp_path / "books" / "extract").exists()


@pytest.mark.slow
def test_files_extract_passes_over_in_a_folder_are_named(shared_data, tmp_path):
    folder = tmp_path / "crawl"
    folder.mkdir()
    shutil.copy(shared_data / "web" / "warc" / "warcio_example.warc.gz", folder / "CRAWL.WARC.GZ")
    shutil.copy(shared_data / "web" / "jsonl" / "dolma_cc_en_head-0091.jsonl", folder / "notes.jsonl")
    out = tmp_path / "out"
    result = run_curate(
        "run", "pipelines/web.yaml", "--stage", "extract", "--input", str(folder), "--output", str(out), "--no-progress"
    )
    assert f"extract: skipping 1 file(s) of other kinds, e.g. {folder / 'notes.jsonl'}" in result.stderr
    assert {row["path"] for row in read_stage(out, "extract").to_pylist()} == {str(folder / "CRAWL.WARC.GZ")}
    glob = tmp_path / "by_glob"  # a glob input, as a pipeline's input may be, reads what it matches
    curate_in_process(
        "run",
        "pipelines/web.yaml",
        "--stage",
        "extract",
        "--input",
        str(folder / "*.WARC.GZ"),
        "--output",
        str(glob),
        "--no-progress",
    )  # (the same command in this process: no interpreter to start)
    assert read_stage(glob, "extract")["text"].to_pylist() == read_stage(out, "extract")["text"].to_pylist()


@pytest.mark.slow
def test_an_extract_rerun_on_fewer_files_refuses_the_removed_files_shards(shared_data, tmp_path):
    """A rerun of extract after an input file was removed: the shard that file made would be read by the next
    stage beside this run's, so the run stops naming it instead of leaving it there."""
    folder = tmp_path / "crawl"
    folder.mkdir()
    for name in ("dolma_sample-0000.warc.gz", "warcio_example.warc.gz"):
        shutil.copy(shared_data / "web" / "warc" / name, folder / name)
    out = tmp_path / "out"
    path = write_pipeline(tmp_path, "web", [folder], out)
    curate_in_process(
        "run", str(path), "--no-progress"
    )  # the first run in this process; the refused rerun is a real one
    shards = sorted(p.name for p in (out / "extract").iterdir())
    assert len(shards) == 2
    (folder / "warcio_example.warc.gz").unlink()
    refused = run_curate("run", path, "--no-progress", check=False)
    assert (
        refused.returncode == 2
        and "holds 1 file(s) of an earlier run" in refused.stderr
        and "another --output" in refused.stderr
    )
    assert sorted(p.name for p in (out / "extract").iterdir()) == shards  # nothing deleted behind the user's back
