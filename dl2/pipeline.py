"""train(cfg): seed, build everything from the config, fit, test the best checkpoint, and write
results.json; loggers are closed whatever happens."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.model_helpers import is_overridden
from omegaconf import DictConfig, OmegaConf

import dl2
from dl2.errors import ConfigValueError

RESULTS_FILE = "results.json"


def _source_key(node: DictConfig, key: str, prefix: str) -> str:
    """The key the user sets: `model.pad` rather than `model.net.pad` when the latter is
    `${model.pad}`."""
    head = key.split(".", 1)[0]
    raw = node._get_node(head)._value() if isinstance(node, DictConfig) and head in node else None
    match = re.fullmatch(r"\$\{([\w.]+)\}", raw) if isinstance(raw, str) else None
    return match.group(1) if match and "." in match.group(1) else f"{prefix}.{key}"


def build(cfg: DictConfig, key: str, **kwargs: Any) -> Any:
    """Instantiate `cfg[key]` (a dotted path); a ConfigValueError from the constructor is
    re-raised naming the config key to change, before anything is trained."""
    node = OmegaConf.select(cfg, key)
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if not isinstance(cause, ConfigValueError):
            raise
        bad = cause
    except ConfigValueError as err:
        bad = err
    raise ConfigValueError(_source_key(node, bad.key, key), bad.value, bad.allowed) from None


def build_loggers(cfg: DictConfig) -> list[Logger]:
    """One logger per `_target_` node under `cfg.logger` (none for `logger=none`)."""
    if cfg.get("logger") is None:
        return []
    os.environ.setdefault("WANDB_MODE", "offline")
    return [build(cfg, f"logger.{name}") for name, node in cfg.logger.items()
            if isinstance(node, DictConfig) and "_target_" in node]


def build_callbacks(cfg: DictConfig) -> list[L.Callback]:
    """One callback per `_target_` node under `cfg.callbacks`."""
    if cfg.get("callbacks") is None:
        return []
    return [build(cfg, f"callbacks.{name}") for name, node in cfg.callbacks.items()
            if isinstance(node, DictConfig) and "_target_" in node]


def close_loggers(loggers: list[Logger], failed: bool) -> None:
    """Finish the W&B run of this job (exit code 1 if it failed) and flush the others."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            import wandb

            if wandb.run is not None:
                wandb.finish(exit_code=1 if failed else 0)
        else:
            logger.finalize("failed" if failed else "success")


def job_overrides() -> list[str]:
    """The command-line overrides of this job (empty outside a Hydra job)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def machine_info() -> dict[str, Any]:
    """Where the job ran, so reports can name the machine behind their numbers."""
    info = {"host": platform.node(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def to_floats(metrics: dict[str, Any]) -> dict[str, float]:
    """Metric tensors as plain floats, sorted by name."""
    return {k: float(v) for k, v in sorted(metrics.items())}


def write_results(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def print_metrics(metrics: dict[str, float], title: str) -> None:
    """A small rich table of the final metrics."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}")
    Console().print(table)


def quiet_known_warnings() -> None:
    """Silence Lightning's advice that does not apply to in-memory data served in whole batches."""
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", ".*isinstance.treespec, LeafSpec.*")


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one job: fit, validate and test with the best checkpoint, write results.json.

    Returns the metrics (`val/*` and `test*/*` from the best checkpoint, `train/*` from the last
    epoch). The job's W&B run is closed in every case, with exit code 1 on failure.
    """
    start = time.time()
    output_dir = Path(cfg.paths.output_dir)
    quiet_known_warnings()
    loggers: list[Logger] = []
    payload: dict[str, Any] = {
        "status": "running", "metrics": {}, "overrides": job_overrides(),
        "config": OmegaConf.to_container(cfg, resolve=False), "seed": cfg.get("seed"),
        "task_name": cfg.get("task_name"), "dl2_version": dl2.__version__,
        "machine": machine_info(), "command": " ".join(sys.argv),
    }
    failed = True
    try:
        payload["config"] = OmegaConf.to_container(cfg, resolve=True)
        if cfg.get("torch_threads"):
            torch.set_num_threads(int(cfg.torch_threads))
            payload["machine"]["torch_threads"] = torch.get_num_threads()
        if cfg.get("seed") is not None:
            L.seed_everything(cfg.seed, workers=True, verbose=False)
        # loggers first, so that a job failing on a bad value still shows as a failed W&B run
        loggers = build_loggers(cfg)
        for logger in loggers:
            logger.log_hyperparams(payload["config"])
        datamodule = build(cfg, "data")
        # what the net must know of the data (a vocabulary size), when the data says
        data_kwargs = {}
        if hasattr(datamodule, "model_kwargs"):
            try:
                data_kwargs = datamodule.model_kwargs()
            except ConfigValueError as err:
                raise err.under("data") from None
        net = build(cfg, "model.net", **data_kwargs)
        task = build(cfg, "model.task", net=net)
        callbacks = build_callbacks(cfg)
        trainer: L.Trainer = build(cfg, "trainer", callbacks=callbacks,
                                   logger=loggers if loggers else False)
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        train_metrics = {k: v for k, v in trainer.callback_metrics.items()
                         if k.startswith("train/")}
        ckpt = trainer.checkpoint_callback
        best = ckpt.best_model_path if isinstance(ckpt, ModelCheckpoint) else ""
        payload["checkpoint"] = best or None
        payload["best_epoch"] = _epoch_of(best)
        payload["epochs_run"] = trainer.current_epoch
        eval_ckpt = best or None
        metrics = dict(train_metrics)
        if cfg.get("test", True):
            for result in trainer.validate(task, datamodule=datamodule, ckpt_path=eval_ckpt,
                                           verbose=False):
                metrics.update(result)
            if is_overridden("test_dataloader", datamodule):
                for result in trainer.test(task, datamodule=datamodule, ckpt_path=eval_ckpt,
                                           verbose=False):
                    metrics.update(result)
        payload["metrics"] = to_floats(metrics)
        payload["status"] = "completed"
        failed = False
        return payload["metrics"]
    except BaseException as err:
        payload["status"] = "failed"
        payload["error"] = f"{type(err).__name__}: {err}"
        payload["traceback"] = traceback.format_exc()
        raise
    finally:
        payload["wall_time_s"] = round(time.time() - start, 3)
        if rank_zero_only.rank == 0:  # one results.json per job, also under DDP
            write_results(output_dir / RESULTS_FILE, payload)
        close_loggers(loggers, failed)
        if not failed and rank_zero_only.rank == 0:
            print_metrics(payload["metrics"], f"{cfg.get('task_name')}: {output_dir}")


def _epoch_of(checkpoint: str) -> int | None:
    """The epoch stored in a Lightning checkpoint, or None when there is none."""
    if not checkpoint:
        return None
    return int(torch.load(checkpoint, map_location="cpu", weights_only=False)["epoch"])
