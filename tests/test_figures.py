"""Every figure dl2 draws shows its result: each title once, no legend over the data or a
title, and an axis range that covers the data with a margin and is not mostly empty (the GNN
figure plotted 0-100 % for differences of a fraction of a point). Rendered from the stored
studies and a multirun folder, as `make report-offline` and `sweep.py report` draw them."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure

from dl2.callbacks.rotation import RotationCurve
from dl2.studies import figures as figure_code
from dl2.studies.hashes import hashes
from dl2.studies.report import write_report
from dl2.studies.spec import expand, inferred_study, load_study
from dl2.studies.store import REPORTS, Store


@pytest.fixture
def drawn(monkeypatch):
    """The figures the report code saves, drawn (their layout done) and kept for checks."""
    figures: list[Figure] = []
    save = figure_code.save_figure

    def keep(fig, path, **kw):
        fig.canvas.draw()
        figures.append(fig)
        save(fig, path, **kw)

    monkeypatch.setattr(figure_code, "save_figure", keep)
    return figures


def data_points(ax) -> np.ndarray:
    """The y values of what the axes show: lines, markers, error bars (not shaded bands)."""
    ys = [line.get_ydata() for line in ax.lines]
    for item in ax.collections:
        if isinstance(item, PathCollection):
            ys.append(item.get_offsets()[:, 1])
        elif isinstance(item, LineCollection):
            ys += [seg[:, 1] for seg in item.get_segments()]
    values = np.concatenate([np.asarray(y, dtype=float).ravel() for y in ys]) if ys else []
    return np.asarray(values)[np.isfinite(values)]


def check_figure(fig: Figure) -> None:
    canvas = FigureCanvasAgg(fig)  # drawn again: a closed figure has lost its canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    titles = [t for t in (fig._suptitle, *(ax.title for ax in fig.axes)) if t and t.get_text()]
    texts = [t.get_text() for t in titles]
    assert texts and len(texts) == len(set(texts)), f"a title twice: {texts}"
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), "a legend over the data"
        for title in titles:
            assert not box.overlaps(title.get_window_extent(renderer)), "a legend over a title"
    for ax in fig.axes:  # axes that share their y range are checked together
        ys = np.concatenate([data_points(a) for a in ax.get_shared_y_axes().get_siblings(ax)])
        if not len(ys):
            continue
        low, high = ax.get_ylim()
        span = max(ys.max() - ys.min(), 1e-9)
        assert low < ys.min() and ys.max() < high, "data at or past the axis edge"
        assert span / (high - low) >= 0.5, f"the data fill {span / (high - low):.0%} of the axis"


@pytest.mark.parametrize("name", ["gnn-models", "padding-reference", "rotation-cnn", "gpt-cpu"])
def test_each_kind_of_report_figure_shows_its_result(tmp_path, drawn, name):
    """The comparison points (one panel and two), the line plot, the training curves."""
    study = load_study(name)
    jobs = expand(study)  # as make report-offline: the records of the planned jobs
    store = Store(REPORTS / name / "jobs.jsonl", readonly=True)
    write_report(study, store, tmp_path, jobs, hashes(jobs))
    assert drawn, "a figure was drawn"
    for fig in drawn:
        check_figure(fig)
    if name == "gpt-cpu":  # one seed, one setting: said so, no legend of one entry "all"
        (fig,) = drawn
        assert fig._suptitle.get_text().endswith("training curves, seed 0") and not fig.legends


def test_a_multirun_report_names_what_every_job_shared_and_draws_it(tmp_path, drawn):
    """`sweep.py report` of a trainer.max_epochs=1 sweep: the shared overrides said, a figure,
    and no spread for n = 1."""
    records = [
        {
            "config_hash": f"h{pad}",
            "setting_hash": f"s{pad}",
            "status": "completed",
            "seed": 0,
            "overrides": ["trainer.max_epochs=1", f"model.pad={pad}", "logger=none"],
            "metrics": {"val/acc": acc, "val/loss": 0.7},
        }
        for pad, acc in (("zeros", 0.51), ("reflect", 0.55))
    ]
    store = tmp_path / "jobs.jsonl"
    store.write_text("".join(json.dumps(r) + "\n" for r in records))
    study = inferred_study("sweep", records)
    write_report(study, Store(store, readonly=True), tmp_path / "report")
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Every job ran with `trainer.max_epochs=1`." in report and "logger" not in report
    assert "| zeros | 0.5100 | 0.7000 | 1 |" in report and "±" not in report.split("|")[-3]
    assert "![Jobs of sweep](sweep.png)" in report
    (fig,) = drawn
    check_figure(fig)


def test_a_run_folders_rotation_figure_names_its_setting(tmp_path, monkeypatch):
    """accuracy_by_angle.png had no title: it names the job's task and overrides now."""
    import dl2.callbacks.rotation as rotation
    from tests.harness import compose_cfg

    cfg = compose_cfg(tmp_path, ["experiment=rotation", "model=vit", "data.augment=rotation"])
    setting = cfg.callbacks.rotation_curve.setting
    assert setting == "rotation experiment=rotation,model=vit,data.augment=rotation"
    kept = []
    monkeypatch.setattr(rotation, "save_figure", lambda fig, path: kept.append(fig))
    metrics = {"test_rot000/acc": 0.62, "test_rot045/acc": 0.31, "test_rot090/acc": 0.35}
    trainer = SimpleNamespace(callback_metrics=metrics, is_global_zero=True, loggers=[])
    RotationCurve(str(tmp_path), setting).on_test_end(trainer, None)
    (fig,) = kept
    check_figure(fig)
    assert fig.axes[0].get_title() == f"Test accuracy by rotation: {setting}"


def test_the_figure_checks_catch_what_the_old_figures_did():
    """The checks above fail on a bar chart from zero with its legend inside and its title
    twice (the GNN figure before)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar([0, 1, 2], [81.9, 81.5, 82.1], yerr=[0.9, 0.7, 0.9], label="test/acc")
    ax.legend(loc="lower right")
    ax.set_title("Graphs")
    fig.suptitle("Graphs")
    fig.canvas.draw()
    with pytest.raises(AssertionError, match="a title twice"):
        check_figure(fig)
    fig.suptitle("")
    with pytest.raises(AssertionError, match="a legend over the data"):
        check_figure(fig)
    ax.get_legend().remove()
    with pytest.raises(AssertionError, match="the data fill"):
        check_figure(fig)
    plt.close(fig)
