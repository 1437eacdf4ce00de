"""CPU time of the same shards through the fused passes and through the materialised stages.

    python -m bench.fused_cpu [--docs 2000] [--shards 1] [--workers 1] [--rounds 2] [--profile]

The documents of bench/fused_pass.py (--docs of them in --shards shards: 2,000 a shard as in its
50,000-document run) and its pipeline (langid -> quality -> dedup -> toxicity), fused and with
--materialize in turn, after a warm-up run. Reports CPU time (time.process_time, in the worker
that runs each shard), so the load other people put on the machine counts far less than in wall
time: each pass's (reading and writing included), each stage's share (the runner's per-step clock
read as CPU time), per round. One worker runs in this process; --profile (one worker only) adds
the functions whose CPU differs most between the modes (cProfile on a CPU clock, passes only).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import tempfile
import time
import types
from collections import defaultdict
from pathlib import Path


from bench.fused_pass import stages, write_corpus  # noqa: E402

from curate.api import LocalExecutor, Pipeline  # noqa: E402
from curate.core import execution  # noqa: E402
from curate.core.stage import ShardStats  # noqa: E402

MODES = ("materialized", "fused")
PASS_CPU = "cpu of the pass"  # the key a pass task's own CPU time travels back under
run_pass_task, run_pass = execution.run_pass_task, execution.run_pass
profile: cProfile.Profile | None = None  # the current mode's, when profiling (in this process)


class Meter:
    """CPU seconds of one mode: by pass, by step, by round."""

    def __init__(self):
        self.passes, self.steps = defaultdict(float), defaultdict(float)
        self.rounds: list[float] = []
        self.profile = cProfile.Profile(time.process_time)


current = Meter()


def cpu_clocked_pass(task) -> dict[str, ShardStats]:
    """execution.run_pass_task on a CPU clock, in the worker: its steps' seconds and the whole task's."""
    execution.time = types.SimpleNamespace(perf_counter=time.process_time)
    start = time.process_time()
    if profile:
        profile.enable()
    try:
        stats = run_pass_task(task)
    finally:
        if profile:
            profile.disable()
    return {**stats, PASS_CPU: ShardStats(seconds=time.process_time() - start)}


def metered_run_pass(part, label, shards, ctx, folder, redo) -> tuple[dict[str, ShardStats], int]:
    """execution.run_pass on the driver, noting what its tasks measured."""
    sums, ran = run_pass(part, label, shards, ctx, folder, redo)
    current.passes["+".join(step.key for step in part.steps)] += sums.pop(PASS_CPU).seconds
    for key, s in sums.items():
        current.steps[key] += s.seconds
    return sums, ran


def run(corpus: Path, output: Path, workers: int, materialize: bool) -> None:
    shutil.rmtree(output, ignore_errors=True)
    executor = LocalExecutor(workers)
    try:
        Pipeline.of(str(corpus), str(output), stages(), name="fused-cpu").run(
            executor, progress=False, materialize=materialize
        )
    finally:
        executor.close()


def main() -> None:
    global current, profile
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile and args.workers > 1:
        parser.error("--profile profiles this process: use it with --workers 1")
    execution.run_pass_task, execution.run_pass = cpu_clocked_pass, metered_run_pass
    meters = {mode: Meter() for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="fused-cpu-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        write_corpus(corpus, args.docs, shards=args.shards)
        run(corpus, Path(tmp) / "warm-up", args.workers, True)  # loads the models (execution.ready) outside the figures
        for _ in range(args.rounds):
            for mode in MODES:
                current = meters[mode]
                profile = current.profile if args.profile else None
                before = sum(current.passes.values())
                run(corpus, Path(tmp) / mode, args.workers, mode == "materialized")
                current.rounds.append(sum(current.passes.values()) - before)
    print(
        f"{args.docs:,} documents in {args.shards} shard(s), {args.workers} worker(s), {args.rounds} round(s) per mode; "
        f"CPU seconds per round (mean)"
    )
    for mode, m in meters.items():
        print(
            f"\n{mode}: passes {sum(m.rounds) / args.rounds:.2f} s; by round {', '.join(f'{s:.2f}' for s in m.rounds)} "
            f"(best {min(m.rounds):.2f})"
        )
        for label, seconds in m.passes.items():
            print(f"  pass {label:<40} {seconds / args.rounds:7.2f} s")
        for key, seconds in m.steps.items():
            print(f"    step {key:<38} {seconds / args.rounds:7.2f} s")
    fused, materialized = (sum(meters[mode].rounds) for mode in ("fused", "materialized"))
    print(f"\nfused / materialised CPU of the passes: {fused / materialized:.3f}")
    if args.profile:
        print_differences(meters, args.rounds)


def print_differences(meters: dict[str, Meter], rounds: int, top: int = 30) -> None:
    """The functions whose own CPU (tottime) differs most between the modes, and their cumulative CPU."""
    tables = {mode: pstats.Stats(m.profile).stats for mode, m in meters.items()}

    def cpu(mode, f, column):  # column 2: own time, 3: cumulative
        return tables[mode].get(f, (0, 0, 0, 0))[column] / rounds

    print(f"\n{'function':<70} {'mat. own':>9} {'fused own':>9} {'diff':>7} {'mat. cum':>9} {'fused cum':>9}")
    functions = set().union(*tables.values())
    for f in sorted(functions, key=lambda f: -abs(cpu("fused", f, 2) - cpu("materialized", f, 2)))[:top]:
        name = f"{Path(f[0]).name}:{f[1]}({f[2]})"[:70]
        print(
            f"{name:<70} {cpu('materialized', f, 2):9.3f} {cpu('fused', f, 2):9.3f} "
            f"{cpu('fused', f, 2) - cpu('materialized', f, 2):+7.3f} {cpu('materialized', f, 3):9.3f} {cpu('fused', f, 3):9.3f}"
        )


if __name__ == "__main__":
    main()
