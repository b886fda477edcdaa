"""Checks of a composed train.py config that need more than a type: ranges, the machine, the
files it names. They run before anything is built, so a bad value costs no training time.

Types of the top-level keys are checked earlier, by the schema (dl2/config/schema.py)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from dl2.config.identity import describe_experiment, experiment_of
from dl2.config.schema import train_keys
from dl2.errors import ConfigValueError
from dl2.files import read_checkpoint, unwritable_reason

WANDB_FORBIDDEN = "/\\#?%:"  # characters W&B refuses in a project name
SEED_RANGE = (0, 2**32 - 1)  # what numpy, and so Lightning's seed_everything, accept


def is_int(value: Any) -> bool:
    """An int that is not a bool (YAML's true is an int to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_seed(seed: Any) -> None:
    lo, hi = SEED_RANGE
    if seed is not None and not (is_int(seed) and lo <= seed <= hi):
        raise ConfigValueError("seed", seed, f"must be an integer from {lo} to {hi} or null")


def machine() -> str:
    """What this machine offers torch, in words."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = torch.backends.mps.is_available()
    return (
        f"{gpus} CUDA GPU{'s' if gpus != 1 else ''}"
        + (", Apple MPS" if mps else "")
        + f", {os.cpu_count() or 1} CPU cores (torch {torch.__version__})"
    )


def check_accelerator(trainer: DictConfig) -> None:
    """An accelerator and device count this machine has (Lightning would say so after the
    imports and the data, seconds in): GPU settings on a machine without one fail here."""
    accelerator, devices = trainer.get("accelerator", "auto"), trainer.get("devices", 1)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if (
        accelerator in ("gpu", "cuda")
        and gpus == 0
        and not (accelerator == "gpu" and torch.backends.mps.is_available())
    ):
        raise ConfigValueError(
            "trainer.accelerator",
            accelerator,
            f"this machine has "
            f"{machine()}: use trainer=cpu (or trainer=default, which takes "
            "what there is)",
        )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigValueError(
            "trainer.accelerator", accelerator, f"this machine has {machine()}: use trainer=cpu"
        )
    if accelerator in ("gpu", "cuda") and gpus and is_int(devices) and devices > gpus:
        raise ConfigValueError("trainer.devices", devices, f"this machine has {machine()}")


def check_trainer(trainer: DictConfig) -> None:
    """Epoch and step budgets, and a device count the machine has."""
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if steps is not None and not (is_int(steps) and (steps == -1 or steps >= 1)):
        raise ConfigValueError(
            "trainer.max_steps", steps, "must be a positive integer or -1 (no step limit)"
        )
    if epochs is not None and not (is_int(epochs) and (epochs >= 1 or epochs == -1)):
        raise ConfigValueError(
            "trainer.max_epochs",
            epochs,
            "must be a positive integer, or -1 with trainer.max_steps set",
        )
    if epochs == -1 and (steps is None or steps == -1):
        raise ConfigValueError(
            "trainer.max_epochs", epochs, "-1 (no epoch limit) needs trainer.max_steps >= 1"
        )
    interval = trainer.get("val_check_interval")
    if interval is not None and not (
        (is_int(interval) and interval >= 1) or (isinstance(interval, float) and 0 < interval <= 1)
    ):
        raise ConfigValueError(
            "trainer.val_check_interval",
            interval,
            "must be a positive integer (training batches) or a fraction of an epoch in (0, 1]",
        )
    accelerator, devices = trainer.get("accelerator", "auto"), trainer.get("devices", 1)
    on_cpu = accelerator == "cpu" or (
        accelerator == "auto"
        and not torch.cuda.is_available()
        and not torch.backends.mps.is_available()
    )
    cores = os.cpu_count() or 1
    if on_cpu and is_int(devices) and devices > cores:
        raise ConfigValueError(
            "trainer.devices",
            devices,
            f"must be at most {cores} on this "
            f"machine (one process per device on {cores} CPU cores; "
            "use a GPU machine for more)",
        )


def check_callbacks(callbacks: DictConfig | None) -> None:
    """Integer patience for early stopping (a string would crash after the first epochs)."""
    for name, node in (callbacks or {}).items():
        if not isinstance(node, DictConfig) or "patience" not in node:
            continue
        patience = node.patience
        if not (is_int(patience) and patience >= 0):
            raise ConfigValueError(
                f"callbacks.{name}.patience",
                patience,
                "must be a non-negative integer (validation checks)",
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_optimizer(task: DictConfig | None) -> None:
    """The optimizer's numbers (torch refuses a negative lr only once the run has started,
    trains nothing with lr=0, and fails on a string with a traceback)."""
    optimizer = task.get("optimizer") if isinstance(task, DictConfig) else None
    if not isinstance(optimizer, DictConfig):
        return
    key = "model.task.optimizer"
    lr = optimizer.get("lr")
    if lr is not None and not (_is_number(lr) and lr > 0):
        raise ConfigValueError(f"{key}.lr", lr, "must be a positive number, e.g. 1e-3")
    for name, low in (("weight_decay", 0.0), ("momentum", 0.0)):
        value = optimizer.get(name)
        if value is not None and not (_is_number(value) and value >= low):
            raise ConfigValueError(f"{key}.{name}", value, "must be a number >= 0")
    eps = optimizer.get("eps")
    if eps is not None and not (_is_number(eps) and eps > 0):
        raise ConfigValueError(f"{key}.eps", eps, "must be a positive number")
    betas = optimizer.get("betas")
    if betas is not None and not (
        len(betas) == 2 and all(_is_number(b) and 0 <= b < 1 for b in betas)
    ):
        raise ConfigValueError(f"{key}.betas", list(betas), "must be two numbers in [0, 1)")
    decay = task.get("weight_decay")
    if decay is not None and not (_is_number(decay) and decay >= 0):
        raise ConfigValueError("model.task.weight_decay", decay, "must be a number >= 0")


def check_loggers(loggers: DictConfig | None) -> None:
    """W&B's log_model (true, false or "all"; anything else fails only when training ends)
    and watch (gradients, parameters, all or null, every watch_log_freq >= 1 steps)."""
    for name, node in (loggers or {}).items():
        if not isinstance(node, DictConfig):
            continue
        if "log_model" in node:
            value = node.log_model
            if not (isinstance(value, bool) or value == "all"):
                raise ConfigValueError(
                    f"logger.{name}.log_model", value, 'choose one of true, false, "all"'
                )
        if node.get("watch") not in (None, "gradients", "parameters", "all"):
            raise ConfigValueError(
                f"logger.{name}.watch", node.watch, "choose one of gradients, parameters, all, null"
            )
        project = node.get("project")
        if name == "wandb" and project is not None:
            bad = sorted({c for c in str(project) if c in WANDB_FORBIDDEN})
            if bad or not str(project) or len(str(project)) > 128:
                raise ConfigValueError(
                    "logger.wandb.project",
                    project,
                    "W&B takes 1 to 128 characters without " + " ".join(WANDB_FORBIDDEN),
                )
        freq = node.get("watch_log_freq", 1)
        if not (is_int(freq) and freq >= 1):
            raise ConfigValueError(
                f"logger.{name}.watch_log_freq", freq, "must be a positive integer (steps)"
            )


def check_output_dir(path: Path) -> None:
    """The job's output folder exists (or can be made) and takes files."""
    reason = unwritable_reason(path)
    if reason:
        raise ConfigValueError(
            "paths.output_dir", str(path), f"must be a writable folder ({reason})"
        )


def monitors(callbacks: DictConfig | None) -> dict[str, str]:
    """{callback name: monitor} of the configured callbacks that monitor a metric."""
    return {
        name: str(node.monitor)
        for name, node in (callbacks or {}).items()
        if isinstance(node, DictConfig) and node.get("monitor")
    }


def check_checkpoint_fits(checkpoint: dict[str, Any], cfg: DictConfig) -> None:
    """A checkpoint is of this run's experiment: the record dl2 writes into each checkpoint
    (dl2/callbacks/experiment.py), or for older ones the data's settings, must match."""
    ours = experiment_of(cfg)
    theirs = checkpoint.get("dl2_experiment")
    if isinstance(theirs, dict):
        if any(theirs.get(k) != v for k, v in ours.items()):
            raise ConfigValueError(
                "ckpt_path",
                str(cfg.ckpt_path),
                f"is a checkpoint of "
                f"{describe_experiment(theirs)} and this run is "
                f"{describe_experiment(ours)}: give a checkpoint of this "
                "experiment, or the experiment= it was trained with",
            )
        return
    data = checkpoint.get("datamodule_hyper_parameters")
    ours_data = OmegaConf.select(cfg, "data")
    if isinstance(data, dict) and isinstance(ours_data, DictConfig):
        keys = set(ours_data) - {"_target_"}
        if data and keys and set(data) != keys:
            raise ConfigValueError(
                "ckpt_path",
                str(cfg.ckpt_path),
                "is a checkpoint of "
                f"another experiment: its data has {', '.join(sorted(data))}"
                f"; this run ({describe_experiment(ours)}) has "
                f"{', '.join(sorted(keys))}",
            )


def check_keys(cfg: DictConfig) -> None:
    """No top-level key outside the schema: `+foo=1` is added by Hydra without a word, and
    nothing would read it."""
    for key in cfg:
        if key not in train_keys() and key != "hydra":
            raise ConfigValueError(
                str(key),
                cfg.get(key),
                "is not a key of dl2's config (a typo? the top-level keys are "
                + ", ".join(sorted(train_keys()))
                + "; python train.py --cfg job shows them all)",
            )


def check_settings(cfg: DictConfig) -> None:
    """How the job runs: torch's threads, the data loaders' workers."""
    threads = cfg.get("torch_threads")
    if threads is not None and not (is_int(threads) and threads >= 1):
        raise ConfigValueError(
            "torch_threads", threads, "must be a positive integer, or null for torch's default"
        )
    workers = OmegaConf.select(cfg, "data.num_workers")
    if workers is not None and not (is_int(workers) and workers >= 0):
        raise ConfigValueError(
            "data.num_workers", workers, "must be an integer >= 0 (0: load in the main process)"
        )


def check_dropout(model: DictConfig | None, prefix: str = "model") -> None:
    """Every dropout probability of the model in [0, 1): 1 drops every value (a constant
    model that trains nothing), and torch refuses a value outside [0, 1] only in the first
    forward pass."""
    for name, value in (model or {}).items():
        key = f"{prefix}.{name}"
        if isinstance(value, DictConfig):
            check_dropout(value, key)
        elif (
            "dropout" in str(name)
            and value is not None
            and not (_is_number(value) and 0 <= value < 1)
        ):
            raise ConfigValueError(key, value, "must be a probability in [0, 1)")


def check_values(cfg: DictConfig) -> None:
    """The checks of values alone (no file, no folder): what planning a study runs on each
    of its settings, so a bad override fails before any job starts."""
    check_keys(cfg)
    check_seed(cfg.get("seed"))
    check_settings(cfg)
    check_trainer(cfg.trainer)
    check_dropout(cfg.get("model"))
    check_callbacks(cfg.get("callbacks"))
    check_optimizer(OmegaConf.select(cfg, "model.task"))
    check_loggers(cfg.get("logger"))


def preflight(cfg: DictConfig, output_dir: bool = True) -> None:
    """Every check above, plus a readable `ckpt_path` (and, with `output_dir`, a writable
    output folder), in the order a user would fix them."""
    check_values(cfg)
    check_accelerator(cfg.trainer)
    if cfg.get("ckpt_path"):
        check_checkpoint_fits(read_checkpoint(cfg.ckpt_path), cfg)
    if output_dir and OmegaConf.select(cfg, "paths.output_dir"):
        check_output_dir(Path(cfg.paths.output_dir))
