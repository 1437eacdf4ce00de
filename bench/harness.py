"""One harness for the benchmarks: run a system, time it (wall and CPU seconds), say on what machine and
under what load, and put two systems side by side as a ratio; plus the datatrove plumbing every peer
comparison needs, written once.

CPU seconds come from os.times(): this process's user + system time plus that of the children it has
waited for (a subprocess.run, a pool's joined workers), so a system run as a subprocess is counted in
full. The shared development machine is loaded by other jobs: absolute seconds move with the load, so
read ratios taken in one run, with the load average recorded beside them (bench/RESULTS.md).

A run's ratios can be written as JSON (`Results.write`) and compared with bench/baseline.json by
`python -m bench.compare NEW.json`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


@dataclass(frozen=True)
class Machine:
    cpus: int
    load: tuple[float, float, float]  # 1, 5 and 15 minute load averages
    processor: str
    python: str
    date: str  # UTC

    @classmethod
    def now(cls) -> Machine:
        return cls(
            os.cpu_count() or 1,
            tuple(round(x, 2) for x in os.getloadavg()),
            platform.machine(),
            platform.python_version(),
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        )

    def __str__(self) -> str:
        return (
            f"{self.cpus} {self.processor} cores, load average {' / '.join(f'{x:.1f}' for x in self.load)}, {self.date}"
        )


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds
    cpu: float  # seconds of CPU, user + system, this process and its waited-for children
    load: tuple[float, float]  # 1-minute load average before and after

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU (load {self.load[0]:.1f} -> {self.load[1]:.1f})"


def timed(fn, *args, **kwargs) -> tuple[object, Timing]:
    """Call fn(*args, **kwargs); its result and how long it took."""
    load, before, start = os.getloadavg()[0], os.times(), time.perf_counter()
    result = fn(*args, **kwargs)
    wall, after = time.perf_counter() - start, os.times()
    cpu = sum(getattr(after, k) - getattr(before, k) for k in ("user", "system", "children_user", "children_system"))
    return result, Timing(wall, cpu, (load, os.getloadavg()[0]))


def run_command(*argv: str, cwd: Path = REPO) -> Timing:
    """Time a command (a CLI, the process start included) run with this Python from the repository root."""
    _, timing = timed(subprocess.run, [sys.executable, *argv], cwd=cwd, check=True, capture_output=True)
    return timing


def ratio(ours: Timing, peer: Timing, by: str = "wall") -> float:
    """How many times faster ours ran than the peer on the same work (> 1: ours is faster)."""
    return getattr(peer, by) / getattr(ours, by)


def side_by_side(timings: dict[str, Timing], reference: str, work: float | None = None, unit: str = "docs") -> str:
    """A table of systems timed on the same work: seconds, rate and the ratio to `reference` (wall and CPU)."""
    rows = [f"{'system':<44} {'wall s':>8} {'CPU s':>8} {unit + '/s':>12} {'vs ' + reference:>20}"]
    for name, t in timings.items():
        rate = f"{work / t.wall:,.0f}" if work else "-"
        rows.append(
            f"{name:<44} {t.wall:8.2f} {t.cpu:8.2f} {rate:>12} "
            f"{ratio(t, timings[reference]):8.2f}x wall {ratio(t, timings[reference], 'cpu'):5.2f}x CPU"
        )
    return "\n".join(rows)


def invocation() -> str:
    """The command line that started this run, as a reader would type it again."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return " ".join([f"python -m {spec.name}" if spec else f"python {sys.argv[0]}", *sys.argv[1:]])


@dataclass
class Results:
    """The headline ratios of one run, for `python -m bench.compare`: each with what it measures and
    whether higher is better; the machine, date and command are the run's."""

    machine: Machine = field(default_factory=Machine.now)
    command: str = field(default_factory=invocation)
    ratios: dict[str, dict] = field(default_factory=dict)

    def add(self, key: str, value: float, what: str, higher_is_better: bool = True) -> None:
        self.ratios[key] = {"value": round(value, 4), "what": what, "higher_is_better": higher_is_better}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(
            json.dumps({"machine": asdict(self.machine), "command": self.command, "ratios": self.ratios}, indent=1)
            + "\n"
        )


# datatrove (the peer): imported inside the helpers, so a bench runs its own side without the bench extra


def datatrove_documents(texts: list[str], urls: list[str] | None = None) -> list:
    """datatrove Documents with ids 0..n-1 (and metadata["url"] when urls are given)."""
    from datatrove.data import Document

    return [Document(text=text, id=str(i), metadata={"url": urls[i]} if urls else {}) for i, text in enumerate(texts)]


def datatrove_reasons(filters: list[tuple[str, object]], documents: list) -> list[str | None]:
    """Per document, 'filter.reason' of the first of (name, datatrove filter) that drops it, or None."""
    reasons = []
    for doc in documents:
        reason = None
        for name, dt_filter in filters:
            verdict = dt_filter.filter(doc)
            if verdict is not True:
                reason = f"{name}.{verdict[1] if isinstance(verdict, tuple) else 'rejected'}"
                break
        reasons.append(reason)
    return reasons


def run_datatrove(pipeline: list, logs: Path, tasks: int = 1, workers: int = 1) -> None:
    """A datatrove pipeline through its LocalPipelineExecutor, never skipping tasks a previous run completed."""
    from datatrove.executor import LocalPipelineExecutor

    LocalPipelineExecutor(
        pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=str(logs), skip_completed=False
    ).run()
