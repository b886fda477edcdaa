"""The overrides a checkpoint was trained with, so that eval.py rebuilds its data and model,
and train.py resumes the run it continues, without the user repeating them."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dl2.config.identity import LAUNCHER, PLUMBING, override_key, override_value, top_key
from dl2.job_folder import HYDRA_FILE, checkpoint_results, run_folder

# training overrides that say how the training ran, not what it trained: not carried over
# (a data folder is: the checkpoint is scored on the data it was trained on)
NOT_CARRIED = (*PLUMBING, LAUNCHER, "debug")


def training_overrides(ckpt_path: str | Path) -> list[str]:
    """The overrides of the run that wrote `ckpt_path` (`<run>/checkpoints/<file>.ckpt`), read
    from `<run>/results.json`; empty when the checkpoint is not in a dl2 run folder."""
    overrides = checkpoint_results(ckpt_path).get("overrides") or []
    return [o for o in overrides if top_key(o) not in NOT_CARRIED]


def training_experiment(ckpt_path: str | Path) -> str | None:
    """The `experiment` choice of the run that wrote `ckpt_path`, from its Hydra record
    (`<run>/.hydra/hydra.yaml`); None when there is none."""
    record = run_folder(ckpt_path) / HYDRA_FILE
    try:
        choice = OmegaConf.select(OmegaConf.load(record), "hydra.runtime.choices.experiment")
    except (OSError, ValueError, OmegaConfBaseException):
        return None
    return str(choice) if choice is not None else None


def with_training_overrides(argv: list[str]) -> list[str]:
    """`argv` with the checkpoint's training overrides put before the user's (which win);
    says on stderr what it added. Nothing is carried into another experiment than the
    checkpoint's: the run's own check then names both (dl2/config/preflight.py)."""
    ckpt = next((override_value(a) for a in argv[1:] if override_key(a) == "ckpt_path"), None)
    if ckpt is None or any(a in ("-m", "--multirun") for a in argv):
        return argv
    asked = next((override_value(a) for a in argv[1:] if override_key(a) == "experiment"), None)
    if asked is not None and asked != training_experiment(ckpt):
        return argv
    given = {override_key(a) for a in argv[1:] if "=" in a}
    added = [o for o in training_overrides(ckpt) if override_key(o) not in given]
    if added:
        script = Path(argv[0]).name
        print(f"{script}: the training run's overrides: {' '.join(added)}", file=sys.stderr)
    return [argv[0], *added, *argv[1:]]
