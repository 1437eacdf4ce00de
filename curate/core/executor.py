"""Executors run shard tasks. Stages never see which one: the runner hands an
executor a picklable function and picklable tasks and gets results back as they
finish. `local` (a process pool) is the default; `ray` spreads the same tasks
over a Ray cluster (curate.core.ray_executor); curate.api.make_executor picks one by name.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from common.processes import arm_parent_death_signal
from curate.core.params import ConfigError


@dataclass
class TaskFailure:
    """A task that raised; carried back instead of killing the job."""

    error: str
    traceback: str
    errno: int | None = None  # of an OSError: a full disk (ENOSPC) is the machine's problem, not the shard's
    filename: str | None = None


def call_safely(fn: Callable, task: Any) -> Any:
    """Run fn(task), turning an exception into a TaskFailure the driver can report."""
    try:
        return fn(task)
    except Exception as error:  # noqa: BLE001 - one bad shard must not kill the job
        return TaskFailure(
            f"{type(error).__name__}: {error}",
            traceback.format_exc(),
            getattr(error, "errno", None),
            getattr(error, "filename", None),
        )


class Executor:
    """Runs fn over tasks, yielding (index, result or TaskFailure) as tasks finish."""

    workers: int = 1  # tasks that run at once in all
    node_workers: int = 1  # tasks that run at once on one machine: what per-machine memory and threads divide by

    def map_unordered(
        self, fn: Callable, tasks: Sequence[Any], cpus: float = 1.0, memory_gb: float | None = None
    ) -> Iterator[tuple[int, Any]]:
        """cpus and memory_gb are what one task needs; executors that schedule by resources use them."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalExecutor(Executor):
    """A pool of worker processes on this machine; with one worker, runs in-process."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.workers = self.node_workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers start from a clean process, not a fork of a driver that may hold
            # threads (tokenizers, torch) or open files.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["curate.core.runner", "curate.core.forkserver_guard"])
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
            )
        return self._pool

    def map_unordered(self, fn, tasks, cpus=1.0, memory_gb=None):
        if self.workers == 1 or len(tasks) <= 1:
            for index, task in enumerate(tasks):
                yield index, call_safely(fn, task)
            return
        pool = self._get_pool()
        futures = {pool.submit(call_safely, fn, task): index for index, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool as error:  # a worker died (killed, out of memory)
                    self._pool = None
                    result = TaskFailure(f"worker process died: {error}", "")
                yield futures[future], result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def die_with_parent(driver: int) -> None:
    """Pool worker initializer: a worker is killed when its parent (the forkserver, which dies with
    the driver: curate.core.forkserver_guard) dies, so a killed driver leaves no orphans computing on."""
    arm_parent_death_signal()
    # The forkserver may have died between our fork and the line above (no signal then comes); a driver
    # killed but not yet reaped still answers kill(pid, 0), so the parent check is the one that holds.
    forkserver = sys.modules.get("curate.core.forkserver_guard")
    if (forkserver is not None and os.getppid() != forkserver.PID) or not _alive(driver):
        os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
