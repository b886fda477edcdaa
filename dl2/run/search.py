"""A hyperparameter search (Hydra's Optuna sweeper, conf/hparams_search/): its logging in
Hydra's format, and its study kept in the sweep folder, started afresh when a search is
continued there (a Hydra callback registered in conf/hydra/default.yaml)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from dl2.errors import ConfigValueError

log = logging.getLogger(__name__)
SQLITE_HEADER = b"SQLite format 3\x00"


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
