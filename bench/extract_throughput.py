"""Web extraction throughput: curate's extract stage (per engine) vs datatrove's WarcReader +
Trafilatura as FineWeb configures it, same input, same run, 1 and 2 workers.

Input: the shared WARC files plus the 110 shared HTML pages packed into WARC files (as
response records, so both tools read the same bytes), copied `--copies` times so there
are enough files to keep two workers busy. curate runs its defaults (FineWeb's trafilatura
settings: favor_precision, tables on, deduplicate; 10 s watchdog limit) with each engine;
datatrove runs its defaults, which are FineWeb's (favour_precision, tables on, deduplicate,
1 s timeout). Both write Parquet.

    python bench/extract_throughput.py [--copies 3] [--workers 1 2] [--engines trafilatura auto resiliparse]
"""
from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing, like the other benches

from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "web"
GOOD_WARCS = ["dolma_sample-0000.warc.gz", "dolma_sample-0001.warc.gz", "resiliparse_warcfile.warc.gz", "warcio_example.warc.gz"]


def build_input(folder: Path, copies: int) -> Path:
    data = folder / "warc"
    data.mkdir(parents=True)
    pages = sorted((SHARED / "html" / "trafilatura_cache").glob("*.html"))
    for copy in range(copies):
        for name in GOOD_WARCS:
            shutil.copy(SHARED / "warc" / name, data / f"c{copy}-{name}")
        for part in range(4):  # the HTML pages as four WARC files
            with open(data / f"c{copy}-html-{part}.warc.gz", "wb") as f:
                writer = WARCWriter(f, gzip=True)
                for page in pages[part::4]:
                    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
                    record = writer.create_warc_record(f"https://{page.stem}/", "response", payload=io.BytesIO(page.read_bytes()),
                                                       http_headers=headers, warc_headers_dict={"WARC-Identified-Payload-Type": "text/html"})
                    writer.write_record(record)
    return data


def run_curate(data: Path, output: Path, workers: int, engine: str) -> int:
    import yaml

    from curate.core.executor import LocalExecutor
    from curate.core.pipeline import load_pipeline
    from curate.core.runner import run_pipeline

    spec = {"name": "bench", "input": str(data), "output": str(output),
            "stages": [{"stage": "extract", "source": "web", "engine": engine}]}
    path = output.parent / f"{output.name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    executor = LocalExecutor(workers)
    try:
        [report] = run_pipeline(load_pipeline(str(path)), executor, progress=False)
    finally:
        executor.close()
    return report.stats.docs_out


def run_datatrove(data: Path, output: Path, workers: int, engine: str) -> int:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    files = len(list(data.glob("*.warc.gz")))
    executor = LocalPipelineExecutor(
        pipeline=[WarcReader(str(data), glob_pattern="*.warc.gz"),
                  Trafilatura(favour_precision=True),  # FineWeb's call; defaults: 1 s timeout, deduplicate, tables on
                  ParquetWriter(str(output / "out"))],
        tasks=files, workers=workers, logging_dir=str(output / "logs"), skip_completed=False)
    executor.run()
    from datatrove.io import get_datafolder
    import pyarrow.parquet as pq
    folder = get_datafolder(str(output / "out"))
    return sum(pq.read_metadata(folder.open(name, "rb")).num_rows for name in folder.list_files())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--engines", nargs="+", default=["trafilatura", "auto", "resiliparse"])
    args = parser.parse_args()
    tools = [(f"curate {engine}", run_curate, engine) for engine in args.engines] + [("datatrove", run_datatrove, "")]
    with tempfile.TemporaryDirectory() as tmp:
        data = build_input(Path(tmp), args.copies)
        megabytes = sum(p.stat().st_size for p in data.iterdir()) / 1e6
        print(f"input: {len(list(data.iterdir()))} WARC files, {megabytes:.1f} MB (gzip)")
        results = {}
        for workers in args.workers:
            for tool, fn, engine in tools:
                start = time.perf_counter()
                docs = fn(data, Path(tmp) / f"{tool.replace(' ', '-')}-{workers}", workers, engine)
                seconds = time.perf_counter() - start
                results[tool, workers] = (docs, seconds)
                print(f"{tool:<22} workers={workers}  docs={docs:>5}  {seconds:6.1f} s  {docs / seconds:7.1f} docs/s  {megabytes / seconds:6.2f} MB/s", flush=True)
        for workers in args.workers:
            for tool, _, _ in tools[:-1]:
                print(f"workers={workers}: {tool} runs at {results['datatrove', workers][1] / results[tool, workers][1]:.2f}x datatrove's rate")
        if 1 in args.workers and 2 in args.workers:
            for tool, _, _ in tools:
                print(f"{tool}: 2 workers = {results[tool, 1][1] / results[tool, 2][1]:.2f}x one worker")


if __name__ == "__main__":
    main()
