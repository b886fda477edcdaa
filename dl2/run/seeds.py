"""`parallel_seeds`: train several seeds of one setting in one process (dl2/run/seed_group.py)
and write, for each seed, what its own job would: `<output_dir>/seed_<s>/results.json` with
that job's config hash, its best checkpoint, its history, and its own logger runs (W&B, CSV),
replayed from what it logged once the group ends. Reports and the study runner cannot tell a
seed of a group from a job of its own.

Supported for full-batch node classification (experiment=gnn); other experiments fail before
any work with a message.
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import get_class
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from dl2.callbacks.experiment import ExperimentRecord
from dl2.callbacks.progress_log import ProgressLog
from dl2.checkpoints import AtomicCheckpointIO
from dl2.config.identity import experiment_of, job_hashes, override_key
from dl2.config.preflight import check_seed, monitors, preflight
from dl2.config.resolvers import job_overrides_as
from dl2.errors import ConfigValueError
from dl2.job_folder import CHECKPOINTS
from dl2.paths import RESULTS_FILE
from dl2.run.build import build, build_loggers, build_model, close_loggers
from dl2.run.requeue import requeued_checkpoint
from dl2.run.results import (
    EXIT_CODES,
    job_overrides,
    job_status,
    new_payload,
    now,
    parameter_counts,
    print_metrics,
    to_floats,
    write_results,
)
from dl2.run.seed_group import Rules, SeedGraphs, SeedGroup
from dl2.tasks.node_classification import NodeClassifier

# the callbacks whose decisions the group takes per seed (anything else would act on the group)
KNOWN_CALLBACKS = ("model_checkpoint", "early_stopping")
ALLOWED = (
    "a count K (seeds seed..seed+K-1) or a list of distinct seeds, for full-batch graph "
    "experiments (experiment=gnn)"
)


def seed_list(cfg: DictConfig) -> list[int]:
    """The seeds `parallel_seeds` asks for."""
    value = cfg.parallel_seeds
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1 or cfg.get("seed") is None:
            raise ConfigValueError("parallel_seeds", value, ALLOWED + ", with seed set")
        seeds = list(range(cfg.seed, cfg.seed + value))
    elif isinstance(value, (list, ListConfig)) and value:
        seeds = list(value)
    else:
        raise ConfigValueError("parallel_seeds", value, ALLOWED)
    if len(set(seeds)) != len(seeds):
        raise ConfigValueError("parallel_seeds", value, ALLOWED + " (a seed appears twice)")
    for seed in seeds:
        try:
            check_seed(seed)
        except ConfigValueError as err:
            raise ConfigValueError("parallel_seeds", value, err.allowed) from None
    return seeds


def seed_overrides(overrides: list[str], seed: int) -> list[str]:
    """The overrides of the seed's own job: `parallel_seeds` out, `seed=<s>` in."""
    kept = [o for o in overrides if override_key(o) not in ("parallel_seeds", "seed")]
    return [*kept, f"seed={seed}"]


def seed_config(cfg: DictConfig, seed: int) -> DictConfig:
    """The seed's own job config: its seed, no `parallel_seeds`, its folder under the group's."""
    out = copy.deepcopy(cfg)
    with open_dict(out):
        out.seed = seed
        out.parallel_seeds = None
        out.paths.output_dir = str(Path(cfg.paths.output_dir) / f"seed_{seed}")
    return out


def rules_of(cfg: DictConfig) -> Rules:
    """The per-seed rules of the configured checkpoint and early stopping callbacks; fails
    for what a group cannot do exactly (another task, a callback acting on the whole group,
    gradient clipping by a norm over every seed)."""
    target = OmegaConf.select(cfg, "model.task._target_")
    task = get_class(target) if target else None
    if not (isinstance(task, type) and issubclass(task, NodeClassifier)):
        shown = cfg.parallel_seeds
        shown = OmegaConf.to_container(shown) if isinstance(shown, ListConfig) else shown
        raise ConfigValueError(
            "parallel_seeds",
            shown,
            f"{ALLOWED}; this experiment's task "
            f"is {target}, for which it would not be exact: leave it null",
        )
    callbacks = cfg.get("callbacks") or {}
    unknown = [
        name
        for name, node in callbacks.items()
        if isinstance(node, DictConfig) and "_target_" in node and name not in KNOWN_CALLBACKS
    ]
    if unknown:
        raise ConfigValueError(
            "callbacks",
            ",".join(unknown),
            "parallel_seeds decides only "
            "model_checkpoint and early_stopping per seed; drop the others",
        )
    ckpt = callbacks.get("model_checkpoint")
    rules = Rules(
        monitor=None,
        mode="min",
        max_loss=cfg.get("max_loss"),
        log_every_n_steps=int(cfg.trainer.get("log_every_n_steps") or 50),
        monitors=monitors(callbacks),
    )
    if ckpt is not None:
        rules.monitor, rules.mode = ckpt.get("monitor"), ckpt.get("mode", "min")
    for key in ("gradient_clip_val",):
        if cfg.trainer.get(key):
            raise ConfigValueError(
                f"trainer.{key}",
                cfg.trainer[key],
                "null with parallel_seeds (a norm over all seeds would couple them)",
            )
    return rules


def train_seeds(cfg: DictConfig) -> dict[str, float | None]:
    """Run the group; write each seed's results.json; return the metrics' means over the
    completed seeds (what a hyperparameter sweeper optimises)."""
    start = time.time()
    seeds = seed_list(cfg)
    overrides = job_overrides()
    configs = [seed_config(cfg, s) for s in seeds]
    payloads = [new_payload(c, seed_overrides(overrides, c.seed)) for c in configs]
    trainer: L.Trainer | None = None
    try:
        rules = rules_of(cfg)
        for c, payload in zip(configs, payloads, strict=True):
            with job_overrides_as(payload["overrides"]):
                payload["config"] = OmegaConf.to_container(c, resolve=True)
            preflight(c)
            payload.update(job_hashes(c))
        if cfg.get("torch_threads"):
            torch.set_num_threads(int(cfg.torch_threads))
        for payload in payloads:
            payload["machine"]["torch_threads"] = torch.get_num_threads()
        datamodules, tasks = [], []
        for c in configs:  # each seed's data, net and task, built as its own job builds them
            L.seed_everything(c.seed, workers=True, verbose=False)
            datamodule, task = build_model(c)
            datamodules.append(datamodule)
            tasks.append(task)
        for task, payload in zip(tasks, payloads, strict=True):
            payload["params"] = parameter_counts(task)
        data = SeedGraphs(datamodules)
        # each seed's own EarlyStopping, built from its config as its job builds it
        stoppers = [
            build(c, "callbacks.early_stopping")
            if OmegaConf.select(c, "callbacks.early_stopping._target_")
            else None
            for c in configs
        ]
        group = SeedGroup(tasks, seeds, rules, stoppers)
        # the group's last.ckpt after every epoch, where a rerun with ckpt_path resumes (a
        # `save_last` beside save_top_k=0 writes nothing in Lightning 2.6)
        last = ModelCheckpoint(
            dirpath=str(Path(cfg.paths.output_dir) / CHECKPOINTS),
            filename="last",
            save_top_k=1,
            enable_version_counter=False,
        )
        trainer = build(
            cfg,
            "trainer",
            callbacks=[last, ExperimentRecord(experiment_of(cfg)), ProgressLog()],
            logger=False,
            enable_checkpointing=True,
        )
        ckpt_path = cfg.get("ckpt_path") or requeued_checkpoint(cfg)
        for payload in payloads:
            payload["resumed_from"] = ckpt_path
        trainer.fit(group, datamodule=data, ckpt_path=ckpt_path, weights_only=True)
        results = group.evaluate(data.graphs())
    except BaseException as err:
        status, exit_code = job_status(err, trainer)
        error = (f"{type(err).__name__}: {err}", traceback.format_exc())
        _finish(configs, payloads, None, status, exit_code, error, start)
        if status == "interrupted":
            raise SystemExit(exit_code) from err
        raise
    return _finish(configs, payloads, (group, results), "completed", 0, None, start)


def _finish(
    configs: list[DictConfig],
    payloads: list[dict[str, Any]],
    outcome: tuple[SeedGroup, list[dict[str, float]]] | None,
    status: str,
    exit_code: int,
    error: tuple[str, str] | None,
    start: float,
) -> dict[str, float | None]:
    """Write every seed's results.json (and checkpoint, and logger runs); the mean metrics."""
    wall = time.time() - start
    done = []
    for k, (c, payload) in enumerate(zip(configs, payloads, strict=True)):
        out = Path(c.paths.output_dir)
        payload["parallel_seeds"] = {
            "seeds": [p["seed"] for p in payloads],
            "group_dir": str(out.parent),
            "group_wall_time_s": round(wall, 3),
        }
        seed_status, seed_code = status, exit_code
        if error is not None:
            payload["error"], payload["traceback"] = error
        if outcome is not None:
            group, results = outcome
            track = group.tracks[k]
            seed_status = track.status
            seed_code = EXIT_CODES[seed_status]
            payload["metrics"] = to_floats(results[k])
            payload.update(
                best_epoch=track.best_epoch,
                best_step=track.best_step,
                epochs_run=track.epochs_run,
                **track.history.results_entries(),
            )
            if track.error:
                payload["error"] = track.error
            if seed_status == "completed":
                payload["checkpoint"] = _save_best(group, k, out)
                done.append(payload["metrics"])
            _replay(
                c,
                payload,
                track.logged,
                results[k],
                seed_status,
                seed_code,
                learning_rate_metrics(group.tasks[k]),
            )
        payload.update(
            status=seed_status,
            exit_code=seed_code,
            wall_time_s=round(wall / len(configs), 3),
            finished_at=now(),
        )
        try:
            write_results(out / RESULTS_FILE, payload)
        except OSError as err:
            print(f"dl2: could not write {out / RESULTS_FILE}: {err}", file=sys.stderr)
    if status == "completed":
        group_dir = Path(configs[0].paths.output_dir).parent
        shown: dict[str, float | str | None] = {
            f"seed {p['seed']} {m}": v
            for p in payloads
            for m, v in p["metrics"].items()
            if m.startswith("test")
        }
        shown.update(spread([p["metrics"] for p in payloads], prefix="test"))
        print_metrics(shown, f"{configs[0].get('task_name')}: {group_dir}")
    return mean_metrics(done)


def spread(runs: list[dict[str, float | None]], prefix: str = "") -> dict[str, str]:
    """{"mean ± std <metric>": "0.8150 ± 0.0071 (n=3)"} over the runs, for the metrics named
    `prefix...`: the sample std (ddof 1), none for one run."""
    out = {}
    for key in sorted({k for m in runs for k in m if k.startswith(prefix)}):
        values = [float(m[key]) for m in runs if m.get(key) is not None]
        if not values:
            continue
        mean = statistics.fmean(values)
        if len(values) == 1:
            out[f"mean {key}"] = f"{mean:.4f} (n=1)"
            continue
        std = statistics.stdev(values)
        out[f"mean ± std {key}"] = f"{mean:.4f} ± {std:.4f} (n={len(values)})"
    return out


def mean_metrics(runs: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Each metric's mean over the runs that have it (None where none has)."""
    out: dict[str, float | None] = {}
    for key in sorted({k for m in runs for k in m}):
        values = [m[key] for m in runs if m.get(key) is not None]
        out[key] = sum(values) / len(values) if values else None
    return out


def _save_best(group: SeedGroup, k: int, out: Path) -> str:
    """The seed's best weights as a checkpoint of its own task (NodeClassifier), where its
    own job keeps it (`checkpoints/epoch_<best>.ckpt`) and as it writes it (atomically)."""
    track, task = group.tracks[k], group.tasks[k]
    state = track.best_state if track.best_state is not None else task.state_dict()
    path = out / CHECKPOINTS / f"epoch_{track.best_epoch or 0:03d}.ckpt"
    AtomicCheckpointIO().save_checkpoint(
        {
            "state_dict": state,
            "epoch": track.best_epoch,
            "global_step": track.best_step,
            "pytorch-lightning_version": L.__version__,
            "hyper_parameters": dict(task.hparams),
        },
        path,
    )
    return str(path)


def learning_rate_metrics(task: L.LightningModule) -> dict[str, float]:
    """The learning rates a single job's LearningRateMonitor logs for the task's optimizer
    (`lr-Adam`; `lr-Adam/pg1`, ... for several parameter groups): a group takes no
    scheduler, so they stay as configured."""
    optimizer = task.configure_optimizers()
    name = f"lr-{type(optimizer).__name__}"
    groups = optimizer.param_groups
    if len(groups) == 1:
        return {name: groups[0]["lr"]}
    return {f"{name}/pg{i + 1}": group["lr"] for i, group in enumerate(groups)}


def _replay(
    cfg: DictConfig,
    payload: dict[str, Any],
    logged: list[list[Any]],
    final: dict[str, float],
    status: str,
    exit_code: int,
    lrs: dict[str, float],
) -> None:
    """The seed's own logger runs (W&B, CSV, ...) as its own job fills them: its config and
    parameter counts, every metric at the step it was logged (the learning rates beside the
    training metrics), the final val/test metrics of its best checkpoint, closed with its
    status."""
    with job_overrides_as(payload["overrides"]):
        loggers = build_loggers(cfg)
    try:
        for logger in loggers:
            logger.log_hyperparams(payload["config"])
            logger.log_metrics({f"params/{k}": v for k, v in payload["params"].items()}, step=0)
            for step, metrics in logged:
                training = any(k.startswith("train/") for k in metrics)
                logger.log_metrics({**metrics, **(lrs if training else {})}, step=step)
            last = logged[-1][0] if logged else 0
            logger.log_metrics(
                {k: v for k, v in final.items() if not k.startswith("train/")}, step=last
            )
    finally:
        close_loggers(loggers, status, exit_code)
