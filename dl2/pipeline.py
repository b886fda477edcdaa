"""train(cfg): check, seed, build everything from the config, fit, test the best checkpoint, and
write results.json; loggers are closed whatever happens.

A job ends in one of these statuses (results.json `status`, and the process's exit code):
`completed` (0), `failed` (1), `diverged` (1: the loss left the finite range), `interrupted`
(143 after SIGTERM, 130 after Ctrl-C: the run can be resumed from its last.ckpt).
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import re
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.model_helpers import is_overridden
from omegaconf import DictConfig, OmegaConf

import dl2
from dl2.attempts import earlier_attempts
from dl2.callbacks.guards import DivergedError, DivergenceGuard, MonitorCheck
from dl2.callbacks.history import MetricHistory
from dl2.callbacks.progress_log import ProgressLog
from dl2.callbacks.resume import ResumeState
from dl2.console import set_verbosity
from dl2.errors import ConfigValueError
from dl2.identity import job_hashes
from dl2.io import RESULTS_FILE, atomic_write_text
from dl2.preflight import monitors, preflight

log = logging.getLogger(__name__)


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


# exit codes by status: SIGTERM and Ctrl-C as the shell reports them (128 + signal number)
EXIT_CODES = {"completed": 0, "failed": 1, "diverged": 1, "interrupted": 143}


def close_loggers(loggers: list[Logger], status: str, exit_code: int) -> None:
    """Finish the W&B run of this job with the job's exit code and flush the others."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            import wandb

            if wandb.run is not None:
                wandb.finish(exit_code=exit_code)
        else:
            logger.finalize("success" if status == "completed" else status)


def job_overrides() -> list[str]:
    """The command-line overrides of this job (empty outside a Hydra job)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def parameter_counts(module: torch.nn.Module) -> dict[str, int]:
    """The module's parameters: total, trainable and frozen."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "frozen": total - trainable}


def machine_info() -> dict[str, Any]:
    """Where the job ran, so reports can name the machine behind their numbers."""
    info = {"host": platform.node(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def to_floats(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Metric tensors as plain floats, sorted by name; NaN and infinities become None (JSON
    has no such numbers), see `non_finite`."""
    values = {k: float(v) for k, v in sorted(metrics.items())}
    return {k: v if math.isfinite(v) else None for k, v in values.items()}


def non_finite(metrics: dict[str, Any]) -> list[str]:
    """Names of the metrics whose value is NaN or infinite."""
    return sorted(k for k, v in metrics.items() if not math.isfinite(float(v)))


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """results.json, atomically and as strict JSON (a NaN that slipped through raises)."""
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=False, allow_nan=False)
                      + "\n")


def print_metrics(metrics: dict[str, float], title: str) -> None:
    """A small rich table of the final metrics."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(title)
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, "n/a" if value is None else f"{value:.4f}")
    console.print(table)


@runtime_checkable
class ResultsContributor(Protocol):
    """A callback that adds entries to results.json (its history, its samples)."""

    def results_entries(self) -> dict[str, Any]: ...


def now() -> str:
    """The time now, ISO 8601 in UTC with microseconds: the order in which jobs finished."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


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
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    if restarts.isdigit() and int(restarts) > 0 and last.is_file():
        return str(last)
    return None


def new_payload(cfg: DictConfig, overrides: list[str]) -> dict[str, Any]:
    """results.json of a job that has just started (the config not yet resolved)."""
    return {
        "status": "running", "metrics": {}, "overrides": overrides,
        "config": OmegaConf.to_container(cfg, resolve=False), "seed": cfg.get("seed"),
        "task_name": cfg.get("task_name"), "dl2_version": dl2.__version__,
        "machine": machine_info(), "command": " ".join(sys.argv), "started_at": now(),
    }


def job_status(err: BaseException, trainer: L.Trainer | None) -> tuple[str, int]:
    """The status and exit code of a job that raised `err`."""
    if isinstance(err, SIGTERMException) or (trainer is not None and trainer.received_sigterm):
        return "interrupted", EXIT_CODES["interrupted"]
    # Lightning turns Ctrl-C into sys.exit(1) raised while handling the KeyboardInterrupt
    if isinstance(err, KeyboardInterrupt) or (isinstance(err, SystemExit)
                                              and isinstance(err.__context__, KeyboardInterrupt)):
        return "interrupted", 130
    if isinstance(err, DivergedError):
        return "diverged", EXIT_CODES["diverged"]
    return "failed", EXIT_CODES["failed"]


def sweeper_value(cfg: DictConfig, metrics: dict[str, float | None]) -> float | None:
    """The metric named by `optimized_metric`: what train.py and eval.py return, for Hydra's
    sweepers (Optuna) to optimise; None when no metric is named."""
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None


def evaluate(cfg: DictConfig) -> dict[str, float | None]:
    """Validate and test the checkpoint `cfg.ckpt_path` without training; results.json as a
    training job writes it, with `"mode": "eval"` (eval.py)."""
    if not cfg.get("ckpt_path"):
        raise ConfigValueError("ckpt_path", cfg.get("ckpt_path"), "must name the checkpoint "
                               "to evaluate")
    if cfg.get("parallel_seeds") is not None:
        raise ConfigValueError("parallel_seeds", cfg.parallel_seeds, "must be null to evaluate "
                               "a checkpoint (one checkpoint, one job)")
    return train(cfg, fit=False)


def train(cfg: DictConfig, fit: bool = True) -> dict[str, float | None]:
    """Run one job: fit, validate and test with the best checkpoint, write results.json.

    Returns the metrics (`val/*` and `test*/*` from the best checkpoint, `train/*` from the last
    epoch). The job's W&B run is closed in every case with the job's exit code. A SIGTERM or
    Ctrl-C ends the process with 143 or 130 (status `interrupted`), whatever Lightning does.
    With `fit=False` (evaluate) the checkpoint `ckpt_path` is validated and tested as it is.
    """
    set_verbosity(bool(cfg.get("verbose")))
    if fit and cfg.get("parallel_seeds") is not None:
        from dl2.parallel_seeds import train_seeds

        return train_seeds(cfg)
    start = time.time()
    output_dir = Path(cfg.paths.output_dir)
    loggers: list[Logger] = []
    trainer: L.Trainer | None = None
    payload = new_payload(cfg, job_overrides())
    status, exit_code = "failed", EXIT_CODES["failed"]
    try:
        payload["config"] = OmegaConf.to_container(cfg, resolve=True)
        preflight(cfg)
        payload.update(job_hashes(cfg))
        ckpt_path = cfg.get("ckpt_path") or requeued_checkpoint(cfg)
        if fit:
            payload["resumed_from"] = ckpt_path
            if earlier := earlier_attempts(ckpt_path):
                payload["attempts"] = earlier
        else:
            payload["mode"] = "eval"
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
        payload["params"] = parameter_counts(task)
        if rank_zero_only.rank == 0:
            log.info("%s: %s with %s parameters, run folder %s", cfg.get("task_name"),
                     type(net).__name__, f"{payload['params']['total']:,}", output_dir)
        callbacks = [*build_callbacks(cfg), ResumeState(), MetricHistory(), ProgressLog(),
                     DivergenceGuard(cfg.get("max_loss")), MonitorCheck(monitors(cfg.callbacks))]
        if loggers:  # the learning rate beside the losses (Lightning refuses it without a logger)
            callbacks.append(LearningRateMonitor())
            for logger in loggers:
                logger.log_metrics({f"params/{k}": v for k, v in payload["params"].items()},
                                   step=0)
        trainer = build(cfg, "trainer", callbacks=callbacks, logger=loggers if loggers else False)
        if fit:
            trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            metrics = {k: v for k, v in trainer.callback_metrics.items()
                       if k.startswith("train/")}
            ckpt = trainer.checkpoint_callback
            eval_ckpt = getattr(ckpt, "best_model_path", "") or None
            payload["checkpoint"] = eval_ckpt
            payload["best_epoch"] = getattr(ckpt, "best_epoch", None)
            payload["best_step"] = getattr(ckpt, "best_step", None)
            payload["epochs_run"] = trainer.current_epoch
            for callback in trainer.callbacks:  # what callbacks add to results.json
                if isinstance(callback, ResultsContributor):
                    payload.update(callback.results_entries())
        else:
            metrics, eval_ckpt = {}, ckpt_path
            payload["checkpoint"] = eval_ckpt
        if cfg.get("test", True) or not fit:
            for result in trainer.validate(task, datamodule=datamodule, ckpt_path=eval_ckpt,
                                           verbose=False, weights_only=True):
                metrics.update(result)
            if is_overridden("test_dataloader", datamodule):
                for result in trainer.test(task, datamodule=datamodule, ckpt_path=eval_ckpt,
                                           verbose=False, weights_only=True):
                    metrics.update(result)
        payload["metrics"] = to_floats(metrics)
        if non_finite(metrics):
            payload["non_finite"] = non_finite(metrics)
            raise DivergedError("non-finite metrics after training: "
                                + ", ".join(payload["non_finite"]))
        status, exit_code = "completed", EXIT_CODES["completed"]
        return payload["metrics"]
    except BaseException as err:
        status, exit_code = job_status(err, trainer)
        payload["error"] = f"{type(err).__name__}: {err}"
        payload["traceback"] = traceback.format_exc()
        if status == "interrupted":
            raise SystemExit(exit_code) from err
        raise
    finally:
        payload["status"] = status
        payload["exit_code"] = exit_code
        payload["wall_time_s"] = round(time.time() - start, 3)
        payload["finished_at"] = now()
        if rank_zero_only.rank == 0:  # one results.json per job, also under DDP
            try:
                write_results(output_dir / RESULTS_FILE, payload)
            except OSError as err:
                print(f"dl2: could not write {output_dir / RESULTS_FILE}: {err}", file=sys.stderr)
        close_loggers(loggers, status, exit_code)
        if status == "completed" and rank_zero_only.rank == 0:
            done = "completed" if fit else f"evaluated {payload['checkpoint']}"
            print_metrics(payload["metrics"], f"{cfg.get('task_name')} {done}: {output_dir}")
