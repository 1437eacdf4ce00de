"""The langid stage on real pages, books and a Common Crawl slice from ../shared/data."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest
import yaml

from conftest import read_rejected, read_stage, run_curate
from curate.core.pipeline import Pipeline
from curate.core.params import ConfigError, build_params
from curate.extract import books, web
from curate.extract.stage import ExtractParams, Rejection
from curate.langid.model import as_fasttext_line, default_model_path
from curate.langid.stage import LangIdParams, LangIdStage

# Pages whose language a reader can tell from the site (and did, reading them).
PAGES = {
    "bmjv.de.konsum.html": "de",
    "spiegel.de.albtraum.html": "de",
    "zeit.de.zugverkehr.html": "de",
    "heise.de.lithium.html": "de",
    "blog.python.org.html": "en",
    "theguardian.com.academics.html": "en",
    "nature.com.telescope.html": "en",
    "stackoverflow.com.rust.html": "en",
    "franceculture.fr.idees.html": "fr",
    "laviedesidees.fr.evaluation.html": "fr",
    "psl.eu.luniversite.html": "fr",
    "soundofscience.fr.1927.html": "fr",
}
# A short French local-news teaser (698 characters, mostly names and dates): the model says fr, unsure.
UNSURE_FRENCH = "lanouvellerepublique.fr.martin.html"
BOOKS = {
    "kalamine_de_faust_1.txt": "de",
    "kalamine_fr_alice.txt": "fr",
    "en_alice_pg11.txt": "en",
    "en_moby_dick_pg2701.txt": "en",
    "en_pride_and_prejudice_pg1342.txt": "en",
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def extracted(reader, path, source: str) -> list[dict]:
    return [r for r in reader.read(str(path), ExtractParams(source=source)) if not isinstance(r, Rejection)]


@pytest.fixture(scope="module")
def pages(shared_data):
    folder = shared_data / "web" / "html" / "trafilatura_cache"
    return {name: extracted(web, folder / name, "web")[0] for name in [*PAGES, UNSURE_FRENCH]}


def langid(**params) -> LangIdStage:
    stage = LangIdStage("langid", build_params(LangIdParams, params, "test"))
    stage.setup()
    return stage


def run(stage: LangIdStage, rows: list[dict]) -> list[dict]:
    """Rows through the stage: each row with its language, score and (when dropped) reason and detail."""
    table = pa.Table.from_pylist(
        [{"id": r.get("id", str(i)), "source": r["source"], "text": r["text"]} for i, r in enumerate(rows)]
    )
    verdict = stage.process(table)
    out = verdict.table.to_pylist()
    for row, reason, detail in zip(out, verdict.reasons, verdict.details):
        row["reason"], row["detail"] = reason, detail
    return out


def test_web_pages_get_their_language(pages):
    names = list(PAGES)
    out = run(langid(), [pages[n] for n in names])
    assert {n: r["language"] for n, r in zip(names, out)} == PAGES
    assert all(r["language_score"] > 0.8 and r["reason"] is None for r in out)


def test_books_get_their_language(shared_data):
    rows = [extracted(books, shared_data / "books" / name, "books")[0] for name in BOOKS]
    out = run(langid(), rows)
    assert [r["language"] for r in out] == list(BOOKS.values())
    assert [r["declared_language"] for r in rows] == ["German", "French", "English", "English", "English"]


def test_chinese_and_other_pages_of_a_common_crawl_slice(shared_data):
    rows = extracted(web, shared_data / "web" / "warc" / "resiliparse_warcfile.warc.gz", "web")
    out = run(langid(threshold=0.0), rows)
    by_url = {row["url"]: r for row, r in zip(rows, out)}
    chinese = [r for row, r in zip(rows, out) if len(CJK.findall(row["text"])) > 0.5 * len(row["text"])]
    assert len(chinese) >= 5 and {r["language"] for r in chinese} == {"zh"}
    assert by_url["http://01spb.ru/company/"]["language"] == "ru"
    assert by_url["http://0900-hovenier.nl/gelderland/oosterbeek/"]["language"] == "nl"


def test_languages_and_thresholds_decide_what_is_kept(pages):
    names = list(PAGES) + [UNSURE_FRENCH]
    rows = [pages[n] for n in names]
    out = {n: r for n, r in zip(names, run(langid(languages=["de", "fr"]), rows))}
    assert {n for n, r in out.items() if r["reason"] is None} == {n for n, lang in PAGES.items() if lang != "en"}
    english = out["blog.python.org.html"]
    assert english["reason"] == "langid.language" and english["detail"].startswith("en (0.9")
    unsure = out[UNSURE_FRENCH]
    assert unsure["language"] == "fr" and 0.3 < unsure["language_score"] < 0.5  # below FineWeb's 0.65
    assert (
        unsure["reason"] == "langid.low_score"
        and "fr (0.3" in unsure["detail"]
        and "threshold 0.65" in unsure["detail"]
    )
    # a per-language threshold lets the unsure French page through and leaves the others at 0.65
    out = run(langid(thresholds={"fr": 0.3}), rows)
    assert all(r["reason"] is None for r in out)
    out = run(langid(threshold=0.99, thresholds={"fr": 0.3}), rows)
    kept = {n for n, r in zip(names, out) if r["reason"] is None}
    assert {n for n in names if n.endswith("fr.html") or ".fr." in n} <= kept
    assert "blog.python.org.html" not in kept  # en at 0.934 < 0.99


def test_bad_input_is_a_recorded_rejection_and_code_is_kept_without_a_language():
    rows = [
        {"source": "web", "text": ""},
        {"source": "web", "text": " \n\t\u3000 "},
        {"source": "web", "text": "😀🎉👍" * 20},
        {"source": "web", "text": "a" * 5_000_000},
        {"source": "code", "text": "def f():\n    return 1\n"},
        {"source": "web", "text": "12,5 % -- 3.14 !!"},
        {"source": "code", "text": ""},
    ]
    out = run(langid(), rows)
    assert [r["reason"] for r in out] == [
        "langid.empty_text",
        "langid.empty_text",
        "langid.no_letters",
        "langid.low_score",
        None,
        "langid.no_letters",
        None,
    ]
    assert out[0]["language"] is None and out[0]["language_score"] is None
    assert out[4]["language"] is None and out[4]["language_score"] is None


def checked(params: dict) -> None:
    """Parameters as a pipeline file gives them, then the stage's check() (which loads the model)."""
    Pipeline("test", "test", [], "out", [LangIdStage("langid", build_params(LangIdParams, params, "test"))]).check()


def test_bad_model_or_parameters_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="'/nowhere/lid.176.bin' does not exist"):
        checked({"model": "/nowhere/lid.176.bin"})
    text_file = tmp_path / "lid.176.bin"
    text_file.write_text("not a model")
    with pytest.raises(ConfigError, match=f"'{text_file}' is not a fastText model"):
        checked({"model": str(text_file)})
    truncated = tmp_path / "truncated.ftz"
    for cut in (
        100_000,
        900_000,
    ):  # downloads cut short in the dictionary (fastText alone would eat ~16 GB) and in a matrix
        truncated.write_bytes(open(default_model_path(), "rb").read()[:cut])
        with pytest.raises(ConfigError, match="truncated.ftz' is not a fastText model .the file ends early"):
            checked({"model": str(truncated)})
    with pytest.raises(ConfigError, match="'threshold' must be between 0 and 1"):
        checked({"threshold": 1.5})
    with pytest.raises(ConfigError, match=r"no label for \['eng'\]"):
        checked({"languages": ["eng"]})
    with pytest.raises(ConfigError, match=r"'thresholds' names \['fr'\], which 'languages' does not keep"):
        checked({"languages": ["en"], "thresholds": {"fr": 0.3}})


@pytest.mark.slow
def test_curate_run_extract_then_langid(shared_data, tmp_path):
    folder = shared_data / "web" / "html" / "trafilatura_cache"
    names = ["bmjv.de.konsum.html", "blog.python.org.html", "franceculture.fr.idees.html", UNSURE_FRENCH]
    output = tmp_path / "out"
    pipeline = {
        "name": "web",
        "input": [str(folder / n) for n in names],
        "output": str(output),
        "stages": [{"stage": "extract", "source": "web"}, {"stage": "langid", "languages": ["de", "fr"]}],
    }
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    run_curate("run", str(path), "--workers", "1")
    kept = read_stage(output, "langid").to_pylist()
    assert sorted((r["path"].rsplit("/", 1)[-1], r["language"]) for r in kept) == [
        ("bmjv.de.konsum.html", "de"),
        ("franceculture.fr.idees.html", "fr"),
    ]
    rejected = {r["path"].rsplit("/", 1)[-1]: r for r in read_rejected(output, "langid").to_pylist()}
    assert rejected["blog.python.org.html"]["reason"] == "langid.language"
    assert rejected[UNSURE_FRENCH]["reason"] == "langid.low_score" and rejected[UNSURE_FRENCH]["language"] == "fr"
    stats = json.loads((output / "stats" / "langid.json").read_text())
    assert stats["docs_in"] == 4 and stats["docs_out"] == 2
    assert stats["dropped"] == {"langid.language": 1, "langid.low_score": 1}
    # a wrong model path stops `curate run` before any work, naming the file and the path
    pipeline["stages"][1]["model"] = str(tmp_path / "missing.bin")
    path.write_text(yaml.safe_dump(pipeline))
    result = run_curate("run", str(path), "--output", str(tmp_path / "other"), check=False)
    assert result.returncode == 2 and f"'{tmp_path / 'missing.bin'}' does not exist" in result.stderr
    assert str(path) in result.stderr and not (tmp_path / "other").exists()


def test_every_typographic_quote_is_read_as_ascii_on_one_line():
    text = "\u2018a\u2019 \u201ab\u201b c\u2032 \u201cd\u201d \u201ee\u201f f\u2033\nnext line"
    assert as_fasttext_line(text) == "'a' 'b' c' \"d\" \"e\" f\" next line"


@pytest.fixture(scope="module")
def alice_sentences(shared_data) -> list[str]:
    """Single sentences of Alice with an apostrophe inside a word ("don’t", "Alice’s"), 4 to 30 words."""
    text = " ".join(extracted(books, shared_data / "books" / "en_alice_pg11.txt", "books")[0]["text"].split())
    found = [s for s in re.split(r"(?<=[.!?])\s+", text) if re.search(r"\w[’']\w", s) and 4 <= len(s.split()) <= 30]
    assert len(found) >= 150
    return found[:150]


@pytest.mark.parametrize("apostrophe", ["\u2019", "\u2018", "\u00b4", "\u02bc", "\uff07", "`"])
def test_an_apostrophe_look_alike_is_read_as_an_apostrophe(alice_sentences, apostrophe):
    ascii_rows = [{"source": "books", "text": re.sub(r"(?<=\w)[’'](?=\w)", "'", s)} for s in alice_sentences]
    rows = [{"source": "books", "text": re.sub(r"(?<=\w)[’'](?=\w)", apostrophe, s)} for s in alice_sentences]
    stage = langid(languages=["en"])
    ascii_out, out = run(stage, ascii_rows), run(stage, rows)
    assert [r["language_score"] for r in out] == [
        r["language_score"] for r in ascii_out
    ]  # the model reads the same line
    assert [r["text"] for r in out] == [r["text"] for r in rows]  # the stored text keeps its apostrophe
    assert sum(r["reason"] is None for r in out) >= 0.97 * len(rows)


@pytest.mark.parametrize("mark", ["10. ", "(a) ", "a) ", "iv. ", "\u2022 ", "- ", "* "])
def test_list_numbers_and_bullets_are_not_read_as_words(alice_sentences, mark):
    plain = run(langid(), [{"source": "books", "text": s} for s in alice_sentences])
    listed = run(
        langid(),
        [
            {"source": "books", "text": "\n".join(mark + s for s in alice_sentences[i : i + 1])}
            for i in range(len(alice_sentences))
        ],
    )
    assert [r["language_score"] for r in listed] == [r["language_score"] for r in plain]
    assert all(r["text"].startswith(mark) for r in listed)


def test_model_line_normalisation():
    assert (
        as_fasttext_line("10. First\n(b) second\n\u2022 third\n- fourth\n-5 degrees\nA line")
        == "First second third fourth -5 degrees A line"
    )
    assert as_fasttext_line("don\u00b4t don\u02bct don\uff07t don`t") == "don't don't don't don't"
    assert as_fasttext_line("HEARTHRUG, NEAR THE FENDER") == "hearthrug, near the fender"
    assert as_fasttext_line("NASA and the ESA") == "NASA and the ESA"  # capitals in mixed-case text stay
