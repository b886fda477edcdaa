"""Each job's config hash, from its real composed config without running anything: one
Hydra composition per setting (dl2/config/compose.py), every setting checked as a single job
checks its values before training, so a bad value fails the plan before any job starts: the
values alone for every setting, the datamodule's and net's constructors too for the settings
about to run (`check_to_run`)."""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig

from dl2.config.compose import Composer
from dl2.config.identity import config_hash_of
from dl2.config.instantiate import check_constructors
from dl2.config.preflight import check_values
from dl2.errors import ConfigValueError
from dl2.paths import CONF
from dl2.studies.spec import StudyJob


def setting_of(job: StudyJob) -> tuple[str, ...]:
    """A job's overrides without its seed: what the seeds of one setting share."""
    return tuple(o for o in job.overrides if not o.startswith("seed="))


# composed configs by setting, for this process (`sweep.py all` or a test run plans many)
_COMPOSER = Composer(CONF)


def hashes(jobs: list[StudyJob]) -> list[str]:
    """Each job's config hash, from the real composed config (without running anything). One
    composition per setting (and per process; dl2/config/compose.py): the seed is then set in
    it, and interpolations of the seed (`data.noise_seed: ${seed}`) follow when the hash
    resolves them."""
    configs = _COMPOSER.compose_all(setting_of(j) for j in jobs)
    checked: set[tuple[str, ...]] = set()
    out = []
    for job in jobs:
        cfg = configs[setting_of(job)]
        cfg.seed = job.seed
        if setting_of(job) not in checked:  # a bad value fails before any job starts
            _check(check_values, cfg, setting_of(job))
            checked.add(setting_of(job))
        out.append(config_hash_of(cfg))
    return out


def check_to_run(jobs: list[StudyJob]) -> None:
    """Build each setting's datamodule and net (dl2.config.instantiate.check_constructors):
    a value only a constructor refuses fails the plan, naming the setting, before a job of it
    launches (and fails) with each seed."""
    settings = list(dict.fromkeys(setting_of(j) for j in jobs))
    configs = _COMPOSER.compose_all(settings)
    for setting in settings:
        _check(check_constructors, configs[setting], setting)


def _check(check: Callable[[DictConfig], None], cfg: DictConfig, setting: tuple[str, ...]) -> None:
    try:
        check(cfg)
    except ConfigValueError as err:
        raise ConfigValueError(f"{' '.join(setting)}: {err.key}", err.value, err.allowed) from None
