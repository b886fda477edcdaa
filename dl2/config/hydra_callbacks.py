"""Hydra callbacks (registered in conf/hydra/default.yaml): what must happen before Hydra
itself acts on the config. Hydra makes a job's output folder before dl2's code runs, so an
unwritable `hydra.run.dir` / `hydra.sweep.dir` (or the `paths.log_dir` they derive from) is
checked here, not left to Hydra's mkdir traceback; and a search's sweeper (Optuna) logs through
Hydra's own format, without colour codes, and keeps its study in the sweep folder."""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from dl2.errors import ConfigValueError
from dl2.files import unwritable_reason

log = logging.getLogger(__name__)
SQLITE_HEADER = b"SQLite format 3\x00"


def check_folder(key: str, folder: str) -> None:
    """Raise ConfigValueError naming `key` unless files can be written under `folder`."""
    reason = unwritable_reason(folder)
    if reason:
        raise ConfigValueError(
            key,
            folder,
            f"must be a folder dl2 can make and write in "
            f"({reason}); set {key} or paths.log_dir to one",
        )


class OutputFolderCheck(Callback):
    """A run's or a multirun's output folder, checked before Hydra makes it. Hydra turns a
    callback's exception into a warning and goes on, so a bad folder ends the process here,
    with the message alone (status 1)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check("hydra.run.dir", str(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        self._check("hydra.sweep.dir", str(sweep_dir))
        # made now rather than by the launcher: a sweeper may keep its state in it (Optuna's
        # study database) before the first job starts
        sweep_dir.mkdir(parents=True, exist_ok=True)
        keep_earlier_multirun_yaml(sweep_dir, config)

    @staticmethod
    def _check(key: str, folder: str) -> None:
        try:
            check_folder(key, folder)
        except ConfigValueError as err:
            raise SystemExit(str(err)) from None


def keep_earlier_multirun_yaml(sweep_dir: Path, config: DictConfig) -> Path | None:
    """A sweep folder reused by another command keeps the earlier command's multirun.yaml
    (which Hydra's sweeper overwrites) as multirun.<n>.yaml; returns where it is kept."""
    earlier = sweep_dir / "multirun.yaml"
    if not earlier.is_file() or earlier.read_text() == OmegaConf.to_yaml(config):
        return None
    n = 1
    while (kept := sweep_dir / f"multirun.{n}.yaml").exists():
        n += 1
    earlier.rename(kept)
    log.info(
        f"{sweep_dir} was the folder of another multirun: its multirun.yaml kept as {kept.name}"
    )
    return kept


class Preflight(Callback):
    """A single run's checks (dl2/config/preflight.py, and a resume's or an evaluation's
    config against its checkpoint's) before Hydra makes its folder: a refused run leaves no
    folder and no W&B run, and says why in one line (status 1). A multirun's jobs are checked
    before the first starts, each composed as the sweeper will (dl2/config/sweep_check.py)."""

    def on_multirun_start(
        self, config: DictConfig, config_name: str | None = None, **kw: Any
    ) -> None:
        if config_name != "train":
            return
        from dl2.config.sweep_check import check_sweep

        try:
            check_sweep(config)
        except ConfigValueError as err:
            raise SystemExit(str(err)) from None

    def on_run_start(self, config: DictConfig, config_name: str | None = None, **kw: Any) -> None:
        if config_name not in ("train", "eval"):
            return
        from hydra.core.hydra_config import HydraConfig

        from dl2.config.preflight import preflight
        from dl2.config.resume_check import check_resume

        cfg = copy.deepcopy(config)
        with open_dict(cfg):  # as Hydra's run_job sets it, so that paths.* resolve
            cfg.hydra.runtime.output_dir = str(cfg.hydra.run.dir)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg.hydra
        try:
            preflight(cfg, output_dir=False)
            if cfg.get("ckpt_path"):
                check_resume(cfg, fit=config_name == "train")
        except ConfigValueError as err:
            raise SystemExit(str(err)) from None


class SearchSetup(Callback):
    """Optuna logs through its own handler, in colour even without a terminal: its records go
    to the root logger instead, in Hydra's format, as every other line of a search. A search
    continued in its folder starts its study afresh (`keep_earlier_study`)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if OmegaConf.select(config, "hydra.sweeper._target_", default="").startswith(
            "hydra_plugins.hydra_optuna_sweeper"
        ):
            import optuna

            optuna.logging.disable_default_handler()
            optuna.logging.enable_propagation()
            try:
                keep_earlier_study(config)
            except ConfigValueError as err:
                raise SystemExit(str(err)) from None


def keep_earlier_study(config: DictConfig) -> str | None:
    """Move the search's study aside when its SQLite file in the sweep folder already holds
    it (a search continued with its folder), and return the name it is kept under.

    Optuna would load the study and ask for more trials with a freshly seeded sampler, which
    proposes the first trials' parameters again. Starting the study afresh instead, the seeded
    sampler proposes the uninterrupted search's trials, the finished ones return their stored
    result (their folders are not trained into again), and the study ends as the uninterrupted
    search's does. The earlier study stays in the file, as `<study_name>-before-<time>`.
    Storages elsewhere (a database that several searches share) are left to Optuna. A file
    that is not a readable study database raises ConfigValueError naming it (left as it is)."""
    storage = str(OmegaConf.select(config, "hydra.sweeper.storage", default=None) or "")
    name = OmegaConf.select(config, "hydra.sweeper.study_name", default=None)
    sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
    prefix = "sqlite:///"
    if not (storage.startswith(prefix) and name):
        return None
    db = Path(storage[len(prefix) :]).resolve()
    if db.parent != sweep_dir or not db.is_file():
        return None
    import datetime

    import optuna

    def unreadable(reason: str) -> ConfigValueError:
        return ConfigValueError(
            "hydra.sweeper.storage",
            storage,
            f"{db} is not a study database Optuna can read ({reason}): move it away to start "
            "the search afresh, or give the search another folder (hydra.sweep.dir)",
        )

    with db.open("rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    if head and head != SQLITE_HEADER:
        raise unreadable("not an SQLite file")
    try:
        names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    except Exception as err:  # noqa: BLE001  (SQLAlchemy's, sqlite3's or Optuna's own)
        raise unreadable(str(err).splitlines()[0][:200]) from None
    if name not in names:
        return None
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    kept = f"{name}-before-{stamp}"
    with warnings.catch_warnings():  # copy_study adds trials through an experimental API
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.copy_study(name, storage, storage, to_study_name=kept)
    optuna.delete_study(study_name=name, storage=storage)
    log.info(
        f"continuing the search in {sweep_dir}: its study {name!r} starts afresh (the finished "
        f"trials return their stored results), the earlier one is kept as {kept!r} in {db.name}"
    )
    return kept
