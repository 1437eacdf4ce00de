"""Web extraction throughput: curate's extract stage (per engine) vs datatrove's WarcReader +
Trafilatura as FineWeb configures it, same input, same run, 1 and 2 workers.

Input: the shared WARC files plus the 110 shared HTML pages packed into WARC files (as
response records, so both tools read the same bytes), copied `--copies` times so there
are enough files to keep two workers busy. curate runs its defaults (FineWeb's trafilatura
settings: favor_precision, tables on, deduplicate; 10 s watchdog limit) with each engine;
datatrove runs its defaults, which are FineWeb's (favour_precision, tables on, deduplicate,
1 s timeout). Both write Parquet.

    python -m bench.extract_throughput [--copies 3] [--workers 1 2] [--engines trafilatura auto resiliparse]
                                       [--rounds 3] [--no-datatrove]

With --rounds, every tool's 1- and 2-worker runs are repeated, interleaved, and each round's
ratio is printed with the load average (1 minute) before each run: on a shared machine the
ratio is only meaningful beside the load it was measured under.
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bench import harness

SHARED = harness.SHARED / "web"
GOOD_WARCS = [
    "dolma_sample-0000.warc.gz",
    "dolma_sample-0001.warc.gz",
    "resiliparse_warcfile.warc.gz",
    "warcio_example.warc.gz",
]


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
                    record = writer.create_warc_record(
                        f"https://{page.stem}/",
                        "response",
                        payload=io.BytesIO(page.read_bytes()),
                        http_headers=headers,
                        warc_headers_dict={"WARC-Identified-Payload-Type": "text/html"},
                    )
                    writer.write_record(record)
    return data


def run_curate(data: Path, output: Path, workers: int, engine: str) -> int:
    import yaml

    from curate.core.executor import LocalExecutor
    from curate.core.pipeline import load_pipeline
    from curate.api import run_pipeline

    spec = {
        "name": "bench",
        "input": str(data),
        "output": str(output),
        "stages": [{"stage": "extract", "source": "web", "engine": engine}],
    }
    path = output.parent / f"{output.name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    executor = LocalExecutor(workers)
    try:
        [report] = run_pipeline(load_pipeline(str(path)), executor, progress=False)
    finally:
        executor.close()
    return report.stats.docs_out


def run_datatrove(data: Path, output: Path, workers: int, engine: str) -> int:
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    harness.run_datatrove(
        [
            WarcReader(str(data), glob_pattern="*.warc.gz"),
            Trafilatura(favour_precision=True),  # FineWeb's call; defaults: 1 s timeout, deduplicate, tables on
            ParquetWriter(str(output / "out")),
        ],
        output / "logs",
        tasks=len(list(data.glob("*.warc.gz"))),
        workers=workers,
    )
    from datatrove.io import get_datafolder
    import pyarrow.parquet as pq

    folder = get_datafolder(str(output / "out"))
    return sum(pq.read_metadata(folder.open(name, "rb")).num_rows for name in folder.list_files())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--engines", nargs="+", default=["trafilatura", "auto", "resiliparse"])
    parser.add_argument("--rounds", type=int, default=1, help="repeat every (tool, workers) run, interleaved")
    parser.add_argument("--no-datatrove", action="store_true", help="curate's engines only")
    parser.add_argument("--json", help="write the ratios to datatrove here (for python -m bench.compare)")
    args = parser.parse_args()
    tools = [(f"curate {engine}", run_curate, engine) for engine in args.engines]
    tools += [] if args.no_datatrove else [("datatrove", run_datatrove, "")]
    with tempfile.TemporaryDirectory() as tmp:
        data = build_input(Path(tmp), args.copies)
        megabytes = sum(p.stat().st_size for p in data.iterdir()) / 1e6
        print(f"input: {len(list(data.iterdir()))} WARC files, {megabytes:.1f} MB (gzip); {harness.Machine.now()}")
        runs = {}  # (tool, workers) -> [(docs, seconds, load average before the run)] in round order
        results = harness.Results()
        for round_ in range(args.rounds):
            # a shared machine's load drifts: each tool's 1- and 2-worker runs follow each other,
            # so a round's ratio compares runs under about the same load
            for tool, fn, engine in tools:
                for workers in args.workers:
                    docs, timing = harness.timed(
                        fn, data, Path(tmp) / f"{tool.replace(' ', '-')}-{workers}-{round_}", workers, engine
                    )
                    seconds, load = timing.wall, timing.load[0]
                    runs.setdefault((tool, workers), []).append((docs, seconds, load))
                    print(
                        f"round {round_}  {tool:<20} workers={workers}  docs={docs:>5}  {seconds:6.1f} s  "
                        f"{docs / seconds:7.1f} docs/s  {megabytes / seconds:6.2f} MB/s  load {load:.1f}",
                        flush=True,
                    )
        best = {key: min(seconds for _, seconds, _ in timings) for key, timings in runs.items()}
        if not args.no_datatrove:
            for workers in args.workers:
                for tool, _, _ in tools[:-1]:
                    print(
                        f"workers={workers}: {tool} runs at {best['datatrove', workers] / best[tool, workers]:.2f}x datatrove's rate (best of {args.rounds})"
                    )
                    results.add(
                        f"extract_throughput.{tool.split()[-1]}_vs_datatrove.workers{workers}",
                        best["datatrove", workers] / best[tool, workers],
                        f"docs/s of curate extract (engine {tool.split()[-1]}) / datatrove's",
                    )
        if 1 in args.workers and 2 in args.workers:
            for tool, _, _ in tools:
                ratios = [one[1] / two[1] for one, two in zip(runs[tool, 1], runs[tool, 2])]
                loads = [f"{one[2]:.1f}/{two[2]:.1f}" for one, two in zip(runs[tool, 1], runs[tool, 2])]
                print(
                    f"{tool}: 2 workers = {best[tool, 1] / best[tool, 2]:.2f}x one worker (best vs best); per round "
                    f"{', '.join(f'{r:.2f}x' for r in ratios)} (load average 1/2 workers: {', '.join(loads)})"
                )
        if args.json:
            results.write(args.json)


if __name__ == "__main__":
    main()
