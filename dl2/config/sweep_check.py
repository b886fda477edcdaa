"""A multirun's checks before its first job: every job's config, composed from the sweep's
overrides as Hydra's basic sweeper will split them, passes dl2's value checks (a bad value in
one job refuses the sweep with one line, and no job folder or W&B run is made); no two jobs
are the same (`seed=0,0`); the launcher can run here (joblib's `n_jobs`, SLURM's `srun`); and
a search (Optuna) optimises a metric its task logs, in the direction that metric improves."""

from __future__ import annotations

import shutil
import warnings

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from dl2.compat import BASIC_SWEEPER, split_basic_sweep
from dl2.config.compose import Composer
from dl2.config.preflight import check_accelerator, check_values, is_int
from dl2.errors import ConfigValueError


def check_launcher(config: DictConfig) -> None:
    """The launcher's own settings, which Hydra's plugins check only with a traceback."""
    target = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
    if "joblib" in target:
        n_jobs = OmegaConf.select(config, "hydra.launcher.n_jobs")
        if not (is_int(n_jobs) and n_jobs != 0):
            raise ConfigValueError(
                "hydra.launcher.n_jobs",
                n_jobs,
                "must be a positive number of parallel jobs (or -1: one per CPU core)",
            )
    if "submitit" in target and "SlurmLauncher" in target and shutil.which("srun") is None:
        raise ConfigValueError(
            "launcher",
            "slurm",
            "needs a SLURM cluster and this machine has no srun: run it on the cluster's login "
            "node, or here with launcher=local (or launcher=joblib)",
        )


def check_search(config: DictConfig) -> None:
    """A search's `optimized_metric` is one its task logs in every validation, and the
    sweeper's `direction` is the way that metric gets better: an unknown metric failed only
    after the first trial had trained, and maximising a loss went on without a word."""
    direction = OmegaConf.select(config, "hydra.sweeper.direction")
    metric = config.get("optimized_metric")
    target = OmegaConf.select(config, "model.task._target_")
    if not (isinstance(direction, str) and metric and target):
        return
    from hydra.utils import get_class

    with warnings.catch_warnings():  # torch-geometric's import-time torch.jit notice
        warnings.simplefilter("ignore", FutureWarning)
        task = get_class(str(target))
    logged: dict[str, str] = getattr(task, "VALIDATION_METRICS", {})
    if not logged:
        return
    if metric not in logged:
        raise ConfigValueError(
            "optimized_metric",
            metric,
            f"a search optimises a validation metric of its task ({task.__name__}): choose "
            "one of " + ", ".join(logged),
        )
    if direction != logged[metric]:
        raise ConfigValueError(
            "hydra.sweeper.direction",
            direction,
            f"{metric} is better {'lower' if logged[metric] == 'minimize' else 'higher'}: "
            f"use {logged[metric]}",
        )


def sweep_jobs(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, in launch order, as Hydra's basic sweeper will give them; None for
    another sweeper (Optuna proposes its values as it goes) or a sweep it cannot expand.
    Raises ConfigValueError for a swept key given one value twice (`seed=0,0`)."""
    if OmegaConf.select(config, "hydra.sweeper._target_") != BASIC_SWEEPER:
        return None
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list(OmegaConf.select(config, "hydra.overrides.task") or [])
    try:
        overrides = OverridesParser.create().parse_overrides(arguments)
        jobs = split_basic_sweep(overrides)
    except HydraException:  # e.g. a glob() of config options: left to the sweeper
        return None
    for override in overrides:
        if override.is_discrete_sweep():
            values = [str(v) for v in override.sweep_iterator()]
            if twice := sorted({v for v in values if values.count(v) > 1}):
                raise ConfigValueError(
                    override.get_key_element(),
                    ",".join(values),
                    f"gives {', '.join(twice)} more than once (the same job twice): give "
                    "each value once",
                )
    return jobs


def check_sweep(config: DictConfig) -> int | None:
    """Raise ConfigValueError naming the job and its key when a job of the sweep would be
    refused, or when two jobs are one; returns the number of jobs checked (None: not known
    before the sweep runs)."""
    check_launcher(config)
    jobs = sweep_jobs(config)
    if jobs is None:
        check_search(config)
        return None
    composed = Composer(None).compose_all(tuple(job) for job in jobs)
    seen: dict[str, int] = {}
    for num, job in enumerate(jobs):
        cfg = composed[tuple(job)]
        try:
            check_values(cfg)
            check_accelerator(cfg.trainer)
        except ConfigValueError as err:
            raise ConfigValueError(
                f"job {num} ({' '.join(job) or 'no overrides'}): {err.key}", err.value, err.allowed
            ) from None
        # Hydra's own per-job settings (hydra.job.env_set...) tell jobs apart too
        text = OmegaConf.to_yaml(cfg) + " ".join(o for o in job if o.startswith("hydra."))
        if text in seen:
            first = seen[text]
            key, _, value = next(o for o in job if o not in jobs[first]).partition("=")
            raise ConfigValueError(
                key, value, f"job {num} is job {first} again (the same config): give it once"
            )
        seen[text] = num
    return len(jobs)
