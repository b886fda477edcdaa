"""eval.py: validate and test a checkpoint without training; trainer=ddp_sim on a CPU."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dl2.config.overrides import training_overrides, with_training_overrides
from dl2.run.job import train
from tests.harness import TINY_BOXES, eval_py, run_script


def only_results(folder: Path) -> dict:
    (path,) = folder.rglob("results.json")  # exactly one
    return json.loads(path.read_text())


def evaluated(ckpt: str, log_dir: Path, *overrides: str, process: bool = False) -> dict:
    """results.json of `eval.py ckpt_path=<ckpt>`, in a process of its own or in this one."""
    args = [f"ckpt_path={ckpt}", "logger=none", f"paths.log_dir={log_dir}", *overrides]
    if process:
        run_script("eval.py", *args)
    else:
        assert eval_py(*args) == 0
    return only_results(log_dir / "padding" / "evals")


@pytest.mark.parametrize("process", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_eval_py_scores_a_checkpoint_as_its_training_did(box_run, tmp_path, process):
    """`python eval.py` here, and in a process of its own as users type it."""
    trained = json.loads((box_run / "results.json").read_text())
    result = evaluated(trained["checkpoint"], tmp_path / "eval", process=process)
    assert result["status"] == "completed" and result["mode"] == "eval"
    assert result["checkpoint"] == trained["checkpoint"]
    # the training run's overrides (data.n_train=60, the tiny sizes) were applied: same job
    assert result["config_hash"] == trained["config_hash"]
    assert result["metrics"] == {
        k: v for k, v in trained["metrics"].items() if not k.startswith("train/")
    }


def test_an_evaluation_references_its_checkpoint_and_copies_none(box_run, tmp_path):
    """eval.py copied the evaluated run's best checkpoint into evals/<t>/checkpoints/ (the
    checkpoint callback's state carried over as if training went on there)."""
    trained = json.loads((box_run / "results.json").read_text())
    result = evaluated(trained["checkpoint"], tmp_path / "eval")
    assert result["checkpoint"] == trained["checkpoint"] and result["status"] == "completed"
    assert not list((tmp_path / "eval").rglob("*.ckpt")), "referenced, not copied"


def test_eval_py_needs_a_checkpoint(tmp_path, capsys):
    assert eval_py("logger=none", f"paths.log_dir={tmp_path}") == 1
    err = capsys.readouterr().err
    assert "ckpt_path=None is not allowed: must name the checkpoint" in err
    assert "Traceback" not in err


def test_training_overrides_leave_out_how_it_ran(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "results.json").write_text(
        json.dumps(
            {
                "status": "completed",
                "overrides": [
                    "model=net2",
                    "seed=3",
                    "logger=csv",
                    "paths.log_dir=/x",
                    "ckpt_path=/y",
                    "hydra.verbose=true",
                    "trainer.max_epochs=5",
                ],
            }
        )
    )
    ckpt = str(run / "checkpoints" / "last.ckpt")
    assert training_overrides(ckpt) == ["model=net2", "seed=3", "trainer.max_epochs=5"]
    assert training_overrides(tmp_path / "elsewhere.ckpt") == []
    # the user's own values win; a multirun is left as it is
    argv = ["eval.py", f"ckpt_path={ckpt}", "seed=7"]
    assert with_training_overrides(argv) == [
        "eval.py",
        "model=net2",
        "trainer.max_epochs=5",
        f"ckpt_path={ckpt}",
        "seed=7",
    ]
    assert with_training_overrides([*argv, "-m"]) == [*argv, "-m"]


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="trainer=ddp_sim runs 2 processes")
def test_ddp_sim_trains_one_job_with_metrics_synced_over_processes(tiny_cfg, tmp_path):
    run_script(
        "train.py",
        *TINY_BOXES,
        "trainer=ddp_sim",
        "logger=csv",
        f"paths.log_dir={tmp_path / 'ddp'}",
    )
    ddp = only_results(tmp_path / "ddp")  # one results.json for the two processes
    single_cfg = tiny_cfg([])
    train(single_cfg)
    single = json.loads((Path(single_cfg.paths.output_dir) / "results.json").read_text())
    assert ddp["status"] == "completed" and ddp["config"]["trainer"]["devices"] == 2
    assert set(ddp) == set(single) and set(ddp["metrics"]) == set(single["metrics"])
    # each process saw half of the validation and test images; the logged values are over all
    # of them (torchmetrics' accuracy syncs itself, the losses through sync_dist): the same
    # checkpoint scored in one process gives the same numbers
    whole = evaluated(ddp["checkpoint"], tmp_path / "eval", "trainer=cpu")
    for key, value in whole["metrics"].items():
        assert ddp["metrics"][key] == pytest.approx(value, rel=1e-5), key
