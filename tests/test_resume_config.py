"""A checkpoint resumed or evaluated with its own config: train.py applies the run's overrides,
a resume may extend the budget, any other change is refused before a folder is made (unless
`resume_changed=true`, recorded with both hashes), and eval.py refuses another model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import eval_py, train_py


@pytest.fixture
def trained(box_run) -> Path:
    """A finished tiny Net1 run trained with data.n_train=60 (conftest's): its folder."""
    return box_run


def resume(trained: Path, name: str, *args: str, script=train_py) -> tuple[int, Path]:
    """Run `script` on the trained run's last.ckpt into `<root>/<name>`: status, folder."""
    folder = trained.parent / name
    ckpt = trained / "checkpoints" / "last.ckpt"
    argv = [f"ckpt_path={ckpt}", "logger=none", f"paths.log_dir={trained.parent}"]
    return script(*argv, f"hydra.run.dir={folder}", *args), folder


def results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def test_a_resume_applies_the_runs_overrides_and_may_extend_its_budget(trained, capsys):
    status, folder = resume(trained, "longer", "trainer.max_epochs=3")
    assert status == 0
    assert "train.py: the training run's overrides:" in capsys.readouterr().err
    first, longer = results(trained), results(folder)
    assert longer["config"]["data"]["n_train"] == 60, "resumed on the run's data, not defaults"
    assert longer["epochs_run"] == 3 and longer["config"]["trainer"]["max_epochs"] == 3
    assert longer["resumed_from_config_hash"] == first["config_hash"] != longer["config_hash"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("model.task.optimizer.lr=0.1", "model.task.optimizer.lr (1.0 -> 0.1)"),
        ("model.pad=reflect", "model.pad (zeros -> reflect)"),
        ("model=net2", "model.name (net1 -> net2)"),
        ("data.n_train=80", "data.n_train (60 -> 80)"),
    ],
)
def test_a_resume_with_another_config_is_refused_before_a_folder(trained, capsys, change, named):
    status, folder = resume(trained, "changed", change)
    assert status == 1 and not folder.exists()
    err = capsys.readouterr().err
    assert f"ckpt_path='{trained}/checkpoints/last.ckpt'" in err and named in err, err


def test_a_meant_change_is_resumed_and_recorded_with_both_hashes(trained, capsys):
    status, folder = resume(trained, "meant", "model.pad=reflect", "resume_changed=true")
    assert status == 0
    record = results(folder)
    assert record["config"]["model"]["pad"] == "reflect"
    assert record["resumed_from_config_hash"] == results(trained)["config_hash"]
    assert record["resumed_from_config_hash"] != record["config_hash"]
    # the optimizer's state comes from the checkpoint: no flag makes another lr take effect
    status, folder = resume(trained, "lr", "model.task.optimizer.lr=0.1", "resume_changed=true")
    assert status == 1 and not folder.exists()
    assert "optimizer" in capsys.readouterr().err


def test_an_evaluation_refuses_another_model_but_takes_other_data(trained, capsys):
    status, folder = resume(trained, "eval-net2", "model=net2", script=eval_py)
    assert status == 1 and not folder.exists()
    assert "model.name (net1 -> net2)" in capsys.readouterr().err
    status, folder = resume(trained, "eval-data", "data.n_test=40", script=eval_py)
    assert status == 0 and results(folder)["config"]["data"]["n_test"] == 40
