"""How many jobs of a study run at once on this machine, and with how many torch threads each.

Two jobs that each want every core slow each other several times over, so jobs never share
cores: a study says how many cores one of its jobs uses well (`cores_per_job`: 1 for the tiny
padding and graph nets, whose steps do not speed up with more threads; all cores for the GPT
and CIFAR jobs, whose matmuls and data workers do), and the runner fills the cores with that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dl2.errors import ConfigValueError


def available_cores() -> int:
    """Cores this process may use (its CPU affinity: a SLURM allocation or `taskset`)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CoreShare:
    """`jobs` jobs at once, each with `threads` torch threads."""

    jobs: int
    threads: int

    def overrides(self) -> list[str]:
        """train.py overrides that run a multirun this way (joblib's process pool when more
        than one job runs at once)."""
        out = [f"torch_threads={self.threads}"]
        if self.jobs > 1:
            out = ["launcher=joblib", f"hydra.launcher.n_jobs={self.jobs}", *out]
        return out

    def describe(self) -> str:
        what = "one job at a time" if self.jobs == 1 else f"{self.jobs} jobs at once"
        return f"{what}, {self.threads} torch thread{'s' if self.threads > 1 else ''} each"


def share_cores(cores: int, cores_per_job: int | None, jobs: int | None = None) -> CoreShare:
    """Fill `cores` with jobs of `cores_per_job` cores each (None: one job on every core);
    `jobs` forces how many run at once (each gets an equal share of the cores, at least one)."""
    if cores < 1:
        raise ConfigValueError("cores", cores, "must be at least 1")
    if jobs is not None and jobs < 1:
        raise ConfigValueError("--jobs", jobs, "must be at least 1")
    if cores_per_job is not None and cores_per_job < 1:
        raise ConfigValueError("cores_per_job", cores_per_job, "must be at least 1 (or null: all)")
    if jobs is None:
        jobs = 1 if cores_per_job is None else max(1, cores // cores_per_job)
    return CoreShare(jobs, max(1, cores // jobs))
