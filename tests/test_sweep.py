"""Multiruns of train.py, sweep.py's padding study at tiny size, and report rebuilding."""

import json
import math
from pathlib import Path

import numpy as np

from dl2.studies.padding import CONV_ORDER
from dl2.studies.results import collect
from tests.conftest import TINY_BOXES, run_script


def parse_table(report: str, heading: str) -> list[list[str]]:
    """Rows (cells) of the Markdown table under `heading`."""
    lines = report.split(heading, 1)[1].splitlines()
    rows = [line for line in lines[1:] if line.startswith("|")]
    out = []
    for line in rows:
        if not line.startswith("|"):
            break
        out.append([c.strip() for c in line.strip("|").split("|")])
    return out


def test_readme_multirun_then_report(tmp_path):
    sweep = tmp_path / "sweep"
    run_script("train.py", "-m", "model.pad=zeros,reflect,replicate,circular", "seed=range(2)",
               *TINY_BOXES, "logger=csv", f"hydra.sweep.dir={sweep}")
    jobs = collect(sweep)
    assert len(jobs) == 8 and all(j.status == "completed" for j in jobs)
    assert len({j.folder for j in jobs}) == 8
    out = tmp_path / "report"
    run_script("sweep.py", "report", str(sweep), "--out", str(out))
    report = (out / "report.md").read_text()
    rows = parse_table(report, "### net1, independent protocol")
    assert rows[0] == ["conv type", "split", "0", "1", "mean", "std"]
    body = rows[2:]
    assert [r[0] for r in body] == [c for c in CONV_ORDER if c in
                                    ("fconv", "replicate", "reflect", "circular")
                                    for _ in range(3)]
    assert [r[1] for r in body[:3]] == ["val", "test", "test_unshifted"]
    # the numbers are the jobs' own, in %, with population std
    reflect_test = next(r for r in body if r[0] == "reflect" and r[1] == "test")
    accs = sorted((j.results["seed"], 100 * j.metrics["test/acc"]) for j in jobs
                   if j.config["model"]["pad"] == "reflect")
    assert [float(v) for v in reflect_test[2:4]] == [round(a, 2) for _, a in accs]
    values = np.array([a for _, a in accs])
    assert math.isclose(float(reflect_test[4]), round(values.mean(), 2), abs_tol=0.006)
    assert math.isclose(float(reflect_test[5]), round(values.std(ddof=0), 2), abs_tol=0.006)
    csv_lines = (out / "accuracy.csv").read_text().splitlines()
    assert csv_lines[0] == "protocol,net,conv_type,split,seed,acc" and len(csv_lines) == 1 + 24
    summary = json.loads((out / "summary.json").read_text())
    assert summary["summary"]["independent"]["net1"]["reflect"]["test"]["n"] == 2


def test_failed_and_unfinished_jobs_are_listed(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_script("train.py", "-m", "model.pad_size=1,3", *TINY_BOXES, "logger=wandb",
                      f"hydra.sweep.dir={sweep}", check=False)
    assert proc.returncode != 0, "a failed job makes the multirun fail"
    jobs = {j.results["config"]["model"]["pad_size"]: j for j in collect(sweep)}
    assert jobs[1].status == "completed" and jobs[3].status == "failed"
    group = jobs[1].results["config"]["logger"]["wandb"]["group"]
    assert group == "padding/" + ",".join(sorted([*TINY_BOXES, "model.pad_size=1"]))
    # each job is its own W&B run; the failed one was closed too
    assert len(list(sweep.glob("*/wandb/offline-run-*"))) == 2
    unfinished = sweep / "9_killed" / ".hydra"
    unfinished.mkdir(parents=True)
    (unfinished / "config.yaml").write_text("seed: 0\n")
    (unfinished / "overrides.yaml").write_text("- seed=0\n")
    out = tmp_path / "report"
    run_script("sweep.py", "report", str(sweep), "--out", str(out))
    report = (out / "report.md").read_text()
    left = report.split("## Jobs left out of the tables", 1)[1]
    assert "failed" in left and "model.pad_size=3" in left and "missing" in left
    assert "9_killed" in left


def test_sweep_padding_tiny(tmp_path):
    out = tmp_path / "report"
    run_script("sweep.py", "padding", "--seeds", "0", "--nets", "net1,net2",
               "--conv-types", "valid,circular", "--out", str(out),
               "--sweep-dir", str(tmp_path / "sweep"), *TINY_BOXES, "logger=none")
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert set(summary) == {"reference"}
    assert set(summary["reference"]) == {"net1", "net2"}
    assert set(summary["reference"]["net2"]) == {"valid", "circular"}


def test_report_on_a_folder_without_jobs_fails(tmp_path):
    proc = run_script("sweep.py", "report", str(tmp_path), check=False)
    assert proc.returncode != 0 and "no job folders" in proc.stderr
    proc = run_script("sweep.py", "report", str(tmp_path / "nope"), check=False)
    assert proc.returncode != 0 and "does not exist" in proc.stderr


def test_bad_study_arguments(tmp_path):
    proc = run_script("sweep.py", "padding", "--nets", "net7", check=False)
    assert proc.returncode != 0 and "net7" in proc.stderr and "net1" in proc.stderr
    assert not Path(tmp_path / "sweep").exists()


def test_job_dirname_stays_short_and_unique():
    from dl2.resolvers import job_dirname

    assert job_dirname("model=net2,seed=1") == "model=net2,seed=1"
    assert job_dirname("data.dir=a/b") == "data.dir=a_b"
    long_a, long_b = "x=" + "a" * 300, "x=" + "a" * 299 + "b"
    assert len(job_dirname(long_a)) == 120
    assert job_dirname(long_a) != job_dirname(long_b)
