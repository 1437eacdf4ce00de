"""Language ID: curate's `langid` stage vs datatrove's LanguageFilter, same documents, same model, same run.

    python -m bench.langid_throughput [--repeat 3] [--languages en de fr]

Documents: every web page of ../shared/data/web (WARC and HTML files through curate's web
extractor, plus the JSONL web documents) and the five books cut into passages of 80-400
words (English, German, French). Both sides use lid.176.ftz as shipped in curate/langid/resources
and threshold 0.65, one process, one core.

datatrove's FT176LID downloads lid.176.bin from dl.fbaipublicfiles.com into huggingface_hub's
assets cache on first use; it has no parameter for a model path. It runs offline when that
cache already holds the file: this script points HF_ASSETS_CACHE at a temporary folder holding
a link named as datatrove's download (plus the ".completed" marker its lock checks) to the
local lid.176.ftz. fastText reads the format from the file, not the name, so datatrove's own
code path runs unchanged: LanguageFilter.filter(doc) per Document (text with newlines
replaced, predict with k=-1, all 176 labels). curate runs LangIdStage.process on Arrow
batches of 2048 (one fastText call per batch, k=1). Reports docs/s, the ratio, and how
often the two agree on the language and on keep/drop.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import pyarrow as pa  # noqa: E402

from curate.core.params import build_params  # noqa: E402
from curate.extract import web  # noqa: E402
from curate.extract.stage import ExtractParams, Rejection  # noqa: E402
from curate.langid.model import default_model_path  # noqa: E402
from curate.langid.stage import LangIdParams, LangIdStage  # noqa: E402
from bench.dedup_corpus import book_passages, web_texts  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
BATCH = 2048


def corpus() -> list[str]:
    params = ExtractParams(source="web")
    files = web.list_inputs([str(SHARED / "web" / "warc"), str(SHARED / "web" / "html")], params)
    pages = [row["text"] for url in files for row in web.read(url, params) if not isinstance(row, Rejection)]
    return pages + web_texts(SHARED) + book_passages(SHARED)


def offline_datatrove_cache(model: str) -> None:
    """Point huggingface_hub's assets cache at a folder where datatrove finds 'its' lid.176 download done."""
    root = tempfile.mkdtemp(prefix="langid-bench-")
    os.environ["HF_ASSETS_CACHE"] = root  # read when huggingface_hub is first imported, just below
    from datatrove.io import cached_assets_path, strip_protocol
    from datatrove.utils.lid import FT176LID

    folder = cached_assets_path(library_name="datatrove", namespace="lid", subfolder=FT176LID.MODEL_SUBFOLDER)
    name = strip_protocol(FT176LID.MODEL_URL).replace(
        "/", "_"
    )  # as datatrove.io.cached_asset_path_or_download names it
    (folder / name).symlink_to(model)
    (folder / f"{name}.completed").touch()


def run_datatrove(texts: list[str], languages: list[str] | None):
    from datatrove.data import Document
    from datatrove.pipeline.filters import LanguageFilter

    lid = LanguageFilter(languages=languages, language_threshold=0.65)
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    lid.filter(Document(text="warm up: load the model", id="w"))
    start = time.perf_counter()
    keep = [bool(lid.filter(doc)) for doc in docs]
    seconds = time.perf_counter() - start
    return seconds, [d.metadata["language"] for d in docs], keep


def run_curate(texts: list[str], languages: list[str] | None):
    stage = LangIdStage("langid", build_params(LangIdParams, {"languages": languages, "threshold": 0.65}, "bench"))
    stage.setup()
    tables = [
        pa.table(
            {
                "id": [str(i) for i in range(s, min(s + BATCH, len(texts)))],
                "source": ["web"] * len(texts[s : s + BATCH]),
                "text": pa.array(texts[s : s + BATCH], pa.large_string()),
            }
        )
        for s in range(0, len(texts), BATCH)
    ]
    start = time.perf_counter()
    verdicts = [stage.process(t) for t in tables]
    seconds = time.perf_counter() - start
    found = [lang for v in verdicts for lang in v.table["language"].to_pylist()]
    keep = [reason is None for v in verdicts for reason in v.reasons]
    return seconds, found, keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="copies of the corpus timed (more: steadier figures)")
    parser.add_argument("--languages", nargs="*", default=None, help="keep only these (default: all languages)")
    args = parser.parse_args()
    offline_datatrove_cache(default_model_path())
    texts = corpus()
    chars = sum(map(len, texts))
    print(
        f"{len(texts)} documents, {chars / len(texts):.0f} characters on average; x{args.repeat}; model {default_model_path()}"
    )
    texts = texts * args.repeat
    ours_s, ours_lang, ours_keep = run_curate(texts, args.languages)
    theirs_s, theirs_lang, theirs_keep = run_datatrove(texts, args.languages)
    n = len(texts)
    print(
        f"curate langid:          {n / ours_s:9.0f} docs/s  ({ours_s:.2f} s, {chars * args.repeat / ours_s / 1e6:.1f} M chars/s)"
    )
    print(f"datatrove LanguageFilter: {n / theirs_s:7.0f} docs/s  ({theirs_s:.2f} s)")
    print(f"ratio curate/datatrove: {theirs_s / ours_s:.2f}x")
    same_language = sum(a == b for a, b in zip(ours_lang, theirs_lang) if a is not None) / sum(
        a is not None for a in ours_lang
    )
    print(
        f"same language: {same_language:.4f}   same keep/drop: {sum(a == b for a, b in zip(ours_keep, theirs_keep)) / n:.4f}"
        f"   kept: curate {sum(ours_keep)}, datatrove {sum(theirs_keep)}"
    )


if __name__ == "__main__":
    main()
