"""Hydra callbacks (registered in conf/hydra/default.yaml): what must happen before Hydra
itself acts on the config. Hydra makes a job's output folder before dl2's code runs, so an
unwritable `hydra.run.dir` / `hydra.sweep.dir` (or the `paths.log_dir` they derive from) is
checked here, not left to Hydra's mkdir traceback; and each job's values before any job starts.
A search's own callback is dl2/run/search.py."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from dl2.errors import ConfigValueError
from dl2.files import unwritable_reason

log = logging.getLogger(__name__)


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
