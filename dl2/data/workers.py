"""How DataLoader workers start: with the platform's own start method, in whatever process
the job runs. Hydra's joblib launcher runs each job in a loky process, where the default
start method is loky's, which cannot start DataLoader workers (`launcher=joblib` with
`data.num_workers>0` failed at the first batch)."""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.context import BaseContext


def worker_context(num_workers: int) -> BaseContext | None:
    """The DataLoader's `multiprocessing_context`: the platform's default start method (the
    first of `get_all_start_methods()`: fork on Linux before Python 3.14, spawn on macOS),
    the one a job started from a shell uses; None without workers."""
    return mp.get_context(mp.get_all_start_methods()[0]) if num_workers > 0 else None
