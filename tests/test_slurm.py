"""launcher=slurm on a real SLURM: same results as locally, requeue resumes, studies skip what
is done. Needs a cluster: `make test-slurm` (scripts/local-slurm.sh brings up a one-node one on
this machine); without one these tests skip."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dl2.studies.hashes import hashes
from dl2.studies.runner import run
from dl2.studies.spec import expand, load_study
from dl2.studies.store import Store
from tests.harness import ROOT, TINY_BOXES, run_script


def cluster_up() -> str | None:
    """Why the tests cannot run, or None when a SLURM answers with a node that is up."""
    if not shutil.which("sinfo"):
        return "no SLURM here (make test-slurm brings up a local one)"
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    states = {state.rstrip("*~#") for state in proc.stdout.split()}
    if proc.returncode != 0:
        return "no SLURM cluster answers sinfo (make test-slurm brings up a local one)"
    if not states & {"idle", "mixed", "allocated", "completing"}:
        return f"the SLURM cluster has no node up (sinfo: {' '.join(sorted(states))})"
    return None


# a job queued behind others, then requeued, may take longer than the suite's 300 s limit
pytestmark = [
    pytest.mark.slurm,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(cluster_up() is not None, reason=str(cluster_up())),
]

# a CPU-only node: one CPU and 1 GB a job, the partition the local cluster has
PARTITION = os.environ.get("DL2_SLURM_PARTITION", "debug")
SLURM = [
    "launcher=slurm",
    f"hydra.launcher.partition={PARTITION}",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=20",
]


def results_by_overrides(sweep: Path) -> dict[str, dict]:
    out = {}
    for path in sweep.glob("*/results.json"):
        payload = json.loads(path.read_text())
        key = ",".join(sorted(o for o in payload["overrides"] if o.startswith(("model.", "seed="))))
        out[key] = payload
    return out


def test_a_slurm_multirun_gives_the_local_results(tmp_path):
    sweep = ["model.pad=zeros,reflect", "seed=0,1", *TINY_BOXES, "logger=none"]
    proc = run_script("train.py", "-m", *sweep, *SLURM, f"hydra.sweep.dir={tmp_path / 'slurm'}")
    assert "sacct error" not in proc.stdout + proc.stderr
    # while it waits, the launching process names the jobs, then each start and end
    assert re.search(r"submitted 4 jobs: \d+_0, \d+_1, \d+_2, \d+_3", proc.stdout)
    assert len(re.findall(r"job #\d started as job \d+_\d: ", proc.stdout)) == 4
    assert len(re.findall(r"job #\d completed after ", proc.stdout)) == 4
    run_script("train.py", "-m", *sweep, "torch_threads=1", f"hydra.sweep.dir={tmp_path / 'local'}")
    on_slurm = results_by_overrides(tmp_path / "slurm")
    local = results_by_overrides(tmp_path / "local")
    assert len(on_slurm) == 4 and set(on_slurm) == set(local)
    for key, payload in on_slurm.items():
        assert payload["status"] == "completed", key
        assert payload["config_hash"] == local[key]["config_hash"], key
        assert payload["metrics"] == local[key]["metrics"], key
        assert payload["machine"]["torch_threads"] == 1


def wait_for(predicate, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_requeued_job_resumes_and_ends_as_the_straight_run(tmp_path):
    job = [
        "data.n_train=2000",
        "data.n_val=100",
        "data.n_test=100",
        "data.batch_size=50",
        "trainer.max_epochs=8",
        "callbacks.early_stopping.patience=100",
        "logger=none",
    ]
    sweep = tmp_path / "slurm"
    launcher = subprocess.Popen(
        [sys.executable, "train.py", "-m", *job, *SLURM, f"hydra.sweep.dir={sweep}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # requeue once the job has a last.ckpt to resume from, and before it ends
    wait_for(lambda: any(sweep.glob("*/checkpoints/last.ckpt")), 600, "the first last.ckpt")
    ids = subprocess.run(
        ["squeue", "-h", "-o", "%i"], capture_output=True, text=True
    ).stdout.split()
    assert len(ids) == 1, ids
    try:
        subprocess.run(["scontrol", "requeue", ids[0]], check=True)
        out, _ = launcher.communicate(timeout=900)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            subprocess.run(["scancel", ids[0]])
    assert launcher.returncode == 0, out[-3000:]
    assert "sacct error" not in out  # submitit polls job states without warnings
    (path,) = sweep.glob("*/results.json")
    requeued = json.loads(path.read_text())
    assert requeued["status"] == "completed"
    assert requeued["resumed_from"] and requeued["resumed_from"].endswith("last.ckpt")
    straight = tmp_path / "straight"
    run_script("train.py", *job, "torch_threads=1", f"hydra.run.dir={straight}")
    expected = json.loads((straight / "results.json").read_text())
    assert requeued["metrics"] == expected["metrics"]
    assert requeued["best_epoch"] == expected["best_epoch"]
    assert requeued["epochs_run"] == expected["epochs_run"]


def test_a_study_runs_on_slurm_and_skips_what_is_done(tmp_path):
    path = tmp_path / "tiny-padding.yaml"
    path.write_text(f"""
name: tiny-padding
title: Net1 on tiny box data through SLURM
experiment: padding
overrides: [{", ".join([*TINY_BOXES, "logger=none", *SLURM])}]
axes:
  - {{key: model.pad, values: [zeros, circular]}}
seeds: [0, 1]
metrics: [test/acc]
table: {{rows: [model.pad], columns: metric}}
""")
    study = load_study(path)
    jobs = expand(study)
    store = Store(tmp_path / "out" / "jobs.jsonl")
    assert run(study, jobs, store, log_dir=tmp_path / "logs") == 0
    done = set(hashes(jobs)) & set(store.completed())
    assert done == set(hashes(jobs)) and len(done) == 4
    submitted = len(list((tmp_path / "logs").rglob(".submitit/*/*_submitted.pkl")))
    assert run(study, jobs, store, log_dir=tmp_path / "logs") == 0  # nothing left: no job
    assert len(list((tmp_path / "logs").rglob(".submitit/*/*_submitted.pkl"))) == submitted
