"""What a job prints. By default only what a user needs: where the run is, one line per
validation when there is no terminal (dl2/callbacks/progress_log.py), the final metrics and
errors. `verbose=true` brings back the libraries' own messages (W&B's banner and summary,
Lightning's device lines, checkpoint restores, known warnings)."""

from __future__ import annotations

import logging
import os
import warnings

from dl2.callbacks.progress_log import PROGRESS_LOGGER
from dl2.compat import LIGHTNING_INFO_LOGGERS
from dl2.config.resolvers import WORKER_ENV, interactive


def quiet_known_warnings() -> None:
    """Silence advice that does not apply to dl2: Lightning's on in-memory data served in whole
    batches and on loaders that dl2 resumes itself, torch-geometric's on its jit module."""
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", ".*isinstance.treespec, LeafSpec.*")
    # ResumeState (dl2/callbacks/resume.py) resumes dl2's shuffled loaders mid-epoch exactly
    warnings.filterwarnings(
        "ignore", ".*ended before the epoch ended and your dataloader is not resumable.*"
    )
    # torch-geometric 2.8 scripts some helpers with torch.jit when it is imported
    warnings.filterwarnings("ignore", ".*torch.jit.script. is deprecated.*", FutureWarning)


def set_verbosity(verbose: bool) -> None:
    """Quiet (the default) or verbose console output for this process and the W&B runs it
    starts; an explicit WANDB_SILENT in the environment wins."""
    level = logging.INFO if verbose else logging.WARNING
    for name in LIGHTNING_INFO_LOGGERS:
        logging.getLogger(name).setLevel(level)
    if verbose:
        return
    quiet_known_warnings()
    os.environ.setdefault("WANDB_SILENT", "true")
    # on a machine with SLURM installed (a login node), about jobs not started with srun;
    # dl2's SLURM jobs go through launcher=slurm
    warnings.filterwarnings("ignore", ".*srun. command is available on your system.*")


def is_worker() -> bool:
    """Whether this job is one of several launched side by side on this machine (joblib's
    workers), which share the launching terminal."""
    return bool(os.environ.get(WORKER_ENV))


class HideOnTerminal(logging.Filter):
    """For the console handler: drops dl2's progress lines when the job draws on a terminal,
    where the progress bar shows the same; in a worker that shares the launching terminal,
    every other dl2 line below a warning (its final table, its run folder: the launching
    process prints one line per job start and end, dl2/run/multirun_progress.py). The job's
    log file keeps them either way."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            is_worker()
            and record.name.startswith("dl2.")
            and record.name != PROGRESS_LOGGER
            and record.levelno < logging.WARNING
        ):
            return False
        return not (record.name == PROGRESS_LOGGER and interactive())
