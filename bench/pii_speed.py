"""PII stage speed against earlier versions of itself, same corpus, same run, one process.

    python -m bench.pii_speed [--copies 5] [--revs 4f17985 main]

Each revision's curate/pii/stage.py is read with `git show REV:curate/pii/stage.py` and loaded beside this
checkout's (the registry decorator of older versions is dropped; nothing else changes). Corpus: the 106
trafilatura pages (HTML through trafilatura), the CCNet/dolma JSONL web documents and the books cut into
80-400-word passages (3,191 real texts), --copies times, in Arrow batches of 2048, defaults (e-mails and
IPs). Each version runs three times in turn; the best rate of each is printed with its ratio to this
checkout. Outputs (text and count columns) are compared row by row with each revision that has the same
columns, once on the real texts and once with a third of them given a planted address and IP
(bench/pii.py's corpus).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from curate.core.schema import make_documents  # noqa: E402
from bench.pii import corpus  # noqa: E402


def load_stage(rev: str | None, folder: Path):
    source = (
        (REPO / "curate/pii/stage.py").read_text()
        if rev is None
        else subprocess.run(
            ["git", "show", f"{rev}:curate/pii/stage.py"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    )
    source = re.sub(r"^(from curate\.core\.registry import .*|@register_stage\(.*\))$", "", source, flags=re.M)
    name = f"pii_stage_{rev or 'here'}".replace("-", "_").replace("/", "_")
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run(module, table):
    stage = module.PiiStage("pii", module.PiiParams())
    return [stage.process(table.slice(offset, 2048)).table for offset in range(0, table.num_rows, 2048)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--revs", nargs="*", default=["4f17985", "main"])
    args = parser.parse_args()
    texts, traps = corpus()
    real = [t.rsplit("\nWrite to ", 1)[0] for t in texts]  # corpus() planted a line in a third of them
    with tempfile.TemporaryDirectory() as folder:
        versions = {"this checkout": load_stage(None, Path(folder))} | {
            rev: load_stage(rev, Path(folder)) for rev in args.revs
        }
    table = make_documents([{"id": f"d{i}", "source": "web", "text": t} for i, t in enumerate(real * args.copies)])
    rates = {name: 0.0 for name in versions}
    for _ in range(3):
        for name, module in versions.items():
            start = time.perf_counter()
            run(module, table)
            rates[name] = max(rates[name], table.num_rows / (time.perf_counter() - start))
    print(
        f"{table.num_rows} documents ({sum(map(len, real)) * args.copies / 1e6:.1f} MB), load average {Path('/proc/loadavg').read_text().split()[:3]}"
    )
    for name, rate in rates.items():
        print(f"  {name:14} {rate:9,.0f} docs/s  (its time / this checkout's: {rates['this checkout'] / rate:.2f})")
    for label, docs in (("real texts", real), ("a third planted", texts + traps)):
        small = make_documents([{"id": f"d{i}", "source": "web", "text": t} for i, t in enumerate(docs)])
        ours = run(versions["this checkout"], small)
        for name in args.revs:
            theirs = run(versions[name], small)
            columns = ["text"] + [c for c in theirs[0].column_names if c.startswith("pii_")]
            if any(c not in ours[0].column_names for c in columns):
                print(f"  {label}: {name} has other columns, not compared")
                continue
            rows = [
                r
                for a, b in zip(ours, theirs)
                for r in zip(a.select(columns).to_pylist(), b.select(columns).to_pylist())
            ]
            print(f"  {label}: rows differing from {name}: {sum(a != b for a, b in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
