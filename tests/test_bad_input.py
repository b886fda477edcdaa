"""Bad input fails before any work, in one line naming key, value and what is allowed: the
optimizer's numbers, logger options, sizes the machine cannot hold, output folders Hydra
cannot make, a full disk, a text with nothing to learn, a study's extra overrides, and a
checkpoint of another experiment (or for a device the machine lacks)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dl2.checkpoints import AtomicCheckpointIO
from dl2.config.preflight import check_values
from dl2.errors import ConfigValueError
from dl2.files import read_checkpoint
from tests.harness import (
    TINY_BOXES,
    compose_cfg,
    eval_py,
    generate_py,
    sweep_py,
    tiny_gpt_overrides,
    train_py,
)


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.task.optimizer.lr=abc", "model.task.optimizer.lr"),
        ("model.task.optimizer.lr=-1", "model.task.optimizer.lr"),
        ("model.task.optimizer.lr=0", "model.task.optimizer.lr"),
        ("model.task.optimizer.lr=nan", "model.task.optimizer.lr"),
        ("model.task.optimizer.weight_decay=-0.1", "model.task.optimizer.weight_decay"),
        ("experiment=gpt model.task.optimizer.betas=[0.9,1.5]", "model.task.optimizer.betas"),
        ("experiment=gpt model.task.weight_decay=-1", "model.task.weight_decay"),
        ("logger.wandb.log_model=maybe", "logger.wandb.log_model"),
        ("logger.wandb.project=a/b/c", "logger.wandb.project"),
        ("+foo=1", "foo"),
        ("torch_threads=0", "torch_threads"),
        ("torch_threads=-3", "torch_threads"),
        ("experiment=gpt_cpu trainer.val_check_interval=0", "trainer.val_check_interval"),
        ("experiment=gpt_cpu trainer.val_check_interval=1.5", "trainer.val_check_interval"),
        ("experiment=rotation data.num_workers=-1", "data.num_workers"),
        ("experiment=gnn model.net.dropout=2", "model.net.dropout"),
        ("experiment=gnn model.net.dropout=-0.5", "model.net.dropout"),
        ("experiment=gnn model.net.dropout=1", "model.net.dropout"),
        ("experiment=rotation model=vit model.dropout=1.0", "model.dropout"),
    ],
)
def test_bad_values_fail_before_anything_is_built(tmp_path, override, key):
    cfg = compose_cfg(tmp_path, ["logger=wandb", *override.split()])
    with pytest.raises(ConfigValueError) as info:
        check_values(cfg)
    assert info.value.key == key
    assert override.split("=")[-1].replace(",", ", ") in str(info.value)


def test_good_values_pass(tmp_path):
    for overrides in (
        [],
        ["logger=wandb", "logger.wandb.log_model=all"],
        ["model.task.optimizer.lr=1"],
        ["experiment=gpt"],
        ["experiment=gnn", "model.net.dropout=0"],
        ["experiment=rotation", "model=vit", "data.num_workers=0", "torch_threads=1"],
        ["experiment=gpt_cpu", "trainer.val_check_interval=0.5"],
        ["logger=wandb", "logger.wandb.project=my-project_2"],
    ):
        check_values(compose_cfg(tmp_path, overrides, job="ok"))


@pytest.mark.parametrize("lr", ["abc", "1e400"])
def test_a_bad_lr_is_one_line_before_training(tmp_path, capsys, lr):
    """A single run is refused before its folder is made, a multirun before its first job
    (every job's config is checked first): no folder, no W&B run."""
    out = tmp_path / "run"
    assert (
        train_py(
            *TINY_BOXES, "logger=none", f"model.task.optimizer.lr={lr}", f"hydra.run.dir={out}"
        )
        == 1
    )
    err = one_line(capsys.readouterr().err)
    assert "model.task.optimizer.lr=" in err and "is not allowed: must be a positive number" in err
    assert not out.exists(), "refused before Hydra made the run folder"
    sweep = tmp_path / "sweep"
    argv = [*TINY_BOXES, "logger=wandb", f"model.task.optimizer.lr=0.1,{lr}"]
    assert train_py("-m", *argv, f"hydra.sweep.dir={sweep}") == 1
    err = one_line(capsys.readouterr().err)
    assert "job 1 (" in err and "): model.task.optimizer.lr=" in err and "job 0" not in err
    assert not sweep.exists(), "no job started, not even the good one"


@pytest.mark.parametrize(
    ("sweep", "shown"),
    [
        (["seed=0,0"], "seed='0,0' is not allowed: gives 0 more than once"),
        (["seed=0,00"], "seed='00' is not allowed: job 1 is job 0 again"),
        (["torch_threads=1,0"], "job 1 ("),
        (["+foo=1", "seed=0,1"], "foo=1 is not allowed: is not a key of dl2's config"),
        (["launcher=joblib", "hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs=0 is not allowed"),
        (["launcher=slurm", "seed=0,1"], "launcher='slurm' is not allowed: needs a SLURM cluster"),
    ],
)
def test_a_sweep_that_would_be_refused_starts_no_job(tmp_path, capsys, monkeypatch, sweep, shown):
    """Values, duplicate jobs and the launcher are checked before the first job, in one line;
    SLURM off a cluster (no srun here) is named before submitit's traceback."""
    monkeypatch.setattr("dl2.config.sweep_check.shutil.which", lambda name: None)
    folder = tmp_path / "sweep"
    assert train_py("-m", *TINY_BOXES, "logger=none", *sweep, f"hydra.sweep.dir={folder}") == 1
    assert shown in one_line(capsys.readouterr().err)
    assert not folder.exists()


def test_a_sweep_folder_given_again_keeps_the_earlier_multirun_yaml(tmp_path):
    folder = tmp_path / "sweep"
    base = [*TINY_BOXES, "logger=none", f"hydra.sweep.dir={folder}"]
    assert train_py("-m", *base, "seed=0") == 0
    first = (folder / "multirun.yaml").read_text()
    assert train_py("-m", *base, "seed=0") == 0, "the same command: finished, skipped"
    assert (folder / "multirun.yaml").read_text() == first
    assert not (folder / "multirun.1.yaml").exists()
    assert train_py("-m", *base, "seed=1", "data.n_train=32") == 0
    assert (folder / "multirun.1.yaml").read_text() == first
    assert "seed=1" in (folder / "multirun.yaml").read_text()


def test_sizes_the_machine_cannot_hold_are_refused(tmp_path, capsys):
    assert (
        train_py("data.n_train=100000000000", "logger=none", f"hydra.run.dir={tmp_path / 'run'}")
        == 1
    )
    err = one_line(capsys.readouterr().err)
    assert "data.n_train=100000000000 is not allowed" in err and "GiB of memory" in err


@pytest.mark.parametrize("key", ["hydra.run.dir", "paths.log_dir", "hydra.sweep.dir"])
def test_an_output_folder_hydra_cannot_make_is_one_line(tmp_path, capsys, key):
    """Hydra makes the folder before dl2's code runs: its mkdir traceback came first."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    multirun = ["-m", "seed=1,2"] if key == "hydra.sweep.dir" else []
    assert train_py(*multirun, *TINY_BOXES, "logger=none", f"{key}={blocker / 'x'}") == 1
    err = one_line(capsys.readouterr().err)
    shown = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    assert f"{shown}='{blocker / 'x'}" in err and "must be a folder dl2 can make" in err
    assert f"{blocker} is not a folder" in err
    assert blocker.is_file(), "nothing was made"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_named_as_such(tmp_path):
    """torch reports a failed write as "enforce fail at inline_container.cc: unexpected pos";
    the checkpoint's temporary file here is /dev/full, where every write fails with ENOSPC."""
    target = tmp_path / "last.ckpt"
    (tmp_path / f".last.ckpt.{os.getpid()}.part").symlink_to("/dev/full")
    with pytest.raises(OSError) as info:
        AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(10_000)}, target)
    message = str(info.value)
    assert "No space left on device" in message and str(target) in message
    assert f"free on the disk holding {tmp_path}" in message
    assert not target.exists() and not list(tmp_path.iterdir()), "nothing left behind"


def test_a_text_with_one_character_has_nothing_to_learn(tmp_path, capsys):
    text = tmp_path / "a.txt"
    text.write_text("a" * 2000)
    assert train_py(*tiny_gpt_overrides(text, steps=2), f"hydra.run.dir={tmp_path / 'r'}") == 1
    err = one_line(capsys.readouterr().err)
    assert f"data.path='{text}' is not allowed: must hold at least 2 distinct" in err


@pytest.mark.parametrize(
    ("extra", "shown"),
    [
        (
            "callbacks.early_stopping.patience=5",
            "callbacks.early_stopping.patience=5 is not allowed: the config of experiment=gnn",
        ),
        ("trainer=nope", "Could not find 'trainer/nope'"),
        ("model=gat", "model is an axis of study gnn-models: choose its values with --models"),
        ("trainer.max_epochs=abc", "trainer.max_epochs='abc' is not allowed"),
    ],
)
def test_a_study_refuses_overrides_its_experiment_cannot_take(tmp_path, capsys, extra, shown):
    """Before: a traceback from Hydra's internals, or 30 jobs started that all failed."""
    args = [
        "gnn-models",
        extra,
        "--out",
        str(tmp_path / "out"),
        "--log-dir",
        str(tmp_path / "logs"),
    ]
    assert sweep_py(*args, "--dry-run") == 1
    err = one_line(capsys.readouterr().err)
    assert err.startswith("sweep.py: ") and shown in err
    assert sweep_py(*args) == 1
    assert not (tmp_path / "logs").exists(), "no job started"


BAD_STUDY = """
name: trial
title: a trial study with a bad value
experiment: padding
axes:
  - {key: %s, values: [%s]}
seeds: [%s]
metrics: [val/acc]
"""


@pytest.mark.parametrize(
    ("key", "values", "seeds", "shown"),
    [
        (
            "model.pad",
            "zeros, mirror",
            "0, 1",
            "experiment=padding model.pad=mirror: model.pad='mirror' is not allowed: choose one",
        ),
        (
            "data.batch_size",
            "8, 0",
            "0",
            "experiment=padding data.batch_size=0: data.batch_size=0 is not allowed",
        ),
        ("model.pad", "zeros", "-1", "model.pad=zeros: seed=-1 is not allowed"),
    ],
)
def test_a_study_refuses_a_value_only_a_constructor_checks_before_any_job(
    tmp_path, capsys, key, values, seeds, shown
):
    """Before: the settings were planned "to run", launched, and failed inside each job."""
    study = tmp_path / "trial.yaml"
    study.write_text(BAD_STUDY % (key, values, seeds))
    args = [str(study), "--out", str(tmp_path / "out"), "--log-dir", str(tmp_path / "logs")]
    assert sweep_py(*args, "--dry-run") == 1
    err = one_line(capsys.readouterr().err)
    assert err.startswith("sweep.py: ") and shown in err
    assert sweep_py(*args) == 1
    assert not (tmp_path / "logs").exists(), "no job started"


# --- checkpoints of another experiment ----------------------------------------------------


@pytest.fixture
def box_checkpoint(box_run) -> Path:
    return box_run / "checkpoints" / "last.ckpt"


def test_a_checkpoint_names_its_experiment(box_checkpoint):
    record = read_checkpoint(box_checkpoint)["dl2_experiment"]
    assert record == {
        "task_name": "padding",
        "net": "dl2.nets.cnn.BoxCNN",
        "data": "dl2.data.boxes.BoxDataModule",
    }


def test_another_experiments_checkpoint_is_one_line_naming_both(
    tmp_path, capsys, text_file, box_checkpoint
):
    """Before: a state_dict traceback (train.py), "Key 'n_train' is not in struct" (eval.py)."""
    gpt = tiny_gpt_overrides(text_file, steps=2)
    assert train_py(*gpt, f"ckpt_path={box_checkpoint}", f"hydra.run.dir={tmp_path / 'a'}") == 1
    err = one_line(capsys.readouterr().err)
    theirs = "task padding (net dl2.nets.cnn.BoxCNN, data dl2.data.boxes.BoxDataModule)"
    assert f"is a checkpoint of {theirs}" in err
    assert "this run is task gpt (net dl2.nets.transformer.GPT" in err
    assert not (tmp_path / "a" / "checkpoints").exists()
    assert eval_py(f"ckpt_path={box_checkpoint}", *gpt, f"hydra.run.dir={tmp_path / 'b'}") == 1
    err = one_line(capsys.readouterr().err)
    assert "is a checkpoint of task padding" in err and "this run is task gpt" in err
    assert generate_py(f"ckpt_path={box_checkpoint}") == 1
    assert "it is a checkpoint of task padding" in one_line(capsys.readouterr().err)


def test_an_older_checkpoint_without_its_record_is_named_by_its_data(
    tmp_path, capsys, text_file, box_checkpoint
):
    old = read_checkpoint(box_checkpoint)
    del old["dl2_experiment"]
    path = tmp_path / "old.ckpt"
    torch.save(old, path)
    gpt = tiny_gpt_overrides(text_file, steps=2)
    assert train_py(*gpt, f"ckpt_path={path}", f"hydra.run.dir={tmp_path / 'a'}") == 1
    err = one_line(capsys.readouterr().err)
    assert "is a checkpoint of another experiment: its data has" in err and "n_train" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_generate_on_a_missing_gpu_says_so(box_checkpoint, capsys):
    """Before: the checkpoint was called truncated (torch could not map it onto CUDA)."""
    assert generate_py(f"ckpt_path={box_checkpoint}", "device=cuda") == 1
    err = one_line(capsys.readouterr().err)
    assert "device='cuda' is not allowed: CUDA is not available on this machine" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
@pytest.mark.parametrize("trainer", ["gpu", "ddp"])
def test_gpu_trainers_on_a_machine_without_one_say_what_it_has(tmp_path, capsys, trainer):
    """Before: Lightning's MisconfigurationException after 7-10 s of imports and data."""
    assert train_py(f"trainer={trainer}", "logger=none", f"hydra.run.dir={tmp_path / 'r'}") == 1
    err = one_line(capsys.readouterr().err)
    assert "trainer.accelerator='gpu' is not allowed: this machine has 0 CUDA GPUs" in err
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_a_config_or_study_file_that_is_not_yaml_is_one_line(tmp_path):
    """A YAML syntax error was Hydra's (or OmegaConf's) traceback: now the file, line, column."""
    from dl2.config.environment import check_config_files
    from dl2.studies.spec import load_study

    conf = tmp_path / "conf"
    (conf / "local").mkdir(parents=True)
    (conf / "train.yaml").write_text("seed: 0\n")
    check_config_files(conf)
    (conf / "local" / "default.yaml").write_text("cluster:\n  partition: [gpu\n")
    with pytest.raises(SystemExit) as info:
        check_config_files(conf)
    assert str(info.value).startswith(f"{conf / 'local' / 'default.yaml'}: not valid YAML, line ")
    assert "this machine's own settings" in str(info.value)
    study = tmp_path / "mine.yaml"
    study.write_text("name: mine\nexperiment: [padding\n")
    with pytest.raises(ConfigValueError, match="is not valid YAML: line 3, column 1"):
        load_study(study)
