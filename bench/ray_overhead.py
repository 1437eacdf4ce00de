"""The overhead of the Ray executor over the local one: the same pipelines, 2 workers each, same run.

    python -m bench.ray_overhead [--repeats 5] [--workers 2]

The demo corpus is ../shared/data: pipelines/books.yaml over the books and pipelines/web.yaml
over the WARC files and saved HTML pages, each as shipped (extract, langid, quality, dedup and,
for web, toxicity). Both executors are started once and kept warm (the local process pool,
a local Ray cluster with `workers` CPUs); the first repeat of each is a warm-up and is reported
apart. Repeats alternate local / Ray, so machine load affects both alike; each writes a fresh
output folder. Reported: the median and the best wall time of all pipelines per executor and
Ray's overhead on each (the best is the steadier figure when other jobs share the machine),
plus the one-off costs (Ray start, first run of each).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

from curate.core.executor import LocalExecutor  # noqa: E402
from curate.core.pipeline import load_pipeline  # noqa: E402
from curate.api import run_pipeline  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def demo_pipelines() -> dict[str, dict]:
    """pipelines/books.yaml and pipelines/web.yaml as shipped, inputs from ../shared/data."""
    inputs = {"books": [SHARED / "books"], "web": [SHARED / "web" / "warc", SHARED / "web" / "html"]}
    pipelines = {}
    for name, folders in inputs.items():
        shipped = yaml.safe_load((REPO / "pipelines" / f"{name}.yaml").read_text())
        pipelines[name] = {"input": [str(f) for f in folders], "stages": shipped["stages"]}
    return pipelines


def run_all(pipelines: dict[str, dict], executor, folder: Path) -> float:
    """Wall seconds to run every pipeline into a fresh folder."""
    start = time.perf_counter()
    for name, spec in pipelines.items():
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "output": str(folder / name), **spec}))
        run_pipeline(load_pipeline(str(path)), executor, progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per executor after one warm-up")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    import ray

    from curate.core.ray_executor import RayExecutor

    pipelines = demo_pipelines()
    print(f"pipelines: {', '.join(pipelines)}; {args.workers} workers; {args.repeats} timed repeats each", flush=True)
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="warning")
    ray_start = time.perf_counter() - start
    executors = {"local": LocalExecutor(args.workers), "ray": RayExecutor(args.workers)}
    times: dict[str, list[float]] = {name: [] for name in executors}
    with tempfile.TemporaryDirectory(prefix="ray_overhead_") as tmp:
        for repeat in range(args.repeats + 1):
            for name, executor in executors.items():
                folder = Path(tmp) / f"{name}-{repeat}"
                folder.mkdir()
                times[name].append(run_all(pipelines, executor, folder))
            print(
                f"repeat {repeat}{' (warm-up)' if repeat == 0 else ''}: "
                + ", ".join(f"{name} {t[-1]:.2f} s" for name, t in times.items()),
                flush=True,
            )
        tasks = len(list(Path(tmp).glob("ray-0/*/*/_done/*/*.json")))  # one completion record per task
    for executor in executors.values():
        executor.close()
    ray.shutdown()
    print(f"\nRay start (ray.init, {args.workers} CPUs): {ray_start:.2f} s")
    print(f"first run (cold workers): local {times['local'][0]:.2f} s, ray {times['ray'][0]:.2f} s")
    print(f"shard tasks per run: {tasks}")
    for label, pick in (("median", statistics.median), ("best", min)):
        local, on_ray = (pick(times[name][1:]) for name in ("local", "ray"))
        print(
            f"{label} of {args.repeats} warm runs: local {local:.3f} s, ray {on_ray:.3f} s; Ray overhead "
            f"{100 * (on_ray / local - 1):+.1f}% (goal <= 15%), {1000 * (on_ray - local) / tasks:.1f} ms per task"
        )


if __name__ == "__main__":
    main()
