"""Where a stage (or a fused group of stages) reads and writes, and how its tasks run resumably: `run_phase`
maps a phase's tasks over the executor, skipping the shards whose completion record exists, and each task
writes its record last (write_done), so a run killed at any moment and started again redoes exactly the
unfinished shards. A record holds the shard's stats and its input files' fingerprints, so changed inputs are
refused (or redone with allow_changed_inputs) instead of silently mixed in.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import sys
from dataclasses import dataclass, field

from tqdm import tqdm

from curate.core import storage
from curate.core.executor import Executor, TaskFailure
from curate.core.params import ConfigError
from curate.core.shard import Shard, ShardStats


class StageFailed(RuntimeError):
    """Some shards of a stage failed; the others are done and a rerun retries only these."""


@dataclass
class StageContext:
    """Where a stage (or a fused group of stages) reads and writes. Picklable: it travels with every task."""

    stage_name: str
    inputs: list[str]
    output_dir: str
    rejected_dir: str
    state_dir: str  # completion records and scratch, outside the data folders
    node_workers: int = 1  # tasks that may run at once on one machine (for per-machine memory and threads)
    executor: Executor | None = field(default=None, repr=False, compare=False)
    progress: bool = True
    allow_changed_inputs: bool = False
    state_root: str = ""  # inputs under it are the runner's own scratch, not user data: not fingerprinted
    report_dir: str = ""  # OUT/reports/<stage>/: the stage's summary files, outside the data folders
    kept_format: str = "parquet"  # the pipeline's output_format for its last stage; Parquet where a later stage reads
    rejected_format: str = "parquet"  # the pipeline's output_format (no stage reads rejected rows)

    def __getstate__(self):
        return {**self.__dict__, "executor": None}

    def output_url(self, shard_name: str, suffix: str | None = None) -> str:
        return storage.join(self.output_dir, shard_name + (suffix or "." + self.kept_format))

    def rejected_url(self, shard_name: str, stage: str | None = None) -> str:
        folder = self.rejected_dir if stage is None else storage.join(posix_parent(self.rejected_dir), stage)
        return storage.join(folder, shard_name + "." + self.rejected_format)

    def work_url(self, *parts: str) -> str:
        """Scratch space for multi-phase stages (e.g. dedup signatures)."""
        return storage.join(self.state_dir, "work", *parts)

    def report_url(self, *parts: str) -> str:
        return storage.join(self.report_dir, *parts)

    def done_url(self, phase: str, shard_name: str) -> str:
        return storage.join(self.state_dir, phase, shard_name + ".json")

    def for_stage(self, name: str) -> "StageContext":
        """This context as one stage of its group sees it: its own rejected and report folders."""
        return dataclasses.replace(
            self,
            stage_name=name,
            rejected_dir=storage.join(posix_parent(self.rejected_dir), name),
            report_dir=storage.join(posix_parent(self.report_dir), name),
        )

    def note(self, text: str) -> None:
        """A line for the user (plans, figures); stages call this instead of printing."""
        print(text, flush=True)

    def warn(self, text: str) -> None:
        """A warning for the user (inputs passed over), on stderr; stages call this instead of printing."""
        print(text, file=sys.stderr, flush=True)

    def run_phase(
        self,
        config_hash: str,
        phase: str,
        shards: list[Shard],
        fn,
        tasks: list,
        cpus: float,
        memory_gb: float | None,
        redo: bool = False,
    ) -> tuple[dict[str, ShardStats], int]:
        """fn(task) for every shard without a completion record (every shard, with redo: an earlier
        phase changed what this one reads); each returns stats by stage name. Returns the sums over
        every shard of the phase, done now or before, and how many tasks ran now."""
        names = [s.name for s in shards]
        if len(set(names)) != len(names):
            raise ValueError(f"stage {self.stage_name}, phase {phase}: shard names are not unique")
        totals: dict[str, ShardStats] = {}
        todo, changed = [], []
        for shard, task in zip(shards, tasks):
            record = None if redo else self._read_done(config_hash, phase, shard)
            if record is not None and record.get("inputs") != self.fingerprint(shard):
                changed.append(shard.name)
                record = None
            if record is None:
                todo.append(task)
            else:
                add_stats(totals, {name: ShardStats.from_dict(d) for name, d in record["stats"].items()})
        if changed and not self.allow_changed_inputs:
            raise ConfigError(
                f"stage '{self.stage_name}' ({phase}): the input files of {len(changed)} finished shard(s) "
                f"changed since they were done (other files, or their size or modification time), e.g. {changed[:3]}; "
                f"rerun with --allow-changed-inputs to redo exactly those, or use another --output"
            )
        failures = []
        label = self.stage_name + ("" if phase == "main" else f" [{phase}]")
        with tqdm(
            total=len(shards),
            initial=len(shards) - len(todo),
            desc=label,
            unit="shard",
            disable=not self.progress,
            file=sys.stderr,
        ) as bar:
            for index, result in self.executor.map_unordered(fn, todo, cpus=cpus, memory_gb=memory_gb):
                if isinstance(result, TaskFailure):
                    failures.append((todo[index], result))
                else:
                    add_stats(totals, result)
                    bar.set_postfix(docs=sum(s.docs_in for s in result.values()), refresh=False)
                bar.update(1)
        full = [failure for _, failure in failures if failure.errno == errno.ENOSPC]
        if full:  # every other shard would fail the same way: one line, not a traceback a shard
            raise OSError(
                errno.ENOSPC,
                f"No space left on device (stage '{self.stage_name}', {len(full)} of {len(shards)} "
                f"shards; the finished ones are kept, a rerun with room redoes the rest)",
                full[0].filename or self.output_dir,
            )
        if failures:
            lines = "\n".join(f"  {task_shard(task).name}: {failure.error}" for task, failure in failures)
            raise StageFailed(
                f"stage '{self.stage_name}' ({phase}): {len(failures)} of {len(shards)} shards failed; "
                f"the rest are done and a rerun retries only these:\n{lines}\n\n"
                f"first traceback:\n{failures[0][1].traceback}"
            )
        return totals, len(todo)

    def fingerprint(self, shard: Shard) -> list:
        """[url, size, mtime or etag] of each input file the user gave (scratch files are not checked).
        An input is a URL, or part of a file with its `url` (the read stage's Piece: a byte range, row groups)."""
        urls = dict.fromkeys(getattr(item, "url", item) for item in shard.inputs)  # a file once, however many pieces
        return [file_fingerprint(url) for url in urls if not (self.state_root and url.startswith(self.state_root))]

    def _read_done(self, config_hash: str, phase: str, shard: Shard) -> dict | None:
        url = self.done_url(phase, shard.name)
        if not storage.exists(url):
            return None
        record = storage.read_json(url)
        if record.get("config_hash") != config_hash:
            raise ConfigError(
                f"{self.output_dir}: holds results of stage '{self.stage_name}' made with different parameters "
                f"({url}); rerun with --redo STAGE (the stage whose parameters changed: it and every stage after "
                f"it are redone), or use another --output"
            )
        return record

    def write_done(self, config_hash: str, phase: str, shard: Shard, stats: dict[str, ShardStats]) -> None:
        storage.write_json(
            self.done_url(phase, shard.name),
            {
                "shard": shard.name,
                "phase": phase,
                "config_hash": config_hash,
                "inputs": self.fingerprint(shard),
                "stats": {name: s.to_dict() for name, s in stats.items()},
            },
        )


def file_fingerprint(url: str) -> list:
    fs, path = storage.filesystem(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return [url, None, None]
    # an object store's ETag first: it changes with the content, where a copy may keep LastModified's second
    version = next(
        (info[k] for k in ("ETag", "etag", "mtime", "LastModified", "last_modified", "created") if info.get(k)), None
    )
    return [url, info.get("size"), str(version) if version is not None else None]


def posix_parent(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[0] if "://" in url else os.path.dirname(url.rstrip("/"))


def task_shard(task) -> Shard:
    return next(item for item in task if isinstance(item, Shard))


def add_stats(totals: dict[str, ShardStats], stats: dict[str, ShardStats]) -> None:
    for name, s in stats.items():
        totals.setdefault(name, ShardStats()).add(s)


def is_stage_report(url: str) -> bool:
    """A stage's own report beside its documents (OUT/dedup/report/clusters.json)."""
    return url.endswith(".json") and url.rstrip("/").rsplit("/", 2)[-2:-1] == ["report"]
