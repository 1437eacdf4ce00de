"""Compare a run's ratios (JSON written by a bench's --json, see bench/harness.py Results) with
bench/baseline.json: each ratio both hold, the change, and whether it got worse by more than the
tolerance. Exit status 1 when one did, so a script or CI step can stop on it.

    python -m bench.compare NEW.json [--baseline bench/baseline.json] [--tolerance 0.25]

The default tolerance is wide because the development machine is shared: ratios of one run move
10-30% with the load (bench/RESULTS.md); a real regression shows as more, or again on a rerun.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

BASELINE = Path(__file__).resolve().parent / "baseline.json"


@dataclass(frozen=True)
class Change:
    key: str
    baseline: float
    new: float
    higher_is_better: bool

    @property
    def factor(self) -> float:
        """The new ratio as a multiple of the baseline, turned so that > 1 is better."""
        change = self.new / self.baseline
        return change if self.higher_is_better else 1 / change

    def worse(self, tolerance: float) -> bool:
        return self.factor < 1 - tolerance


def changes(baseline: dict, new: dict) -> tuple[list[Change], list[str], list[str]]:
    """The ratios both runs hold, and the keys only the baseline / only the new run has."""
    old, fresh = baseline["ratios"], new["ratios"]
    common = [
        Change(k, old[k]["value"], fresh[k]["value"], old[k].get("higher_is_better", True)) for k in old if k in fresh
    ]
    return common, sorted(set(old) - set(fresh)), sorted(set(fresh) - set(old))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", help="the run's JSON (Results.write)")
    parser.add_argument("--baseline", default=str(BASELINE))
    parser.add_argument(
        "--tolerance", type=float, default=0.25, help="a ratio worse by more than this share is a regression"
    )
    args = parser.parse_args(argv)
    baseline, new = (json.loads(Path(p).read_text()) for p in (args.baseline, args.new))
    common, missing, unknown = changes(baseline, new)
    print(f"new run: {new.get('command', '?')}; {new.get('machine', {})}")
    print(f"{'ratio':<52} {'baseline':>9} {'new':>9} {'change':>8}")
    for c in common:
        verdict = "WORSE" if c.worse(args.tolerance) else ""
        print(f"{c.key:<52} {c.baseline:9.3g} {c.new:9.3g} {c.factor - 1:+8.0%} {verdict}")
        if verdict:
            print(f"    baseline: {baseline['ratios'][c.key].get('date')}, {baseline['ratios'][c.key].get('machine')}")
    if unknown:
        print(
            f"not in the baseline (add them to bench/baseline.json once they are the new reference): {', '.join(unknown)}"
        )
    if not common:
        print(f"no ratio in common with {args.baseline}")
    print(f"({len(missing)} baseline ratios not measured by this run)")
    return 1 if any(c.worse(args.tolerance) for c in common) else 0


if __name__ == "__main__":
    sys.exit(main())
