"""Import time of curate.quality.words (paid at every `curate` start and in every worker process): the
punctuation scan over planes 0-1 that the module does now, against the scan of all 1.1M code points it
did before, each in a fresh interpreter, same run.

    python -m bench.words_import --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# in a fresh interpreter: the import, then the scan it makes now (planes 0-1) and the scan it made before (all)
CODE = """
import sys, time, unicodedata
t = time.perf_counter(); import curate.quality.words as words; imported = time.perf_counter() - t
t = time.perf_counter()
{c for c in map(chr, range(words.PUNCTUATION_PLANES_END)) if unicodedata.category(c)[0] == "P"}
planes = time.perf_counter() - t
t = time.perf_counter()
{chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)).startswith("P")}
print(imported, planes, time.perf_counter() - t)
"""


def run_once() -> tuple[float, float]:
    """(import now, import as it was: the same module with the full scan instead of the planes 0-1 one)."""
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    imported, planes, full = map(float, out.stdout.split())
    return imported, imported - planes + full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = [run_once() for _ in range(args.repeat)]
    new, old = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    print(f"import curate.quality.words: {new:.3f} s (median of {args.repeat})")
    print(f"as before (full scan):       {old:.3f} s  ->  {old / new:.1f}x faster now")


if __name__ == "__main__":
    main()
