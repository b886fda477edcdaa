"""conf/hparams_search/: Hydra's Optuna sweeper over train.py's returned metric."""

from __future__ import annotations

import json

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from dl2.paths import CONF
from tests.harness import run_script

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="pip install -e '.[search]'")

SEARCHES = {
    "gnn_optuna": ("experiment=gnn", "val/acc", "maximize"),
    "gpt_optuna": ("experiment=gpt_cpu", "val/loss", "minimize"),
}


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_search_spaces_name_real_keys(search):
    experiment, metric, direction = SEARCHES[search]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", [experiment, f"hparams_search={search}"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    sweeper = cfg.hydra.sweeper
    assert sweeper.direction == direction and cfg.optimized_metric == metric
    for key in sweeper.params:
        assert OmegaConf.select(cfg, key) is not None, f"{search}: {key} is not a config key"


@pytest.mark.slow
def test_gnn_search_runs_trials_and_reports_the_best(tmp_path):
    proc = run_script(
        "train.py",
        "-m",
        "experiment=gnn",
        "data=sbm_graph",
        "hparams_search=gnn_optuna",
        "hydra.sweeper.n_trials=3",
        "trainer.max_epochs=3",
        "logger=none",
        f"paths.log_dir={tmp_path}",
    )
    output = proc.stdout + proc.stderr
    # no terminal here: Optuna's lines in Hydra's format, no colour codes, no plugin chatter
    assert "Study name: gnn-dropout-weight-decay" in output
    assert "\x1b[" not in output and "setup plugin alembic" not in output
    (sweep,) = (tmp_path / "gnn" / "multiruns").iterdir()
    for trial in sweep.glob("*/results.json"):  # each run folder whole on one line
        assert f"completed: {trial.parent}\n" in output
    trials = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]
    assert len(trials) == 3 and all(t["status"] == "completed" for t in trials)
    dropouts = [t["config"]["model"]["net"]["dropout"] for t in trials]
    assert all(0.0 <= d <= 0.8 for d in dropouts) and len(set(dropouts)) == 3
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(t["metrics"]["val/acc"] for t in trials))
    winner = max(trials, key=lambda t: t["metrics"]["val/acc"])
    assert best["best_params"]["model.net.dropout"] == pytest.approx(
        winner["config"]["model"]["net"]["dropout"]
    )


@pytest.mark.slow  # three searches in this process: 9 s
def test_an_interrupted_search_continues_where_it_stopped(tmp_path):
    """The same command with the search's folder (hydra.sweep.dir) again: the seeded sampler
    proposes the same trials, the finished ones are not trained again (their stored result is
    returned), and the search goes on with the next; what an uninterrupted search does."""
    from tests.harness import train_py

    sweep = tmp_path / "search"
    args = [
        "-m",
        "experiment=gnn",
        "data=sbm_graph",
        "hparams_search=gnn_optuna",
        "trainer.max_epochs=2",
        "logger=none",
        f"hydra.sweep.dir={sweep}",
    ]
    assert train_py(*args, "hydra.sweeper.n_trials=2") == 0
    first = {p: p.stat().st_mtime_ns for p in sweep.glob("*/results.json")}
    assert len(first) == 2
    assert train_py(*args, "hydra.sweeper.n_trials=3") == 0
    after = {p: p.stat().st_mtime_ns for p in sweep.glob("*/results.json")}
    assert len(after) == 3 and all(after[p] == t for p, t in first.items()), "not retrained"
    straight = tmp_path / "straight"
    assert train_py(*args[:-1], f"hydra.sweep.dir={straight}", "hydra.sweeper.n_trials=3") == 0
    assert sorted(p.parent.name for p in after) == sorted(
        p.parent.name for p in straight.glob("*/results.json")
    ), "the same three trials"
    # the study in the folder's SQLite file is the uninterrupted search's; the earlier one kept
    import optuna

    def study(folder, name="gnn-dropout-weight-decay"):
        trials = optuna.load_study(study_name=name, storage=f"sqlite:///{folder}/optuna.db").trials
        return [(t.state.name, t.params, t.value) for t in trials]

    assert study(sweep) == study(straight) and len(study(sweep)) == 3
    (kept,) = [
        s.study_name
        for s in optuna.get_all_study_summaries(f"sqlite:///{sweep}/optuna.db")
        if s.study_name != "gnn-dropout-weight-decay"
    ]
    assert kept.startswith("gnn-dropout-weight-decay-before-")
    assert study(sweep, kept) == study(straight)[:2], "the interrupted search's two trials"


def test_a_continued_search_keeps_its_earlier_study_beside_a_fresh_one(tmp_path):
    """Optuna would load the study and ask a freshly seeded sampler for more trials (the first
    trials' parameters again): the study starts afresh, the earlier one is kept by name; a
    storage outside the sweep folder is left alone."""
    import optuna

    from dl2.run.search import keep_earlier_study

    storage = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    before = [t.params for t in study.trials]
    config = OmegaConf.create(
        {
            "hydra": {
                "sweep": {"dir": str(tmp_path)},
                "sweeper": {"storage": storage, "study_name": "s"},
            }
        }
    )
    elsewhere = OmegaConf.merge(config, {"hydra": {"sweep": {"dir": str(tmp_path / "other")}}})
    assert keep_earlier_study(elsewhere) is None
    kept = keep_earlier_study(config)
    assert kept.startswith("s-before-")
    assert {s.study_name for s in optuna.get_all_study_summaries(storage)} == {kept}
    assert [t.params for t in optuna.load_study(study_name=kept, storage=storage).trials] == before
    assert keep_earlier_study(config) is None, "nothing to keep: no study of that name"


@pytest.mark.parametrize("damage", ["not sqlite", "truncated"])
def test_a_damaged_study_database_is_one_line_naming_it(tmp_path, capsys, damage):
    """A non-database or truncated optuna.db in the search's folder: 79 lines of SQLAlchemy's
    traceback before; now one line naming the file, which is left as it was."""
    import sqlite3

    from tests.harness import train_py

    db = tmp_path / "optuna.db"
    if damage == "not sqlite":
        db.write_text("hello, not a database\n")
    else:
        with sqlite3.connect(db) as con:  # what a disk-full write or a partial copy leaves
            con.execute("create table studies (study_id integer primary key, study_name text)")
            con.executemany(
                "insert into studies values (?, ?)", [(i, "x" * 500) for i in range(50)]
            )
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    before = db.read_bytes()
    args = ["experiment=gnn", "data=sbm_graph", "hparams_search=gnn_optuna", "logger=none"]
    assert train_py("-m", *args, f"hydra.sweep.dir={tmp_path}") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{db} is not a study database Optuna can read" in err
    assert db.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.is_dir()], "no trial started"


@pytest.mark.parametrize(
    ("override", "shown"),
    [
        ("optimized_metric=val/f1", "optimized_metric='val/f1' is not allowed: a search "),
        (
            "optimized_metric=val/loss",
            "hydra.sweeper.direction='maximize' is not allowed: val/loss",
        ),
        ("optimized_metric=test/acc", "choose one of val/loss, val/acc"),
    ],
)
def test_a_search_on_a_metric_no_trial_returns_or_the_wrong_way_fails_first(
    tmp_path, capsys, override, shown
):
    """val/f1 trained a whole trial before Optuna's "must be float-castable" traceback; a loss
    was maximised without a word. Both are one line before the first trial."""
    from tests.harness import train_py

    args = ["experiment=gnn", "data=sbm_graph", "hparams_search=gnn_optuna", "logger=none"]
    assert train_py("-m", *args, override, f"hydra.sweep.dir={tmp_path / 's'}") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and shown in err
    assert not list((tmp_path / "s").glob("*/results.json")), "no trial ran"
