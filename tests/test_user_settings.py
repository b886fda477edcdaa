"""The user's own settings come before dl2's defaults: W&B's mode (`wandb online`), a `.env`
file at the project root, and the machine's git-ignored `conf/local/default.yaml`."""

from __future__ import annotations

import os

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException

from dl2.config.environment import default_wandb_offline, load_env_file
from dl2.config.identity import job_hashes
from dl2.paths import CONF
from tests.harness import compose_cfg


@pytest.fixture
def wandb_home(tmp_path, monkeypatch):
    """W&B's workspace and global settings folders in tmp_path, WANDB_MODE unset."""
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def settings(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_w_and_b_is_offline_only_when_nothing_says_otherwise(wandb_home, monkeypatch):
    default_wandb_offline()
    assert os.environ["WANDB_MODE"] == "offline", "nothing chosen: offline"
    monkeypatch.delenv("WANDB_MODE")
    # `wandb online` leaves the workspace's settings without a mode: W&B's default, online
    settings(wandb_home / "work" / "wandb" / "settings", "[default]\n")
    default_wandb_offline()
    assert "WANDB_MODE" not in os.environ, "before: offline whatever `wandb online` said"
    (wandb_home / "work" / "wandb" / "settings").unlink()
    settings(wandb_home / "config" / "settings", "[default]\nmode = disabled\n")
    default_wandb_offline()
    assert "WANDB_MODE" not in os.environ, "W&B applies its own setting"
    monkeypatch.setenv("WANDB_MODE", "online")
    default_wandb_offline()
    assert os.environ["WANDB_MODE"] == "online"


def test_an_env_file_fills_what_the_environment_leaves_unset(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("WANDB_ENTITY=my-team\nWANDB_PROJECT=from-file\n# a comment\n")
    monkeypatch.delenv("WANDB_ENTITY", raising=False)
    monkeypatch.setenv("WANDB_PROJECT", "from-shell")
    assert load_env_file(env) == ["WANDB_ENTITY"]
    assert os.environ["WANDB_ENTITY"] == "my-team" and os.environ["WANDB_PROJECT"] == "from-shell"
    cfg = compose_cfg(tmp_path, ["logger=wandb"])
    assert (cfg.logger.wandb.entity, cfg.logger.wandb.project) == ("my-team", "from-shell")
    monkeypatch.delenv("WANDB_ENTITY")
    monkeypatch.delenv("WANDB_PROJECT")
    assert load_env_file(tmp_path / "none") == []
    cfg = compose_cfg(tmp_path, ["logger=wandb"], job="plain")
    assert (cfg.logger.wandb.entity, cfg.logger.wandb.project) == (None, "dl2")


def test_the_machines_local_config_is_composed_last(tmp_path):
    """conf/local/default.yaml (git-ignored) is found like any group option: here through an
    added search path, so that the test leaves the checkout's conf/local/ alone."""
    local = tmp_path / "extra" / "local" / "default.yaml"
    settings(
        local,
        "# @package _global_\ncluster:\n  partition: gpu-short\n  account: lab\n"
        "paths:\n  data_dir: /scratch/data\n",
    )
    search = f"hydra.searchpath=[file://{tmp_path / 'extra'}]"
    cfg = compose_cfg(tmp_path, ["experiment=gnn", search])
    assert cfg.paths.data_dir == "/scratch/data" and cfg.cluster.partition == "gpu-short"
    plain = compose_cfg(tmp_path, ["experiment=gnn"], job="plain")
    assert plain.cluster.partition is None, "no local config: nothing changes"
    assert job_hashes(cfg) == job_hashes(plain), "where a job runs is not what it is"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        slurm = compose(
            "train", ["experiment=gnn", "launcher=slurm", search], return_hydra_config=True
        )
    GlobalHydra.instance().clear()
    launcher = slurm.hydra.launcher
    assert (launcher.partition, launcher.account, launcher.qos) == ("gpu-short", "lab", None)
    settings(local, "# @package _global_\ncluster:\n  partiton: gpu-short\n")
    with pytest.raises(ConfigCompositionException, match="partiton"):  # typed: a typo fails
        compose_cfg(tmp_path, [search], job="misspelt")


def test_extras_print_the_config_tree_and_insist_on_tags(tmp_path, capsys):
    """lightning-hydra-template's extras: print_config prints the composed config as a tree
    at the start and saves it in the run folder; enforce_tags refuses an untagged multirun;
    neither changes the job's identity."""
    from tests.harness import TINY_BOXES, train_py

    run = tmp_path / "run"
    assert (
        train_py(*TINY_BOXES, "logger=none", "extras.print_config=true", f"hydra.run.dir={run}")
        == 0
    )
    out = capsys.readouterr().out
    tree = (run / "config_tree.log").read_text()
    assert "pad: zeros" in tree and "max_epochs: 2" in tree and str(run) in tree
    assert tree.splitlines()[0] == "config" and tree.splitlines()[1] in out
    sweep = tmp_path / "sweep"
    assert (
        train_py(
            "-m",
            *TINY_BOXES,
            "logger=none",
            "seed=1,2",
            "extras.enforce_tags=true",
            f"hydra.sweep.dir={sweep}",
        )
        == 1
    )
    assert (
        "tags=[] is not allowed: a multirun with extras.enforce_tags=true"
        in capsys.readouterr().err
    )
    assert (
        train_py(
            "-m",
            *TINY_BOXES,
            "logger=none",
            "seed=1",
            "extras.enforce_tags=true",
            "tags=[check]",
            f"hydra.sweep.dir={sweep}",
        )
        == 0
    )
    plain = compose_cfg(tmp_path, [])
    extra = compose_cfg(
        tmp_path, ["extras.print_config=true", "extras.ignore_warnings=true"], job="extra"
    )
    assert job_hashes(plain) == job_hashes(extra)


def test_ignore_warnings_silences_them(tmp_path):
    import warnings

    from dl2.run.extras import apply_extras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apply_extras(compose_cfg(tmp_path, ["extras.ignore_warnings=true"]))
        warnings.warn("a library's note", UserWarning, stacklevel=1)
    assert caught == []
