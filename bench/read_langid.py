"""Reading JSONL.gz + language ID: curate's reader and langid stage vs datatrove's JsonlReader +
LanguageFilter, the same 100,000 documents, the same model (lid.176.ftz), one worker each, same run.

    python -m bench.read_langid [--docs 100000]

Documents: the real CCNet/Dolma documents of ../shared/data/web/jsonl cut into passages of about
600 characters at line ends, numbered and repeated up to --docs, written as 4 Dolma-style .jsonl.gz
files (id, text, source, added, created, metadata). Three figures, each end to end from the files:
- curate fused: read_piece batches straight into LangIdStage.process (what a runner that fuses
  read and langid into one pass does; nothing written);
- curate run: `curate run` with a top-level `reader:` and a langid stage, 1 worker: the runner fuses
  read and langid into one pass per shard; langid's kept and rejected Parquet written;
- datatrove: LocalPipelineExecutor([JsonlReader, LanguageFilter(languages=[en], 0.65)]), 1 task,
  1 worker, no writer. Both sides keep English at 0.65.
--abba runs curate run, datatrove, datatrove, curate run and compares the sums, so that the load
of a shared machine, drifting during the run, weighs on both alike; --no-fused leaves out the first.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from bench.langid_throughput import offline_datatrove_cache  # noqa: E402

from curate.core.params import build_params  # noqa: E402
from curate.langid.model import default_model_path  # noqa: E402
from curate.langid.stage import LangIdParams, LangIdStage  # noqa: E402
from curate.read import ReaderConfig, check, plan, read_piece  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def passages(size: int = 600) -> list[dict]:
    records = []
    for path in sorted((SHARED / "web" / "jsonl").iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            records += [json.loads(line) for line in f if line.strip()]
    out = []
    for r in records:
        current = ""
        for line in r["text"].splitlines():
            current = f"{current}\n{line}" if current else line
            if len(current) >= size:
                out.append({**r, "text": current})
                current = ""
    return out


def write_corpus(folder: Path, docs: int) -> int:
    base = passages()
    folder.mkdir(parents=True)
    chars = 0
    for part in range(4):
        with gzip.open(folder / f"docs-{part}.jsonl.gz", "wt", encoding="utf-8") as f:
            for i in range(part, docs, 4):
                r = base[i % len(base)]
                chars += len(r["text"])
                f.write(
                    json.dumps(
                        {
                            "id": f"{r['id']}#{i}",
                            "text": r["text"],
                            "source": r["source"],
                            "added": r["added"],
                            "created": r["created"],
                            "metadata": r["metadata"],
                        }
                    )
                    + "\n"
                )
    return chars


def curate_fused(folder: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    config = ReaderConfig()
    stage = LangIdStage("langid", build_params(LangIdParams, {"languages": ["en"], "threshold": 0.65}, "bench"))
    stage.setup()
    schema, seen, kept = check([str(folder)], config), 0, 0
    for _, pieces in plan([str(folder)], config):
        for piece in pieces:
            for batch in read_piece(piece, config, schema):
                verdict = stage.process(batch.documents)
                seen += batch.documents.num_rows
                kept += sum(r is None for r in verdict.reasons)
    return time.perf_counter() - start, seen, kept


def curate_run(folder: Path, work: Path) -> float:
    work.mkdir()
    pipeline = work / "p.yaml"
    pipeline.write_text(
        json.dumps(
            {
                "input": str(folder),
                "output": str(work / "out"),
                "reader": {},
                "stages": [{"stage": "langid", "languages": ["en"], "threshold": 0.65}],
            }
        )
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--workers", "1", "--no-progress"],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    return time.perf_counter() - start


def datatrove(folder: Path, work: Path) -> tuple[float, dict]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import JsonlReader

    executor = LocalPipelineExecutor(
        [JsonlReader(str(folder)), LanguageFilter(languages=["en"], language_threshold=0.65)],
        tasks=1,
        workers=1,
        logging_dir=str(work / "logs"),
    )
    start = time.perf_counter()
    stats = executor.run()
    return time.perf_counter() - start, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument(
        "--abba", action="store_true", help="curate run, datatrove, datatrove, curate run: sums compared"
    )
    parser.add_argument("--no-fused", action="store_true", help="leave out the hand-fused loop")
    args = parser.parse_args()
    offline_datatrove_cache(default_model_path())
    with tempfile.TemporaryDirectory(prefix="read-langid-") as tmp:
        work = Path(tmp)
        chars = write_corpus(work / "docs", args.docs)
        size = sum(p.stat().st_size for p in (work / "docs").iterdir())
        print(
            f"{args.docs} documents, {chars / args.docs:.0f} characters on average, {size / 1e6:.1f} MB of .jsonl.gz in 4 files"
        )
        if not args.no_fused:
            fused_s, seen, kept = curate_fused(work / "docs")
            assert seen == args.docs, seen
            print(
                f"curate fused read+langid: {args.docs / fused_s:8.0f} docs/s ({fused_s:.1f} s; kept {kept})",
                flush=True,
            )
        # curate run and datatrove in the order A B B A (--abba), so a load that drifts during the run
        # weighs on both alike
        order = ["curate", "datatrove", "datatrove", "curate"] if args.abba else ["curate", "datatrove"]
        totals = {"curate": 0.0, "datatrove": 0.0}
        for index, side in enumerate(order):
            before = os.getloadavg()[0]
            seconds = (
                curate_run(work / "docs", work / f"run{index}")
                if side == "curate"
                else datatrove(work / "docs", work / f"dt{index}")[0]
            )
            totals[side] += seconds
            print(
                f"{side:<10} {args.docs / seconds:8.0f} docs/s ({seconds:.1f} s)  load {before:.1f} -> {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        print(
            f"curate run (read+langid fused, Parquet written) / datatrove (reader+filter): {totals['datatrove'] / totals['curate']:.2f}x"
        )


if __name__ == "__main__":
    main()
