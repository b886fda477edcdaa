"""The two file locks of a study run, each an exclusive flock that the system frees however
its holder ends (kill -9 included).

**The lifeline** between the study runner and the jobs it starts: the runner holds a lock on a
file for as long as it wants its jobs to train, and names the file in the jobs' environment
(`DL2_LIFELINE`). A job that finds the lock free stops as a SIGTERM stops it. The runner frees
it itself when told to stop (SIGTERM, Ctrl-C), and every process the runner starts inherits the
variable (loky workers, SLURM jobs on this machine), where a parent-death signal reaches only
direct children. A lock that cannot be tested (a file system without flock) is never taken for
a cut line: jobs then train on as they would without a runner.

**The claim**: one runner per study at a time. A runner holds a lock on `<folder>/.runner.lock`
(the study's results folder) for as long as it runs, and the file names who holds it (pid,
host, since when), so that a second runner can say whom it waits for. A claim left by a runner
that ended is taken over. Two different studies never share a claim.
"""

from __future__ import annotations

import _thread
import fcntl
import json
import os
import platform
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

LIFELINE_ENV = "DL2_LIFELINE"
LIFELINE_FILE = ".lifeline"


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
        return {LIFELINE_ENV: str(self.path)}


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
    value = os.environ.get(LIFELINE_ENV)
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


CLAIM_FILE = ".runner.lock"


class ClaimedError(RuntimeError):
    """Another runner holds the study's claim."""


@contextmanager
def claimed(folder: Path, study: str) -> Iterator[None]:
    """Hold the claim on `folder` (a study's results folder) inside the block; raise
    ClaimedError naming the runner that holds it when another one does."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CLAIM_FILE
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read()) or {}
            raise ClaimedError(
                f"{study} ({folder}) is being run by pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')} since {holder.get('since', '?')}: wait for it to "
                "end or stop it (one runner per study at a time)"
            ) from None
        handle.seek(0)
        before = _holder(handle.read())
        if before:
            print(
                f"[{study}] taking over the claim of pid {before.get('pid', '?')} on "
                f"{before.get('host', '?')} (since {before.get('since', '?')}), which ended",
                file=sys.stderr,
            )
        elif before is None:
            print(
                f"[{study}] taking over {path}, which no runner holds and which does not say "
                "who held it (not a claim dl2 wrote)",
                file=sys.stderr,
            )
        handle.seek(0)
        handle.truncate()
        claim = {
            "pid": os.getpid(),
            "host": platform.node(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        handle.write((json.dumps(claim) + "\n").encode())
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()  # ended: nothing to take over
            handle.flush()


def _holder(data: bytes) -> dict | None:
    """Who the claim file says holds it; {} when empty (released), None when it is not a claim
    dl2 wrote (garbage, another program's file)."""
    if not data.strip():
        return {}
    try:
        holder = json.loads(data.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        return None
    return holder if isinstance(holder, dict) else None
