"""train(cfg): check, seed, build everything from the config, fit, test the best checkpoint, and
write results.json; loggers are closed whatever happens. evaluate(cfg): the same without fit.
Statuses and exit codes: dl2/run/results.py.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.model_helpers import is_overridden
from omegaconf import DictConfig, OmegaConf

from dl2.callbacks.checkpoint import BestCheckpoint
from dl2.callbacks.experiment import ExperimentRecord
from dl2.callbacks.guards import DivergedError, DivergenceGuard, MonitorCheck
from dl2.callbacks.history import MetricHistory
from dl2.callbacks.progress_log import ProgressLog
from dl2.callbacks.resume import ResumeState
from dl2.config.identity import experiment_of, job_hashes
from dl2.config.preflight import monitors, preflight
from dl2.config.resume_check import check_resume
from dl2.errors import ConfigValueError
from dl2.job_folder import results_or_empty
from dl2.locks import runner_ended, watching
from dl2.paths import RESULTS_FILE
from dl2.run.attempts import earlier_attempts
from dl2.run.build import build, build_callbacks, build_loggers, build_model, close_loggers
from dl2.run.console import set_verbosity
from dl2.run.extras import apply_extras
from dl2.run.loggers import WandbLogger
from dl2.run.requeue import requeued_checkpoint
from dl2.run.results import (
    EXIT_CODES,
    ResultsContributor,
    job_overrides,
    job_status,
    new_payload,
    non_finite,
    now,
    parameter_counts,
    print_metrics,
    to_floats,
    write_results,
)

log = logging.getLogger(__name__)


def finished_results(output_dir: Path) -> dict | None:
    """The results.json of a finished (completed) job in `output_dir`, or None: such a folder
    is never trained into again (a multirun run twice would overwrite its results)."""
    results = results_or_empty(output_dir)
    return results if results.get("status") == "completed" else None


def add_results_entries(trainer: L.Trainer, payload: dict) -> None:
    """What the callbacks add to results.json (the metric history, text samples)."""
    for callback in trainer.callbacks:
        if isinstance(callback, ResultsContributor):
            payload.update(callback.results_entries())


def sweeper_value(cfg: DictConfig, metrics: dict[str, float | None]) -> float | None:
    """The metric named by `optimized_metric`: what train.py and eval.py return, for Hydra's
    sweepers (Optuna) to optimise; None when no metric is named."""
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None


def evaluate(cfg: DictConfig) -> dict[str, float | None]:
    """Validate and test the checkpoint `cfg.ckpt_path` without training; results.json as a
    training job writes it, with `"mode": "eval"` (eval.py)."""
    if not cfg.get("ckpt_path"):
        raise ConfigValueError(
            "ckpt_path", cfg.get("ckpt_path"), "must name the checkpoint to evaluate"
        )
    return train(cfg, fit=False)


def train(cfg: DictConfig, fit: bool = True) -> dict[str, float | None]:
    """Run one job: fit, validate and test with the best checkpoint, write results.json.

    Returns the metrics (`val/*` and `test*/*` from the best checkpoint, `train/*` from the last
    epoch). The job's W&B run is closed in every case with the job's exit code. A SIGTERM or
    Ctrl-C ends the process with 143 or 130 (status `interrupted`), whatever Lightning does.
    With `fit=False` (evaluate) the checkpoint `ckpt_path` is validated and tested as it is.
    """
    set_verbosity(bool(cfg.get("verbose")))
    apply_extras(cfg)
    if runner_ended():  # a job the study runner queued before it stopped: left to its rerun
        log.warning(
            "%s: not started, the study runner that queued it has ended", cfg.get("task_name")
        )
        return {}
    with watching() as watch:  # the runner's end stops the job as a SIGTERM does
        try:
            return _train(cfg, fit)
        except SystemExit as stop:
            # stopped for the runner, its record written: the multirun's other jobs (joblib
            # workers beside this one) stop and record too, instead of being torn down
            if watch.fired and stop.code == EXIT_CODES["interrupted"]:
                return {}
            raise


def _train(cfg: DictConfig, fit: bool) -> dict[str, float | None]:
    """train() inside the runner's watch."""
    start = time.time()
    output_dir = Path(cfg.paths.output_dir)
    loggers: list[Logger] = []
    trainer: L.Trainer | None = None
    payload = new_payload(cfg, job_overrides())
    status, exit_code = "failed", EXIT_CODES["failed"]
    finished = finished_results(output_dir) if fit else None
    try:
        payload["config"] = OmegaConf.to_container(cfg, resolve=True)
        preflight(cfg)
        payload.update(job_hashes(cfg))
        if cfg.get("ckpt_path"):  # the checkpoint's run's config, or a refusal
            payload.update(check_resume(cfg, fit))
        if finished is not None:  # never trained into again, never overwritten
            if finished.get("config_hash") != payload["config_hash"]:
                raise ConfigValueError(
                    "paths.output_dir",
                    str(output_dir),
                    f"holds a finished job of another config ({finished.get('config_hash')}):"
                    " give this run another folder (hydra.run.dir, hydra.sweep.dir) or move "
                    "that one away",
                )
            log.info(
                "%s: %s already completed here (same config hash): skipped",
                cfg.get("task_name"),
                output_dir,
            )
            return finished.get("metrics", {})
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
        # the model and its data before the loggers: a value they refuse starts no W&B run
        datamodule, task = build_model(cfg)
        payload["params"] = parameter_counts(task)
        loggers = build_loggers(cfg)
        for logger in loggers:
            logger.log_hyperparams(payload["config"])
        for logger in loggers:
            if isinstance(logger, WandbLogger):
                logger.define_summaries(getattr(task, "VALIDATION_METRICS", {}))
                logger.watch_model(task)
        if rank_zero_only.rank == 0:
            log.info(
                "%s: %s with %s parameters, run folder %s",
                cfg.get("task_name"),
                type(task.net).__name__,
                f"{payload['params']['total']:,}",
                output_dir,
            )
        callbacks = [
            *build_callbacks(cfg),
            ResumeState(),
            MetricHistory(),
            ProgressLog(),
            ExperimentRecord(experiment_of(cfg)),
            DivergenceGuard(cfg.get("max_loss")),
            MonitorCheck(monitors(cfg.callbacks)),
        ]
        if loggers:  # the learning rate beside the losses (Lightning refuses it without a logger)
            callbacks.append(LearningRateMonitor())
            for logger in loggers:
                logger.log_metrics({f"params/{k}": v for k, v in payload["params"].items()}, step=0)
        trainer = build(cfg, "trainer", callbacks=callbacks, logger=loggers if loggers else False)
        if fit:
            trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            metrics = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
            # the best checkpoint (Lightning's ModelCheckpoint; dl2's BestCheckpoint also
            # knows its epoch and step); none with callbacks=none
            ckpt = trainer.checkpoint_callback
            best = isinstance(ckpt, BestCheckpoint)
            eval_ckpt = (
                (ckpt.best_model_path or None) if isinstance(ckpt, ModelCheckpoint) else None
            )
            payload["checkpoint"] = eval_ckpt
            payload["best_epoch"] = ckpt.best_epoch if best else None
            payload["best_step"] = ckpt.best_step if best else None
            payload["epochs_run"] = trainer.current_epoch
            add_results_entries(trainer, payload)  # before validate/test add to the history
        else:
            metrics, eval_ckpt = {}, ckpt_path
            payload["checkpoint"] = eval_ckpt
        if cfg.get("test", True) or not fit:
            for result in trainer.validate(
                task, datamodule=datamodule, ckpt_path=eval_ckpt, verbose=False, weights_only=True
            ):
                metrics.update(result)
            if is_overridden("test_dataloader", datamodule):
                for result in trainer.test(
                    task,
                    datamodule=datamodule,
                    ckpt_path=eval_ckpt,
                    verbose=False,
                    weights_only=True,
                ):
                    metrics.update(result)
        payload["metrics"] = to_floats(metrics)
        if non_finite(metrics):
            payload["non_finite"] = non_finite(metrics)
            raise DivergedError(
                "non-finite metrics after training: " + ", ".join(payload["non_finite"])
            )
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
        if finished is None:
            _record_end(cfg, fit, trainer, loggers, payload, status, exit_code, start)


def _record_end(
    cfg: DictConfig,
    fit: bool,
    trainer: L.Trainer | None,
    loggers: list[Logger],
    payload: dict,
    status: str,
    exit_code: int,
    start: float,
) -> None:
    """The end of a job, however it ended: results.json written, loggers closed, the
    metrics printed when it completed."""
    output_dir = Path(cfg.paths.output_dir)
    if fit and trainer is not None and "epochs_run" not in payload:  # stopped in fit
        add_results_entries(trainer, payload)
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
