"""The lifeline between the study runner and the jobs it starts: the runner holds an exclusive
lock (flock) on a file for as long as it wants its jobs to train, and names the file in the
jobs' environment (`DL2_LIFELINE`). A job that finds the lock free stops as a SIGTERM stops it.

The system frees the lock however the runner ends (kill -9 included), the runner frees it
itself when told to stop (SIGTERM, Ctrl-C), and every process the runner starts inherits the
variable (loky workers, SLURM jobs on this machine), where a parent-death signal reaches only
direct children. A lock that cannot be tested (a file system without flock) is never taken
for a cut line: jobs then train on as they would without a runner.
"""

from __future__ import annotations

import _thread
import fcntl
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ENV = "DL2_LIFELINE"
FILE = ".lifeline"


class Lifeline:
    """The runner's end: `hold()` takes the lock, `cut()` frees it (idempotent)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def hold(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a")  # noqa: SIM115  (held until cut)
        fcntl.flock(self._handle, fcntl.LOCK_EX)

    def cut(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the only descriptor frees the lock
            self._handle = None

    def env(self) -> dict[str, str]:
        """What a job's environment needs to watch this line."""
        return {ENV: str(self.path)}


def is_cut(path: Path) -> bool:
    """Whether nobody holds the lifeline at `path` (False when that cannot be told)."""
    try:
        with open(path) as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # held: the runner is there
    except OSError:
        return not path.parent.exists()  # the runner's folder gone counts as cut
    return True


def watched() -> Path | None:
    """The lifeline this process was started under, if any."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def runner_ended() -> bool:
    """Whether this process was started by a runner that has ended or stopped its jobs."""
    path = watched()
    return path is not None and is_cut(path)


class Watch:
    """A job's end of the line: `fired` once it has stopped the job."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.fired = False
        self._done = threading.Event()

    def stop(self) -> None:
        """End the watching (the job is over)."""
        self._done.set()

    def run(self, poll_s: float) -> None:
        """Deliver a SIGTERM to the main thread once the line is cut, as soon as a Python
        handler (Lightning's, during fit) is there to take it; outside fit the job goes on
        to its end (its test, its results.json)."""
        assert self.path is not None
        while not self._done.wait(poll_s):
            if is_cut(self.path) and callable(signal.getsignal(signal.SIGTERM)):
                self.fired = True
                _thread.interrupt_main(signal.SIGTERM)
                return


@contextmanager
def watching(poll_s: float = 1.0) -> Iterator[Watch]:
    """Inside the block, stop this job (a SIGTERM in the main thread) when the runner that
    started it ends or tells it to stop. Without a lifeline in the environment: nothing."""
    watch = Watch(watched())
    if watch.path is None:
        yield watch
        return
    thread = threading.Thread(target=watch.run, args=(poll_s,), name="dl2-lifeline", daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        watch.stop()
