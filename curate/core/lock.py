"""One run at a time per output folder: a lock object `<output>/_lock.json`.

Two runs writing one folder would race on each other's temporaries and completion
records (one dedup run filtering while another rewrites its clusters keeps duplicates
and writes wrong stats), so `curate run` and `curate demo` take this lock first and a
second run fails at once with an error naming the holder.

The lock works through fsspec on local disks and object stores: it is created with an
exclusive create (mode "xb": O_EXCL locally, a conditional put on stores that have one),
and holds owner, host, pid, a random token and a heartbeat time that a daemon thread
rewrites every `heartbeat_seconds`. A lock is stale, and is taken over, when its holder
is known dead (same host, pid gone) or when its heartbeat is older than `stale_seconds`,
whatever pid it names (pids are reused: a live pid may be another program's). Takeover deletes the stale object and creates a new one
exclusively, so of several runs taking over together exactly one wins. A holder whose
heartbeat finds another token in the lock has lost it: it stops the run (interrupts
the main thread) rather than write beside another run.
"""

from __future__ import annotations

import _thread
import getpass
import json
import os
import socket
import sys
import threading
import time
import uuid

from curate.core import storage

LOCK_NAME = "_lock.json"  # the leading "_" keeps it out of list_files, like _state/


class LockHeld(RuntimeError):
    """Another live run holds the output folder."""


class RunLock:
    def __init__(self, output: str, heartbeat_seconds: float = 15.0, stale_seconds: float = 120.0):
        if stale_seconds <= heartbeat_seconds:
            raise ValueError("stale_seconds must be longer than heartbeat_seconds")
        self.url = storage.join(output, LOCK_NAME)
        self.heartbeat_seconds, self.stale_seconds = heartbeat_seconds, stale_seconds
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self) -> dict:
        return {
            "owner": getpass.getuser(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "token": self.token,
            "command": " ".join(sys.argv),
            "heartbeat": time.time(),
        }

    def acquire(self) -> None:
        fs, path = storage.filesystem(self.url)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        for _ in range(3):  # a lost race for a stale lock: look again
            if self._create(fs, path):
                break
            holder = self._read(fs, path)
            if holder is None:
                continue  # removed (or being written) under us
            why = self.stale_because(holder)
            if why is None:
                age = time.time() - float(holder.get("heartbeat", 0))
                raise LockHeld(
                    f"{self.url}: another run is writing this output folder: {holder.get('owner')}@"
                    f"{holder.get('host')} pid {holder.get('pid')} ({holder.get('command')!r}), heartbeat "
                    f"{age:.0f} s ago. Wait for it, use another --output, or, if you are sure that run is "
                    f"gone, delete {self.url}"
                )
            print(f"curate: taking over a stale lock on {self.url} ({why})", file=sys.stderr)
            self._take_over(fs, path, holder["token"])
        else:
            raise LockHeld(f"{self.url}: could not take the lock (other runs keep taking it); try again")
        for leftover in fs.glob(storage.temporary_pattern(path)):  # heartbeats of killed holders, cut mid-write
            fs.rm(leftover)
        self._thread = threading.Thread(target=self._beat, name="curate-lock-heartbeat", daemon=True)
        self._thread.start()

    def stale_because(self, holder: dict) -> str | None:
        """Why the lock `holder` describes may be taken over, or None while it may be alive."""
        age = time.time() - float(holder.get("heartbeat", 0))
        if holder.get("host") == socket.gethostname() and not pid_alive(int(holder.get("pid", 0))):
            return f"pid {holder.get('pid')} on this host is gone"
        # a live pid proves nothing once the heartbeat stopped: the holder died and the pid went to another
        # process, or the holder hangs (a resumed holder finds another token and stops itself)
        return f"no heartbeat for {age:.0f} s" if age > self.stale_seconds else None

    def _create(self, fs, path: str) -> bool:
        try:
            with fs.open(path, "xb") as f:
                f.write(json.dumps(self.record()).encode())
        except FileExistsError:
            return False
        return True

    def _read(self, fs, path: str) -> dict | None:
        try:
            with fs.open(path, "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None
        except ValueError:  # a writer killed mid-create: as old as its modification time
            modified = fs.modified(path).timestamp() if hasattr(fs, "modified") else 0.0
            return {"token": None, "host": None, "heartbeat": modified, "command": "unreadable lock"}

    def _take_over(self, fs, path: str, token: str | None) -> None:
        """Remove the stale lock `token` names, one taker at a time. Without the guard (a second file created
        exclusively) two takers that both judged it stale could each delete the lock the other just created,
        and both run. A guard left by a taker killed inside it is removed once older than stale_seconds."""
        guard = path + ".takeover"
        try:
            with fs.open(guard, "xb") as f:
                f.write(self.token.encode())
        except FileExistsError:
            try:
                if time.time() - fs.modified(guard).timestamp() > self.stale_seconds:
                    fs.rm(guard)
            except FileNotFoundError:
                pass
            return  # another taker is at work: look again
        try:
            self._remove_if(fs, path, token)
        finally:
            fs.rm(guard)

    def _remove_if(self, fs, path: str, token: str | None) -> None:
        """Delete the lock only if it still is the stale one we judged (another taker may have replaced it)."""
        current = self._read(fs, path)
        if current is not None and current.get("token") == token:
            try:
                fs.rm(path)
            except FileNotFoundError:
                pass

    def _beat(self) -> None:
        fs, path = storage.filesystem(self.url)
        while not self._stop.wait(self.heartbeat_seconds):
            current = self._read(fs, path)
            if current is None or current.get("token") != self.token:
                print(
                    f"curate: lost the lock on {self.url} to {current and current.get('command')!r}; stopping",
                    file=sys.stderr,
                )
                _thread.interrupt_main()
                return
            storage.write_json(self.url, self.record())

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        fs, path = storage.filesystem(self.url)
        self._remove_if(fs, path, self.token)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
