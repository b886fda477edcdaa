"""The suite runs the same on any machine: the user's own settings, which dl2 respects on the
command line, are left out of every test. W&B's and Hydra's variables in the environment
(WANDB_MODE=online, WANDB_PROJECT, HYDRA_FULL_ERROR, ...), dl2's (DL2_ROOT), the checkout's
`.env` and its git-ignored `conf/local/` (a SLURM partition, a data folder). The tests compose
from a copy of conf/ without local/ (DL2_CONFIG_DIR) and read no .env (DL2_ENV_FILE); real
processes the tests start inherit both. tests/test_isolation.py runs tests with each present."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
USER_VARIABLES = ("WANDB_", "HYDRA_", "DL2_")


def isolate_from_the_users_settings() -> Path:
    """Clear the user's variables, point dl2 at a config copy without conf/local/ and at no
    .env, and run W&B offline and quiet; returns the config copy (removed at exit)."""
    for name in [n for n in os.environ if n.startswith(USER_VARIABLES)]:
        del os.environ[name]
    copy = Path(tempfile.mkdtemp(prefix="dl2-test-conf-")) / "conf"
    shutil.copytree(CHECKOUT / "conf", copy, ignore=shutil.ignore_patterns("local"))
    atexit.register(shutil.rmtree, copy.parent, ignore_errors=True)
    os.environ["DL2_CONFIG_DIR"] = str(copy)
    os.environ["DL2_ENV_FILE"] = os.devnull
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"
    return copy
