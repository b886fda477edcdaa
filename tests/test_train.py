"""train(cfg) and train.py end to end on tiny box data: metrics, results.json, loggers, seeds."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import lightning as L
import pytest
import yaml

from dl2.errors import ConfigValueError
from dl2.run.job import train
from dl2.run.results import code_version
from dl2.tasks.classification import ImageClassifier
from tests.conf_tree import options
from tests.harness import TINY_BOXES, run_script, train_py

EXPECTED = {
    "train/loss",
    "train/acc",
    "val/loss",
    "val/acc",
    "test/loss",
    "test/acc",
    "test_unshifted/loss",
    "test_unshifted/acc",
}


def test_train_returns_metrics_and_writes_results(tiny_cfg, tmp_path):
    cfg = tiny_cfg(["model=net2", "model.conv_type=reflect"])
    metrics = train(cfg)
    assert set(metrics) == EXPECTED
    assert {k for k in metrics if k.startswith("val/")} == set(ImageClassifier.VALIDATION_METRICS)
    assert all(0.0 <= metrics[k] <= 1.0 for k in metrics if k.endswith("/acc"))
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["status"] == "completed"
    assert results["metrics"] == metrics
    assert results["config"]["model"]["pad"] == "reflect"
    assert results["config"]["model"]["pad_size"] == 2
    assert results["seed"] == 0
    assert Path(results["checkpoint"]).exists()
    assert results["wall_time_s"] > 0
    assert results["code"] == code_version(), "the checkout's commit, and whether it changed"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_code_version_is_the_commit_and_whether_code_or_config_changed(tmp_path):
    from dl2.studies.job_folders import machine_line

    assert code_version(tmp_path) == {"commit": None, "dirty": None}, "not a git checkout"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    (tmp_path / "dl2").mkdir()
    (tmp_path / "dl2" / "net.py").write_text("x = 1\n")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert code_version(tmp_path) == {"commit": head.strip(), "dirty": False}
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "jobs.jsonl").write_text("{}\n")  # results, not code
    assert code_version(tmp_path)["dirty"] is False
    (tmp_path / "dl2" / "net.py").write_text("x = 2\n")
    assert code_version(tmp_path)["dirty"] is True
    machine = {"cpu": "AMD EPYC", "cpu_count": 2, "torch": "2.4", "python": "3.11", "platform": "L"}
    assert machine_line(machine).endswith("Python 3.11, L"), "older records: no commit"
    line = machine_line(machine, code_version(tmp_path))
    assert line.endswith(f"; dl2 {head[:10]} with local changes")


def test_same_seed_same_metrics_other_seed_differs(tiny_cfg):
    # seed 0 is a seed: a falsy seed once left the run unseeded, and two runs then differed
    first = train(tiny_cfg(["seed=0"]))
    second = train(tiny_cfg(["seed=0"]))
    other = train(tiny_cfg(["seed=1"]))
    assert first == second
    assert first != other


def test_test_split_uses_best_checkpoint(tiny_cfg, tmp_path):
    cfg = tiny_cfg(["trainer.max_epochs=3"])
    train(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["checkpoint"].endswith(f"epoch_{results['best_epoch']:03d}.ckpt")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.pad=mirror", "model.pad"),
        ("model.pad_size=3", "model.pad_size"),
        ("data.n_train=0", "data.n_train"),
        ("data.offset1=1", "data.offset1"),
        ("data.protocol=shuffled", "data.protocol"),
        # checked before anything is built (dl2/config/preflight.py)
        ("seed=-1", "seed"),
        (f"seed={2**32}", "seed"),
        ("trainer.max_epochs=0", "trainer.max_epochs"),
        ("trainer.max_epochs=ten", "trainer.max_epochs"),
        ("+trainer.max_steps=0", "trainer.max_steps"),
        ("trainer.devices=100000", "trainer.devices"),
        ("callbacks.early_stopping.patience=abc", "callbacks.early_stopping.patience"),
        # checked after the sanity-check validation, before the first training step
        ("callbacks.model_checkpoint.monitor=val/nope", "callbacks.model_checkpoint.monitor"),
    ],
)
def test_bad_values_fail_before_training_naming_the_key(tiny_cfg, override, key):
    cfg = tiny_cfg([override])
    with pytest.raises(ConfigValueError) as info:
        train(cfg)
    assert info.value.key == key
    assert not list(Path(cfg.paths.output_dir).glob("checkpoints/*.ckpt"))
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["status"] == "failed" and key in results["error"]


def test_conv_type_preset_sets_pad_and_contradiction_fails(tiny_cfg):
    cfg = tiny_cfg(["model.conv_type=valid"])
    assert (cfg.model.pad, cfg.model.pad_size) == ("zeros", 0)
    cfg = tiny_cfg(["model.conv_type=sconv", "model.pad=reflect"])
    with pytest.raises(ConfigValueError, match="model.conv_type"):
        train(cfg)


def test_train_py_with_csv_and_wandb_offline(tmp_path, capsys):
    assert train_py(*TINY_BOXES, "logger=many", f"paths.log_dir={tmp_path}") == 0
    runs = list((tmp_path / "padding" / "runs").iterdir())
    assert len(runs) == 1
    results = json.loads((runs[0] / "results.json").read_text())
    assert results["status"] == "completed"
    assert "test/acc" in capsys.readouterr().out
    csv_metrics = (runs[0] / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/loss", "val/loss", "val/acc", "test/acc", "test_unshifted/acc"} <= set(
        csv_metrics
    )
    offline = list((runs[0] / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    # what every logger got (Lightning sends them all the same): the resolved config, once,
    # not the datamodule's hyperparameters flat on top (its seed 42 over the run's 0)
    hparams = yaml.safe_load((runs[0] / "csv" / "hparams.yaml").read_text())
    assert hparams == results["config"]
    assert hparams["seed"] == results["seed"] == 0 and hparams["data"]["seed"] == 42
    assert results["config"]["logger"]["wandb"]["group"].startswith("padding/")
    assert "seed" not in results["config"]["logger"]["wandb"]["group"]


@pytest.mark.slow
def test_train_py_as_a_command(tmp_path):
    """`python train.py` in a process of its own, as users type it. A graph run with every
    logger: nothing on stderr (no warning from an import, W&B quiet without WANDB_SILENT). A
    bad value: exit status 1 and a message naming the key and the value, no traceback."""
    run = tmp_path / "run"
    proc = run_script(
        "train.py",
        "experiment=gnn",
        "data=sbm_graph",
        "trainer.max_epochs=2",
        "logger=many",
        f"hydra.run.dir={run}",
        env={"WANDB_SILENT": None},
    )
    assert proc.stderr.strip() == "", proc.stderr
    assert "gnn completed" in proc.stdout and "test/acc" in proc.stdout
    assert json.loads((run / "results.json").read_text())["status"] == "completed"
    assert "val/acc" in (run / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert len(list(run.glob("wandb/offline-run-*"))) == 1
    # a value of the wrong type fails while composing, before anything is imported for training
    # without a tracer (coverage's subprocess hook): Hydra shows the full traceback to one
    untraced = {k: None for k in os.environ if k.startswith(("COVERAGE_", "COV_CORE_"))}
    proc = run_script(
        "train.py",
        "seed=1.5",
        "logger=none",
        f"hydra.run.dir={run}-bad",
        check=False,
        env=untraced,
    )
    assert proc.returncode == 1
    assert (
        "seed=1.5" in proc.stderr
        and "Value '1.5' of type 'float' could not be converted to Integer" in proc.stderr
    ), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "run-bad" / "checkpoints").exists()


def test_train_py_bad_input_exits_nonzero_with_message(tmp_path, capsys):
    assert train_py("model.pad=mirror", "logger=none", f"paths.log_dir={tmp_path}") == 1
    err = capsys.readouterr().err
    assert "model.pad='mirror' is not allowed" in err
    assert "zeros, reflect, replicate, circular" in err and "Traceback" not in err


def test_unknown_conv_type_and_net_fail(tmp_path, capsys):
    assert train_py("model.conv_type=same", "logger=none", f"paths.log_dir={tmp_path}") == 1
    assert "model.conv_type='same'" in capsys.readouterr().err
    assert train_py("model=net3", "logger=none", f"paths.log_dir={tmp_path}") == 1
    err = capsys.readouterr().err
    assert "net3" in err and "net1" in err


@pytest.mark.parametrize(
    ("name", "target", "folder"),
    [
        ("csv", "CSVLogger", "csv"),
        ("tensorboard", "TensorBoardLogger", "tensorboard"),
        ("wandb", "WandbLogger", "wandb"),
    ],
)
def test_each_logger_writes_into_the_run_folder(tiny_cfg, name, target, folder):
    from dl2.run.build import build_loggers

    cfg = tiny_cfg([f"logger={name}"])
    (logger,) = build_loggers(cfg)
    assert type(logger).__name__ == target
    out = Path(cfg.paths.output_dir)
    if name == "wandb":  # W&B makes its own wandb/ folder inside the run folder
        assert Path(logger.save_dir) == out
    else:
        assert Path(logger.log_dir) == out / folder
    assert build_loggers(tiny_cfg(["logger=none"])) == []


class Boom(Exception):
    pass


def test_failing_job_closes_its_wandb_run_and_records_the_failure(tiny_cfg, monkeypatch):
    import wandb

    from dl2.tasks.classification import ImageClassifier

    def explode(self, *args, **kwargs):
        raise Boom("exploded in training")

    monkeypatch.setattr(ImageClassifier, "training_step", explode)
    cfg = tiny_cfg(["logger=wandb"])
    with pytest.raises(Boom):
        train(cfg)
    assert wandb.run is None, "the failed job's W&B run was closed"
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["status"] == "failed" and "exploded in training" in results["error"]
    assert len(list((Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*"))) == 1


def test_data_must_be_a_dl2_datamodule():
    from omegaconf import OmegaConf

    from dl2.run.build import build_model

    cfg = OmegaConf.create({"data": {"_target_": "lightning.pytorch.LightningDataModule"}})
    with pytest.raises(ConfigValueError) as info:
        build_model(cfg)
    assert info.value.key == "data._target_" and "DataModule" in str(info.value)


def test_trainer_presets_build_what_they_name(tiny_cfg):
    """Each preset as Lightning builds it on this machine (no process started): the CPU one, and
    ddp_sim's two CPU processes with DDP."""
    from dl2.run.build import build

    cpu = build(tiny_cfg(["trainer=cpu"]), "trainer", logger=False)
    assert type(cpu.accelerator).__name__ == "CPUAccelerator" and cpu.num_devices == 1
    ddp = build(tiny_cfg(["trainer=ddp_sim"]), "trainer", logger=False)
    assert type(ddp.strategy).__name__ == "DDPStrategy" and ddp.num_devices == 2
    assert type(ddp.accelerator).__name__ == "CPUAccelerator"


def test_debug_fast_dev_run(tiny_cfg):
    metrics = train(tiny_cfg(["debug=fdr"]))
    assert {"val/acc", "test/acc", "test_unshifted/acc"} <= set(metrics)


def test_help_lists_only_the_groups_train_py_can_use(capsys):
    """Study files lived in conf/study/, so `--help` offered a `study` group that train.py
    cannot compose (`study=gpt` failed); they are in studies/ now."""
    assert train_py("--help") == 0
    groups = capsys.readouterr().out.split("== Config ==")[0]
    assert f"experiment: {', '.join(options('experiment'))}" in groups
    assert "\nstudy:" not in groups


class TaskWithoutMetrics(L.LightningModule):
    """A LightningModule around a net that does not say what its validation logs."""

    def __init__(self, net, **kwargs) -> None:
        super().__init__()
        self.net = net


def test_a_task_must_offer_its_net_and_validation_metrics(tiny_cfg):
    """The run layer and callbacks use `task.net` and `VALIDATION_METRICS`: a task without
    them is refused when built, naming the key (dl2.tasks.base.Task)."""
    from torch import nn

    from dl2.run.build import build_model
    from dl2.tasks.node_classification import NodeClassifier

    target = f"{__name__}.TaskWithoutMetrics"
    with pytest.raises(ConfigValueError) as info:
        build_model(tiny_cfg([f"model.task._target_={target}"]))
    assert info.value.key == "model.task._target_" and "VALIDATION_METRICS" in str(info.value)
    with pytest.raises(ConfigValueError, match="model.task.num_classes=None .* no num_classes"):
        NodeClassifier(nn.Linear(3, 2), optimizer=None)
