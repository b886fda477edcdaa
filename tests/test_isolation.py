"""The suite does not depend on the machine it runs on: a copy of the checkout with a user's
settings in every place dl2 reads them (conf/local/default.yaml, .env, WANDB_* and
HYDRA_FULL_ERROR in the environment, DL2_ROOT) runs the tests that those settings broke."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.isolation import CHECKOUT

# a user who followed the SLURM guide, keeps W&B online with a key in .env, and debugs Hydra
LOCAL = """# @package _global_
cluster:
  partition: user-partition
  account: user-lab
paths:
  data_dir: /nonexistent/user-data
  log_dir: /nonexistent/user-logs
"""
ENV_FILE = "WANDB_PROJECT=user-project\nWANDB_ENTITY=user-team\nWANDB_MODE=online\n"
ENVIRONMENT = {
    "HYDRA_FULL_ERROR": "1",
    "WANDB_MODE": "online",
    "WANDB_PROJECT": "user-project-from-shell",
    "WANDB_API_KEY": "0" * 40,
    "DL2_ROOT": "/nonexistent/user-root",
}
# the tests each setting broke: the local config's composition, one-line errors, W&B's names
SELECTION = [
    "tests/test_user_settings.py",
    "tests/test_bad_input.py::test_a_bad_lr_is_one_line_before_training",
    "tests/test_bad_input.py::test_a_sweep_that_would_be_refused_starts_no_job",
    "tests/test_wandb.py",
]


def checkout_copy(target) -> None:
    """The checkout's files as git sees them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=CHECKOUT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = CHECKOUT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.slow  # a pytest process on a copy of the checkout: ~1 min
@pytest.mark.skipif(shutil.which("git") is None, reason="copies the checkout with git ls-files")
def test_the_users_own_settings_change_no_test(tmp_path):
    copy = tmp_path / "checkout"
    checkout_copy(copy)
    (copy / "conf" / "local").mkdir(exist_ok=True)
    (copy / "conf" / "local" / "default.yaml").write_text(LOCAL)
    (copy / ".env").write_text(ENV_FILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "HYDRA_", "DL2_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "", *SELECTION],
        cwd=copy,
        env={**env, **ENVIRONMENT},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
