"""Shared fixtures: the real config composed with tiny sizes, tiny data and a tiny trained run
built once per run, and the process state each in-process job may change put back after every
test."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tests.isolation import isolate_from_the_users_settings

isolate_from_the_users_settings()  # before dl2 is imported: it reads them at import
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs a worker per core (pytest-xdist): one torch thread each, and in the
    # processes they start, or the workers' thread pools fight over the cores
    os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hypothesis import Phase, settings  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from dl2.compat import LIGHTNING_INFO_LOGGERS  # noqa: E402
from tests.harness import TEXT, TINY_BOXES, compose_cfg, train_py, write_cifar  # noqa: E402

# `make test-all` (`--hypothesis-profile=thorough`) draws five times as many examples for
# each property (their counts come from tests/harness.py examples)
settings.register_profile("thorough", max_examples=5 * settings.default.max_examples)
# `make mutate`: a failing example is the verdict, its shrinking (composing configs again and
# again) would only name a smaller one
settings.register_profile(
    "mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None
)


@pytest.fixture(autouse=True)
def _process_state():
    """An in-process job sets torch's thread count (`torch_threads`), W&B's environment and
    the levels of Lightning's info loggers (`verbose`); each test starts from the same state
    whatever ran before it."""
    import torch  # here, not at the top: pytest-xdist's controller process never needs it

    threads = torch.get_num_threads()
    env = {k: os.environ.get(k) for k in ("WANDB_MODE", "WANDB_SILENT", "WANDB_DIR")}
    levels = {name: logging.getLogger(name).level for name in LIGHTNING_INFO_LOGGERS}
    yield
    torch.set_num_threads(threads)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    GlobalHydra.instance().clear()


@pytest.fixture
def tiny_cfg(tmp_path):
    """Compose a tiny box-study config: `tiny_cfg(["model=net2", ...])`."""
    count = iter(range(1000))

    def make(overrides: list[str] = ()) -> DictConfig:
        return compose_cfg(
            tmp_path, [*TINY_BOXES, "logger=none", *overrides], job=f"job{next(count)}"
        )

    yield make
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def box_run(tmp_path_factory) -> Path:
    """A finished tiny Net1 run on the box data (`data.n_train=60` beside the tiny sizes), its
    folder: trained once per run for the tests that need a checkpoint. Read only: tests write
    their own runs beside it, never into it."""
    folder = tmp_path_factory.mktemp("box") / "run"
    overrides = [*TINY_BOXES, "data.n_train=60", "logger=none", f"paths.log_dir={folder.parent}"]
    assert train_py(*overrides, f"hydra.run.dir={folder}") == 0
    return folder


@pytest.fixture(scope="session")
def text_file(tmp_path_factory):
    """A tiny repeating text (no capitals) for the GPT experiment, written once per run."""
    path = tmp_path_factory.mktemp("text") / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory):
    """A tiny CIFAR-10 in the standard python layout, written once per run (read only: a
    test that damages a copy writes its own)."""
    root = tmp_path_factory.mktemp("cifar")
    write_cifar(root)
    return root


def pytest_collection_modifyitems(config, items):
    """Skip `gpu` tests on machines without CUDA."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("gpu") is not None:  # not a test id that says gpu
            item.add_marker(skip)
