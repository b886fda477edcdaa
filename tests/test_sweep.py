"""Studies as data: study files, job hashes, the resumable runner, and the one aggregator."""

import functools
import json
import math
import os

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dl2.config.identity import job_hashes
from dl2.errors import ConfigValueError
from dl2.paths import LOGS, RESULTS_PAGES
from dl2.studies import cli as sweep_cli
from dl2.studies.cost import COST_BLOCK, cost_block, covered, study_cost
from dl2.studies.hashes import hashes
from dl2.studies.job_folders import collect
from dl2.studies.plan import JobState, blocks
from dl2.studies.report import PAGE_BLOCK, write_report
from dl2.studies.spec import expand, load_study, study_names
from dl2.studies.store import REPORTS, Store, record
from dl2.studies.summary import summarise, tidy
from tests.harness import (
    ROOT,
    TINY_BOXES,
    compose_cfg,
    run_script,
    sweep_py,
    train_py,
)

TINY_ARGS = [
    "--seeds",
    "0,1",
    "--nets",
    "net1",
    "--conv-types",
    "valid,fconv",
    *TINY_BOXES,
    "trainer.max_epochs=1",
    "logger=none",
]


def parse_table(report: str, heading: str) -> list[list[str]]:
    """Rows (cells) of the first Markdown table under `heading`."""
    lines = report.split(heading, 1)[1].splitlines()
    out = []
    for line in [line for line in lines[1:] if line.strip()]:
        if not line.startswith("|"):
            if out:
                break
            continue  # the caption
        out.append([c.strip() for c in line.strip("|").split("|")])
    return out


def test_every_study_file_loads_and_lists_its_jobs():
    names = study_names()
    # the report's studies and their sizes: nets x conv types, models, models x noise levels
    sizes = {
        "padding-reference": 120,
        "padding-independent": 120,
        "gnn-models": 30,
        "gnn-noise": 150,
        "rotation-cnn": 9,  # the augmented arm on both protocols, the upright on one
        "gpt": 12,
    }
    for name in names:
        study = load_study(name)
        jobs = expand(study)
        assert len({j.overrides for j in jobs}) == len(jobs), f"{name}: a job twice"
        assert {j.seed for j in jobs} == set(study.seeds), name
        for job in jobs:
            assert job.overrides[0] == f"experiment={study.experiment}"
            assert sum(o.startswith("seed=") for o in job.overrides) == 1
            assert [k for k, _ in job.values] == [a.key for a in study.axes]
        if name in sizes:
            assert len(jobs) == sizes[name], name
    assert set(sizes) <= set(names)
    with pytest.raises(ValueError, match="padding-reference"):
        load_study("no-such-study")


def test_a_job_hash_ignores_plumbing_but_not_what_changes_results(tmp_path):
    def hashes_of(*overrides):
        return job_hashes(compose_cfg(tmp_path, list(overrides)))

    base = hashes_of("seed=1")
    assert (
        hashes_of("seed=1", "logger=csv", "torch_threads=1", f"paths.data_dir={tmp_path}") == base
    )
    other_seed = hashes_of("seed=2")
    assert other_seed["config_hash"] != base["config_hash"]
    assert other_seed["setting_hash"] == base["setting_hash"]
    assert (
        hashes_of("seed=1", "model.task.optimizer.lr=0.5")["setting_hash"] != base["setting_hash"]
    )


def test_planned_hashes_match_the_jobs_own(tmp_path):
    study = load_study("gnn-noise")  # data.noise_seed follows ${seed}
    jobs = expand(study, seeds=[0, 3], narrow={"model": ["gat"], "data.noise": ["0.5"]})
    settings = set()
    for job, planned in zip(jobs, hashes(jobs), strict=True):
        cfg = compose_cfg(tmp_path, list(job.overrides))
        assert job_hashes(cfg)["config_hash"] == planned
        settings.add(job_hashes(cfg)["setting_hash"])
    assert len(settings) == 1, "the seeds of one setting share it, noise_seed=${seed} or not"


def test_settings_share_a_composition_and_compose_as_hydra_does(tmp_path):
    """Plain `a.b=value` overrides are set in a copy of one Hydra composition per set of group
    choices (dl2/config/compose.py): the configs are Hydra's own, and a bad key fails as
    Hydra says it."""
    from hydra.errors import ConfigCompositionException
    from omegaconf import OmegaConf

    from dl2.config.compose import Composer
    from dl2.paths import CONF

    settings = [
        ("experiment=gnn", "model=gat", "data.noise=0.5", "model.task.optimizer.lr=0.01"),
        ("experiment=gnn", "model=gat", "data.noise=1.0"),
        ("experiment=padding", "model=net2", "model.conv_type=valid"),
    ]
    composer = Composer(CONF)
    configs = composer.compose_all(settings)
    assert len(composer._bases) == 2, "one composition per set of group choices"
    for setting in settings:
        hydra_own = compose_cfg(tmp_path, list(setting))
        del hydra_own.paths  # where this test's jobs write: not what the settings hold
        mine = configs[setting]
        assert OmegaConf.to_container(mine.model) == OmegaConf.to_container(hydra_own.model)
        assert OmegaConf.to_container(mine.data) == OmegaConf.to_container(hydra_own.data)
    with pytest.raises(ConfigCompositionException, match="model.nope"):
        composer.compose_all([("experiment=gnn", "model.nope=1")])


def test_missing_jobs_run_as_few_multiruns_as_their_shape_allows():
    study = load_study("padding-reference")

    jobs = expand(study, seeds=[0, 1], narrow={"model": ["net1"]})
    grid = [JobState(j, f"h{i}", None) for i, j in enumerate(jobs)]
    assert blocks(grid) == [
        [
            "experiment=padding",
            "data.protocol=reference",
            "model=net1",
            "model.conv_type=valid,replicate,reflect,circular,sconv,fconv",
            "seed=0,1",
        ]
    ]
    ragged = [
        p for p in grid if not (p.job.seed == 1 and "model.conv_type=valid" in p.job.overrides)
    ]
    parts = blocks(ragged)
    assert len(parts) == 2  # the five conv types with both seeds, valid with seed 0
    assert sum(math.prod(len(o.split("=", 1)[1].split(",")) for o in part) for part in parts) == 11


def test_run_twice_runs_the_missing_jobs_only(tmp_path, capsys):
    """Each run trains in this process (`python sweep.py` as a command, with its real
    `train.py -m`, is tests/test_runner_signals.py's subject)."""
    out, logs = tmp_path / "out", tmp_path / "logs"
    common = ["--out", str(out), "--log-dir", str(logs)]
    assert sweep_py("padding-reference", *TINY_ARGS, *common, "--jobs", "1") == 0
    first = capsys.readouterr().err
    assert "0/4 done; multirun 1/1" in first
    assert "4/4 jobs of this multirun ended (0/4 of the study done before it)" in first, (
        "a progress line when the multirun ends"
    )
    assert "4 completed jobs" in first
    assert len(Store(out / "jobs.jsonl").completed()) == 4
    assert sweep_py("padding-reference", *TINY_ARGS, *common) == 0
    again = capsys.readouterr().err
    assert "multirun" not in again and "4 completed jobs" in again
    # a runner killed in the middle: its finished jobs are in their folders, not in the store
    (out / "jobs.jsonl").unlink()
    killed = sorted(logs.rglob("results.json"))[0]
    lost = json.loads(killed.read_text())
    killed.unlink()
    assert sweep_py("padding-reference", *TINY_ARGS, *common, "--dry-run") == 0
    dry = capsys.readouterr().out
    # its folder has a last.ckpt and no results.json: it resumes from there (here: at its end)
    assert "3/4 jobs done" in dry and dry.count("resume ") == 1
    assert "(0% of its training left)" in dry
    assert not (out / "jobs.jsonl").exists(), "a dry run stores nothing"
    assert "estimated ~" in dry
    assert sweep_py("padding-reference", *TINY_ARGS, *common, "--jobs", "1") == 0
    assert "3/4 done; multirun 1/1" in capsys.readouterr().err
    # the job run again scores as it did the first time
    rerun = Store(out / "jobs.jsonl").completed()[lost["config_hash"]]
    assert {k: v for k, v in rerun["metrics"].items() if not k.startswith("train/")} == {
        k: v for k, v in lost["metrics"].items() if not k.startswith("train/")
    }
    report = (out / "report.md").read_text()
    rows = parse_table(report, "### net = net1")
    assert rows[0][:2] == ["conv type", "val/acc"] and [r[0] for r in rows[2:]] == [
        "valid",
        "fconv",
    ]
    assert all(r[-1] == "2" for r in rows[2:]), "n = 2 seeds per row"
    assert "trainer.max_epochs=1" in report, "the report names the overrides every job had"


def test_a_job_killed_mid_training_resumes_from_its_last_checkpoint(tmp_path, capsys):
    """The runner finds a killed job's folder (no results.json) by the hash of its overrides
    and continues it from last.ckpt: the stored result is the straight run's."""
    extra = [*TINY_BOXES, "data.shuffle=true", "logger=none", "trainer.max_epochs=4"]
    full = ["--seeds", "0", "--nets", "net1", "--conv-types", "fconv", *extra]
    (job,) = expand(
        load_study("padding-reference"),
        extra,
        [0],
        {"model": ["net1"], "model.conv_type": ["fconv"]},
    )
    assert train_py(*job.overrides, f"hydra.run.dir={tmp_path / 'straight'}") == 0
    a = json.loads((tmp_path / "straight" / "results.json").read_text())
    # a job stopped after epoch 2 of 4: its folder as the runner's multirun left it
    logs = tmp_path / "logs"
    killed = logs / "studies" / "padding-reference" / "sweeps" / "x_jobs" / "0_model=net1,seed=0"
    assert train_py(*job.overrides, "trainer.max_epochs=2", f"hydra.run.dir='{killed}'") == 0
    (killed / "results.json").unlink()
    hydra_overrides = killed / ".hydra" / "overrides.yaml"
    started = hydra_overrides.stat().st_mtime  # when the killed process began, kept
    hydra_overrides.write_text(
        hydra_overrides.read_text().replace("trainer.max_epochs=2", "trainer.max_epochs=4")
    )
    os.utime(hydra_overrides, (started, started))
    hydra_config = killed / ".hydra" / "config.yaml"
    assert hydra_config.read_text().count("max_epochs: 2") == 1
    hydra_config.write_text(hydra_config.read_text().replace("max_epochs: 2", "max_epochs: 4"))
    common = ["--out", str(tmp_path / "out"), "--log-dir", str(logs)]
    capsys.readouterr()
    assert sweep_py("padding-reference", *full, *common, "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "resume " in dry and "to run " not in dry
    assert "(50% of its training left)" in dry, "2 of its 4 epochs done"
    assert sweep_py("padding-reference", *full, *common) == 0
    resumed = capsys.readouterr().err
    assert "ckpt_path=" in resumed and "0_model=net1,seed=0" in resumed
    (b,) = Store(tmp_path / "out" / "jobs.jsonl").completed().values()
    assert a["config_hash"] == b["config_hash"]
    assert (a["metrics"], a["best_epoch"], a["epochs_run"]) == (
        b["metrics"],
        b["best_epoch"],
        b["epochs_run"],
    )
    (new,) = [r for r in logs.rglob("results.json") if killed not in r.parents]
    resumed = json.loads(new.read_text())
    assert resumed["resumed_from"] == str(killed / "checkpoints" / "last.ckpt")
    (attempt,) = resumed["attempts"]  # the killed process counts in the job's time
    assert attempt["status"] == "killed" and attempt["wall_time_s"] > 0
    assert b["attempts"] == resumed["attempts"], "and in the store's record"


@pytest.mark.slow
def test_planning_a_study_imports_no_lightning_nets_data_or_tasks():
    """`sweep.py --help` and a dry run need no training code: Lightning alone takes seconds
    to import on a small CPU. `import dl2` registered a resolver that loaded the nets, so the
    contract held for import-linter's static graph only; this is the interpreter's view."""
    proc = run_script("-X", "importtime", "sweep.py", "--help")
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    assert "torch" in imported and "dl2.studies.runner" in imported, "the imports were read"
    training = ("lightning", "pytorch_lightning", "torch_geometric")
    ours = ("dl2.nets", "dl2.data", "dl2.tasks", "dl2.callbacks", "dl2.run.job")
    assert not {m for m in imported if m.split(".")[0] in training or m.startswith(ours)}


def test_one_runner_per_study_at_a_time(tmp_path, capsys):
    """Two sweep.py on one study both ran every job. The second now refuses, naming the first;
    a claim left by a runner that ended (the lock released, its note left) is taken over; a
    dry run claims nothing; another study's runner does not stand in the way."""
    from dl2.locks import CLAIM_FILE, claimed

    out = tmp_path / "out"
    args = ["padding-reference", *TINY_ARGS, "--seeds", "0", "--out", str(out)]
    args += ["--log-dir", str(tmp_path / "logs")]
    with claimed(out, "padding-reference"):  # the first runner, still running
        assert sweep_py(*args) == 1
        err = capsys.readouterr().err
        assert f"is being run by pid {os.getpid()}" in err and "one runner per study" in err
        assert not (out / "jobs.jsonl").exists(), "it ran nothing"
        assert sweep_py(*args, "--dry-run") == 0
    (out / CLAIM_FILE).write_text('{"pid": 4242, "host": "elsewhere", "since": "earlier"}\n')
    with claimed(tmp_path / "other", "gnn-models"):  # another study's runner: no matter
        assert sweep_py(*args) == 0
    assert "taking over the claim of pid 4242 on elsewhere" in capsys.readouterr().err
    assert len(Store(out / "jobs.jsonl").completed()) == 2


def test_an_unreadable_claim_is_taken_over_with_a_line(tmp_path, capsys):
    """Garbage in .runner.lock (no runner holds its lock) stopped every study command with a
    codec error under the wrong command's name."""
    from dl2.locks import CLAIM_FILE, claimed

    for garbage in (b"\xff\xfe\x00garbage", b"[1, 2]", b"not json"):
        (tmp_path / CLAIM_FILE).write_bytes(garbage)
        with claimed(tmp_path, "padding-reference"):
            assert json.loads((tmp_path / CLAIM_FILE).read_text())["pid"] == os.getpid()
        err = capsys.readouterr().err
        assert f"taking over {tmp_path / CLAIM_FILE}" in err and "not a claim dl2 wrote" in err


def test_a_folder_dl2_cannot_write_is_named_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args in (
        ["report", str(tmp_path), "--out", str(blocker / "r")],
        ["padding-reference", *TINY_ARGS, "--out", str(blocker / "s")],
        ["padding-reference", *TINY_ARGS, "--log-dir", str(blocker / "l")],
    ):
        assert sweep_py(*args) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and f"{blocker} is not a folder" in err, args
        assert "error: argument --" in err


def test_bad_study_arguments(tmp_path, capsys):
    assert (
        sweep_py("padding-reference", "--nets", "net7", "--dry-run", "--out", str(tmp_path / "out"))
        != 0
    )
    err = capsys.readouterr().err
    assert "net7" in err and "net1" in err
    assert sweep_py("padding-reference", "--seeds", "a,b", "--dry-run") != 0
    assert "--seeds" in capsys.readouterr().err


def fake(config_hash, setting, seed, acc, finished, lr="1.0", status="completed"):
    return {
        "config_hash": config_hash,
        "setting_hash": setting,
        "seed": seed,
        "status": status,
        "finished_at": finished,
        "metrics": {"test/acc": acc, "val/acc": acc},
        "overrides": [
            "experiment=gnn",
            "model=gcn",
            f"seed={seed}",
            f"model.task.optimizer.lr={lr}",
        ],
        "wall_time_s": 1.0,
    }


def test_two_runners_adding_to_one_store_keep_each_others_records(tmp_path):
    """Two sweep.py processes on one study (each with some seeds) open the store, then each
    adds its job at the end: the second write used to drop the first one's record."""
    path = tmp_path / "jobs.jsonl"
    first, second = Store(path), Store(path)
    first.add([fake("a0", "A", 0, 0.8, "2026-01-01")])
    second.add([fake("a1", "A", 1, 0.9, "2026-01-02")])
    assert sorted(Store(path).completed()) == ["a0", "a1"]
    assert second.add([fake("a0", "A", 0, 0.8, "2026-01-01")]) == 0, "already in the file"
    dry = Store(path, readonly=True)
    assert dry.add([fake("b0", "B", 0, 0.5, "2026-01-03")]) == 1
    assert sorted(Store(path).completed()) == ["a0", "a1"], "a read-only store writes nothing"


def test_a_damaged_store_line_is_named_kept_aside_and_its_job_counts_as_missing(tmp_path, capsys):
    """One truncated line (and one without a hash) in jobs.jsonl used to stop every command
    of the study with "Expecting value: line 1 column 13"."""
    out = tmp_path / "out"
    out.mkdir()
    path = out / "jobs.jsonl"
    good, lost = (
        json.dumps(fake(h, "A", s, 0.8, "2026-01-01"), sort_keys=True)
        for h, s in (("a0", 0), ("a1", 1))
    )
    damaged = [lost[:12], '{"status": "completed"}']
    path.write_text("\n".join([good, *damaged]) + "\n")
    args = [
        "padding-reference",
        "--seeds",
        "0",
        "--nets",
        "net1",
        "--conv-types",
        "valid",
        "--out",
        str(out),
        "--log-dir",
        str(tmp_path / "logs"),
    ]
    assert sweep_py(*args, "--dry-run") == 0, "a dry run reads the good records"
    err = capsys.readouterr().err
    assert f"{path}: lines 2, 3 are not job records" in err and err.count(str(path)) == 1
    assert path.read_text().splitlines()[1:] == damaged, "a dry run changes nothing"
    store = Store(path)
    assert sorted(store.completed()) == ["a0"], "the damaged lines' jobs count as missing"
    assert store.add([fake("b0", "B", 0, 0.5, "2026-01-02")]) == 1
    assert (out / "jobs.jsonl.damaged").read_text().splitlines() == damaged, "kept aside"
    assert sorted(Store(path).completed()) == ["a0", "b0"]


def test_aggregator_newest_wins_and_settings_never_merge(tmp_path):
    study = load_study("gnn-models")
    store = Store(tmp_path / "jobs.jsonl")
    store.add(
        [
            fake("a0", "A", 0, 0.80, "2026-01-01"),
            fake("a0", "A", 0, 0.70, "2026-01-02"),
            fake("a1", "A", 1, 0.90, "2026-01-01"),
            fake("b0", "B", 0, 0.50, "2026-01-01", lr="0.5"),
            fake("b1", "B", 1, 0.0, "2026-01-01", lr="0.5", status="diverged"),
        ]
    )
    summary = summarise(study, tidy(study, list(store.latest().values())))
    test = summary[summary["metric"] == "test/acc"].set_index("model.task.optimizer.lr")
    assert test.loc["1.0", "n"] == 2 and test.loc["0.5", "n"] == 1
    assert test.loc["1.0", "mean"] == pytest.approx(80.0)  # the newer 0.70 of seed 0, and 0.90
    assert test.loc["1.0", "std"] == pytest.approx(np.std([70.0, 90.0], ddof=1))
    assert np.isnan(test.loc["0.5", "std"]), "no spread from one seed"
    payload = write_report(study, store, tmp_path / "report")
    statuses = sorted(r["status"] for r in payload["left_out"])
    assert statuses == ["diverged", "superseded"]
    report = (tmp_path / "report" / "report.md").read_text()
    assert "model.task.optimizer.lr" in report, "the varying override is a column"
    assert "| gcn | 1.0 | 80.00 ± 14.14 | 81.5 |" in report, "the report's value beside ours"
    assert "| gcn | 0.5 | 50.00 | 81.5 | 1 |" in report, "one seed: the mean alone"
    assert "Mean ± sample std (ddof = 1)" in report


def test_a_new_study_file_needs_no_python(tmp_path):
    """A study file anywhere runs by its path (`python sweep.py trial/sbm-models.yaml`); its
    results stay out of reports/ and the documentation unless it is moved into studies/."""
    path = tmp_path / "sbm-models.yaml"
    path.write_text("""
name: sbm-models
title: GCN and GAT on a small synthetic graph
experiment: gnn
overrides: [data=sbm_graph, trainer.max_epochs=1, logger=none]
axes:
  - {key: model, values: [gcn, gat], option: models}
  - {key: data.noise, values: [0.0, 0.5]}
seeds: [0]
metrics: [test/acc]
scale: 100
table: {rows: [model], columns: data.noise}
plot: {x: data.noise, metric: test/acc, lines: [model], x_scale: 100}
""")
    study = load_study(path)
    assert sweep_cli.default_out(study, []) == LOGS / "studies" / "sbm-models" / "report"
    out = tmp_path / "out"
    assert sweep_py(str(path), "--out", str(out), "--log-dir", str(tmp_path / "logs")) == 0
    payload = json.loads((out / "summary.json").read_text())
    assert payload["jobs_completed"] == 4 and not payload["left_out"]
    report = (tmp_path / "out" / "report.md").read_text()
    rows = parse_table(report, "timed jobs).")
    assert rows[0] == ["model", "data.noise 0.0", "data.noise 0.5"]
    assert [r[0] for r in rows[2:]] == ["gcn", "gat"] and "(n=1)" in rows[2][1]
    height, width, _ = plt.imread(tmp_path / "out" / "sbm-models.png").shape  # a whole image
    assert height > 200 and width > 200
    lines = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(lines) == 1 + 4


def test_report_from_any_folder_lists_failed_and_unfinished_jobs(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    assert (
        train_py(
            "-m", "model.pad_size=1,3", *TINY_BOXES, "logger=wandb", f"hydra.sweep.dir={sweep}"
        )
        != 0
    ), "a failed job makes the multirun fail"
    jobs = {j.results["config"]["model"]["pad_size"]: j for j in collect(sweep)}
    assert jobs[1].status == "completed" and jobs[3].status == "failed"
    group = jobs[1].results["config"]["logger"]["wandb"]["group"]
    # the setting, and the sweep's folder stamp: another launch of the sweep is another group
    assert group == "padding/" + ",".join(sorted([*TINY_BOXES, "model.pad_size=1"])) + "@sweep"
    # a job is one W&B run; one refused while building its net (pad_size=3) starts none
    assert [p.parent.parent.name[0] for p in sweep.glob("*/wandb/offline-run-*")] == ["0"]
    unfinished = sweep / "9_killed" / ".hydra"
    unfinished.mkdir(parents=True)
    (unfinished / "config.yaml").write_text("seed: 0\n")
    (unfinished / "overrides.yaml").write_text("- seed=0\n")
    out = tmp_path / "report"
    assert sweep_py("report", str(sweep), "--study", "padding-independent", "--out", str(out)) == 0
    report = (out / "report.md").read_text()
    assert report in capsys.readouterr().out, "the report is printed too"
    left = report.split("## Jobs left out of the tables", 1)[1]
    assert "| failed |" in left and "model.pad_size=3" in left and "| missing |" in left
    summary = json.loads((out / "summary.json").read_text())
    assert summary["jobs_completed"] == 1
    assert record(jobs[1].results)["config_hash"] == jobs[1].results["config_hash"]


def test_a_table_from_any_multirun_folder(tmp_path, capsys):
    """The design card's multirun, then `sweep.py report <its folder>` with no study: the
    overrides that vary (the padding mode) are the rows, n the seeds behind each (before:
    "the following arguments are required: --study")."""
    folder = tmp_path / "multirun"
    assert (
        train_py(
            "-m",
            "model.pad=zeros,circular",
            "seed=range(2)",
            *TINY_BOXES,
            "logger=none",
            f"hydra.sweep.dir={folder}",
        )
        == 0
    )
    capsys.readouterr()
    assert sweep_py("report", str(folder)) == 0
    printed = capsys.readouterr().out
    rows = parse_table(printed, "job time in all (4 timed jobs).")
    assert rows[0][0] == "model.pad" and rows[0][1:3] == ["val/acc", "val/loss"]
    assert [r[0] for r in rows[2:]] == ["zeros", "circular"]
    assert all(r[-1] == "2" for r in rows[2:]), "n = 2 seeds per row"
    written = (folder / "report" / "report.md").read_text()
    assert parse_table(written, "(4 timed jobs).") == rows
    assert len((folder / "report" / "results.csv").read_text().splitlines()) > 4


def test_report_on_a_folder_without_jobs_fails(tmp_path, capsys):
    assert sweep_py("report", str(tmp_path / "nope"), "--study", "padding-reference") != 0
    assert "does not exist" in capsys.readouterr().err
    assert sweep_py("report", str(tmp_path)) != 0
    assert "no job folders" in capsys.readouterr().err
    assert sweep_py("report", str(tmp_path), "--study", "nope") != 0
    assert "study='nope' is not allowed: choose one of gnn-models" in capsys.readouterr().err


def test_job_dirname_stays_short_and_unique():
    from dl2.config.resolvers import job_dirname

    assert job_dirname("model=net2,seed=1") == "model=net2,seed=1"
    assert job_dirname("data.dir=a/b") == "data.dir=a_b"
    long_a, long_b = "x=" + "a" * 300, "x=" + "a" * 299 + "b"
    assert len(job_dirname(long_a)) == 120
    assert job_dirname(long_a) != job_dirname(long_b)


@functools.cache
def declared_hashes(name: str) -> tuple[list, list[str]]:
    """A declared study's jobs and their config hashes (composing them takes a while)."""
    jobs = expand(load_study(name))
    return jobs, hashes(jobs)


def page_section(page: str, name: str) -> str:
    text = (RESULTS_PAGES / f"{page}.md").read_text()
    return text.split(f"<!-- study:{name} -->\n", 1)[1].split(f"<!-- /study:{name} -->", 1)[0]


STORED = [n for n in study_names() if (REPORTS / n / "jobs.jsonl").exists()]


# the quick suite rebuilds the padding study's report (the mechanism); `-m slow` every stored one
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[] if n == "padding-reference" else pytest.mark.slow) for n in STORED],
)
def test_committed_reports_rebuild_byte_identically_offline(tmp_path, name):
    study = load_study(name)
    jobs, job_hashes = declared_hashes(name)
    store = Store(tmp_path / "jobs.jsonl")
    store.add(Store.of(name).records)
    write_report(study, store, tmp_path, jobs, job_hashes)
    for file in ("report.md", "results.csv", "summary.json"):
        assert (tmp_path / file).read_text() == (REPORTS / name / file).read_text(), file
    block = (REPORTS / name / PAGE_BLOCK).read_text()
    assert (tmp_path / PAGE_BLOCK).read_text().replace(str(tmp_path), f"../reports/{name}") == block
    assert study.page and page_section(study.page, name) == block, "the results page shows it"


def test_a_study_run_fills_its_results_page_and_never_the_readme(capsys):
    """`python sweep.py gnn-models` with every job done: nothing to run, its results page's
    block and stored report rebuilt as they are, README.md untouched (studies used to splice
    their blocks into it)."""
    watched = [
        ROOT / "README.md",
        RESULTS_PAGES / "gnn-models.md",
        *sorted((REPORTS / "gnn-models").iterdir()),
    ]
    before = {path: path.read_bytes() for path in watched}
    assert sweep_py("gnn-models", "--offline") == 0
    assert "gnn-models" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in watched} == before


def test_the_cost_section_is_the_stored_job_times():
    """The results index's cost table is what a study's run builds from every stored study's
    jobs (a declared study not run yet is not in it, so adding one breaks nothing)."""
    from dl2.studies.overview import stored_costs

    # each report's declared jobs (summary.json) are the study's: the rebuild tests above
    # compare every stored summary.json with one written from the composed jobs
    assert page_section("index", COST_BLOCK) == cost_block(stored_costs())


def test_the_readme_studies_table_is_the_stored_results():
    """The README's studies table is what a study's run builds from each stored study's
    summary.json: its jobs and its claims' verdicts, never typed."""
    from dl2.paths import README
    from dl2.studies.overview import (
        OVERVIEW_BLOCK,
        overview_block,
        stored_reports,
        verdict_counts,
    )

    text = README.read_text()
    block = text.split(f"<!-- study:{OVERVIEW_BLOCK} -->\n", 1)[1].split("<!-- /study:", 1)[0]
    studies = stored_reports()  # a declared study not run yet has no row
    assert block == overview_block(studies)
    for study, folder in studies:
        claims = json.loads((folder / "summary.json").read_text())["claims"]
        assert len(claims) >= len(study.claims), study.name  # `each` adds claims
        assert f"| {verdict_counts(claims)} |" in block
    assert verdict_counts([{"verdict": "holds"}] * 2 + [{"verdict": "fails"}]) == "2 hold, 1 fails"


def test_cost_counts_overlapping_jobs_once_and_shared_jobs_in_one_study():
    def rec(h, start, end, wall):
        return {
            "config_hash": h,
            "started_at": f"2026-01-01T00:{start:02d}:00+00:00",
            "finished_at": f"2026-01-01T00:{end:02d}:00+00:00",
            "wall_time_s": wall,
            "status": "completed",
            "machine": {"cpu_count": 2},
        }

    assert covered([(0, 10), (5, 15), (20, 30), (21, 22)]) == 25
    first = {"a": rec("a", 0, 10, 600), "b": rec("b", 5, 15, 600)}
    # c was stopped at 00:20 after 300 s and resumed at 00:30: both processes count
    resumed = {**rec("c", 30, 31, 60), "attempts": [rec("c", 15, 20, 300)]}
    second = {"b": first["b"], "c": resumed, "d": {"config_hash": "d"}}
    seen: set[str] = set()
    one = study_cost("one", first, ["a", "b", "x"], seen)
    two = study_cost("two", second, ["b", "c", "d"], seen)
    assert (one.declared, one.completed, one.timed, one.job_s, one.wall_s) == (3, 2, 2, 1200, 900)
    assert (two.completed, two.shared, two.timed, two.job_s, two.wall_s) == (3, 1, 1, 360, 360)
    block = cost_block([one, two])
    assert "| **all** | 5/6 | 3 | 0.43 h | 0.35 h |" in block  # 1560 s of jobs, 1260 s of wall
    assert "1 jobs ran before job times were stored" in block


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["all", "--help"],
        ["report", "--help"],
        *[[name, "--help"] for name in study_names()],
    ],
)
def test_every_help_page_prints(args, capsys):
    """argparse formats help strings with %: a stray % in one crashes --help."""
    with pytest.raises(SystemExit) as done:
        sweep_cli.main(args)
    assert done.value.code == 0 and "usage:" in capsys.readouterr().out


def test_a_forced_rerun_that_stopped_resumes_and_an_old_checkpoint_does_not(tmp_path):
    """`--force` reruns done jobs; one of those reruns stopped midway continues from its own
    checkpoint on the next `--force` (a ViT rerun spans sessions), while a checkpoint older
    than the stored result is an old run's and is not taken for the rerun."""
    from datetime import datetime, timezone

    from dl2.studies.resume import stopped

    study = load_study("padding-reference")
    logs = tmp_path / "logs"
    store = Store(tmp_path / "out" / "jobs.jsonl")
    store.add(
        [
            {
                "config_hash": "a" * 16,
                "status": "completed",
                "seed": 0,
                "metrics": {},
                "overrides": ["seed=0"],
                "finished_at": "2026-12-01T12:00:00+00:00",
            }
        ]
    )
    folder = logs / "studies" / study.name / "sweeps" / "x_jobs" / "0_seed=0"
    last = folder / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    (folder / "results.json").write_text(
        json.dumps({"status": "interrupted", "config_hash": "a" * 16})
    )
    before = datetime(2026, 12, 1, 11, tzinfo=timezone.utc).timestamp()
    after = datetime(2026, 12, 1, 13, tzinfo=timezone.utc).timestamp()
    os.utime(last, (before, before))
    assert stopped(study, {"a" * 16}, store, True, logs) == {}
    assert stopped(study, {"a" * 16}, store, False, logs) == {"a" * 16: last}
    os.utime(last, (after, after))
    assert stopped(study, {"a" * 16}, store, True, logs) == {"a" * 16: last}
    # the forced rerun was stopped later: its interrupted record is no result to rerun
    store.add(
        [
            {
                "config_hash": "a" * 16,
                "status": "interrupted",
                "seed": 0,
                "metrics": {},
                "overrides": ["seed=0"],
                "finished_at": "2026-12-01T14:00:00+00:00",
            }
        ]
    )
    assert stopped(study, {"a" * 16}, store, True, logs) == {"a" * 16: last}


def test_the_padding_and_graph_studies_have_their_figure(tmp_path):
    """Bars of each conv type's (model's) accuracy, the report's value beside ours: the
    padding and graph-model studies had no figure."""
    from dl2.studies.figures import reference_mean

    study = load_study("padding-reference")
    assert reference_mean(study, {"model": "net1", "model.conv_type": "fconv"}, "test/acc") == 88.85
    assert reference_mean(load_study("gnn-models"), {"model": "meanconv"}, "test/acc") is None
    for name in ("padding-reference", "gnn-models"):
        jobs, job_hashes = declared_hashes(name)
        store = Store(tmp_path / name / "jobs.jsonl")
        store.add(Store.of(name).records)
        write_report(load_study(name), store, tmp_path / name, jobs, job_hashes)
        figure = tmp_path / name / f"{name}.png"
        assert figure.stat().st_size > 10_000
        assert f"]({name}.png)" in (tmp_path / name / "report.md").read_text()


def test_an_extra_override_of_an_axis_is_refused():
    """`sweep.py rotation-cnn data.val_size=20` would set every cell's validation images to
    20 and merge the study's two protocols unseen: refused, naming the option to use."""
    study = load_study("rotation-cnn")
    with pytest.raises(ConfigValueError) as info:
        expand(study, ["data.val_size=20"])
    assert info.value.key == "overrides" and "--val-sizes" in str(info.value)
    assert len(expand(study, ["trainer.max_epochs=1"])) == len(expand(study))


BAD_RESULTS = {
    "list": "[]",
    "text": '"text"',
    "empty-object": "{}",
    "status-3": '{"status": 3}',
    "zero-bytes": "",
    "truncated": '{"status": "completed", "metr',
}


def test_a_results_file_that_is_no_job_record_is_left_out_by_name(tmp_path, capsys):
    """`[]` stopped every study command (AttributeError, no file named); `{}`, a bad status
    or a 0-byte file made the job vanish from the report and its column with it. Now each
    is one line naming the file, listed as left out, and the rest of the table stands."""
    from dl2.studies.store import ingest

    sweep = tmp_path / "sweep"
    for num, (pad, acc) in enumerate((("zeros", 0.6), ("reflect", 0.7))):
        job = sweep / f"{num}_model.pad={pad}"
        job.mkdir(parents=True)
        (job / "results.json").write_text(
            json.dumps(
                {
                    "status": "completed",
                    "config_hash": f"h{num}",
                    "setting_hash": f"s{num}",
                    "seed": 0,
                    "overrides": [f"model.pad={pad}"],
                    "metrics": {"val/acc": acc},
                    "finished_at": f"2026-01-0{num + 1}T00:00:00",
                }
            )
        )
    for num, (name, text) in enumerate(BAD_RESULTS.items(), start=2):
        (sweep / f"{num}_{name}").mkdir()
        (sweep / f"{num}_{name}" / "results.json").write_text(text)
    running = sweep / "9_running"  # a job still training: no record yet
    running.mkdir()
    (running / "results.json").write_text('{"status": "running", "config_hash": "h9"}')
    assert [r["config_hash"] for r in ingest(sweep)] == ["h0", "h1"]
    err = capsys.readouterr().err
    for num, name in enumerate(BAD_RESULTS, start=2):
        assert f"not a results file: {sweep / f'{num}_{name}' / 'results.json'}: " in err
    assert sweep_py("report", str(sweep)) == 0
    report = (sweep / "report" / "report.md").read_text()
    assert "| model.pad |" in report and "| zeros | 0.6000 | 1 |" in report
    left = report.split("## Jobs left out of the tables", 1)[1]
    assert all(f"{num}_{name}" in left for num, name in enumerate(BAD_RESULTS, start=2))
    assert left.count("| unreadable |") == len(BAD_RESULTS)


def test_the_store_is_strict_json_and_a_nan_never_undoes_a_completed_job(tmp_path):
    store = Store(tmp_path / "jobs.jsonl")
    good = {"config_hash": "h", "status": "completed", "metrics": {"val/acc": 0.9}}
    nan = {"config_hash": "h", "status": "completed", "metrics": {"val/acc": float("nan")}}
    store.add([{**good, "finished_at": "2026-01-01"}, {**nan, "finished_at": "2026-01-02"}])
    text = (tmp_path / "jobs.jsonl").read_text()
    assert "NaN" not in text and [json.loads(line)["status"] for line in text.splitlines()] == [
        "completed",
        "failed",
    ]
    assert store.latest()["h"]["metrics"] == {"val/acc": 0.9}, "the completed result stands"
    only_nan = Store(tmp_path / "other.jsonl")
    only_nan.add([{**nan, "config_hash": "n", "finished_at": "2026-01-02"}])
    (failed,) = only_nan.latest().values()
    assert failed["status"] == "failed" and failed["non_finite"] == ["val/acc"]
    assert "not finite: val/acc" in failed["error"]


def test_one_list_says_what_is_plumbing_and_hydra_uses_it(tmp_path):
    """The keys left out of folder names were a list of their own in conf/hydra/default.yaml,
    different from the plumbing keys left out of a job's hash: Hydra's exclude_keys is now
    identity.py's list, and that list covers every plumbing key and nothing else."""
    from hydra.core.hydra_config import HydraConfig

    from dl2.config.identity import (
        FOLDER_NAME_EXCLUDES,
        LAUNCHER,
        PATH_KEYS,
        PLUMBING,
        PLUMBING_LEAVES,
        is_plumbing,
    )

    compose_cfg(tmp_path, [])
    excluded = list(HydraConfig.get().job.config.override_dirname.exclude_keys)
    assert excluded == list(FOLDER_NAME_EXCLUDES)

    def under(key: str, prefix: str) -> bool:
        return key == prefix or key.startswith(f"{prefix}.")

    for key in excluded:
        assert is_plumbing(f"{key}=x") or any(under(key, p) for p in PATH_KEYS), key
    for key in (*PLUMBING, LAUNCHER, *PLUMBING_LEAVES):
        assert any(under(e, key) for e in excluded), f"{key} is plumbing but names folders"
