"""`sweep.py`'s command line as a user meets it: the list of studies, the one-line refusals of
bad arguments, a study stopped by a signal, a results page without its markers, and the
process-level endings (Ctrl-C while planning, a closed pipe)."""

from __future__ import annotations

import signal

import pytest

from dl2.config.identity import is_plumbing
from dl2.studies import cli
from dl2.studies.arguments import parse_seeds
from dl2.studies.hashes import hashes
from dl2.studies.launch import Stopped
from dl2.studies.resume import forced_since
from dl2.studies.spec import expand, load_study, study_names
from dl2.studies.store import Store
from tests.harness import TINY_BOXES, inprocess_multirun, multirun_jobs, sweep_py, train_py

SBM = """
name: sbm-stop
title: a study stopped by a signal
experiment: gnn
overrides: [data=sbm_graph, trainer.max_epochs=1, logger=none]
axes:
  - {key: model, values: [gcn, gat]}
seeds: [0]
metrics: [test/acc]
table: {rows: [model]}
"""


def test_list_names_every_declared_study_with_its_jobs_and_title(capsys):
    assert sweep_py("list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == study_names()
    study = load_study(study_names()[0])
    assert lines[0].split()[1:3] == [str(len(expand(study))), "jobs"]
    assert lines[0].endswith(study.title)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "padding-reference", "--sample", "0"], "--sample=0 is not allowed"),
        (["verify", "padding-reference", "model.pad=zeros"], "overrides='model.pad=zeros'"),
        (["verify", "padding-reference", "--where", "model"], "--where='model' is not allowed"),
        (["padding-reference", "--seeds", "one,two", "--dry-run"], "--seeds='one,two'"),
        (["padding-reference", "--seeds", "range(a)", "--dry-run"], "--seeds='range(a)'"),
    ],
)
def test_a_bad_argument_is_refused_in_one_line_naming_it(args, message, capsys):
    assert sweep_py(*args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sweep.py: ") and message in err[0], err


def test_seeds_are_a_list_or_a_range():
    assert parse_seeds(" 3,1 ") == [3, 1]
    assert parse_seeds("range(3)") == [0, 1, 2]
    assert parse_seeds("range(2,5)") == [2, 3, 4]


def test_a_stopped_study_says_how_to_resume_and_ends_with_the_signals_status(tmp_path, capsys):
    """SIGTERM reaching the runner's multirun: exit 143, the jobs' checkpoints kept, and the
    same command resumes (no report is written over the stopped run)."""
    path = tmp_path / "sbm-stop.yaml"
    path.write_text(SBM)
    launched = []

    def stopped(overrides, folder, progress=None):
        launched.append(overrides)
        raise Stopped(signal.SIGTERM)

    out = tmp_path / "out"
    code = sweep_py(str(path), "--out", str(out), "--log-dir", str(tmp_path), launch=stopped)
    assert code == 143 and launched, "the multirun was launched, then stopped"
    err = capsys.readouterr().err
    assert "[sbm-stop] stopped by SIGTERM" in err and "resume with the same command" in err
    assert not (out / "report.md").exists()


def test_a_results_page_without_the_studys_markers_is_named(tmp_path, monkeypatch, capsys):
    """The study's block has nowhere to go: the page is left as it is and the message says
    which markers to add."""
    page = tmp_path / "gnn-models.md"
    page.write_text("# Graphs\n\nno markers here\n")
    monkeypatch.setattr(cli, "RESULTS_PAGES", tmp_path)
    assert sweep_py("gnn-models", "--offline") == 0
    assert page.read_text() == "# Graphs\n\nno markers here\n"
    err = capsys.readouterr().err
    assert f"{page} has no <!-- study:gnn-models --> section to fill" in err


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [(KeyboardInterrupt, 130, "sweep.py: stopped (Ctrl-C); resume"), (BrokenPipeError, 0, "")],
)
def test_the_process_ends_quietly_on_ctrl_c_or_a_closed_pipe(
    raised, code, message, monkeypatch, capfd
):
    def interrupted():
        raise raised

    monkeypatch.setattr(cli, "main", interrupted)
    monkeypatch.setattr(cli, "load_env_file", lambda: None)
    monkeypatch.setattr("os.dup2", lambda *args: None)  # stdout stays pytest's
    handler = signal.getsignal(signal.SIGINT)
    try:
        assert cli.run_command() == code
    finally:
        signal.signal(signal.SIGINT, handler)
    err = capfd.readouterr().err
    assert message in err if message else err == ""


def test_a_multirun_run_outside_the_study_is_taken_in_and_the_run_launches_the_dry_runs_plan(
    tmp_path, capsys
):
    """One of a tiny study's three jobs trained by a plain `train.py` run: `--import` takes it
    in (the dry run says 1/3 done) and leaves out a job of another setting; the run then
    launches exactly the jobs the dry run listed as to run, and stores the imported one."""
    extra = [*TINY_BOXES, "trainer.max_epochs=1", "logger=none"]
    narrow = ["--seeds", "0,1,2", "--nets", "net1", "--conv-types", "valid"]
    study = load_study("padding-reference")
    jobs = expand(study, extra, [0, 1, 2], {"model": ["net1"], "model.conv_type": ["valid"]})
    mine = tmp_path / "mine"
    assert train_py(*jobs[0].overrides, f"hydra.run.dir={mine / '0'}") == 0
    other = [*jobs[0].overrides, "model.conv_type=replicate"]  # not a job of this run
    assert train_py(*other, f"hydra.run.dir={mine / 'other'}") == 0
    out = tmp_path / "out"
    common = [*narrow, *extra, "--out", str(out), "--log-dir", str(tmp_path / "logs")]
    capsys.readouterr()
    assert sweep_py("padding-reference", *common, "--dry-run") == 0
    assert "0/3 jobs done" in capsys.readouterr().out, "without --import: nothing done"
    assert sweep_py("padding-reference", *common, "--import", str(mine), "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "1/3 jobs done" in dry
    planned = {
        frozenset(line.split()[3:])  # "  to run <hash>  <overrides>"
        for line in dry.splitlines()
        if line.startswith("  to run ")
    }
    assert len(planned) == 2
    launched = []

    def record(overrides, folder, progress=None):
        launched.extend(multirun_jobs([o for o in overrides if not is_plumbing(o)]))
        return 0

    assert sweep_py("padding-reference", *common, "--import", str(mine), launch=record) == 0
    assert {frozenset(o for o in job if not o.startswith("experiment=")) for job in launched} == {
        frozenset(o for o in job if not is_plumbing(o)) for job in planned
    }, "the run launches the jobs the dry run listed"
    stored = Store(out / "jobs.jsonl").completed()
    assert [r["seed"] for r in stored.values()] == [jobs[0].seed], "the imported job alone"
    assert sweep_py("padding-reference", "--import", str(tmp_path / "nope"), "--dry-run") == 2
    assert "--import: 'nope'" in capsys.readouterr().err.replace(str(tmp_path) + "/", "")


def test_a_stopped_forced_rerun_continues_with_the_same_command(tmp_path, capsys):
    """`--force` reruns every job; stopped after some, the same command reruns only the rest
    (the dry run says so), and once it has finished the next `--force` reruns them all."""
    extra = [*TINY_BOXES, "trainer.max_epochs=1", "logger=none"]
    narrow = {"model": ["net1"], "model.conv_type": ["valid"]}
    study = load_study("padding-reference")
    jobs = expand(study, extra, [0, 1], narrow)
    out = tmp_path / "out"
    old = [
        {"config_hash": h, "status": "completed", "seed": j.seed, "metrics": {"val/acc": 0.5},
         "overrides": list(j.overrides), "finished_at": "2026-01-01T00:00:00+00:00"}
        for j, h in zip(jobs, hashes(jobs), strict=True)
    ]  # fmt: skip
    Store(out / "jobs.jsonl").add(old)
    narrowed = ["--seeds", "0,1", "--nets", "net1", "--conv-types", "valid"]
    args = ["padding-reference", *narrowed, *extra, "--out", str(out), "--log-dir", str(tmp_path)]
    launched = []

    def seed_0_then_stopped(overrides, folder, progress=None):
        launched.append(overrides)
        only = [("seed=0" if o.startswith("seed=") else o) for o in overrides]
        assert inprocess_multirun(only, folder, progress) == 0
        raise Stopped(signal.SIGTERM)

    assert sweep_py(*args, "--force", launch=seed_0_then_stopped) == 143
    assert any("seed=0,1" in o for o in launched[0]), "the whole grid was launched"
    capsys.readouterr()
    assert sweep_py(*args, "--force", "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "1/2 jobs done" in dry and "continuing the forced rerun begun" in dry
    launched.clear()

    def the_rest(overrides, folder, progress=None):
        launched.append(overrides)
        return inprocess_multirun(overrides, folder, progress)

    assert sweep_py(*args, "--force", launch=the_rest) == 0
    assert [o for o in launched[0] if o.startswith("seed=")] == ["seed=1"], launched
    stored = Store(out / "jobs.jsonl").completed()
    assert all(r["finished_at"] > "2026-01-02" for r in stored.values()), "both rerun"
    assert forced_since(study, hashes(jobs), tmp_path) is None, "finished: a new one starts"
