"""What a job prints (quiet by default, verbose one flag away) and its progress log lines."""

from __future__ import annotations

import json
import logging
import sys
import warnings

import pytest

from dl2.callbacks.progress_log import PROGRESS_LOGGER
from dl2.paths import CONF
from dl2.run.console import HideOnTerminal
from dl2.run.job import train
from tests.harness import TINY_BOXES, run_script, train_py

# what a new Python process shows of warnings: all but these (Python's default filters)
HIDDEN_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def train_py_output(capfd, *args: str) -> tuple[str, str, list[str]]:
    """`python train.py <args>` in this process: its stdout, its stderr (file descriptors too:
    W&B's service writes there) and the warnings a new process would have printed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for category in HIDDEN_BY_DEFAULT:
            warnings.filterwarnings("ignore", category=category)
        assert train_py(*args) == 0
    out, err = capfd.readouterr()
    return out, err, [f"{w.category.__name__}: {w.message}" for w in caught]


def test_default_run_is_quiet_and_logs_progress(tmp_path, capfd, monkeypatch):
    # before: 41 stderr lines (37 from W&B), 8 Lightning info lines on stdout; W&B's own
    # silence (WANDB_SILENT) not asked for
    monkeypatch.delenv("WANDB_SILENT", raising=False)
    out, err, warned = train_py_output(
        capfd, *TINY_BOXES, "logger=many", f"paths.log_dir={tmp_path}", "tags=[quiet]"
    )
    assert err.strip() == "", err
    assert warned == []
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


@pytest.mark.slow
def test_verbose_brings_the_libraries_messages_back(tmp_path):
    """A process of its own: W&B sets its verbosity once per process, Lightning's console
    handler is bound when it is first imported."""
    proc = run_script(
        "train.py",
        *TINY_BOXES,
        "trainer.max_epochs=1",
        "logger=wandb",
        "verbose=true",
        f"paths.log_dir={tmp_path}",
        env={"WANDB_SILENT": None},
    )
    assert "wandb:" in proc.stderr and "GPU available" in proc.stdout


def test_progress_lines_within_long_epochs(tiny_cfg, caplog):
    # 2 batches an epoch, a line every step: step 1 (within the epoch) and each epoch's end
    cfg = tiny_cfg(["trainer.log_every_n_steps=1"])
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        train(cfg)
    lines = [r.getMessage() for r in caplog.records if r.name == PROGRESS_LOGGER]
    assert [line.split(" |")[0] for line in lines] == [
        "epoch 1/2 step 1/4",
        "epoch 1/2 step 2/4",
        "epoch 2/2 step 3/4",
        "epoch 2/2 step 4/4",
    ]
    assert lines[0].split(" | ")[1].startswith("train/loss ")  # the step's loss
    assert "val/loss" in lines[1] and "train/acc" in lines[1]  # the epoch's metrics


def test_a_long_job_prints_about_twenty_progress_lines(tiny_cfg, caplog):
    """A GNN job (one step an epoch) printed a line per epoch: 200 in a SLURM log. Now one per
    twentieth of the run, and the last."""
    cfg = tiny_cfg(["data.batch_size=40", "trainer.max_epochs=40", "callbacks=none"])
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        train(cfg)
    lines = [r.getMessage().split(" |")[0] for r in caplog.records if r.name == PROGRESS_LOGGER]
    assert lines[0] == "epoch 1/40 step 1/40" and lines[-1] == "epoch 40/40 step 40/40"
    assert 18 <= len(lines) <= 21, "\n".join(lines)


def test_progress_lines_stay_off_a_terminal(monkeypatch):
    def record(name: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.INFO, __file__, 1, "msg", None, None)

    hide = HideOnTerminal()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert not hide.filter(record(PROGRESS_LOGGER)) and hide.filter(record("dl2.run.job"))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert hide.filter(record(PROGRESS_LOGGER))


def test_joblib_workers_print_progress_lines_not_bars(tmp_path, monkeypatch):
    """Two joblib workers on one terminal drew their model summaries and progress bars over
    each other: the launcher's jobs are marked as workers, which print progress lines."""
    import logging
    import sys

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from dl2.callbacks.progress_log import PROGRESS_LOGGER
    from dl2.config.resolvers import WORKER_ENV, interactive
    from dl2.run.console import HideOnTerminal

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", ["launcher=joblib"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    assert cfg.hydra.job.env_set[WORKER_ENV] == "1"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    line = logging.LogRecord(PROGRESS_LOGGER, logging.INFO, "", 0, "epoch 1/2", None, None)
    monkeypatch.delenv(WORKER_ENV, raising=False)
    assert interactive() and not HideOnTerminal().filter(line), "a terminal: the bar shows it"
    monkeypatch.setenv(WORKER_ENV, "1")
    assert not interactive() and HideOnTerminal().filter(line), "a worker: the line shows it"


def test_the_launching_process_prints_each_job_start_end_and_requeue(tmp_path):
    """joblib's parent printed every job's overrides at once, and a SLURM multirun said nothing
    while its jobs waited: the launching process reads the sweep folder and prints one line per
    job event, and nothing for what the folder held before."""
    import json
    import os

    from dl2.run.multirun_progress import JobWatch

    def start(folder, overrides, job_id="job_id_for_0", when=1000.0):
        (folder / ".hydra").mkdir(parents=True, exist_ok=True)
        (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
        (folder / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  job:\n    id: '{job_id}'\n")
        os.utime(folder / ".hydra" / "overrides.yaml", (when, when))

    def end(folder, status, code, when):
        payload = {"status": status, "exit_code": code, "wall_time_s": 75.4}
        (folder / "results.json").write_text(json.dumps(payload))
        os.utime(folder / "results.json", (when, when))

    old = tmp_path / "0_seed=0"
    start(old, ["seed=0"])
    end(old, "completed", 0, 1001.0)
    watch = JobWatch(tmp_path)
    assert watch.poll() == [], "a job done before the watch is not news"
    (tmp_path / ".submitit" / "77_0").mkdir(parents=True)
    (tmp_path / ".submitit" / "77_1").mkdir()
    assert watch.poll() == ["submitted 2 jobs: 77_0, 77_1 (waiting for them to start)"]
    job = tmp_path / "1_model.pad=reflect,seed=1"
    start(job, ["model.pad=reflect", "seed=1", "torch_threads=1", "launcher=slurm"], "77_1")
    assert watch.poll() == ["job #1 started as job 77_1: model.pad=reflect seed=1"]
    assert watch.poll() == [], "each event once"
    end(job, "interrupted", 143, 2000.0)
    assert watch.poll() == [f"job #1 interrupted (exit 143) after 1:15: {job}"]
    start(job, ["model.pad=reflect", "seed=1"], "77_1", when=2100.0)
    assert watch.poll() == ["job #1 restarted (requeued) as job 77_1: model.pad=reflect seed=1"]
    assert watch.unfinished() == [
        "job #1 ended without a new results.json (a finished job skipped, or a job that was killed)"
    ]
    end(job, "completed", 0, 2200.0)
    assert watch.poll() == [f"job #1 completed after 1:15: {job}"]
    assert watch.unfinished() == []
    # files a user or a crash left damaged: still one line each, no thread brought down
    odd = tmp_path / "2_seed=2"
    start(odd, [])
    (odd / ".hydra" / "overrides.yaml").write_text("just text\n")
    (odd / ".hydra" / "hydra.yaml").write_text("- a list\n")
    os.utime(odd / ".hydra" / "overrides.yaml", (3000.0, 3000.0))
    (odd / "results.json").write_text("[1, 2")
    assert watch.poll() == ["job #2 started: (defaults)", f"job #2 unknown: {odd}"]


def test_job_progress_travels_to_workers_and_prints_the_last_events_at_the_end(tmp_path, caplog):
    """joblib pickles Hydra's callbacks for its workers: the watching thread stays behind
    (pickling it failed every joblib multirun); the multirun's end prints what is left."""
    import logging
    import pickle

    from omegaconf import OmegaConf

    from dl2.errors import ConfigValueError
    from dl2.run.multirun_progress import JobProgress

    for bad in (0, -1, "often", float("nan")):
        with pytest.raises(ConfigValueError, match="job_progress.interval_s"):
            JobProgress(interval_s=bad)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    progress = JobProgress(interval_s=60)
    progress.on_multirun_start(config)
    copy = pickle.loads(pickle.dumps(progress))
    assert copy.interval_s == 60 and copy._thread is None
    job = tmp_path / "0_seed=3"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- seed=3\n")
    with caplog.at_level(logging.INFO, logger="dl2.jobs"):
        progress.on_multirun_end(config)
    assert [r.getMessage() for r in caplog.records] == [
        "job #0 started: seed=3",
        "job #0 ended without a new results.json (a finished job skipped, or a job that was "
        "killed)",
        f"multirun ended: 1 job (1 not finished) in {tmp_path}; its table: python sweep.py "
        f"report {tmp_path}",
    ]
    assert progress._thread is None


def test_a_multirun_ends_with_a_summary_and_workers_keep_their_tables_in_their_logs(
    tmp_path, capsys, caplog, monkeypatch
):
    """joblib's workers printed every job's 10-line table into the launching terminal and no
    summary came at the end: now a worker's table and dl2 lines go to its log file only, and
    every multirun ends with one line (the local launcher's jobs print their own lines)."""
    from dl2.config.resolvers import WORKER_ENV
    from dl2.run.results import print_metrics

    sweep = tmp_path / "sweep"
    args = [*TINY_BOXES, "logger=none", "seed=1,2", f"hydra.sweep.dir={sweep}"]
    assert train_py("-m", *args) == 0
    out = capsys.readouterr().out
    assert out.count("multirun ended") == 1 and out.rstrip().endswith(
        f"multirun ended: 2 jobs (2 completed) in {sweep}; its table: python sweep.py report "
        f"{sweep}"
    )
    monkeypatch.setenv(WORKER_ENV, "1")
    with caplog.at_level(logging.INFO, logger="dl2.results"):
        print_metrics({"val/acc": 0.5, "mean ± std test/acc": "0.5000 ± 0.0100 (n=2)"}, "t: f")
    assert capsys.readouterr().out == ""
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "dl2.results"]
    assert logged.startswith("t: f\n") and "0.5000 ± 0.0100 (n=2)" in logged
    hide = HideOnTerminal()
    note = logging.LogRecord("dl2.run.job", logging.INFO, __file__, 1, "m", None, None)
    warn = logging.LogRecord("dl2.run.job", logging.WARNING, __file__, 1, "m", None, None)
    progress = logging.LogRecord(PROGRESS_LOGGER, logging.INFO, __file__, 1, "m", None, None)
    assert not hide.filter(note) and hide.filter(warn) and hide.filter(progress)
