"""What a job prints (quiet by default, verbose one flag away) and its progress log lines."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from dl2.console import PROGRESS_LOGGER, HideOnTerminal
from dl2.pipeline import train
from tests.conftest import ROOT, TINY_BOXES


def run_train_py(*args: str) -> subprocess.CompletedProcess:
    """train.py as a user runs it: W&B offline, but W&B's own silence not asked for."""
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SILENT"}
    env["WANDB_MODE"] = "offline"
    proc = subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_default_run_is_quiet_and_logs_progress(tmp_path):
    # before: 41 stderr lines (37 from W&B), 8 Lightning info lines on stdout
    proc = run_train_py(*TINY_BOXES, "logger=many", f"paths.log_dir={tmp_path}",
                        "tags=[quiet]")
    assert proc.stderr.strip() == "", proc.stderr
    out = proc.stdout
    for noise in ("wandb:", "GPU available", "litlogger", "Restoring states", "Loaded model"):
        assert noise not in out
    (run,) = (tmp_path / "padding" / "runs").iterdir()
    assert f"run folder {run}" in out and "padding completed" in out and "test/acc" in out
    # no terminal: one progress line per validation, on stdout and in train.log
    progress = [line for line in out.splitlines() if f"[{PROGRESS_LOGGER}]" in line]
    assert len(progress) == 2 and "epoch 2/2 step 4/4" in progress[-1]
    assert "val/acc" in progress[-1] and "ETA 0:00:00" in progress[-1]
    log_lines = (run / "train.log").read_text().splitlines()
    assert [line for line in log_lines if f"[{PROGRESS_LOGGER}]" in line] == progress
    # parameter counts and the learning rate reach the loggers and results.json
    results = json.loads((run / "results.json").read_text())
    header = (run / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"params/total", "params/trainable", "lr-Adadelta"} <= set(header)
    assert results["params"]["total"] == results["params"]["trainable"] > 0
    assert results["config"]["logger"]["wandb"]["tags"] == ["padding", "quiet"]


def test_verbose_brings_the_libraries_messages_back(tmp_path):
    proc = run_train_py(*TINY_BOXES, "trainer.max_epochs=1", "logger=wandb", "verbose=true",
                        f"paths.log_dir={tmp_path}")
    assert "wandb:" in proc.stderr and "GPU available" in proc.stdout


def test_progress_lines_within_long_epochs(tiny_cfg, caplog):
    # 2 batches an epoch, a line every step: step 1 (within the epoch) and each epoch's end
    cfg = tiny_cfg(["trainer.log_every_n_steps=1"])
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        train(cfg)
    lines = [r.getMessage() for r in caplog.records if r.name == PROGRESS_LOGGER]
    assert [line.split(" |")[0] for line in lines] == [
        "epoch 1/2 step 1/4", "epoch 1/2 step 2/4", "epoch 2/2 step 3/4", "epoch 2/2 step 4/4"]
    assert lines[0].split(" | ")[1].startswith("train/loss ")  # the step's loss
    assert "val/loss" in lines[1] and "train/acc" in lines[1]  # the epoch's metrics


def test_progress_lines_stay_off_a_terminal(monkeypatch):
    def record(name: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.INFO, __file__, 1, "msg", None, None)

    hide = HideOnTerminal()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert not hide.filter(record(PROGRESS_LOGGER)) and hide.filter(record("dl2.pipeline"))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert hide.filter(record(PROGRESS_LOGGER))


def test_graph_runs_are_quiet_too(tmp_path):
    # torch-geometric's import-time FutureWarning, W&B, Lightning: nothing on stderr
    proc = run_train_py("experiment=gnn", "data=sbm_graph", "trainer.max_epochs=2",
                        "logger=wandb", f"paths.log_dir={tmp_path}")
    assert proc.stderr.strip() == "", proc.stderr
    assert "gnn completed" in proc.stdout and "test/acc" in proc.stdout
