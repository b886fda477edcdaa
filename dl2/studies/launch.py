"""Launch a Hydra multirun of train.py in a fresh process: what the study runner does with a
block of jobs, unless it is given another `Launch` (tests train the jobs in their own
process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from dl2.locks import LIFELINE_FILE, Lifeline
from dl2.paths import PACKAGE_ROOT, RESULTS_FILE

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopped(Exception):
    """The runner was told to stop (SIGTERM, Ctrl-C) and the jobs it started have stopped:
    the runner ends with the signal's exit status (143, 130)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(signal.Signals(signum).name)


def sweep_dir(log_dir: Path, task: str, label: str) -> Path:
    """logs/<task>/sweeps/<date>_<time.us>_<label>: unique even for two sweeps in one second."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    return log_dir / task / "sweeps" / f"{stamp}_{label}"


class Launch(Protocol):
    """Runs `train.py -m <overrides>` with its jobs under `sweep_folder`; returns the exit code
    and calls `progress(n)` as the count of finished jobs grows."""

    def __call__(
        self,
        overrides: list[str],
        sweep_folder: Path,
        progress: Callable[[int], None] | None = None,
    ) -> int: ...


def multirun(
    overrides: list[str],
    sweep_folder: Path,
    progress: Callable[[int], None] | None = None,
    poll_s: float = 5.0,
) -> int:
    """Run `train.py -m <overrides>` writing jobs under `sweep_folder`; returns its exit code
    (non-zero when any job failed; the other jobs still ran and wrote results.json).
    `progress(n)` is called whenever the number of finished jobs (results.json files) grows.

    The jobs train on a lifeline (dl2/locks.py) that this process holds: when it ends, or
    is told to stop (SIGTERM, Ctrl-C: it then waits for them and raises Stopped), each job
    stops as a SIGTERM stops it, at its last checkpoint. A second signal kills them at once.
    The multirun gets a session of its own, so a terminal's Ctrl-C reaches only the runner."""
    cmd = [
        sys.executable,
        str(PACKAGE_ROOT / "train.py"),
        "-m",
        *overrides,
        f"hydra.sweep.dir={sweep_folder}",
    ]
    print("+ " + " ".join(cmd), flush=True)
    line = Lifeline(sweep_folder / LIFELINE_FILE)
    line.hold()
    received: list[int] = []
    proc: subprocess.Popen | None = None

    def stop(signum: int, _frame: object) -> None:
        if received and proc is not None:  # asked twice: no more waiting
            os.killpg(proc.pid, signal.SIGKILL)
        elif not received:
            print(
                f"\n{signal.Signals(signum).name}: stopping the jobs at their next step "
                "(again to kill them now)",
                file=sys.stderr,
                flush=True,
            )
        received.append(signum)
        line.cut()

    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS} if in_main else {}
    try:
        proc = subprocess.Popen(
            cmd, cwd=PACKAGE_ROOT, env={**os.environ, **line.env()}, start_new_session=True
        )
        seen = 0
        while True:
            try:
                code = proc.wait(timeout=poll_s)
            except subprocess.TimeoutExpired:
                code = None
            if progress is not None:
                done = sum(1 for _ in sweep_folder.rglob(RESULTS_FILE))
                if done > seen:
                    seen = done
                    progress(done)
            if code is not None:
                break
    finally:
        line.cut()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        raise Stopped(received[0])
    return code
