"""Checks of a composed train.py config that need more than a type: ranges, the machine, the
files it names. They run before anything is built, so a bad value costs no training time.

Types of the top-level keys are checked earlier, by the schema (dl2/config/schema.py)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from dl2.errors import ConfigValueError
from dl2.files import read_checkpoint

SEED_RANGE = (0, 2**32 - 1)  # what numpy, and so Lightning's seed_everything, accept


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_seed(seed: Any) -> None:
    lo, hi = SEED_RANGE
    if seed is not None and not (_is_int(seed) and lo <= seed <= hi):
        raise ConfigValueError("seed", seed, f"must be an integer from {lo} to {hi} or null")


def check_trainer(trainer: DictConfig) -> None:
    """Epoch and step budgets, and a device count the machine has."""
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if steps is not None and not (_is_int(steps) and (steps == -1 or steps >= 1)):
        raise ConfigValueError("trainer.max_steps", steps, "must be a positive integer or -1 "
                               "(no step limit)")
    if epochs is not None and not (_is_int(epochs) and (epochs >= 1 or epochs == -1)):
        raise ConfigValueError("trainer.max_epochs", epochs, "must be a positive integer, or -1 "
                               "with trainer.max_steps set")
    if epochs == -1 and (steps is None or steps == -1):
        raise ConfigValueError("trainer.max_epochs", epochs, "-1 (no epoch limit) needs "
                               "trainer.max_steps >= 1")
    accelerator, devices = trainer.get("accelerator", "auto"), trainer.get("devices", 1)
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available()
                                      and not torch.backends.mps.is_available())
    cores = os.cpu_count() or 1
    if on_cpu and _is_int(devices) and devices > cores:
        raise ConfigValueError("trainer.devices", devices, f"must be at most {cores} on this "
                               f"machine (one process per device on {cores} CPU cores; "
                               "use a GPU machine for more)")


def check_callbacks(callbacks: DictConfig | None) -> None:
    """Integer patience for early stopping (a string would crash after the first epochs)."""
    for name, node in (callbacks or {}).items():
        if not isinstance(node, DictConfig) or "patience" not in node:
            continue
        patience = node.patience
        if not (_is_int(patience) and patience >= 0):
            raise ConfigValueError(f"callbacks.{name}.patience", patience,
                                   "must be a non-negative integer (validation checks)")


def check_output_dir(path: Path) -> None:
    """The job's output folder exists (or can be made) and takes files."""
    probe = path / f".write-test-{uuid.uuid4().hex}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigValueError("paths.output_dir", str(path), f"must be a writable folder "
                               f"({err.strerror or err})") from None


def monitors(callbacks: DictConfig | None) -> dict[str, str]:
    """{callback name: monitor} of the configured callbacks that monitor a metric."""
    return {name: str(node.monitor) for name, node in (callbacks or {}).items()
            if isinstance(node, DictConfig) and node.get("monitor")}


def preflight(cfg: DictConfig) -> None:
    """Every check above, plus a readable `ckpt_path`, in the order a user would fix them."""
    check_seed(cfg.get("seed"))
    check_trainer(cfg.trainer)
    check_callbacks(cfg.get("callbacks"))
    if cfg.get("ckpt_path"):
        read_checkpoint(cfg.ckpt_path)
    if OmegaConf.select(cfg, "paths.output_dir"):
        check_output_dir(Path(cfg.paths.output_dir))
