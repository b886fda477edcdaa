"""The overrides a checkpoint was trained with, so that eval.py rebuilds its data and model
without the user repeating them."""

from __future__ import annotations

import sys
from pathlib import Path

from dl2.config.identity import LAUNCHER, PLUMBING, override_key, override_value, top_key
from dl2.files import checkpoint_results

# training overrides that say how the training ran, not what it trained: not carried over
# (a data folder is: the checkpoint is scored on the data it was trained on)
NOT_CARRIED = (*PLUMBING, LAUNCHER, "debug")


def training_overrides(ckpt_path: str | Path) -> list[str]:
    """The overrides of the run that wrote `ckpt_path` (`<run>/checkpoints/<file>.ckpt`), read
    from `<run>/results.json`; empty when the checkpoint is not in a dl2 run folder."""
    overrides = checkpoint_results(ckpt_path).get("overrides") or []
    return [o for o in overrides
            if top_key(o) not in NOT_CARRIED]


def with_training_overrides(argv: list[str]) -> list[str]:
    """`argv` with the checkpoint's training overrides put before the user's (which win);
    says on stderr what it added."""
    ckpt = next((override_value(a) for a in argv[1:] if override_key(a) == "ckpt_path"), None)
    if ckpt is None or any(a in ("-m", "--multirun") for a in argv):
        return argv
    given = {override_key(a) for a in argv[1:] if "=" in a}
    added = [o for o in training_overrides(ckpt) if override_key(o) not in given]
    if added:
        print(f"eval.py: the training run's overrides: {' '.join(added)}", file=sys.stderr)
    return [argv[0], *added, *argv[1:]]
