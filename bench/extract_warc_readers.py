"""WARC reading alone: warcio (what curate's web reader uses) vs FastWARC (resiliparse), same
files, same run. Each reads every record of the shared WARC files and the payload of every
response, `--rounds` times; figures are the best round.

    python -m bench.extract_warc_readers [--rounds 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fastwarc.warc import ArchiveIterator as FastIterator, WarcRecordType
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

WARCS = sorted((Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "web" / "warc").glob("*.warc.gz"))
GOOD = [p for p in WARCS if "clipped" not in p.name]


def read_warcio(path: Path) -> tuple[int, int]:
    records, payload = 0, 0
    with open(path, "rb") as f:
        for record in WarcioIterator(f):
            records += 1
            if record.rec_type == "response":
                payload += len(record.content_stream().read())
    return records, payload


def read_fastwarc(path: Path) -> tuple[int, int]:
    records, payload = 0, 0
    with open(path, "rb") as f:
        for record in FastIterator(f, parse_http=True):
            records += 1
            if record.record_type == WarcRecordType.response:
                payload += len(record.reader.read())
    return records, payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    megabytes = sum(p.stat().st_size for p in GOOD) / 1e6
    best = {}
    for _ in range(args.rounds):
        for name, read in (("warcio", read_warcio), ("fastwarc", read_fastwarc)):
            start = time.process_time()
            counts = [read(p) for p in GOOD]
            best[name] = min(best.get(name, float("inf")), time.process_time() - start)
            if _ == 0:
                print(name, "records", sum(c[0] for c in counts), "response payload bytes", sum(c[1] for c in counts))
    for name, seconds in best.items():
        print(f"{name:<9} {megabytes / seconds:7.1f} MB/s (gzip) per CPU-second")
    print(f"fastwarc reads at {best['warcio'] / best['fastwarc']:.1f}x warcio's rate")


if __name__ == "__main__":
    main()
