"""Launch a Hydra multirun of train.py in a fresh process: what the study runner does with a
block of jobs, unless it is given another `Launch` (tests train the jobs in their own
process)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from dl2.paths import PACKAGE_ROOT, RESULTS_FILE


def sweep_dir(log_dir: Path, task: str, label: str) -> Path:
    """logs/<task>/sweeps/<date>_<time.us>_<label>: unique even for two sweeps in one second."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    return log_dir / task / "sweeps" / f"{stamp}_{label}"


class Launch(Protocol):
    """Runs `train.py -m <overrides>` with its jobs under `sweep_folder`; returns the exit code
    and calls `progress(n)` as the count of finished jobs grows."""

    def __call__(self, overrides: list[str], sweep_folder: Path,
                 progress: Callable[[int], None] | None = None) -> int: ...


def multirun(overrides: list[str], sweep_folder: Path,
             progress: Callable[[int], None] | None = None, poll_s: float = 5.0) -> int:
    """Run `train.py -m <overrides>` writing jobs under `sweep_folder`; returns its exit code
    (non-zero when any job failed; the other jobs still ran and wrote results.json).
    `progress(n)` is called whenever the number of finished jobs (results.json files) grows."""
    cmd = [sys.executable, str(PACKAGE_ROOT / "train.py"), "-m", *overrides,
           f"hydra.sweep.dir={sweep_folder}"]
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=PACKAGE_ROOT)
    seen = 0
    while True:
        try:
            code = proc.wait(timeout=poll_s)
        except subprocess.TimeoutExpired:
            code = None
        except KeyboardInterrupt:  # Ctrl-C reaches the jobs too; wait for them to stop
            code = proc.wait()
        if progress is not None:
            done = sum(1 for _ in sweep_folder.rglob(RESULTS_FILE))
            if done > seen:
                seen = done
                progress(done)
        if code is not None:
            return code
