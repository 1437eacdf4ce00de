"""Source labels and quality profiles: each source judged by the settings that fit it, and a warning when
rules tuned on web pages remove too much of a source that is not web (issue #32 item 7, #33 item 6)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
import yaml

from conftest import REPO, curate_in_process, read_stage
from curate.core.params import ConfigError, build_params
from curate.core.schema import make_documents
from curate.extract import books
from curate.extract.stage import ExtractParams
from curate.quality.profiles import source_shares, source_warnings
from curate.quality.stage import QualityParams, QualityStage

# Wikipedia-style articles, written for this test as an encyclopedia lays them out: a lead, section
# headings, lists of works and years, a short infobox; the headings and list lines end in no full stop.
ARTICLES = {
    "river": """River Wend
Length: 212 km
Basin: 4,310 km2
Mouth: North Sea
The River Wend is a river in the north of the country, 212 kilometres (132 mi) long, which rises in the Hollow Hills and flows into the North Sea at Wendmouth. It drains a basin of about 4,310 square kilometres, much of it farmland. The river was navigable as far as Castleford until the 19th century, when the mills of the lower valley were built. Its name is first recorded in a charter of 956 as Wenda. The river gives its name to the district of Wendale.
Course
The river rises at 410 m above sea level on the eastern slope of Hollow Fell. It flows south-east through moorland for about 30 km before it enters the valley at Brigg. Below Castleford it is tidal, and it reaches the sea through a wide estuary of mudflats and salt marsh.
Tributaries
Brigg Beck
Hallow Water
River Lune
Sandy Brook
Mills on the river
Upper Mill (1781)
Castleford Mill (1802)
Wendmouth Mill (1824), demolished 1961
See also
List of rivers of the north
References""",
    "composer": """Anna Lindqvist (1871-1939) was a composer and organist who worked in Uppsala for most of her life. She wrote four symphonies, two operas and more than 200 songs, and she was the first woman to teach composition at the city's conservatory. Her music was little played after her death and was revived from the 1990s, when her manuscripts were catalogued. Critics have compared her late songs with those of Sibelius and Grieg.
Life
Lindqvist was born in Gävle, the daughter of a church musician. She studied the organ in Stockholm from 1889 to 1894 and composition in Leipzig from 1895. In 1901 she became organist of the cathedral in Uppsala, a post she held until 1930.
Works
Symphony No. 1 in D minor (1899)
Symphony No. 2 (1905)
Symphony No. 3, Spring (1912)
Symphony No. 4 (1926)
The Lake Maiden, opera (1909)
Winter Night, opera (1921)
Songs of the Coast, 12 songs (1915)
Legacy
A street in Uppsala was named after her in 1971.
Further reading
Berg, Karin (2004). Anna Lindqvist: A Life in Music. Uppsala: Gothia.""",
}


def judge(rows: list[dict], languages: list[str] | None = None, **params):
    stage = QualityStage("quality", build_params(QualityParams, params, "test"))
    stage.setup()
    table = make_documents(rows).append_column("language", pa.array(languages or ["en"] * len(rows)))
    return stage.process(table)


def wiki_rows() -> list[dict]:
    return [{"id": name, "source": "wiki", "text": text} for name, text in ARTICLES.items()]


def warnings(verdict, limit: float = 0.25) -> list[str]:
    return source_warnings(source_shares(verdict.counters or {}), limit)


def test_a_books_profile_is_what_the_books_pipeline_sets():
    books_yaml = next(
        s for s in yaml.safe_load((REPO / "pipelines" / "books.yaml").read_text())["stages"] if s["stage"] == "quality"
    )
    assert books_yaml.get("profile") == "books"
    params = build_params(QualityParams, {"profile": "books"}, "test")
    assert params.c4 is False and params.fineweb is False
    assert params.gopher_quality.max_words is None and params.gopher_repetition.max_dup_para_fraction is None


def test_settings_beside_a_profile_override_it_key_by_key():
    params = build_params(QualityParams, {"profile": "books", "gopher_quality": {"min_words": 500}, "c4": True}, "test")
    assert params.gopher_quality.min_words == 500 and params.gopher_quality.max_words is None  # the profile's, kept
    assert params.c4.remove_lines is True  # turned back on, with the published settings


def test_any_source_label_is_accepted_by_extract_and_the_reader():
    from curate.read.config import ReaderConfig

    assert build_params(ExtractParams, {"source": "wiki", "reader": "web"}, "test").reader == "web"
    assert build_params(ExtractParams, {"source": "books"}, "test").reader == "books"
    assert build_params(ReaderConfig, {"source": "forum"}, "test").source == "forum"
    with pytest.raises(
        ConfigError, match="source: expected one of 'web', 'books', 'code', or another name with 'reader'"
    ):
        build_params(ExtractParams, {"source": "wiki"}, "test")


def test_each_source_is_judged_by_its_own_profile_and_rows_keep_their_order():
    wiki = wiki_rows()
    web = {"id": "page", "source": "web", "text": "Home | About\n" + " ".join(wiki[0]["text"].split("\n")[4:5]) * 3}
    verdict = judge([wiki[0], web, wiki[1]], sources={"wiki": "encyclopedic"})
    rows = verdict.table.to_pylist()
    assert [r["id"] for r in rows] == ["river", "page", "composer"]
    assert verdict.reasons[0] is None and verdict.reasons[2] is None
    assert rows[0]["text"] == ARTICLES["river"]  # encyclopedic: C4 measures, removes no heading or list line
    assert rows[1]["c4_removed_lines_fraction"] == pytest.approx(1 / 2)  # the web page: C4 cut its menu line
    assert rows[0]["fineweb_line_punct_ratio"] is None  # not measured for the wiki rows: null, not NaN


def test_an_empty_table_has_the_columns_of_every_sources_settings():
    verdict = judge([], sources={"books": "books"})
    assert {"c4_sentences", "fineweb_newline_ratio", "gopher_word_count"} <= set(verdict.table.column_names)


def test_wikipedia_style_articles_under_web_rules_are_reported_and_not_under_their_own_profile():
    verdict = judge(wiki_rows())
    assert verdict.reasons == [None, None]
    [warning] = warnings(verdict)
    assert warning.startswith("rule c4.removed_lines removed ") and "of source 'wiki'" in warning
    share = source_shares(verdict.counters)["wiki"]["removed"]["c4.removed_lines"]["share"]
    assert 0.25 < share < 0.5  # headings, lists and the infobox, by C4's line rules
    assert warnings(judge(wiki_rows(), sources={"wiki": "encyclopedic"})) == []


def test_datatroves_alpha_words_count_on_encyclopedic_text_is_reported_by_its_rule():
    verdict = judge(
        wiki_rows(), sources={"wiki": {"profile": "encyclopedic", "gopher_quality": {"alpha_words_of": "tokens"}}}
    )
    assert verdict.reasons == [None, "gopher_quality.alpha_words"]  # the composer's dates and titles: 77% of tokens
    [warning] = warnings(verdict)
    assert warning.startswith("rule gopher_quality.alpha_words removed") and "of source 'wiki'" in warning


def test_web_sources_are_not_reported():
    rows = [{**row, "source": "web"} for row in wiki_rows()]
    assert judge(rows).counters is None
    assert judge(wiki_rows(), web_sources=["web", "wiki"]).counters is None


def test_books_under_web_rules_lose_most_of_their_bytes_and_it_is_reported(shared_data):
    rows = [
        row
        for path in sorted((shared_data / "books").glob("*.txt"))
        if not path.name.startswith("LICENSE")
        for row in books.read(str(path), ExtractParams(source="books"))
    ]
    languages = [{"English": "en", "German": "de", "French": "fr"}[row["declared_language"]] for row in rows]
    # the web defaults: Moby-Dick and Pride and Prejudice are over 100,000 words
    assert warnings(judge(rows, languages))[0].startswith(
        "rule gopher_quality.word_count removed 79.3% of source 'books'"
    )
    # the word limit lifted, C4 keeps the lines that end in a stop: a paragraph's last line of hard-wrapped text
    verdict = judge(rows, languages, gopher_quality={"max_words": None})
    assert verdict.reasons.count(None) == 4  # (and Moby-Dick, half the bytes, breaks FineWeb's repeated-lines rule)
    assert source_shares(verdict.counters)["books"]["removed"]["c4.removed_lines"]["share"] > 0.4  # 85% of the 4 kept
    assert any(w.startswith("rule c4.removed_lines removed") for w in warnings(verdict))
    assert warnings(judge(rows, languages, profile="books")) == []


@pytest.mark.slow
def test_a_run_labels_its_documents_warns_and_its_report_says_so(shared_data, tmp_path):
    output = tmp_path / "out"
    pipeline = {
        "name": "books-as-web",
        "input": str(shared_data / "books"),
        "output": str(output),
        "stages": [{"stage": "extract", "source": "gutenberg", "reader": "books"}, {"stage": "quality"}],
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    result = curate_in_process("run", str(path), "--no-progress")
    assert (
        "warning: quality: rule gopher_quality.word_count removed" in result.stderr
        and "of source 'gutenberg'" in result.stderr
    )
    report = json.loads((output / "reports" / "quality" / "source_shares.json").read_text())
    assert (
        report["sources"]["gutenberg"]["removed"]["gopher_quality.word_count"]["share"] > 0.7
    )  # two novels over 100k words
    assert set(read_stage(output, "extract")["source"].to_pylist()) == {"gutenberg"}
    curate_in_process("report", str(output), "--html", str(tmp_path / "report"))
    assert (
        "Warning: quality: rule gopher_quality.word_count removed" in (tmp_path / "report" / "index.html").read_text()
    )


def test_settings_with_sources_survive_the_round_trip_through_pipeline_yaml():
    import dataclasses

    from curate.core.pipeline import build_stages

    [stage] = build_stages(
        [{"stage": "quality", "sources": {"books": "books", "wiki": {"profile": "encyclopedic", "c4": False}}}], "test"
    )
    written = yaml.safe_load(
        yaml.safe_dump({"stage": "quality", "name": stage.name, **dataclasses.asdict(stage.params)})
    )
    [again] = build_stages([written], "test")
    assert again.config_hash == stage.config_hash and again.params.sources["wiki"].c4 is False
