"""Does a change to the quality stage keep its output identical? Record it once, check it after.

    python -m bench.quality_same_output --save /tmp/quality-ref.pkl     # before the change
    python -m bench.quality_same_output --check /tmp/quality-ref.pkl    # after: lists every difference

A speed-up of the heuristic filters must not move one signal, reason, detail or rewritten text.
This runs `QualityStage.process` on a corpus of real and awkward documents under several
settings and compares everything it returns (every column of the table, NaN for NaN, every
reason and detail). Documents: the web JSONL samples, pages extracted from the WARC and HTML
samples, the books cut into 20,000-character pieces (raw: BOM, CRLF; and normalised), the
2,000 documents of bench/fused_cpu.py, and edge cases (CRLF, form feeds, Unicode line
separators, empty and blank texts, citation marks, non-Latin scripts, one huge word, ...).
The corpus is built once and cached (--corpus; extraction is the slow part). Keep the pickles
outside the repository.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from curate.core.params import build_params  # noqa: E402
from curate.core.schema import make_documents  # noqa: E402
from curate.quality.stage import QualityParams, QualityStage  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
LANGUAGES = ["en", None, "de", "fr", "zh", "en", "ru", "xx"]  # "xx": no stop-word list
BATCH = 500
EDGE_CASES = [
    "",
    " ",
    "\n\n\t\n",
    "\r\n\r\n",
    "\x0c",
    "\u2028\u2029",
    ".",
    "...",
    "…",
    "#",
    "{}",
    "!" * 1000,
    "a" * 3000,
    "Line one ends here.\r\nLine two ends here too.\r\nAnd a third line [1] has a mark.\r\n" * 6,
    "Form\x0cfeeds split lines. Here is one more sentence!\x0cAnd one more, right here.\x0b" * 8,
    "Unicode line\u2028separators and\u2029paragraphs. They are breaks.\x85So is NEL. Group\x1dsep\x1eand\x1cfile." * 7,
    "The [edit] heading and [citation needed] more. Cited [12] twice [3].\n" * 10,
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor.\n" * 10,
    "Please enable JavaScript to see this. It is the only way to read it all.\n" * 5
    + "We use cookies, see our privacy policy. The terms of use apply to all.\n" * 5,
    "function f() { return 1; } is code. It has a brace in it, as code does.\n" * 8,
    "• first item\n• second item\n- third item\n- fourth item...\nend of list…\n" * 10,
    "# Title\n## Subtitle\n### #hash #tags #everywhere\n" * 10,
    "我们今天去公园散步，天气很好。我们看到了很多花。然后我们回家吃饭了！" * 20,
    "東京は日本の首都です。ひらがなとカタカナもあります。タイ語：ภาษาไทยเป็นภาษาที่สวยงาม。" * 15,
    "Это предложение на русском языке. Оно не очень длинное, но и не короткое! Вот ещё одно." * 12,
    "هذه جملة باللغة العربية. إنها ليست طويلة جدا؟ وهنا جملة أخرى۔" * 12,
    "Mix of 中文 and English words. Mr. Smith went to Washington D.C. at 10:30 a.m. on 9/11. U.S.A. e.g. etc." * 10,
    "e-mail me at a.b@c.example or see https://example.com/a?b=c www.example.org/x. Cost: 1,000.50 $ ©2024 😀." * 10,
    "don't won’t l'homme o'clock it's we're they've I'll I'd rock'n'roll '90s ’tis" * 20,
    "word " * 2000,
    "the same sentence again and again, and again.\n\n" * 50,
    "x" * 1500 + " is a long word. " + "Short words here and there, ending fine." * 5,
    "  leading and trailing spaces on lines.  \n\t tabs too, as it happens. \t\n" * 12,
    "Ellipsis at the end...\nAnother one…\nA real end.\nQuestion?\nExclaim!\nQuote.\"\nSingle.'\n" * 10,
    'A sentence.Then another without a space.Then a third. And (a bracket.) Then "quoted." Then more.' * 8,
    "Abbreviations: Dr. No met Mrs. Robinson, Inc. vs. Ltd. No. 5 etc. and J. R. R. Tolkien. Fin." * 8,
    "😀 emoji only 🎉🎉🎉 line.\n" * 30,
    "Trailing CR only\rold Mac line ends\rare breaks too. Yes they are, to splitlines.\r" * 10,
]


def fused_cpu_documents() -> list[str]:
    """The 2,000 documents bench/fused_cpu.py measures (shard 0 of bench/fused_pass.py's corpus)."""
    from bench.fused_pass import write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(Path(tmp), 2000, shards=1)
        return pq.read_table(Path(tmp) / "shard-00000.parquet").column("text").to_pylist()


def extracted_pages() -> list[str]:
    from curate.extract import web
    from curate.extract.stage import ExtractParams, Rejection

    params = ExtractParams(source="web")
    files = web.list_inputs([str(SHARED / "web" / "warc"), str(SHARED / "web" / "html")], params)
    return [row["text"] for url in files for row in web.read(url, params) if not isinstance(row, Rejection)]


def book_pieces(size: int = 20_000) -> list[str]:
    pieces = []
    for path in sorted((SHARED / "books").glob("*.txt")):
        raw = path.read_bytes().decode("utf-8-sig", "replace")
        for text in (raw, raw.replace("\r\n", "\n")):
            pieces += [text[i : i + size] for i in range(0, len(text), size)]
    return pieces


def build_corpus() -> list[str]:
    from bench.dedup_corpus import web_texts

    return web_texts(SHARED) + extracted_pages() + book_pieces() + fused_cpu_documents() + EDGE_CASES


def settings(tmp: Path) -> dict[str, dict]:
    """Name -> QualityParams mapping: the defaults and variants that take other code paths."""
    bad = tmp / "bad.txt"
    bad.write_text("damn\nhell\nson of a gun\na$$\nx-rated\nkill\n", encoding="utf-8")
    return {
        "defaults": {},
        "signals_only": {"signals_only": True},
        "measure_only_badwords": {
            "c4": {"remove_lines": False, "bad_words_file": str(bad), "max_bad_word_ratio": 0.001},
            "gopher_quality": {"alpha_words_of": "words"},
        },
        "badwords_rewrite": {"c4": {"bad_words_file": str(bad)}},
        "no_c4": {"c4": False},
        "loose_c4": {
            "c4": {
                "require_terminal_punctuation": False,
                "min_words_per_line": None,
                "max_word_length": 20,
                "remove_citations": False,
                "remove_javascript_lines": False,
                "remove_policy_lines": False,
                "min_sentences": None,
            },
            "fineweb": {"short_line_length": 60},
        },
        "other_ngrams": {
            "gopher_repetition": {
                "max_top_ngram_char_fraction": {1: 0.5, 3: 0.2, 5: 0.1},
                "max_dup_ngram_char_fraction": {2: 0.3, 4: 0.2, 7: 0.1, 13: 0.05},
            }
        },
        "only_repetition": {"gopher_quality": False, "c4": False, "fineweb": False},
        "only_fineweb": {"gopher_repetition": False, "gopher_quality": False, "c4": False},
        "books": {
            "c4": False,
            "fineweb": False,
            "gopher_repetition": {"max_dup_para_fraction": None, "max_dup_line_fraction": None},
            "gopher_quality": {"max_words": None, "alpha_words_of": "words"},
        },
        "small_budget": {"max_doc_bytes": 3000},
    }


def run(texts: list[str], params: dict, with_language: bool) -> list[tuple]:
    """Per batch: (table as rows with NaN spelled out, schema, reasons, details, counters)."""
    stage = QualityStage("quality", build_params(QualityParams, params, "quality"))
    stage.setup()
    out = []
    for start in range(0, len(texts), BATCH):
        chunk = texts[start : start + BATCH]
        table = make_documents([{"id": str(start + i), "source": "web", "text": t} for i, t in enumerate(chunk)])
        if with_language:
            table = table.append_column(
                "language", pa.array([LANGUAGES[(start + i) % len(LANGUAGES)] for i in range(len(chunk))], pa.string())
            )
        verdict = stage.process(table)
        rows = [{k: "NaN" if v != v else v for k, v in row.items()} for row in verdict.table.to_pylist()]
        out.append(
            (
                rows,
                str(verdict.table.schema),
                list(verdict.reasons),
                verdict.details and list(verdict.details),
                verdict.counters,
            )
        )
    return out


def results(texts: list[str]) -> dict[str, list]:
    with tempfile.TemporaryDirectory() as tmp:
        out = {}
        for name, params in settings(Path(tmp)).items():
            subset = texts if name == "defaults" else texts[::5]  # variants: a fifth, to keep a check short
            out[name] = run(subset, params, with_language=False)
            if name in ("defaults", "books"):  # stop words per language, and the default language
                out[name + "+language"] = run(subset, params, with_language=True)
        return out


def differences(ref: dict, new: dict, limit: int = 20) -> list[str]:
    found = []
    for name in ref:
        for b, (a, c) in enumerate(zip(ref[name], new[name])):
            rows_a, rows_c = a[0], c[0]
            if a[1:] != c[1:]:
                found.append(f"{name} batch {b}: reasons, details, counters or schema differ")
            for i, (ra, rc) in enumerate(zip(rows_a, rows_c)):
                if ra != rc:
                    keys = [k for k in ra if ra.get(k) != rc.get(k)]
                    found.append(
                        f"{name} batch {b} row {i}: {[(k, str(ra.get(k))[:60], str(rc.get(k))[:60]) for k in keys]}"
                    )
            if len(found) > limit:
                return found
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--save", type=Path, help="record the current output here")
    action.add_argument("--check", type=Path, help="compare the current output with this record")
    parser.add_argument("--corpus", type=Path, default=Path(tempfile.gettempdir()) / "quality-same-output-corpus.pkl")
    args = parser.parse_args()
    if args.corpus.exists():
        texts = pickle.loads(args.corpus.read_bytes())
    else:
        texts = build_corpus()
        args.corpus.write_bytes(pickle.dumps(texts))
    start = time.process_time()
    new = results(texts)
    print(f"{len(texts)} documents, {len(new)} runs, {time.process_time() - start:.1f} s CPU")
    if args.save:
        args.save.write_bytes(pickle.dumps(new))
        return
    found = differences(pickle.loads(args.check.read_bytes()), new)
    print("\n".join(found) if found else "identical")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
