"""Runs a user can trust unattended: no code from checkpoints, resume equals the straight run,
honest statuses and exit codes, valid and atomic files, bad values refused before training."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException

from dl2.callbacks.checkpoint import BestCheckpoint, ResumeError
from dl2.callbacks.guards import DivergedError
from dl2.errors import ConfigValueError
from dl2.files import atomic_write_text, read_checkpoint
from dl2.generate import load_gpt
from dl2.locks import LIFELINE_ENV, Lifeline, is_cut
from dl2.run.attempts import ATTEMPT_KEYS, earlier_attempts
from dl2.run.job import train
from dl2.run.results import to_floats
from dl2.studies.hashes import hashes
from dl2.studies.spec import expand, load_study
from dl2.studies.store import record
from dl2.studies.summary import tidy
from dl2.studies.timing import job_seconds
from tests.harness import ROOT, TINY_BOXES, compose_cfg, generate_py, run_script, train_py

SHUFFLED = [
    "data.n_train=200",
    "data.n_val=60",
    "data.n_test=60",
    "data.batch_size=50",
    "data.shuffle=true",
    "logger=none",
]


class Payload:
    """Pickles as a call of os.system: what a crafted checkpoint carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def results_of(cfg) -> dict:
    return json.loads(
        (Path(cfg.paths.output_dir) / "results.json").read_text(),
        parse_constant=lambda name: pytest.fail(f"results.json holds {name}"),
    )


def strict_json(path: Path) -> dict:
    """results.json parsed as strict JSON: NaN or Infinity fail the test."""
    return json.loads(
        path.read_text(), parse_constant=lambda name: pytest.fail(f"{path} holds {name}")
    )


@pytest.fixture
def finished_run(tmp_path):
    """A tiny box run of 2 epochs: its config and results."""
    cfg = compose_cfg(tmp_path, [*TINY_BOXES, "logger=none"], job="finished")
    train(cfg)
    return cfg, results_of(cfg)


# --- security ------------------------------------------------------------------------------


def test_generate_refuses_a_checkpoint_that_carries_code(tmp_path, capsys):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "dl2": Payload(marker)}, evil)
    with pytest.raises(ConfigValueError, match="weights_only"):
        load_gpt(evil)
    assert generate_py(f"ckpt_path={evil}") == 1
    err = capsys.readouterr().err
    assert "posix.system" in err
    assert "Traceback" not in err, "a one-line message, not a traceback"
    assert not marker.exists()


def test_resume_never_unpickles_the_best_path_a_checkpoint_names(tmp_path, finished_run):
    cfg, results = finished_run
    marker = tmp_path / "ran"
    evil = tmp_path / "best.ckpt"
    torch.save({"state_dict": {}, "epoch": Payload(marker)}, evil)
    innocent = read_checkpoint(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    state = next(v for k, v in innocent["callbacks"].items() if k.startswith("BestCheckpoint"))
    state["best_model_path"] = str(evil)
    state["best_k_models"] = {str(evil): state["best_model_score"]}
    state["saved_at"] = {str(evil): [0, 1]}
    crafted = tmp_path / "innocent.ckpt"
    torch.save(innocent, crafted)
    # fit has nothing left to do (same max_epochs): the old code then opened the best path
    resumed = compose_cfg(
        tmp_path, [*TINY_BOXES, "logger=none", f"ckpt_path={crafted}"], job="resumed"
    )
    with pytest.raises(ConfigValueError, match="weights_only"):
        train(resumed)
    assert not marker.exists()


def test_truncated_or_foreign_checkpoints_fail_naming_the_file(tmp_path, finished_run, capsys):
    cfg, _ = finished_run
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(last.read_bytes()[:3000])
    text = tmp_path / "notes.ckpt"
    text.write_text("hello")
    plain = tmp_path / "tensor.ckpt"
    torch.save(torch.zeros(3), plain)
    for bad in (truncated, text, plain):
        job = compose_cfg(
            tmp_path, [*TINY_BOXES, "logger=none", f"ckpt_path={bad}"], job=f"resume_{bad.stem}"
        )
        with pytest.raises(ConfigValueError) as info:
            train(job)
        assert info.value.key == "ckpt_path" and str(bad) in str(info.value)
        assert not (Path(job.paths.output_dir) / "checkpoints").exists()
    assert generate_py(f"ckpt_path={truncated}") == 1
    err = capsys.readouterr().err
    assert str(truncated) in err and "Traceback" not in err


# --- resume --------------------------------------------------------------------------------


def best_weights(results: dict) -> dict[str, torch.Tensor]:
    return read_checkpoint(results["checkpoint"])["state_dict"]


def assert_same_run(straight: dict, resumed: dict) -> None:
    assert resumed["status"] == straight["status"] == "completed"
    timing = ("train/tokens_per_s",)
    assert {k: v for k, v in resumed["metrics"].items() if k not in timing} == {
        k: v for k, v in straight["metrics"].items() if k not in timing
    }
    assert (resumed["best_epoch"], resumed["best_step"]) == (
        straight["best_epoch"],
        straight["best_step"],
    )
    assert Path(resumed["checkpoint"]).name == Path(straight["checkpoint"]).name
    assert Path(resumed["checkpoint"]).parent != Path(straight["checkpoint"]).parent
    a, b = best_weights(straight), best_weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def stop_and_resume(
    tmp_path: Path, base: list[str], budget: str, full: int, part: int
) -> tuple[dict, dict]:
    """results.json of a straight run of `budget=full` and of a run stopped at `budget=part`
    and resumed from its last.ckpt into a new folder up to `full`."""
    straight = compose_cfg(tmp_path, [*base, f"{budget}={full}"], job="straight")
    train(straight)
    first = compose_cfg(tmp_path, [*base, f"{budget}={part}"], job="first")
    train(first)
    last = Path(first.paths.output_dir) / "checkpoints" / "last.ckpt"
    resumed = compose_cfg(tmp_path, [*base, f"{budget}={full}", f"ckpt_path={last}"], job="resumed")
    train(resumed)
    return results_of(straight), results_of(resumed)


def test_resumed_box_run_equals_the_straight_run(tmp_path):
    # lr=3 overshoots: the best epoch (0) lies before the resume point (epoch 4), the case in
    # which Lightning alone takes the first epoch after the resume as the best
    base = [*TINY_BOXES, "data.shuffle=true", "model.task.optimizer.lr=3", "logger=none"]
    straight, resumed = stop_and_resume(tmp_path, base, "trainer.max_epochs", 8, 4)
    assert straight["best_epoch"] < 4
    assert_same_run(straight, resumed)


def test_resumed_gpt_run_equals_the_straight_run_mid_epoch(tmp_path):
    text = tmp_path / "tiny.txt"
    text.write_text("the cat sat on the mat. the dog sat on the log. " * 40)
    base = [
        "experiment=gpt",
        "model=gpt-nano",
        f"data.path={text}",
        "data.block_size=16",
        "data.batch_size=16",
        "trainer.val_check_interval=20",
        "logger=none",
        "callbacks.text_samples.every_n_steps=30",
        "callbacks.text_samples.length=10",
        'callbacks.text_samples.prompts=["the"]',
    ]
    straight, resumed = stop_and_resume(tmp_path, base, "trainer.max_steps", 60, 40)
    assert_same_run(straight, resumed)
    samples = [
        (Path(r["checkpoint"]).parents[1] / "samples.csv").read_text() for r in (straight, resumed)
    ]
    assert samples[0] == samples[1]


def write_ckpt(path: Path) -> Path:
    torch.save({"state_dict": {}}, path)
    return path


def old_state(old_dir: Path, best: Path, score: float) -> dict:
    return {
        "monitor": "val/loss",
        "best_model_score": torch.tensor(score),
        "best_model_path": str(best),
        "current_score": torch.tensor(score + 1),
        "dirpath": str(old_dir),
        "best_k_models": {str(best): torch.tensor(score)},
        "kth_best_model_path": str(best),
        "kth_value": torch.tensor(score),
        "last_model_path": str(old_dir / "last.ckpt"),
        "saved_at": {str(best): [1, 8]},
    }


def test_best_checkpoint_keeps_the_best_across_a_new_folder(tmp_path):
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    best = write_ckpt(old_dir / "epoch_001.ckpt")
    callback = BestCheckpoint(dirpath=str(new_dir), monitor="val/loss", mode="min")
    callback.load_state_dict(old_state(old_dir, best, 0.25))
    assert callback.best_model_path == str(new_dir / "epoch_001.ckpt")
    assert (new_dir / "epoch_001.ckpt").read_bytes() == best.read_bytes()
    assert float(callback.best_model_score) == 0.25 and callback.best_epoch == 1
    assert callback.best_step == 8 and best.exists(), "the old folder is left as it was"


def test_resume_whose_best_checkpoint_is_gone_stops_with_a_message(tmp_path):
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    callback = BestCheckpoint(dirpath=str(tmp_path / "new"), monitor="val/loss", mode="min")
    with pytest.raises(ResumeError, match="epoch_001.ckpt"):
        callback.load_state_dict(old_state(old_dir, old_dir / "epoch_001.ckpt", 0.25))


# --- statuses and exit codes ---------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_exits_143_as_interrupted_and_the_run_resumes(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "train.py",
        *SHUFFLED,
        "trainer.max_epochs=100000",
        "callbacks.early_stopping.patience=100000",
        f"hydra.run.dir={out}",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-2000:]
    results = strict_json(out / "results.json")
    assert results["status"] == "interrupted" and results["exit_code"] == 143
    assert tidy(load_study("padding-reference"), [record(results)]).empty, (
        "an interrupted job is never in a table"
    )
    resumed = run_script(
        "train.py",
        *SHUFFLED,
        "trainer.max_epochs=2",
        "callbacks.early_stopping.patience=100000",
        f"ckpt_path={last}",
        f"hydra.run.dir={tmp_path / 'resumed'}",
    )
    assert resumed.returncode == 0
    done = strict_json(tmp_path / "resumed" / "results.json")
    assert done["status"] == "completed"
    # the stopped process is an earlier attempt of the same job: its time counts for the job
    assert done["attempts"] == [{k: results[k] for k in ATTEMPT_KEYS}]
    assert job_seconds(record(done)) == done["wall_time_s"] + results["wall_time_s"]


def test_a_job_stops_when_its_runners_lifeline_is_cut(tiny_cfg, tmp_path, monkeypatch):
    """The job's end of the study runner's lifeline (the process tree: test_runner_signals):
    a cut line stops a training job at its next step with its record and checkpoints, and a
    job that has not started yet is not started."""
    line = Lifeline(tmp_path / "line")
    line.hold()
    monkeypatch.setenv(LIFELINE_ENV, str(line.path))
    assert not is_cut(line.path)
    cfg = tiny_cfg(["trainer.max_epochs=100000", "callbacks.early_stopping.patience=100000"])
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"

    def cut_after_a_checkpoint() -> None:
        while not last.exists():
            time.sleep(0.05)
        line.cut()

    threading.Thread(target=cut_after_a_checkpoint, daemon=True).start()
    assert train(cfg) == {}, "stopped for the runner: the multirun's other jobs go on stopping"
    results = strict_json(Path(cfg.paths.output_dir) / "results.json")
    assert (results["status"], results["exit_code"]) == ("interrupted", 143)
    assert is_cut(line.path) and last.exists()
    queued = tiny_cfg()
    assert train(queued) == {}
    assert not (Path(queued.paths.output_dir) / "results.json").exists(), "never started"


def test_earlier_attempts_follow_the_chain_of_stopped_runs(tmp_path):
    def run(name: str, status: str, resumed_from: str | None = None, **extra) -> str:
        folder = tmp_path / name / "checkpoints"
        folder.mkdir(parents=True)
        results = {
            "status": status,
            "started_at": f"{name}-start",
            "finished_at": f"{name}-end",
            "wall_time_s": 10.0,
            "resumed_from": resumed_from,
            "metrics": {},
            **extra,
        }
        (tmp_path / name / "results.json").write_text(json.dumps(results))
        return str(folder / "last.ckpt")

    first = run("a", "interrupted")
    second = run("b", "interrupted", resumed_from=first)  # written before attempts were kept
    assert [a["started_at"] for a in earlier_attempts(second)] == ["a-start", "b-start"]
    listed = run("c", "failed", resumed_from=second, attempts=earlier_attempts(second))
    assert [a["finished_at"] for a in earlier_attempts(listed)] == ["a-end", "b-end", "c-end"]
    # a completed run is a job of its own: training on from it starts a new job's count
    assert earlier_attempts(run("d", "completed", resumed_from=second)) == []
    # a SLURM requeue resumes in its own folder: the chain stops at the repeated checkpoint
    looped = str(tmp_path / "e" / "checkpoints" / "last.ckpt")
    assert len(earlier_attempts(run("e", "interrupted", resumed_from=looped))) == 1
    assert earlier_attempts(tmp_path / "nowhere" / "checkpoints" / "last.ckpt") == []
    assert job_seconds({"wall_time_s": 5.0, "attempts": earlier_attempts(listed)}) == 35.0
    assert job_seconds({"config_hash": "untimed"}) is None


@pytest.mark.parametrize(("lr", "rule"), [("1e30", "is not finite"), ("1e6", "exceeds max_loss")])
def test_a_diverged_run_stops_as_diverged_with_valid_json(tiny_cfg, lr, rule):
    cfg = tiny_cfg([f"model.task.optimizer.lr={lr}", "trainer.max_epochs=5"])
    with pytest.raises(DivergedError, match=rf"step \d+ .*{rule}.*lr=1e\+"):
        train(cfg)
    results = results_of(cfg)
    assert results["status"] == "diverged" and results["exit_code"] == 1
    assert tidy(load_study("padding-reference"), [record(results)]).empty, (
        "a diverged job is never averaged in"
    )


def test_a_diverged_validation_stops_there_and_leaves_its_record(tiny_cfg):
    """lr=1e30 on more data: the training loss stays finite and the validation loss is NaN.
    The run used to train on to the end and then fail writing results.json (NaN in the
    history), leaving no record at all."""
    cfg = tiny_cfg(
        [
            "model.task.optimizer.lr=1e30",
            "trainer.max_epochs=5",
            "data.n_train=200",
            "data.n_val=200",
            "data.n_test=200",
            "data.batch_size=200",
        ]
    )  # one step an epoch, as the default batch
    with pytest.raises(
        DivergedError,
        match=r"validation diverged at step \d+ \(epoch 0\).*"
        r"val/loss=nan.*lr=1e\+30",
    ):
        train(cfg)
    results = results_of(cfg)  # strict JSON
    assert results["status"] == "diverged" and results["exit_code"] == 1
    history = results["history"]["val/loss"]
    assert len(history) == 1 and history[0][1] is None, "stopped at its first validation"
    assert all(v is not None for _, v in results["history"].get("train/loss", []))


def test_diverged_train_py_exits_nonzero_with_one_line(tmp_path, capsys):
    assert (
        train_py(
            *TINY_BOXES,
            "logger=none",
            "model.task.optimizer.lr=1e30",
            f"hydra.run.dir={tmp_path / 'run'}",
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "training diverged at step" in err and "Traceback" not in err


def test_gpt_with_a_huge_lr_diverges_before_sampling(tmp_path):
    text = tmp_path / "tiny.txt"
    text.write_text("the cat sat on the mat. " * 40)
    cfg = compose_cfg(
        tmp_path,
        [
            "experiment=gpt",
            "model=gpt-nano",
            f"data.path={text}",
            "data.block_size=16",
            "data.batch_size=16",
            "model.task.optimizer.lr=1e6",
            "trainer.max_steps=30",
            "logger=none",
            'callbacks.text_samples.prompts=["the"]',
        ],
    )
    with pytest.raises(DivergedError):
        train(cfg)
    assert results_of(cfg)["status"] == "diverged"


def test_non_finite_metrics_become_null():
    values = to_floats({"b": torch.tensor(float("nan")), "a": 0.5, "c": float("inf")})
    assert values == {"a": 0.5, "b": None, "c": None}
    json.dumps(values, allow_nan=False)


# --- files ---------------------------------------------------------------------------------


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"status": "completed"}\n')
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, '{"status": "\ud800"}')  # fails mid-write
    assert path.read_text() == '{"status": "completed"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_a_full_disk_fails_the_run_at_its_first_checkpoint(tmp_path):
    """RLIMIT_FSIZE makes every write past 12 kB fail, as a full disk does: checkpoints (about
    50 kB) cannot be written, results.json (a few kB) can."""
    out = tmp_path / "run"
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run(
        [
            sys.executable,
            "train.py",
            *TINY_BOXES,
            "logger=none",
            "trainer.max_epochs=5",
            f"hydra.run.dir={out}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size(12_000),
    )
    assert proc.returncode != 0
    results = strict_json(out / "results.json")
    assert results["status"] == "failed" and "File too large" in results["error"]
    assert not list((out / "checkpoints").glob("*.ckpt")), "no truncated checkpoint is left"
    assert not list((out / "checkpoints").glob("*.part")), "nor a temporary file"


def test_a_quick_sweep_does_not_replace_the_stored_report():
    from dl2.studies.outputs import default_out

    study = load_study("padding-reference")
    stored = ROOT / "reports" / "padding-reference"
    assert default_out(study, []) == stored
    assert (
        default_out(
            study, ["launcher=joblib", "torch_threads=1", "logger=csv", "data.data_dir=/elsewhere"]
        )
        == stored
    ), "plumbing only"
    quick = default_out(study, ["trainer.max_epochs=1"])
    assert quick.parent == ROOT / "logs" / "studies" / "padding-reference"
    assert default_out(study, ["trainer.max_epochs=2"]) != quick


def test_a_multirun_never_trains_into_a_finished_job(tmp_path, capsys):
    """The same multirun twice used to train its job again, overwrite its results.json and
    CSV metrics and write last-v1.ckpt beside last.ckpt."""
    sweep = tmp_path / "sw"
    args = [
        "-m",
        "data.n_train=40",
        "data.n_val=20",
        "data.n_test=20",
        "logger=csv",
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={sweep}",
        "hydra.sweep.subdir=${hydra.job.num}",
    ]  # job folders named by number only
    assert train_py(*args) == 0
    # each job's files (Hydra rewrites its own .hydra/, train.log and the sweep's record)
    files = sorted(
        p
        for p in sweep.rglob("*")
        if p.is_file() and ".hydra" not in p.parts and p.name != "train.log" and p.parent != sweep
    )
    before = {p: p.read_bytes() for p in files}
    capsys.readouterr()
    assert train_py(*args) == 0, "the same jobs again: skipped"
    out = capsys.readouterr().out
    assert out.count("already completed here (same config hash): skipped") == 1
    assert {p: p.read_bytes() for p in files} == before
    assert not list(sweep.rglob("*-v1.ckpt"))
    # another config into a folder that holds a finished job: refused, the job left as it was
    changed = [a if a != "trainer.max_epochs=1" else "trainer.max_epochs=2" for a in args]
    assert train_py(*changed) == 1
    err = capsys.readouterr().err
    assert "paths.output_dir=" in err and "holds a finished job of another config" in err
    assert {p: p.read_bytes() for p in files} == before


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("seed=1.5", "seed"),
        ("test=maybe", "test"),
        ("seed=abc", "seed"),
        ("max_loss=big", "max_loss"),
    ],
)
def test_wrong_types_fail_while_composing(tmp_path, override, key):
    with pytest.raises(ConfigCompositionException, match=key):
        compose_cfg(tmp_path, [override])


def test_train_py_wrong_type_is_one_message(tmp_path, capsys):
    assert train_py("seed=1.5", "logger=none", f"hydra.run.dir={tmp_path / 'run'}") == 1
    err = capsys.readouterr().err
    assert "seed" in err and "1.5" in err
    assert "Traceback" not in err and not (tmp_path / "run" / "checkpoints").exists()


def test_unwritable_output_folder_fails_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = compose_cfg(tmp_path, [*TINY_BOXES, "logger=none"], job="file/run")
    with pytest.raises(ConfigValueError, match="paths.output_dir") as info:
        train(cfg)
    assert str(blocker / "run") in str(info.value)


@pytest.mark.parametrize(
    ("override", "key"),
    [("greedy=maybe", "greedy"), ("length=1000000000", "length"), ("length=abc", "length")],
)
def test_generate_checks_its_values_before_loading(tmp_path, override, key, capsys):
    assert generate_py(f"ckpt_path={tmp_path / 'none.ckpt'}", override) == 1
    err = capsys.readouterr().err
    assert key in err and "Traceback" not in err


def test_interrupted_and_diverged_jobs_are_to_run_in_reports(tmp_path):
    from dl2.studies.report import write_report
    from dl2.studies.store import Store

    store = Store(tmp_path / "jobs.jsonl")
    store.add(
        [
            {
                "config_hash": "a",
                "status": "interrupted",
                "seed": 0,
                "exit_code": 143,
                "overrides": ["experiment=padding", "seed=0"],
                "finished_at": "1",
            },
            {
                "config_hash": "b",
                "status": "diverged",
                "seed": 1,
                "exit_code": 1,
                "overrides": ["experiment=padding", "seed=1"],
                "finished_at": "1",
            },
        ]
    )
    write_report(load_study("padding-reference"), store, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "| interrupted | to run: resume" in report
    assert "| diverged | to run after a fix" in report
    assert "No completed job has logged the study's metrics yet" in report


def test_a_narrowed_run_leaves_the_study_report_an_offline_rebuild_would():
    """`sweep.py rotation-vit --augments none --seeds 1` wrote the stored report and README
    section against its one job: "3 completed jobs", hiding the 3 still to run that
    `make report-offline` lists, so the committed report no longer rebuilt byte-identically."""
    from dl2.studies.outputs import report_jobs

    study = load_study("rotation-vit")
    every = expand(study)
    narrowed = expand(study, seeds=[1], narrow={"data.augment": ["none"]})
    jobs, job_hashes = report_jobs(
        study, ROOT / "reports" / "rotation-vit", [], narrowed, hashes(narrowed), narrowed=True
    )
    assert jobs == every and job_hashes == hashes(every)
    # a folder of its own (a quick check) counts the jobs run into it
    assert report_jobs(study, ROOT / "logs" / "x", [], narrowed, ["h"], narrowed=True) == (
        narrowed,
        ["h"],
    )
