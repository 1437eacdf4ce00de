"""The Ray executor: every shard task of every stage phase is a Ray task.

    curate run pipelines/web.yaml --executor ray --workers 8         # a local Ray with 8 CPUs
    curate run pipelines/web.yaml --executor ray --ray-address auto  # join a running cluster
    (RAY_ADDRESS in the environment, as inside `ray job submit`, counts as --ray-address)

Each task asks Ray for the stage's `cpus` (and `memory_gb` when the stage declares it).
Two kinds of failure are kept apart:
- an exception inside a stage is caught in the task (`call_safely`) and comes back as a
  TaskFailure: retrying would fail the same way, so Ray does not retry it;
- a worker that dies (killed, out of memory, node lost) is a system failure that Ray
  retries up to `max_retries` times (env CURATE_RAY_MAX_RETRIES, default 3).
A retried shard is safe to redo: its outputs are written atomically and its completion
record last, so an attempt that died half-way left nothing the runner trusts.
"""

from __future__ import annotations

import logging
import os

from curate.core.executor import Executor, TaskFailure, call_safely
from curate.core.params import ConfigError

INSTALL_HINT = (
    "--executor ray needs Ray, which is an optional extra: pip install 'rawtollm[ray]' "
    "(or pip install '.[ray]' in a checkout of this repository)"
)
DEFAULT_MAX_RETRIES = 3
TASKS_PER_SLOT = 4  # tasks queued per task slot of the cluster: enough to keep every CPU busy


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


def curate_shard_task(fn, task):
    """The Ray task (its name shows in `ray status`, the dashboard and the worker's process title)."""
    return call_safely(fn, task)


class RayExecutor(Executor):
    """Runs shard tasks on a Ray cluster: a local one with `workers` CPUs, or the one at `address`."""

    def __init__(self, workers: int = 1, address: str | None = None, max_retries: int | None = None):
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        ray = import_ray()
        self._ray = ray
        address = address or os.environ.get("RAY_ADDRESS")  # set by `ray job submit` too
        if max_retries is None:
            max_retries = int(os.environ.get("CURATE_RAY_MAX_RETRIES", DEFAULT_MAX_RETRIES))
        self.max_retries = max_retries
        self._started_here = not ray.is_initialized()
        if self._started_here:
            start_ray(ray, workers, address)
        # Joining a cluster: its CPUs, not --workers, set how many tasks run at once.
        self.workers = workers if self._started_here and address is None else cluster_cpus(ray, workers)
        self.node_workers = min(self.workers, largest_node_cpus(ray, self.workers))
        self._remote = ray.remote(curate_shard_task)

    def map_unordered(self, fn, tasks, cpus=1.0, memory_gb=None):
        ray = self._ray
        options = {"num_cpus": cpus, "max_retries": self.max_retries, "retry_exceptions": False}
        if memory_gb:
            options["memory"] = int(memory_gb * 2**30)
        remote = self._remote.options(**options)
        # A bounded window of submitted tasks: a million shards never sit in the driver at once.
        window = max(8, TASKS_PER_SLOT * int(cluster_cpus(ray, self.workers) / max(cpus, 0.01)))
        pending: dict = {}
        submitted = 0
        try:
            while submitted < len(tasks) or pending:
                while submitted < len(tasks) and len(pending) < window:
                    pending[remote.remote(fn, tasks[submitted])] = submitted
                    submitted += 1
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), self._result(ref)
        finally:  # the caller stopped early (Ctrl-C, an error): do not leave tasks running
            for ref in pending:
                ray.cancel(ref)

    def _result(self, ref):
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:  # raised outside call_safely, e.g. unpickling the task
            return TaskFailure(f"{type(error.cause).__name__}: {error.cause}", str(error))
        except ray.exceptions.RayError as error:  # the worker died on every attempt, the node was lost
            return TaskFailure(f"Ray task failed after {self.max_retries} retries: {type(error).__name__}: {error}", "")

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()


def start_ray(ray, workers: int, address: str | None) -> None:
    if address is None:
        ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING)
        return
    try:
        # Inside `ray job submit` the job's runtime_env (working_dir, py_modules) applies here too.
        ray.init(address=address, logging_level=logging.WARNING)
    except ConnectionError as error:
        raise ConfigError(
            f"--ray-address {address}: cannot join a Ray cluster there ({error}); "
            f"start one with `ray start --head` or check the address"
        ) from None


def largest_node_cpus(ray, default: int) -> int:
    """CPUs of the biggest live node: at most this many one-CPU tasks share a machine's memory."""
    cpus = [node.get("Resources", {}).get("CPU", 0) for node in ray.nodes() if node.get("Alive")]
    return max(1, int(max(cpus, default=default)))


def cluster_cpus(ray, default: int) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", default)))
