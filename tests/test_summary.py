"""A study's tidy table and its summary per setting (dl2/studies/summary.py) on crafted
records: which overrides label a row, jobs that lack an override or a metric, values outside
the study's axis, and the columns of an empty summary."""

from __future__ import annotations

import math
import warnings

from dl2.studies.plan import JobState, Plan
from dl2.studies.report import write_report
from dl2.studies.spec import expand, load_study
from dl2.studies.store import Store
from dl2.studies.summary import STATS, label_columns, summarise, tidy, unlogged_metrics

STUDY = """
name: crafted
title: crafted
experiment: gnn
axes:
  - {key: model, values: [gcn, gat]}
seeds: [0, 1]
metrics: [test/acc, val/acc]
"""


def crafted(tmp_path):
    path = tmp_path / "crafted.yaml"
    path.write_text(STUDY)
    return load_study(path)


def job(model: str, seed: int, acc: float, *extra: str, metrics: tuple = ("test/acc",)) -> dict:
    return {
        "config_hash": f"{model}-{seed}-{'-'.join(extra)}",
        "setting_hash": f"{model}-{'-'.join(extra)}",
        "seed": seed,
        "status": "completed",
        "overrides": [f"model={model}", f"seed={seed}", *extra],
        "metrics": {m: acc for m in metrics},
    }


def test_an_override_labels_rows_only_where_jobs_differ_in_it(tmp_path):
    study = crafted(tmp_path)
    records = [
        job("gat", 0, 0.5, "trainer.max_epochs=5", "data.noise=0.1"),
        job("gcn", 0, 0.7, "trainer.max_epochs=5", "data.noise=0.1"),
        job("gcn", 1, 0.9, "trainer.max_epochs=5"),  # no data.noise: a row of its own
    ]
    frame = tidy(study, records)
    assert label_columns(study, frame) == ["model", "data.noise"], "max_epochs: every job's"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning for a std of one value
        summary = summarise(study, frame)
    rows = [
        (r["model"], r["data.noise"], r["metric"], r["n"], r["mean"]) for _, r in summary.iterrows()
    ]
    # axis order (gcn before gat, as the study declares), then the metrics in its order; a
    # metric no job logged (val/acc) has no row; a job without the override keeps its row
    assert rows == [
        ("gcn", "0.1", "test/acc", 1, 0.7),
        ("gcn", "", "test/acc", 1, 0.9),
        ("gat", "0.1", "test/acc", 1, 0.5),
    ]
    assert all(math.isnan(s) for s in summary["std"]), "one seed: no spread"


def test_a_value_outside_the_axis_comes_last_and_seeds_are_summarised(tmp_path):
    study = crafted(tmp_path)
    records = [
        job("sage", 0, 0.1),  # an older run's model, not among the study's values
        job("gat", 0, 0.4),
        job("gat", 1, 0.6),
    ]
    summary = summarise(study, tidy(study, records))
    assert list(summary["model"]) == ["gat", "sage"]
    gat = summary.iloc[0]
    assert (gat["n"], gat["mean"], gat["min"], gat["max"]) == (2, 0.5, 0.4, 0.6)
    assert math.isclose(gat["std"], math.sqrt(0.02)), "the sample std (ddof=1)"


def test_an_empty_summary_has_its_columns(tmp_path):
    study = crafted(tmp_path)
    failed = {**job("gcn", 0, 0.5), "status": "failed"}
    frame = tidy(study, [failed])
    assert list(frame.columns) == [
        "model",
        "setting_hash",
        "config_hash",
        "seed",
        "metric",
        "value",
    ]
    summary = summarise(study, frame)
    assert summary.empty and list(summary.columns) == ["model", "setting_hash", "metric", *STATS]


def test_jobs_after_a_failed_one_and_a_job_without_overrides_are_counted(tmp_path):
    study = crafted(tmp_path)
    bare = {k: v for k, v in job("gcn", 0, 0.3).items() if k != "overrides"}  # an old record
    records = [{**job("gcn", 1, 0.5), "status": "failed"}, job("gat", 0, 0.4), bare]
    frame = tidy(study, records)  # a row per job and metric
    models = sorted(frame[frame["metric"] == "test/acc"]["model"])
    assert models == ["", "gat"], "no model override and no axis default: blank"


def test_a_metric_no_completed_job_logged_is_named_with_those_they_did(tmp_path, capsys):
    study = crafted(tmp_path)
    assert unlogged_metrics(study, [{**job("gcn", 0, 0.5), "status": "failed"}]) is None
    both = job("gcn", 0, 0.5, metrics=("test/acc", "val/acc"))
    assert unlogged_metrics(study, [both, job("gat", 0, 0.4)]) is None, "each logged by one"
    line = "study crafted: metrics val/acc logged by none of its 2 completed jobs (they log"
    assert unlogged_metrics(study, [job("gcn", 0, 0.5), job("gat", 1, 0.4)]) == f"{line} test/acc)"
    store = Store(tmp_path / "out" / "jobs.jsonl")
    store.add([job("gcn", 0, 0.5), job("gat", 1, 0.4)])
    write_report(study, store, tmp_path / "out")
    assert f"dl2: {line} test/acc)" in capsys.readouterr().err
    assert (
        "val/acc logged by none of its 2 completed jobs" in (tmp_path / "out/report.md").read_text()
    )
    jobs = expand(study, seeds=[0])
    records = [job(j.values[0][1], 0, 0.5) for j in jobs]
    plan = Plan(
        study, [JobState(j, r["config_hash"], r) for j, r in zip(jobs, records, strict=True)]
    )
    assert "warning: study crafted: metrics val/acc logged by none of its 2" in plan.describe()
