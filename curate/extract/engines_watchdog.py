"""A time limit on extraction that always returns control.

SIGALRM cannot interrupt long C-level lxml work and only works in the main thread, so each
worker runs its extractions in one child process (as datatrove's sandbox does) and waits
on a pipe with a deadline; a page that takes longer gets the child killed, whatever it is
doing, and the next page starts a fresh one. The child is started once per worker and
lives as long as it: the cost per page is sending the HTML through a pipe.
"""

from __future__ import annotations

import multiprocessing

from curate.extract.engines import EngineOptions, extract_main_text, new_file

START_SECONDS = 120  # a fresh child imports trafilatura and resiliparse; not counted in the page's limit


class ExtractionTimeout(Exception):
    pass


def serve(conn) -> None:
    conn.send("ready")
    while True:
        try:
            html, options = conn.recv()
        except EOFError:  # the worker is gone
            return
        if html is None:
            new_file()
            continue
        try:
            conn.send(("ok", extract_main_text(html, options)))
        except Exception as error:  # noqa: BLE001 - the worker turns it into a rejection
            conn.send(("error", f"{type(error).__name__}: {error}"))


class Watchdog:
    def __init__(self):
        self.process, self.conn = None, None

    def start(self) -> None:
        # spawn: a clean child, not a fork of a worker that may hold threads (Arrow's pools)
        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=serve, args=(child_end,), daemon=True, name="curate-extract-watchdog")
        self.process.start()
        child_end.close()
        if not self.conn.poll(START_SECONDS) or self.conn.recv() != "ready":
            self.stop()
            raise RuntimeError(f"the extraction process did not start within {START_SECONDS} s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join()
            self.conn.close()
        self.process, self.conn = None, None

    def new_file(self) -> None:
        if self.process is not None:
            try:
                self.conn.send((None, None))
            except OSError:  # the child is gone; the next page starts a fresh one, with an empty memory
                self.stop()

    def extract(self, html: str, options: EngineOptions, seconds: float) -> tuple[str | None, str | None]:
        """As extract_main_text; raises ExtractionTimeout after `seconds`, RuntimeError with the
        message of an exception the engine raised."""
        if self.process is None or not self.process.is_alive():
            self.stop()
            self.start()
        try:
            self.conn.send((html, options))
        except OSError:  # the child died after the check above
            self.stop()
            self.start()
            self.conn.send((html, options))
        if not self.conn.poll(seconds):
            self.stop()
            raise ExtractionTimeout(f"extraction took over {seconds:g} s (process stopped)")
        try:
            status, value = self.conn.recv()
        except EOFError:  # the child died (a crash in C code, out of memory)
            self.process.join(5)
            code = self.process.exitcode
            self.stop()
            raise RuntimeError(f"the extraction process died (exit code {code})") from None
        if status == "error":
            raise RuntimeError(value)
        return value


WATCHDOG = Watchdog()  # one per worker process
