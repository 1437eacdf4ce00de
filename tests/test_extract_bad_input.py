"""Bad input: each case becomes a recorded rejection (or a clear error) naming the file,
and the job finishes its other work."""

from __future__ import annotations

import gzip

import pytest

from conftest import read_rejected
from curate.core.executor import LocalExecutor
from curate.core.pipeline import load_pipeline
from curate.core.runner import stage_context
from extract_fixtures import extract, write_pipeline

TWENTY_MB = 20 * 1024 * 1024


def name_of(row):
    return row["path"].rsplit("/", 1)[-1]


@pytest.mark.slow
def test_truncated_gzip_warc_keeps_the_records_before_the_break(shared_data, tmp_path):
    good = (shared_data / "web" / "warc" / "resiliparse_warcfile.warc.gz").read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "cut_inside_a_member.warc.gz").write_bytes(good[:-10])
    kept, rejected = extract(tmp_path, "web", [tmp_path, shared_data / "web" / "warc" / "warcio_example.warc.gz"])
    per_file = {}
    for row in kept:
        per_file[name_of(row)] = per_file.get(name_of(row), 0) + 1
    # cut in half: the pages before the break; cut 10 bytes short: every page (the last member is not one)
    assert 0 < per_file["cut.warc.gz"] < 16 and per_file["cut_inside_a_member.warc.gz"] == 16
    assert per_file["warcio_example.warc.gz"] == 1  # the job went on
    broken = {name_of(r): r for r in rejected}
    assert set(broken) == {"cut.warc.gz", "cut_inside_a_member.warc.gz"}
    assert all(r["reason"] in ("truncated_record", "truncated_file") for r in broken.values())
    assert all(name in r["detail"] and "offset" in r["detail"] for name, r in broken.items())


@pytest.mark.slow
def test_not_a_gzip_file_is_a_rejection(tmp_path):
    (tmp_path / "garbage.warc.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"not deflate data" * 10)
    kept, rejected = extract(tmp_path, "web", [tmp_path / "garbage.warc.gz"])
    assert not kept and [r["reason"] for r in rejected] == ["unreadable_record"]
    assert "garbage.warc.gz" in rejected[0]["detail"]


@pytest.mark.slow
def test_empty_files_are_rejected_for_every_source(tmp_path):
    for name in ("page.html", "crawl.warc.gz", "script.py", "book.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "ok.html").write_text(
        "<html><body><article><p>" + "A real paragraph of text. " * 20 + "</p></article></body></html>"
    )
    (tmp_path / "ok.py").write_text("print('hello')\n")
    web, web_rejected = extract(tmp_path, "web", [tmp_path], name="web")
    code, code_rejected = extract(tmp_path, "code", [tmp_path], name="code")
    books, books_rejected = extract(tmp_path, "books", [tmp_path], name="books")
    assert [name_of(r) for r in web] == ["ok.html"] and [name_of(r) for r in code] == ["ok.html", "ok.py"] and not books
    assert {(name_of(r), r["reason"]) for r in web_rejected} == {
        ("page.html", "empty_file"),
        ("crawl.warc.gz", "empty_file"),
    }
    assert ("script.py", "empty_file") in {(name_of(r), r["reason"]) for r in code_rejected}
    assert {(name_of(r), r["reason"]) for r in books_rejected} == {("book.txt", "empty_text")}


@pytest.mark.slow
def test_binary_file_with_a_python_name(tmp_path):
    (tmp_path / "image.py").write_bytes(gzip.compress(b"\x00" * 1000) + bytes(range(256)))
    (tmp_path / "real.py").write_text("x = 1\n")
    kept, rejected = extract(tmp_path, "code", [tmp_path])
    assert [r["relative_path"] for r in kept] == ["real.py"]
    assert [(r["relative_path"], r["reason"]) for r in rejected] == [("image.py", "binary_file")]


@pytest.fixture
def huge_line(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "huge.py").write_bytes(b"x = '" + b"a" * TWENTY_MB + b"'\n")
    (folder / "huge.txt").write_bytes(b"word " * (TWENTY_MB // 5))
    (folder / "small.py").write_text("y = 2\n")
    return folder


@pytest.mark.slow
def test_20mb_single_line_file_code_and_books(huge_line, tmp_path):
    kept, rejected = extract(tmp_path, "code", [huge_line], name="code")
    assert [r["relative_path"] for r in kept] == ["small.py"]
    assert {(r["relative_path"], r["reason"]) for r in rejected} == {("huge.py", "too_large"), ("huge.txt", "not_code")}
    # with the size limit lifted, the line-length limit still rejects it
    _, rejected = extract(tmp_path, "code", [huge_line / "huge.py"], name="code-unlimited", max_file_bytes=30_000_000)
    assert [r["reason"] for r in rejected] == ["minified"]
    books, _ = extract(tmp_path, "books", [huge_line / "huge.txt"], name="books")
    assert len(books) == 1 and len(books[0]["text"]) >= TWENTY_MB - 10  # one long book: kept whole


@pytest.mark.slow
def test_10000_levels_of_nesting_is_a_rejection_and_the_job_goes_on(shared_data, tmp_path):
    depth = 10_000
    (tmp_path / "deep.html").write_text(
        "<html><body>" + "<div>" * depth + "<p>deep text</p>" + "</div>" * depth + "</body></html>"
    )
    (tmp_path / "blog.html").write_bytes(
        (shared_data / "web" / "html" / "trafilatura_cache" / "blog.python.org.html").read_bytes()
    )
    kept, rejected = extract(tmp_path, "web", [tmp_path])
    assert [name_of(r) for r in kept] == ["blog.html"]
    assert [(name_of(r), r["reason"]) for r in rejected] == [("deep.html", "too_deeply_nested")]
    assert "depth" in rejected[0]["detail"]


@pytest.mark.parametrize(
    "source, files",
    [
        (
            "web",
            {
                "a.html": "<html><body><article><p>" + "Text that stays. " * 30 + "</p></article></body></html>",
                "b.html": "<p>gone</p>",
            },
        ),
        ("code", {"a.py": "a = 1\n", "b.py": "b = 2\n"}),
        ("books", {"a.txt": "A short book.\n", "b.txt": "Another one.\n"}),
    ],
)
def test_a_file_that_vanishes_after_listing_is_a_rejection(tmp_path, source, files):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    pipeline = load_pipeline(str(write_pipeline(tmp_path, source, [folder], tmp_path / "out")))
    stage, executor = pipeline.stages[0], LocalExecutor(1)
    ctx = stage_context(pipeline, 0, executor, progress=False)
    [shard] = stage.shards(ctx)
    (folder / list(files)[1]).unlink()  # gone between planning and reading
    stats = stage.run_shard(shard, ctx)
    assert stats.docs_out == 1 and stats.dropped == {"unreadable_file": 1}
    [row] = read_rejected(tmp_path / "out", "extract").to_pylist()
    assert row["reason"] == "unreadable_file" and list(files)[1] in row["detail"]
