"""Checks that must run before Hydra itself acts on the config: Hydra makes a job's output
folder before dl2's code runs, so an unwritable `hydra.run.dir` / `hydra.sweep.dir` (or the
`paths.log_dir` they derive from) would end in Hydra's mkdir traceback. Registered as a Hydra
callback in conf/hydra/default.yaml."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from dl2.errors import ConfigValueError
from dl2.files import unwritable_reason


def check_folder(key: str, folder: str) -> None:
    """Raise ConfigValueError naming `key` unless files can be written under `folder`."""
    reason = unwritable_reason(folder)
    if reason:
        raise ConfigValueError(key, folder, f"must be a folder dl2 can make and write in "
                               f"({reason}); set {key} or paths.log_dir to one")


class OutputFolderCheck(Callback):
    """A run's or a multirun's output folder, checked before Hydra makes it. Hydra turns a
    callback's exception into a warning and goes on, so a bad folder ends the process here,
    with the message alone (status 1)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check("hydra.run.dir", str(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check("hydra.sweep.dir", str(config.hydra.sweep.dir))

    @staticmethod
    def _check(key: str, folder: str) -> None:
        try:
            check_folder(key, folder)
        except ConfigValueError as err:
            raise SystemExit(str(err)) from None
