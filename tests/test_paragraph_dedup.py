"""paragraph_dedup end to end through the runner, on real pages: the same allenai.org page captured
three times in the dolma WARC sample, and a real footer from those pages repeated across real
CCNet documents."""

from __future__ import annotations

import json

import pytest

from conftest import read_rejected, read_stage
from curate.api import Pipeline, Stage
from curate.core.executor import LocalExecutor
from curate.core.params import ConfigError
from curate.core.schema import doc_id
from curate.dedup import paragraphs
from test_dedup_stage import sorted_rows, write_input

from bench import dedup_corpus

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: its tests share the module's runs
pytestmark = pytest.mark.xdist_group("paragraph_dedup")

# Three consecutive lines of the allenai.org page's body (real boilerplate on every AI2 page).
FOOTER = (
    "Why AI2?\nWe're a team of engineers and researchers with diverse backgrounds collaborating to solve some "
    "of the toughest problems in AI research.\nNatural Language Processing"
)


def run(input_dir, out, workers=1):
    executor = LocalExecutor(workers)
    try:
        Pipeline.of(str(input_dir), str(out), [Stage("paragraph_dedup")]).run(executor, progress=False)
    finally:
        executor.close()
    return out


@pytest.mark.slow
def test_repeated_captures_of_a_real_page_keep_one_copy(shared_data, tmp_path):
    Pipeline.of(
        str(shared_data / "web" / "warc"), str(tmp_path), [Stage("extract", source="web"), Stage("paragraph_dedup")]
    ).run()
    kept, rejected = read_stage(tmp_path, "paragraph_dedup"), read_rejected(tmp_path, "paragraph_dedup")
    captures = sorted(
        r["id"]
        for r in kept.to_pylist() + rejected.to_pylist()
        if "AI2 Newsletter" in (r["text"] or "") or r["url"] == "https://allenai.org/"
    )
    assert len(captures) == 3
    owner = min(captures)
    kept_rows = {r["id"]: r for r in kept.to_pylist()}
    assert (
        owner in kept_rows
        and kept_rows[owner]["para_dup_spans"] == 0
        and "AI for the Environment" in kept_rows[owner]["text"]
    )
    emptied = rejected.to_pylist()
    assert sorted(r["id"] for r in emptied) == sorted(set(captures) - {owner})
    assert {r["reason"] for r in emptied} == {"paragraph_dedup.empty"} and {r["duplicate_of"] for r in emptied} == {
        owner
    }
    assert all(
        r["text"] == kept_rows[owner]["text"] and r["para_dup_bytes"] == len(r["text"].encode()) for r in emptied
    )
    summary = json.loads((tmp_path / "reports" / "paragraph_dedup" / "summary.json").read_text())
    assert summary["docs_emptied"] == 2 and summary["docs_in"] == kept.num_rows + 2
    assert summary["most_repeated"][0]["docs"] == 3 and summary["most_repeated"][0]["kept_in"] == owner
    assert "AI" in (tmp_path / "reports" / "paragraph_dedup" / "most_repeated.md").read_text()


@pytest.mark.slow
def test_pagination_shared_by_different_sites_is_cut_from_all_but_one(shared_data, tmp_path):
    """resiliparse keeps the page lists ("• 首页 • 上一页 • 1 • 2 ...") of three different sites of the
    Common Crawl slice: the navigation goes from two of them, nothing else does."""
    Pipeline.of(
        str(shared_data / "web" / "warc" / "resiliparse_warcfile.warc.gz"),
        str(tmp_path),
        [Stage("extract", source="web", engine="resiliparse"), Stage("paragraph_dedup")],
    ).run(materialize=True)
    before = {r["id"]: r for r in read_stage(tmp_path, "extract").to_pylist()}
    after = {r["id"]: r for r in read_stage(tmp_path, "paragraph_dedup").to_pylist()}
    pages = "  • 1\n  • 2\n  • 3"
    holders = sorted(i for i, r in before.items() if pages in r["text"])
    assert len({before[i]["url"].split("/")[2] for i in holders}) >= 3  # different sites
    assert [i for i in holders if pages in after[i]["text"]] == [holders[0]]
    for i in holders[1:]:
        lines = after[i]["text"].split("\n")
        gone = [line for line in before[i]["text"].split("\n") if line not in lines]
        assert after[i]["para_dup_spans"] > 0 and gone and all(line.strip().startswith("•") for line in gone)


def footer_corpus(shared_data):
    """Real CCNet documents, every third one ending with the real AI2 footer; plus bad input."""
    rows = []
    for i, text in enumerate(dedup_corpus.web_texts(shared_data)[:60]):
        rows.append(
            {"id": doc_id("web", f"doc/{i}"), "source": "web", "text": text + ("\n" + FOOTER if i % 3 == 0 else "")}
        )
    big = (shared_data / "books" / "en_moby_dick_pg2701.txt").read_text(encoding="utf-8-sig").replace("\n", " ")
    rows += [
        {"id": "empty", "source": "web", "text": ""},
        {"id": "blank", "source": "web", "text": "\n \n"},
        {"id": "one-line-10mb", "source": "books", "text": (big * 9)[:10_000_000]},
        {"id": "only-footer", "source": "web", "text": FOOTER},
    ]
    return rows


@pytest.fixture(scope="module")
def footer_runs(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("para")
    rows = footer_corpus(shared_data)
    folder = write_input(rows, tmp / "in", shards=4)
    with pytest.MonkeyPatch.context() as patch:  # many hash partitions (the driver plans them)
        patch.setattr(paragraphs, "PARTITION_INPUT_BYTES", 300_000)
        parted = run(folder, tmp / "parted", 2)
    return rows, run(folder, tmp / "one", 1), (run(folder, tmp / "two", 2), parted)


def reference_cut(rows, n=3):
    """The rule spelled out plainly (sets of line windows, no hashes, no partitions)."""

    def windows(text):
        lines = [(i, " ".join(line.lower().split())) for i, line in enumerate(text.split("\n")) if line.strip()]
        return [
            (tuple(k for _, k in lines[j : j + n]), [i for i, _ in lines[j : j + n]]) for j in range(len(lines) - n + 1)
        ]

    holders = {}
    for row in rows:
        for key, _ in windows(row["text"]):
            holders.setdefault(key, set()).add(row["id"])
    result = {}
    for row in rows:
        gone = {
            i
            for key, where in windows(row["text"])
            if len(holders[key]) > 1 and min(holders[key]) != row["id"]
            for i in where
        }
        lines = row["text"].split("\n")
        result[row["id"]] = (
            "\n".join(line for i, line in enumerate(lines) if i not in gone).strip("\n") if gone else row["text"]
        )
    return result


@pytest.mark.slow
def test_repeated_spans_are_cut_from_all_but_the_lowest_id(footer_runs):
    rows, out, _ = footer_runs
    kept = {r["id"]: r for r in read_stage(out, "paragraph_dedup").to_pylist()}
    expected = reference_cut(rows)
    assert {i: r["text"] for i, r in kept.items()} == {i: t for i, t in expected.items() if i != "only-footer"}
    owner = min(r["id"] for r in rows if FOOTER in r["text"])
    assert [i for i, r in kept.items() if FOOTER in r["text"]] == [owner]
    # real boilerplate of the CCNet pages (a blog's disclaimer on two of its pages) stays once
    disclaimer = "Our bloggers cannot diagnose medical conditions"
    assert sum(disclaimer in r["text"] for r in rows) == 2 and sum(disclaimer in r["text"] for r in kept.values()) == 1
    for row in rows:
        doc = kept.get(row["id"])
        if doc is not None:
            assert doc["para_dup_bytes"] == len(row["text"].encode()) - len(doc["text"].encode())
            assert (doc["para_dup_spans"] > 0) == (doc["text"] != row["text"])
    assert kept["one-line-10mb"]["text"] == next(r["text"] for r in rows if r["id"] == "one-line-10mb")


@pytest.mark.slow
def test_a_document_made_only_of_repeated_text_is_dropped_with_its_reason(footer_runs):
    rows, out, _ = footer_runs
    rejected = read_rejected(out, "paragraph_dedup").to_pylist()
    assert [(r["id"], r["reason"]) for r in rejected] == [("only-footer", "paragraph_dedup.empty")]
    assert rejected[0]["text"] == FOOTER and rejected[0]["duplicate_of"] == min(
        r["id"] for r in rows if FOOTER in r["text"]
    )
    kept_ids = {r["id"] for r in read_stage(out, "paragraph_dedup").to_pylist()}
    assert {"empty", "blank"} <= kept_ids  # nothing to compare: kept as they are
    edits = json.loads((out / "reports" / "paragraph_dedup" / "edits.json").read_text())
    expected = reference_cut(rows)
    assert edits["para_dup_spans_documents"] == sum(
        expected[r["id"]] != r["text"] for r in rows if r["id"] != "only-footer"
    )
    stats = json.loads((out / "stats" / "paragraph_dedup.json").read_text())
    assert stats["docs_in"] == len(rows) and stats["docs_out"] == len(rows) - 1


@pytest.mark.slow
def test_same_output_for_any_number_of_workers_and_partitions(footer_runs):
    _, one, others = footer_runs
    summary = json.loads((one / "reports" / "paragraph_dedup" / "summary.json").read_text())
    for other in others:
        for read in (read_stage, read_rejected):
            assert sorted_rows(read(one, "paragraph_dedup")) == sorted_rows(read(other, "paragraph_dedup"))
        assert json.loads((other / "reports" / "paragraph_dedup" / "summary.json").read_text()) == summary
    parted = others[1] / "_state" / "paragraph_dedup" / "counts"
    assert len(list(parted.glob("part-*.json"))) > 10


def test_bad_parameters_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="span_lines"):
        Pipeline.of(str(tmp_path), str(tmp_path / "o"), [Stage("paragraph_dedup", span_lines=0)]).run()


def test_span_hashes_are_xxh3_of_the_utf8_lines_on_every_xxhash_release():
    """xxhash 4 refuses str input; the spans are hashed as UTF-8 bytes, the same values xxhash 3 gave for str, so a
    paragraph index built before the upgrade still matches (and the stage runs at all on xxhash 4)."""
    import xxhash

    keys = ["wir verwenden cookies.", "mehr erfahren", "© 2024 beispiel gmbh", "ok"]
    hashes = paragraphs.span_hashes(keys, 3)
    assert hashes.tolist() == [xxhash.xxh3_64_intdigest("\n".join(keys[i : i + 3]).encode("utf-8")) for i in range(2)]
    assert paragraphs.span_hashes(keys[:2], 3).tolist() == []
