"""One runner per study at a time: a runner claims the study's results folder for as long as it
runs. The claim is an exclusive lock (flock) on `<folder>/.runner.lock`, which the system
releases when the runner ends in any way (kill -9 included), and the file names who holds it
(pid, host, since when), so that a second runner can say whom it waits for. A claim left by a
runner that ended is taken over. Two different studies never share a claim."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

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
