"""The user's own settings that dl2 respects before its defaults: a `.env` file at the project
root (W&B's key, entity and project, kept out of git) and W&B's own mode setting (`wandb
online` / `wandb offline`). dl2 runs W&B offline only when neither says anything."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from dl2.errors import invalid_yaml
from dl2.paths import CONF, ENV_FILE, PACKAGE_ROOT


def load_env_file(path: Path = ENV_FILE) -> list[str]:
    """Set the variables of `path` (python-dotenv's format) that the environment does not
    set already; returns their names. An entry point calls it before Hydra composes, so
    `${oc.env:...}` sees them too."""
    if not path.is_file():
        return []
    from dotenv import dotenv_values

    added = []
    for key, value in dotenv_values(path).items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
            added.append(key)
    return added


def with_config_dir(argv: list[str]) -> list[str]:
    """`argv` with Hydra's `--config-path` set to DL2_CONFIG_DIR's folder when that moves it
    (a `--config-path`/`-cp` of the user's own wins)."""
    given = any(a in ("-cp", "--config-path") or a.startswith("--config-path=") for a in argv)
    if CONF == PACKAGE_ROOT / "conf" or given:
        return argv
    return [argv[0], f"--config-path={CONF}", *argv[1:]]


def check_config_files(conf: Path = CONF) -> None:
    """Every YAML file of the config folder `conf` parses: a syntax error (most often in the
    machine's own conf/local/default.yaml) is one line naming the file and where, before Hydra
    reads it with a traceback."""
    for path in sorted(conf.rglob("*.yaml")):
        if problem := invalid_yaml(path):
            local = " (this machine's own settings: fix it or move it away)"
            raise SystemExit(
                f"{path}: not valid YAML, {problem}"
                + (local if path.parent.name == "local" else ": fix the file")
            )


def wandb_settings_files() -> list[Path]:
    """W&B's settings files, as W&B finds them: the workspace's (`wandb/settings` under
    WANDB_DIR or the working folder; `wandb online` / `wandb offline` write it) and the
    global one (WANDB_CONFIG_DIR or ~/.config/wandb)."""
    workspace = Path(os.environ.get("WANDB_DIR") or ".") / "wandb" / "settings"
    config_dir = os.environ.get("WANDB_CONFIG_DIR") or Path.home() / ".config" / "wandb"
    return [workspace, Path(config_dir) / "settings"]


def wandb_mode_chosen() -> bool:
    """Whether the user chose W&B's mode: WANDB_MODE set, a `mode` in a settings file, or
    the workspace settings `wandb online` leaves (it clears the mode: W&B's own default,
    online, is then the choice)."""
    if os.environ.get("WANDB_MODE"):
        return True
    files = wandb_settings_files()
    for path in files:
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except (configparser.Error, OSError):
            continue
        if parser.has_option("default", "mode"):
            return True
    return files[0].is_file()  # the workspace's, as `wandb online` leaves it


def default_wandb_offline() -> None:
    """W&B offline (no account, no network needed) unless the user chose otherwise."""
    if not wandb_mode_chosen():
        os.environ["WANDB_MODE"] = "offline"
