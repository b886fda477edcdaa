"""Shared fixtures: the real config composed with tiny sizes, and a train.py runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import dl2  # noqa: F401  (registers resolvers)

ROOT = Path(__file__).resolve().parents[1]
TINY_BOXES = ["data.n_train=40", "data.n_val=20", "data.n_test=20", "data.batch_size=20",
              "trainer.max_epochs=2"]

os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"


def compose_cfg(tmp_path: Path, overrides: list[str], job: str = "job") -> DictConfig:
    """The real conf/train.yaml with `overrides`, output in `tmp_path/job`, Hydra state set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.log_dir={tmp_path}", *overrides],
                      return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / job)
        del cfg.hydra  # a job's config has no hydra node; HydraConfig keeps its own copy
    return cfg


@pytest.fixture
def tiny_cfg(tmp_path):
    """Compose a tiny box-study config: `tiny_cfg(["model=net2", ...])`."""
    count = iter(range(1000))

    def make(overrides: list[str] = ()) -> DictConfig:
        return compose_cfg(tmp_path, [*TINY_BOXES, "logger=none", *overrides],
                           job=f"job{next(count)}")
    yield make
    GlobalHydra.instance().clear()


def run_script(*args: str, cwd: Path = ROOT, check: bool = True,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a project script (train.py, sweep.py, ...) with this interpreter, as a user would."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-5000:]}")
    return proc


def pytest_collection_modifyitems(config, items):
    """Skip `gpu` tests on machines without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
