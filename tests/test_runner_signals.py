"""Stopping the study runner stops its jobs: SIGTERM, Ctrl-C and kill -9 of `sweep.py` end
every job it started (each `interrupted`, with its checkpoints), the runner exits 143 / 130,
and the next run resumes them. Real processes: the process tree is what is tested."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import ROOT, TINY_BOXES, run_script

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/cmdline").exists(), reason="reads the process table from /proc"
    ),
]

FOREVER = ["trainer.max_epochs=100000", "callbacks.early_stopping.patience=100000"]


def study_args(tmp_path: Path, jobs: int) -> list[str]:
    return [
        "padding-reference",
        "--seeds",
        "0,1",
        "--nets",
        "net1",
        "--conv-types",
        "fconv",
        "--jobs",
        str(jobs),
        "--out",
        str(tmp_path / "out"),
        "--log-dir",
        str(tmp_path / "logs"),
        *TINY_BOXES,
        "logger=none",
        *FOREVER,
    ]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the live processes whose arguments or environment mention `text`
    (loky workers carry neither the runner's arguments nor its folders in theirs)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            seen = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if text.encode() in seen and state != "Z":
            found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def start_runner(tmp_path: Path, jobs: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "DL2_TEST_MARK": str(tmp_path),
    }  # inherited by every process the runner starts
    return subprocess.Popen(
        [sys.executable, "sweep.py", *study_args(tmp_path, jobs)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def job_folders(tmp_path: Path) -> list[Path]:
    """Job folders with a last checkpoint, read while the jobs write: os.walk skips a folder
    that vanishes between listing and reading (the write test's scratch folder), which
    Path.rglob raises on."""
    return sorted(
        Path(folder).parent
        for folder, _, files in os.walk(tmp_path / "logs")
        if Path(folder).name == "checkpoints" and "last.ckpt" in files
    )


@pytest.mark.parametrize(
    ("sig", "code", "jobs"),
    [(signal.SIGTERM, 143, 2), (signal.SIGINT, 130, 1), (signal.SIGKILL, -9, 2)],
    ids=["sigterm-joblib", "ctrl-c", "kill-9-joblib"],
)
def test_stopping_the_runner_stops_every_job_it_started(tmp_path, sig, code, jobs):
    runner = start_runner(tmp_path, jobs)
    try:
        wait_for(
            lambda: len(job_folders(tmp_path)) >= jobs or runner.poll() is not None,
            240,
            "the jobs' first checkpoints",
        )
        assert runner.poll() is None, runner.communicate()[1][-3000:]
        runner.send_signal(sig)
        _, err = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == code, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    # no process the runner started trains on, re-parented or not
    wait_for(
        lambda: not processes_mentioning(str(tmp_path)),
        60,
        f"the runner's processes to end: {processes_mentioning(str(tmp_path))}",
    )
    folders = job_folders(tmp_path)
    assert len(folders) >= jobs
    for folder in folders:
        results = json.loads((folder / "results.json").read_text())
        assert (results["status"], results["exit_code"]) == ("interrupted", 143), folder
    if sig != signal.SIGKILL:
        assert "resume with the same command" in err
    # the next run resumes the stopped jobs from their last checkpoints
    dry = run_script("sweep.py", *study_args(tmp_path, jobs), "--dry-run").stdout
    assert dry.count("resume ") == len(folders), dry
    assert "0/2 jobs done" in dry


def test_ctrl_c_while_the_runner_starts_is_one_line(tmp_path):
    runner = start_runner(tmp_path, 1)
    time.sleep(0.5)  # still importing
    runner.send_signal(signal.SIGINT)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert not (tmp_path / "out" / "report.md").exists(), "stopped: no report written"
