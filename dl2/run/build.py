"""Building a job's objects from its config (`dl2.config.instantiate.build`: a bad value
named by the key the user sets): its datamodule and task, its loggers and callbacks."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from dl2.config.environment import default_wandb_offline
from dl2.config.instantiate import build
from dl2.data.base import DataModule
from dl2.errors import ConfigValueError
from dl2.tasks.base import Task


def build_model(cfg: DictConfig) -> tuple[DataModule, L.LightningModule]:
    """The job's datamodule and its task around the net, the net told what it must know of
    the data (`DataModule.model_kwargs`: a vocabulary size)."""
    datamodule = build(cfg, "data")
    if not isinstance(datamodule, DataModule):
        raise ConfigValueError(
            "data._target_",
            OmegaConf.select(cfg, "data._target_"),
            "must be a dl2.data.base.DataModule (what the net, the task and "
            "the callbacks expect of data)",
        )
    try:
        data_kwargs = datamodule.model_kwargs()
    except ConfigValueError as err:
        raise err.under("data") from None
    net = build(cfg, "model.net", **data_kwargs)
    task = build(cfg, "model.task", net=net)
    if not (isinstance(task, L.LightningModule) and isinstance(task, Task)):
        raise ConfigValueError(
            "model.task._target_",
            OmegaConf.select(cfg, "model.task._target_"),
            "must be a LightningModule with `net` and VALIDATION_METRICS (dl2.tasks.base.Task)",
        )
    return datamodule, task


def build_loggers(cfg: DictConfig) -> list[Logger]:
    """One logger per `_target_` node under `cfg.logger` (none for `logger=none`)."""
    if cfg.get("logger") is None:
        return []
    default_wandb_offline()  # unless WANDB_MODE or `wandb online` / `wandb offline` say
    return [
        build(cfg, f"logger.{name}")
        for name, node in cfg.logger.items()
        if isinstance(node, DictConfig) and "_target_" in node
    ]


def build_callbacks(cfg: DictConfig) -> list[L.Callback]:
    """One callback per `_target_` node under `cfg.callbacks`."""
    if cfg.get("callbacks") is None:
        return []
    return [
        build(cfg, f"callbacks.{name}")
        for name, node in cfg.callbacks.items()
        if isinstance(node, DictConfig) and "_target_" in node
    ]


# exit codes by status: SIGTERM and Ctrl-C as the shell reports them (128 + signal number)


def close_loggers(loggers: list[Logger], status: str, exit_code: int) -> None:
    """Finish the W&B run of this job with the job's exit code and flush the others."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            import wandb

            if wandb.run is not None:
                wandb.finish(exit_code=exit_code)
        else:
            logger.finalize("success" if status == "completed" else status)
