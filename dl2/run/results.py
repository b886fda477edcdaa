"""results.json: what a job writes when it ends (its payload: status, exit code, metrics, the
resolved config, hashes, machine, times), and how a job's end maps to a status and exit code.

A job ends in one of these statuses (results.json `status`, and the process's exit code):
`completed` (0), `failed` (1), `diverged` (1: the loss left the finite range), `interrupted`
(143 after SIGTERM, 130 after Ctrl-C: the run can be resumed from its last.ckpt).
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

import dl2
from dl2.callbacks.guards import DivergedError
from dl2.files import atomic_write_text
from dl2.paths import PACKAGE_ROOT
from dl2.run.console import is_worker

EXIT_CODES = {"completed": 0, "failed": 1, "diverged": 1, "interrupted": 143}


def job_overrides() -> list[str]:
    """The command-line overrides of this job (empty outside a Hydra job)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def parameter_counts(module: torch.nn.Module) -> dict[str, int]:
    """The module's parameters: total, trainable and frozen."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "frozen": total - trainable}


def cpu_model() -> str:
    """The processor's model name (/proc/cpuinfo on Linux, else what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """Where the job ran, so reports can name the machine behind their numbers and
    `sweep.py verify` knows when a rerun must match to the bit (same torch, device, CPU)."""
    info = {
        "host": platform.node(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


# what a job's numbers depend on in the checkout: a change here makes the tree "dirty"
CODE_PATHS = ("dl2", "conf", "train.py", "eval.py", "pyproject.toml")


def code_version(root: Path = PACKAGE_ROOT) -> dict[str, Any]:
    """The git commit of the checkout that ran the job, and whether its code or config differed
    from that commit (`dirty`); both None outside a git checkout or without git."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--", *CODE_PATHS) if commit else None
    return {
        "commit": commit.strip() if commit else None,
        "dirty": None if changed is None else bool(changed.strip()),
    }


@functools.cache
def process_code_version() -> dict[str, Any]:
    """`code_version()` when this process started its first job: the code a process runs is
    what it imported, so its jobs (a multirun's) share one answer and
    git runs once."""
    return code_version()


def to_floats(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Metric tensors as plain floats, sorted by name; NaN and infinities become None (JSON
    has no such numbers), see `non_finite`."""
    values = {k: float(v) for k, v in sorted(metrics.items())}
    return {k: v if math.isfinite(v) else None for k, v in values.items()}


def non_finite(metrics: dict[str, Any]) -> list[str]:
    """Names of the metrics whose value is NaN or infinite."""
    return sorted(k for k, v in metrics.items() if not math.isfinite(float(v)))


def _strict(value: Any) -> Any:
    """`value` with every non-finite float written as its name ("inf", "nan"): a config may
    hold one (`max_loss=inf`, a bad `lr=1e400`), strict JSON cannot; metrics are null."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """results.json, atomically and as strict JSON."""
    atomic_write_text(
        path, json.dumps(_strict(payload), indent=2, sort_keys=False, allow_nan=False) + "\n"
    )


def print_metrics(metrics: dict[str, float | str | None], title: str) -> None:
    """A small rich table of the final metrics (a value that is text is shown as it is). A
    worker that shares the launching terminal with others (joblib) logs it instead: the job's
    log file keeps it, the terminal gets the launching process's one line per job."""
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        shown = value if isinstance(value, str) else None if value is None else f"{value:.4f}"
        table.add_row(key, "n/a" if shown is None else shown)
    if is_worker():
        console = Console(file=io.StringIO(), width=100)
        console.print(table)
        logging.getLogger("dl2.results").info("%s\n%s", title, console.file.getvalue())
        return
    console = Console()
    console.print(title, soft_wrap=True, markup=False, highlight=False)  # a path, whole
    console.print(table)


@runtime_checkable
class ResultsContributor(Protocol):
    """A callback that adds entries to results.json (its history, its samples)."""

    def results_entries(self) -> dict[str, Any]: ...


def now() -> str:
    """The time now, ISO 8601 in UTC with microseconds: the order in which jobs finished."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def new_payload(cfg: DictConfig, overrides: list[str]) -> dict[str, Any]:
    """results.json of a job that has just started (the config not yet resolved)."""
    return {
        "status": "running",
        "metrics": {},
        "overrides": overrides,
        "config": OmegaConf.to_container(cfg, resolve=False),
        "seed": cfg.get("seed"),
        "task_name": cfg.get("task_name"),
        "dl2_version": dl2.__version__,
        "code": process_code_version(),
        "machine": machine_info(),
        "command": " ".join(sys.argv),
        "started_at": now(),
    }


def job_status(err: BaseException, trainer: L.Trainer | None) -> tuple[str, int]:
    """The status and exit code of a job that raised `err`."""
    if isinstance(err, SIGTERMException) or (trainer is not None and trainer.received_sigterm):
        return "interrupted", EXIT_CODES["interrupted"]
    # Lightning turns Ctrl-C into sys.exit(1) raised while handling the KeyboardInterrupt
    if isinstance(err, KeyboardInterrupt) or (
        isinstance(err, SystemExit) and isinstance(err.__context__, KeyboardInterrupt)
    ):
        return "interrupted", 130
    if isinstance(err, DivergedError):
        return "diverged", EXIT_CODES["diverged"]
    return "failed", EXIT_CODES["failed"]
