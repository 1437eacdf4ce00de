"""Which packages moved away from the lock: run by .ci/run, and by a developer before users see the drift.

    python .ci/drift.py requirements/test.lock                 # resolve pyproject's ranges now (pip --dry-run) and compare
    python .ci/drift.py requirements/test.lock --installed     # compare with this environment instead

Prints one line per package whose newest version allowed by the ranges differs from the locked one (a newer
release the suite has not passed on yet), per package the resolution adds or drops, and "no drift" otherwise.
It informs; it never fails the build (exit 0), except on a missing or unreadable lock (exit 2).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def read_lock(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line (comments and options skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[canonical(name.split("[")[0])] = version.strip()
    return pins


def installed() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def resolved(extra: str) -> dict[str, str]:
    """What a new user's `pip install torch==2.13.0 -e .[extra]` would install today, without installing it."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--quiet",
        "--ignore-installed",
        "--report",
        "-",
        "torch==2.13.0",
        f"{REPO}[{extra}]",
    ]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}


def drift(locked: dict[str, str], now: dict[str, str]) -> list[str]:
    def base(version: str) -> str:  # torch's "+cpu" build tag is not a different release
        return version.split("+", 1)[0]

    lines = [
        f"moved: {name} {locked[name]} (lock) -> {now[name]} (now)"
        for name in sorted(locked.keys() & now.keys())
        if base(locked[name]) != base(now[name])
    ]
    lines += [
        f"new:   {name} {now[name]} (not in the lock)"
        for name in sorted(now.keys() - locked.keys())
        if name not in ("rawtollm", "pip", "setuptools", "wheel")
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lock", type=Path, help="a lock file, e.g. requirements/test.lock")
    parser.add_argument("--extra", default="test", help="the extra whose resolution is compared (default: test)")
    parser.add_argument("--installed", action="store_true", help="compare with this environment, resolve nothing")
    args = parser.parse_args(argv)
    try:
        locked = read_lock(args.lock)
    except OSError as error:
        print(f"drift: error: cannot read the lock {args.lock}: {error.strerror}", file=sys.stderr)
        return 2
    now = installed() if args.installed else resolved(args.extra)
    if args.installed:  # an environment holds only what it installed: packages of other extras are not drift
        locked = {name: version for name, version in locked.items() if name in now}
    lines = drift(locked, now)
    print("\n".join(lines) if lines else f"no drift: every package matches {args.lock}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
