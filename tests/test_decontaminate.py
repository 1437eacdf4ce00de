"""The decontaminate stage with a real benchmark (GSM8K from ../shared/data) planted into real web pages."""

from __future__ import annotations

import json
import random
import re

import pyarrow.parquet as pq
import pytest

from conftest import curate_in_process, read_rejected, read_stage, web_rows
from curate.core.params import ConfigError, build_params
from curate.core.pipeline import Pipeline, build_stages
from curate.core.schema import make_documents
from curate.decontaminate.stage import DecontaminateParams, DecontaminateStage
from curate.extract import books
from curate.extract.stage import ExtractParams


def gsm8k(shared_data) -> dict:
    return {
        "name": "gsm8k",
        "path": str(shared_data / "quality" / "positives" / "gsm8k"),
        "fields": ["question", "answer"],
    }


def stage_for(shared_data, **params) -> DecontaminateStage:
    stage = DecontaminateStage(
        "decontaminate", build_params(DecontaminateParams, {"benchmarks": [gsm8k(shared_data)], **params}, "test")
    )
    stage.check()
    stage.setup()
    return stage


@pytest.fixture(scope="module")
def drop_stage(shared_data) -> DecontaminateStage:
    """The default stage on GSM8K, set up once for the tests that only call its process (it keeps no state)."""
    return stage_for(shared_data)


def check_before_work(entries: list[dict], tmp_path) -> None:
    """What `curate run` does with a pipeline file before any shard: build the stages, then check them."""
    Pipeline("web.yaml", "web.yaml", [], str(tmp_path / "out"), build_stages(entries, "web.yaml")).check()


def real_corpus(shared_data) -> list[dict]:
    rows = []
    for path in sorted((shared_data / "web" / "html" / "trafilatura_cache").glob("*.html")):
        rows += web_rows(path)
    for path in sorted((shared_data / "books").glob("*.txt")):
        rows += books.read(str(path), ExtractParams(source="books"))
    return [
        {"id": r["id"], "source": r["source"], "text": r["text"], "url": r.get("url")}
        for r in rows
        if isinstance(r, dict) and r["text"].strip()
    ]


def lightly_changed(question: str, how: int) -> str:
    """The ways a copy differs from the benchmark on a real page: case, spacing, punctuation, quotes."""
    return [
        question,
        question.upper(),
        re.sub(r"\s+", "  \n ", question),
        re.sub(r"[.,?!]", lambda m: {".": "!", ",": ";", "?": " ?", "!": "."}[m.group(0)], question),
        question.replace("'", "\u2019").replace(" ", "\u00a0"),
    ][how % 5]


def test_planted_questions_are_all_found_and_the_real_corpus_is_clean(shared_data, drop_stage):
    stage = drop_stage
    corpus = real_corpus(shared_data)
    clean = stage.process(make_documents(corpus))
    assert all(r is None for r in clean.reasons) and set(clean.table["decontaminate_ngrams"].to_pylist()) == {0}

    questions = [
        json.loads(line)["question"] for line in (shared_data / "quality" / "positives" / "gsm8k" / "test.jsonl").open()
    ]
    rng = random.Random(0)
    pages = [r for r in corpus if r["source"] == "web"]
    planted = []
    for i, question in enumerate(rng.sample(questions, 100)):
        page = pages[i % len(pages)]
        middle = len(page["text"]) // 2
        planted.append(
            {
                **page,
                "id": f"planted-{i}",
                "text": page["text"][:middle] + "\n" + lightly_changed(question, i) + "\n" + page["text"][middle:],
            }
        )
    verdict = stage.process(make_documents(planted))
    assert verdict.reasons == ["decontaminate.gsm8k"] * 100  # recall 1.0, every kind of change
    assert all(d.startswith(tuple(f"{k} n-grams" for k in range(1, 200))) for d in verdict.details)


def test_redact_cuts_only_the_benchmark_words(shared_data):
    stage = stage_for(shared_data, mode="redact")
    (page,) = web_rows(shared_data / "web" / "html" / "trafilatura_cache" / "theguardian.com.academics.html")
    question = json.loads((shared_data / "quality" / "positives" / "gsm8k" / "test.jsonl").open().readline())[
        "question"
    ]
    text = page["text"] + "\n" + question + "\nThe end of the page."
    verdict = stage.process(make_documents([{"id": "x", "source": "web", "text": text}]))
    assert verdict.reasons == [None]
    (row,) = verdict.table.to_pylist()
    assert row["text"].startswith(page["text"]) and row["text"].endswith("The end of the page.")
    assert "Janet" not in row["text"] and "farmers' market" not in row["text"] and row["decontaminate_ngrams"] > 30
    only = stage.process(make_documents([{"id": "y", "source": "web", "text": question}]))
    assert only.reasons == ["decontaminate.empty_after_redact"] and only.table["text"][0].as_py() == question


def test_bad_input_empty_and_a_10_mb_line(drop_stage):
    long_line = "the cat sat on a mat " * 480_000
    verdict = drop_stage.process(
        make_documents([{"id": "e", "source": "web", "text": ""}, {"id": "l", "source": "web", "text": long_line}])
    )
    assert verdict.reasons == [None, None]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"path": "no/such/file.jsonl", "fields": ["question"]}, "does not exist"),
        ({"fields": ["prompt"]}, "no field 'prompt'"),
        ({"fields": []}, "name the fields"),
    ],
)
def test_a_bad_benchmark_is_a_config_error_before_any_work(shared_data, tmp_path, spec, message):
    entry = {**gsm8k(shared_data), **spec}
    with pytest.raises(ConfigError, match=message):
        check_before_work([{"stage": "decontaminate", "benchmarks": [entry]}], tmp_path)


def test_a_file_that_is_not_jsonl_is_a_config_error(shared_data, tmp_path):
    broken = tmp_path / "bench.jsonl"
    broken.write_text((shared_data / "books" / "en_alice_pg11.txt").read_text(encoding="utf-8-sig")[:2000])
    with pytest.raises(ConfigError, match="bench.jsonl' cannot be read"):
        check_before_work(
            [{"stage": "decontaminate", "benchmarks": [{"name": "b", "path": str(broken), "fields": ["q"]}]}], tmp_path
        )


def run_on_planted_corpus(shared_data, tmp_path, decontaminate_options: str = "", after: str = "") -> list[dict]:
    """20 real documents, two with a GSM8K question planted (verbatim, lower-cased), through `curate run`."""
    questions = [
        json.loads(line)["question"] for line in (shared_data / "quality" / "positives" / "gsm8k" / "test.jsonl").open()
    ][:3]
    corpus = real_corpus(shared_data)[:20]
    corpus[4]["text"] += "\n" + questions[0]
    corpus[9]["text"] += "\n" + questions[1].lower()
    pq.write_table(make_documents(corpus), tmp_path / "docs.parquet")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        f"input: {tmp_path / 'docs.parquet'}\noutput: {tmp_path / 'out'}\nstages:\n  - stage: decontaminate\n{decontaminate_options}"
        f"    benchmarks: [{{name: gsm8k, path: {gsm8k(shared_data)['path']}, fields: [question, answer]}}]\n{after}"
    )
    curate_in_process(
        "run", str(pipeline)
    )  # the command in this process (real `curate run` processes: test_faults_runs)
    return corpus


@pytest.mark.slow
def test_curate_run_drops_and_reports(shared_data, tmp_path):
    corpus = run_on_planted_corpus(shared_data, tmp_path)
    assert read_stage(tmp_path / "out", "decontaminate").num_rows == 18
    rejected = read_rejected(tmp_path / "out", "decontaminate")
    assert sorted(rejected["id"].to_pylist()) == sorted([corpus[4]["id"], corpus[9]["id"]])
    assert set(rejected["reason"].to_pylist()) == {"decontaminate.gsm8k"}
    report = json.loads((tmp_path / "out" / "reports" / "decontaminate" / "decontamination.json").read_text())
    assert report["benchmarks"]["gsm8k"]["documents"] == 2 and len(report["benchmarks"]["gsm8k"]["examples"]) == 2


def test_web_recipe_with_decontamination_switched_on_reads_in_fineweb_order(shared_data, monkeypatch, tmp_path):
    from conftest import REPO
    from curate.core.pipeline import load_pipeline

    text = (REPO / "pipelines" / "web.yaml").read_text()
    switched_on = re.sub(r"(?m)^  # ((- stage: decontaminate|  benchmarks:|    - \{name: gsm8k).*)$", r"  \1", text)
    (tmp_path / "web.yaml").write_text(switched_on)
    monkeypatch.chdir(REPO)
    pipeline = load_pipeline(str(tmp_path / "web.yaml"))
    assert [s.type_name for s in pipeline.stages] == [
        "extract",
        "normalize",
        "langid",
        "quality",
        "dedup",
        "toxicity",
        "pii",
        "decontaminate",
    ]


@pytest.mark.slow
def test_fused_redact_run_still_reports(shared_data, tmp_path):
    """Fused with the stage after it, decontaminate has no folder of its own: its report comes from its counters and the pass's kept rows."""
    corpus = run_on_planted_corpus(shared_data, tmp_path, "    mode: redact\n", "  - stage: pii\n")
    assert not (tmp_path / "out" / "decontaminate").exists() and read_stage(tmp_path / "out", "pii").num_rows == 20
    report = json.loads((tmp_path / "out" / "reports" / "decontaminate" / "decontamination.json").read_text())
    entry = report["benchmarks"]["gsm8k"]
    assert entry["documents"] == 2 and entry["ngrams"] > 0
    assert sorted(e["id"] for e in entry["examples"]) == sorted([corpus[4]["id"], corpus[9]["id"]])
    stats = json.loads((tmp_path / "out" / "stats" / "decontaminate.json").read_text())
    assert stats["counters"] == {"documents.gsm8k": 2, "ngrams.gsm8k": entry["ngrams"]}


def gsm8k_test(shared_data) -> list[dict]:
    return [json.loads(line) for line in (shared_data / "quality" / "positives" / "gsm8k" / "test.jsonl").open()]


def every_twelfth(text: str, how: str, other: str = "walrus") -> str:
    """One word in 12 edited (the 12th, 24th, ...): no 13 unchanged words in a row, and no 13-gram left."""
    out = []
    for i, word in enumerate(text.split(), 1):
        if i % 12:
            out.append(word)
        elif how == "substitute":
            out.append(other)
        elif how == "insert":
            out += [word, other]
    return " ".join(out)


EDITED_KINDS = {
    "substitute": lambda item: every_twelfth(item["question"], "substitute"),
    "insert": lambda item: every_twelfth(item["question"], "insert"),
    "delete": lambda item: every_twelfth(item["question"], "delete"),
    "answer as shown, edited": lambda item: every_twelfth(re.sub(r"<<[^>]*>>", "", item["answer"]), "substitute"),
    "substitute, upper case, curly quotes": lambda item: (
        every_twelfth(item["question"], "substitute").upper().replace("'", "\u2019")
    ),
}


@pytest.fixture(scope="module")
def test_split_stage(shared_data) -> DecontaminateStage:
    """GSM8K test only (train stays out of the index: its problems are the clean text nearest the benchmark)."""
    spec = {
        "name": "gsm8k",
        "path": str(shared_data / "quality" / "positives" / "gsm8k" / "test.jsonl"),
        "fields": ["question", "answer"],
    }
    stage = DecontaminateStage("decontaminate", build_params(DecontaminateParams, {"benchmarks": [spec]}, "test"))
    stage.setup()
    return stage


@pytest.mark.parametrize("kind", EDITED_KINDS)
def test_lightly_edited_copies_are_caught_by_coverage(shared_data, test_split_stage, kind):
    items = [item for item in gsm8k_test(shared_data) if len(item["question"].split()) >= 36][:60]
    (page,) = web_rows(shared_data / "web" / "html" / "trafilatura_cache" / "theguardian.com.academics.html")
    texts = [page["text"] + "\n" + EDITED_KINDS[kind](item) + "\n" + page["text"][:500] for item in items]
    verdict = test_split_stage.process(
        make_documents([{"id": str(i), "source": "web", "text": t} for i, t in enumerate(texts)])
    )
    caught = [r == "decontaminate.gsm8k" for r in verdict.reasons]
    assert sum(caught) >= 0.95 * len(items), f"{kind}: {sum(caught)}/{len(items)}"
    assert min(c for c, hit in zip(verdict.table["decontaminate_coverage"].to_pylist(), caught) if hit) >= 0.5


def test_calculator_notes_are_not_part_of_the_benchmark_text(shared_data, test_split_stage):
    answer = gsm8k_test(shared_data)[0]["answer"]  # "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day. ..."
    shown = re.sub(r"<<[^>]*>>", "", answer)
    verdict = test_split_stage.process(
        make_documents([{"id": "a", "source": "web", "text": "Worked answer:\n" + shown}])
    )
    assert verdict.reasons == ["decontaminate.gsm8k"] and verdict.table["decontaminate_ngrams"][0].as_py() > 0


def test_other_problems_of_the_same_kind_are_not_taken_for_copies(shared_data, test_split_stage):
    """GSM8K's train problems are the nearest clean text there is: same templates, same words. The coverage rule
    drops none of them that the exact 13-gram rule keeps (the few both drop are the test problem with other
    names and numbers, "A train travels 270 miles in 3 hours. At the same rate, ...")."""
    train = [
        json.loads(line)["question"]
        for line in (shared_data / "quality" / "positives" / "gsm8k" / "train.jsonl").open()
    ]
    verdict = test_split_stage.process(
        make_documents([{"id": str(i), "source": "web", "text": t} for i, t in enumerate(train)])
    )
    table = verdict.table
    by_coverage_only = [r for r, n in zip(verdict.reasons, table["decontaminate_ngrams"].to_pylist()) if r and n == 0]
    assert by_coverage_only == [] and sum(r is not None for r in verdict.reasons) <= 5


def test_redact_cuts_an_edited_copy(shared_data):
    spec = {
        "name": "gsm8k",
        "path": str(shared_data / "quality" / "positives" / "gsm8k" / "test.jsonl"),
        "fields": ["question"],
    }
    stage = DecontaminateStage(
        "decontaminate", build_params(DecontaminateParams, {"benchmarks": [spec], "mode": "redact"}, "test")
    )
    stage.setup()
    item = next(item for item in gsm8k_test(shared_data) if len(item["question"].split()) >= 40)
    text = "A page about ducks.\n" + every_twelfth(item["question"], "substitute") + "\nThe end of the page."
    (row,) = stage.process(make_documents([{"id": "r", "source": "web", "text": text}])).table.to_pylist()
    assert row["text"].startswith("A page about ducks.") and row["text"].endswith("The end of the page.")
    assert row["decontaminate_coverage"] >= 0.5 and len(row["text"].split()) < 20
