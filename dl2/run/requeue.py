"""Where a job that SLURM requeued resumes: its own last checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

from dl2.job_folder import LAST_CHECKPOINT


def requeued_checkpoint(cfg: DictConfig) -> str | None:
    """The job's own last.ckpt when SLURM has requeued it (after a preemption or a timeout,
    submitit resubmits the job into the same output folder): the requeued job resumes there
    instead of starting again. None otherwise.

    Requeueing is left to SLURM and submitit rather than to Lightning's SLURMEnvironment
    auto-requeue: submitit owns the job's signals (it lets SIGTERM pass, checkpoints and
    resubmits on SIGUSR2 before a time limit), while Lightning's plugin acts on SIGUSR1, which
    submitit's sbatch scripts do not ask for. Either way the job comes back into this folder,
    so resuming from last.ckpt here covers preemption, `scontrol requeue` and timeouts."""
    restarts = os.environ.get("SLURM_RESTART_COUNT", "0")
    last = Path(cfg.paths.output_dir) / LAST_CHECKPOINT
    if restarts.isdigit() and int(restarts) > 0 and last.is_file():
        return str(last)
    return None
