"""Language ID on single sentences: the share of English sentences kept at the default threshold, the
same sentences with each apostrophe look-alike and as numbered or bulleted list lines, and the
non-English sentences taken for English, in 8 languages.

    python -m bench.langid_sentences [--per-language 3000]

Sentences (all offline, from ../shared/data; the label is the source's language):
- en: the three English Gutenberg books (headers and footers cut by curate's book reader), the English
  pages among the trafilatura cache (chosen by their site: theguardian.com, nature.com, ...), and the
  CCNet en head documents; gold by source.
- de, fr: Faust I and the French Alice, and the German and French pages (by site: .de and .fr hosts).
- es, nl, ru, zh, ms: the pages of the Common Crawl slice and the one Malay page, labelled by the model
  on the whole page (long text, all at >= 0.9): silver labels.
- de, fr, es, nl, ru, it, pt, pl, sv, cs, tr: human translations of program messages, the gettext
  catalogues of the Debian packages on this machine (/usr/share/locale/LANG/LC_MESSAGES/*.mo, when
  there), labelled by catalogue; short, terse sentences ("Could not open the file.").
Sentences are cut at . ! ? (and 。！？ for Chinese), whitespace collapsed, 3 to 60 words (Chinese: 8
to 200 characters), de-duplicated, sampled to --per-language (seeded). A sentence is kept for English
when the stage (languages: [en], threshold 0.65) keeps it; a non-English sentence is "taken for
English" when that stage keeps it too. English with apostrophes: the English sentences with an apostrophe
inside a word (' or ’: "don't", "Alice’s") with every such apostrophe replaced by the look-alike. List lines: each English sentence prefixed by "10. ", "(a) ",
"• ", "- ", "iv) ".
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import pyarrow as pa  # noqa: E402

from curate.core.params import build_params  # noqa: E402
from curate.extract import books, web  # noqa: E402
from curate.extract.stage import ExtractParams, Rejection  # noqa: E402
from curate.langid.stage import LangIdParams, LangIdStage  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
APOSTROPHES = {
    "U+0027 '": "'",
    "U+2019 \u2019": "\u2019",
    "U+2018 \u2018": "\u2018",
    "U+00B4 \u00b4": "\u00b4",
    "U+02BC \u02bc": "\u02bc",
    "U+FF07 \uff07": "\uff07",
    "U+0060 `": "`",
}
LIST_MARKS = ("10. ", "(a) ", "\u2022 ", "- ", "iv) ")
BOOKS = {
    "en_alice_pg11.txt": "en",
    "en_moby_dick_pg2701.txt": "en",
    "en_pride_and_prejudice_pg1342.txt": "en",
    "kalamine_de_faust_1.txt": "de",
    "kalamine_fr_alice.txt": "fr",
}
# a sentence ends at . ! ? before a capital, but not after a title or an initial ("Mr. Darcy", "J. Smith")
SENTENCE_END = re.compile(
    r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bMs\.)(?<!\b[A-Z]\.)(?<=[.!?])\s+(?=[\"'“‘(]?[A-ZÄÖÜÀ-ÞА-Я0-9])"
)
APOSTROPHE = re.compile(r"(?<=[^\W\d_])['\u2019](?=[^\W\d_])")  # inside a word: "don't", "Alice’s"
MO_LANGUAGES = ("de", "fr", "es", "nl", "ru", "it", "pt", "pl", "sv", "cs", "tr")
HOST_LANGUAGES = {
    ".de": "de",
    ".fr": "fr",
    ".eu": "fr",
}  # the cache's .de and .fr sites (and psl.eu) write in their language
ENGLISH_HOSTS = (
    "theguardian.com",
    "nature.com",
    "blog.python.org",
    "stackoverflow.com",
    "bbc.",
    "nytimes.com",
    "medium.com",
    "wired.com",
    "arstechnica.com",
    "github.com",
    "washingtonpost.com",
    "npr.org",
)


def records(reader, path: Path, source: str) -> list[dict]:
    return [r for r in reader.read(str(path), ExtractParams(source=source)) if not isinstance(r, Rejection)]


def split(text: str, language: str) -> list[str]:
    text = " ".join(text.split())
    if language == "zh":
        return [s for s in re.split(r"(?<=[。！？])", text) if 8 <= len(s) <= 200]
    return [s for s in SENTENCE_END.split(text) if 3 <= len(s.split()) <= 60]


def corpus(per_language: int) -> dict[str, list[str]]:
    import json

    found: dict[str, list[str]] = {}
    for name, language in BOOKS.items():
        found.setdefault(language, []).extend(
            split(records(books, SHARED / "books" / name, "books")[0]["text"], language)
        )
    for path in sorted((SHARED / "web" / "html" / "trafilatura_cache").glob("*.html")):
        host = path.name.rsplit(".", 2)[0]
        language = next(
            (lang for suffix, lang in HOST_LANGUAGES.items() if host.endswith(suffix) or f"{suffix}." in path.name),
            None,
        )
        language = "en" if any(h in path.name for h in ENGLISH_HOSTS) else language
        if language:
            for row in records(web, path, "web"):
                found[language].extend(split(row["text"], language))
    for path in sorted((SHARED / "web" / "jsonl").glob("dolma_cc_en_head-*.jsonl")):
        found["en"].extend(s for line in path.open() for s in split(json.loads(line)["text"], "en"))
    stage = langid()
    pages = records(web, SHARED / "web" / "warc" / "resiliparse_warcfile.warc.gz", "web")
    pages += [
        r
        for p in sorted((SHARED / "web" / "html" / "trafilatura_cache").glob("*.html"))
        for r in records(web, p, "web")
    ]
    table = stage.process(
        pa.Table.from_pylist([{"id": str(i), "source": "web", "text": r["text"]} for i, r in enumerate(pages)])
    ).table
    for row, language, score in zip(pages, table["language"].to_pylist(), table["language_score"].to_pylist()):
        if language in ("es", "nl", "ru", "zh", "ms") and score >= 0.9:
            found.setdefault(language, []).extend(split(row["text"], language))
    for language, texts in translations().items():
        found.setdefault(language, []).extend(texts)
    rng = random.Random(0)
    return {lang: rng.sample(sorted(set(s)), min(per_language, len(set(s)))) for lang, s in sorted(found.items())}


def translations(folder: Path = Path("/usr/share/locale")) -> dict[str, list[str]]:
    """Human translations of program messages (gettext .mo catalogues of the Debian packages on this machine):
    each message's translation, labelled by its catalogue's language; format codes and accelerator marks removed."""
    import gettext

    found: dict[str, list[str]] = {}
    for language in MO_LANGUAGES:
        for path in sorted((folder / language / "LC_MESSAGES").glob("*.mo")):
            try:
                with path.open("rb") as f:
                    catalogue = gettext.GNUTranslations(f)._catalog
            except (OSError, UnicodeDecodeError):
                continue
            for key, value in catalogue.items():
                if isinstance(value, str) and key and value != key:
                    text = " ".join(re.sub(r"%[-#0-9.]*[a-zA-Z]|\{\w*\}|_(?=\w)|&(?=\w)|<[^>]*>", "", value).split())
                    if 3 <= len(text.split()) <= 60 and sum(c.isalpha() for c in text) > len(text) / 2:
                        found.setdefault(language, []).append(text)
    return found


def langid(**params) -> LangIdStage:
    stage = LangIdStage("langid", build_params(LangIdParams, params, "bench"))
    stage.setup()
    return stage


def kept(stage: LangIdStage, texts: list[str]) -> list[bool]:
    table = pa.Table.from_pylist([{"id": str(i), "source": "web", "text": t} for i, t in enumerate(texts)])
    return [r is None for r in stage.process(table).reasons]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-language", type=int, default=3000)
    parser.add_argument("--show", type=int, default=0, help="print this many English sentences that are dropped")
    args = parser.parse_args()
    sentences = corpus(args.per_language)
    english = sentences["en"]
    stage = langid(languages=["en"])
    print("sentences per language: " + ", ".join(f"{k} {len(v)}" for k, v in sentences.items()))
    en_kept = kept(stage, english)
    print(f"English sentences kept: {sum(en_kept)}/{len(english)} ({sum(en_kept) / len(english):.2%})")
    lengths = Counter()
    for sentence, ok in zip(english, en_kept):
        bucket = next(b for b in (5, 10, 20, 61) if len(sentence.split()) < b)
        lengths[(bucket, ok)] += 1
    print(
        "  by words: "
        + ", ".join(
            f"<{b}: {lengths[(b, True)] / max(1, lengths[(b, True)] + lengths[(b, False)]):.1%} of "
            f"{lengths[(b, True)] + lengths[(b, False)]}"
            for b in (5, 10, 20, 61)
        )
    )
    for sentence, ok in zip(english, en_kept):
        if not ok and args.show > 0:
            print(f"    dropped: {sentence[:120]}")
            args.show -= 1
    with_apostrophe = [s for s in english if APOSTROPHE.search(s)]
    for name, mark in APOSTROPHES.items():
        ok = kept(stage, [APOSTROPHE.sub(mark, s) for s in with_apostrophe])
        print(f"English with {name} as apostrophe: {sum(ok)}/{len(ok)} ({sum(ok) / len(ok):.2%})")
    for mark in LIST_MARKS:
        ok = kept(stage, [mark + s for s in english])
        print(f"English as list line {mark!r}: {sum(ok) / len(ok):.2%}")
    others = 0
    for language, texts in sentences.items():
        if language != "en":
            ok = kept(stage, texts)
            own = kept(langid(languages=[language]), texts)
            others += sum(ok)
            print(
                f"{language}: taken for English {sum(ok)}/{len(texts)} ({sum(ok) / len(texts):.2%}); kept as {language} {sum(own) / len(texts):.1%}"
            )
    print(f"non-English sentences taken for English: {others}/{sum(len(v) for k, v in sentences.items() if k != 'en')}")
    length_aware(stage, sentences)


def length_aware(stage: LangIdStage, sentences: dict[str, list[str]]) -> None:
    """What a lower threshold for short texts would trade: English kept against non-English taken for English."""
    scored = {}
    for language, texts in sentences.items():
        table = stage.process(
            pa.Table.from_pylist([{"id": str(i), "source": "web", "text": t} for i, t in enumerate(texts)])
        ).table
        scored[language] = [
            (lang == "en", score, len(text))
            for lang, score, text in zip(table["language"].to_pylist(), table["language_score"].to_pylist(), texts)
        ]
    for short, low in ((40, 0.5), (60, 0.4), (80, 0.3)):

        def keep(row):
            return row[0] and row[1] >= (low if row[2] < short else 0.65)

        english = sum(map(keep, scored["en"])) / len(scored["en"])
        others = sum(keep(row) for language, rows in scored.items() if language != "en" for row in rows)
        print(
            f"  if texts under {short} characters needed only {low}: English kept {english:.2%}, non-English taken for English {others}"
        )


if __name__ == "__main__":
    main()
