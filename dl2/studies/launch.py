"""Launch a Hydra multirun of train.py in a fresh process and return its sweep folder."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sweep_dir(log_dir: Path, task: str, label: str) -> Path:
    """logs/<task>/sweeps/<date>_<time.us>_<label>: unique even for two sweeps in one second."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    return log_dir / task / "sweeps" / f"{stamp}_{label}"


def multirun(overrides: list[str], sweep_folder: Path) -> int:
    """Run `train.py -m <overrides>` writing jobs under `sweep_folder`; returns its exit code
    (non-zero when any job failed; the other jobs still ran and wrote results.json)."""
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", *overrides,
           f"hydra.sweep.dir={sweep_folder}"]
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode
