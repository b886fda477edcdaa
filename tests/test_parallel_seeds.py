"""Seeds side by side (`parallel_seeds`): each seed of a group ends exactly where its own job
ends, writes what that job writes, and the study runner uses groups without the store or the
report telling the difference."""

import json
from pathlib import Path

import pytest
import torch

from dl2.errors import ConfigValueError
from dl2.files import read_checkpoint
from dl2.nets.dropout import DropoutStream
from dl2.nets.gnn import GAT, GCN
from dl2.run.job import train
from dl2.studies.runner import blocks, multirun_size, run
from dl2.studies.spec import expand, load_study
from dl2.studies.store import Store
from tests.harness import compose_cfg, inprocess_multirun

GRAPH = ["experiment=gnn", "data=sbm_graph", "trainer.max_epochs=30"]


def results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


@pytest.mark.parametrize(
    "model, extra",
    [
        (
            "gat",
            ["callbacks=default", "callbacks.early_stopping.patience=3", "trainer.max_epochs=60"],
        ),  # early stopping and val/loss checkpoints per seed
        ("gcn", ["data.noise=0.5", "logger=csv"]),  # each seed its own noisy graph
    ],
)
def test_each_seed_of_a_group_ends_where_it_ends_alone(tmp_path, model, extra):
    base = [*GRAPH, f"model={model}", "logger=none", *extra]
    group = compose_cfg(tmp_path, [*base, "parallel_seeds=[0,1,2]"], job="group")
    means = train(group)
    tests = []
    for seed in (0, 1, 2):
        train(compose_cfg(tmp_path, [*base, f"seed={seed}"], job=f"alone{seed}"))
        alone = results(tmp_path / f"alone{seed}")
        mine = results(tmp_path / "group" / f"seed_{seed}")
        for key in (
            "status",
            "seed",
            "config_hash",
            "setting_hash",
            "metrics",
            "best_epoch",
            "best_step",
            "epochs_run",
            "history",
        ):
            assert mine[key] == alone[key], (seed, key)
        assert mine["overrides"] == alone["overrides"]
        assert mine["parallel_seeds"]["seeds"] == [0, 1, 2]
        ckpt = torch.load(mine["checkpoint"], weights_only=True)
        assert ckpt["epoch"] == alone["best_epoch"]
        tests.append(alone["metrics"]["test/acc"])
    assert means["test/acc"] == pytest.approx(sum(tests) / 3)
    if model == "gat":
        assert len({results(tmp_path / f"alone{s}")["epochs_run"] for s in (0, 1, 2)}) > 1, (
            "the seeds should stop early at different epochs for this test to mean anything"
        )
    else:  # each seed's CSV log, as its own job writes it
        rows = (tmp_path / "group" / "seed_1" / "csv" / "metrics.csv").read_text().splitlines()
        assert len(rows) > 30 and "val/acc" in rows[0]


@pytest.mark.parametrize(
    "value, allowed",
    [
        ("[1,1]", "appears twice"),
        ("0", "a count K"),
        ("[]", "a count K"),
        ("[-1]", "must be an integer"),
    ],
)
def test_bad_parallel_seeds_fail_before_training(tmp_path, value, allowed):
    cfg = compose_cfg(tmp_path, [*GRAPH, "logger=none", f"parallel_seeds={value}"])
    with pytest.raises(ConfigValueError) as info:
        train(cfg)
    assert info.value.key == "parallel_seeds" and allowed in str(info.value)


def test_parallel_seeds_only_where_they_are_exact(tmp_path):
    boxes = compose_cfg(tmp_path, ["logger=none", "trainer.max_epochs=1", "parallel_seeds=2"])
    with pytest.raises(ConfigValueError, match="experiment=gnn"):
        train(boxes)
    clipped = compose_cfg(
        tmp_path,
        [*GRAPH, "logger=none", "parallel_seeds=2", "+trainer.gradient_clip_val=1.0"],
        job="clip",
    )
    with pytest.raises(ConfigValueError, match="trainer.gradient_clip_val"):
        train(clipped)
    failed = results(tmp_path / "job" / "seed_0")  # as a failed job of its own records it
    assert failed["status"] == "failed" and "parallel_seeds" in failed["error"]
    assert results(tmp_path / "job" / "seed_1")["exit_code"] == 1


@pytest.mark.parametrize("net", [GCN, GAT])
def test_a_nets_dropout_ignores_other_draws_and_resumes_from_its_state(net):
    torch.manual_seed(0)
    x = (torch.rand(30, 12) < 0.1).float()  # sparse features, as Cora's
    edges = torch.randint(0, 30, (2, 80))
    model = net(12, 3)
    model.train()
    first = model(x, edges)
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in model.state_dict().items()}
    second = model(x, edges)
    torch.manual_seed(123)  # someone else draws: the net's masks do not move
    torch.rand(1000)
    copy = net(12, 3)
    copy.load_state_dict(state)
    copy.train()
    assert torch.equal(copy(x, edges), second)
    assert not torch.equal(first, second), "new masks each step"


def test_sparse_input_dropout_is_dropout():
    x = torch.zeros(200, 300)
    x[torch.rand(200, 300) < 0.05] = 1.0
    stream = DropoutStream()
    out = stream(x.to_sparse().coalesce(), 0.4, True).to_dense()
    kept = out[x > 0]
    assert set(kept.unique().tolist()) <= {0.0, torch.tensor(1 / 0.6).item()}
    assert torch.all(out[x == 0] == 0)
    assert abs(float((kept == 0).float().mean()) - 0.4) < 0.05
    assert torch.equal(stream(x, 0.4, False), x)


def test_the_runner_groups_a_settings_seeds(tmp_path):
    study = load_study("gnn-models")

    class P:  # what blocks() reads of a planned job
        def __init__(self, job):
            self.job = job

    todo = [P(j) for j in expand(study, seeds=[0, 1, 2])]
    parts = blocks(todo, parallel_seeds=True)
    assert parts == [["experiment=gnn", "model=gcn,meanconv,gat", "parallel_seeds=[0,1,2]"]]
    assert multirun_size(parts[0]) == 9
    one = [p for p in todo if "model=gat" in p.job.overrides]
    assert blocks(one, parallel_seeds=True, chunks=2)[0][-1] == "parallel_seeds=[0,1],[2]"
    assert multirun_size(blocks(one, parallel_seeds=True, chunks=2)[0]) == 3


def test_a_parallel_study_stores_what_one_job_per_seed_stores(tmp_path):
    path = tmp_path / "sbm-noise.yaml"
    path.write_text("""
name: sbm-noise
title: GCN and GAT on a small noisy synthetic graph
experiment: gnn
overrides: [data=sbm_graph, trainer.max_epochs=8, logger=none]
axes:
  - {key: model, values: [gcn, gat]}
  - {key: data.noise, values: [0.0, 0.5]}
seeds: [0, 1]
metrics: [test/acc]
parallel_seeds: true
""")
    study = load_study(path)
    jobs = expand(study)
    stores = {}
    # the study's own choice (groups), then a process per seed as --one-job-per-seed asks
    for label, parallel in (("groups", None), ("jobs", False)):
        stores[label] = Store(tmp_path / label / "jobs.jsonl")
        assert (
            run(
                study,
                jobs,
                stores[label],
                log_dir=tmp_path / f"logs-{label}",
                parallel_seeds=parallel,
                launch=inprocess_multirun,
            )
            == 0
        )
    groups, single = stores["groups"].completed(), stores["jobs"].completed()
    assert len(single) == 8 and set(groups) == set(single)
    for config_hash, record in single.items():
        assert groups[config_hash]["metrics"] == record["metrics"]
        assert groups[config_hash]["best_epoch"] == record["best_epoch"]
    folders = list((tmp_path / "logs-groups").rglob("seed_1/results.json"))
    assert len(folders) == 4, "one group per setting, each with its seeds' folders"


FAILURES = {  # a failure case of a single job, and what it ends as
    "monitor": (["callbacks.model_checkpoint.monitor=val/nope"], "failed"),
    "diverged": (["max_loss=0.5"], "diverged"),  # a training loss above it, at the first step
    "diverged-val": (["model.task.optimizer.lr=1e30"], "diverged"),  # a NaN validation loss
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_failure_ends_as_it_does_for_a_single_job(tmp_path, case):
    """Each failure case of a single job, also with seeds side by side: the same message and
    status in each seed's results.json as in the seed's own job."""
    bad, status = FAILURES[case]
    base = [*GRAPH, "model=gcn", "logger=none", "trainer.max_epochs=5", *bad]
    alone_cfg = compose_cfg(tmp_path, [*base, "seed=0"], job="alone")
    with pytest.raises(Exception) as alone_err:
        train(alone_cfg)
    group_cfg = compose_cfg(tmp_path, [*base, "parallel_seeds=[0,1]"], job="group")
    if case == "monitor":  # refused before training, as the single job refuses it
        with pytest.raises(ConfigValueError) as group_err:
            train(group_cfg)
        assert str(group_err.value) == str(alone_err.value)
    else:
        train(group_cfg)
    alone, mine = results(tmp_path / "alone"), results(tmp_path / "group" / "seed_0")
    assert mine["status"] == alone["status"] == status
    assert mine["exit_code"] == alone["exit_code"] == 1
    assert mine["error"] == alone["error"]


def test_a_seed_writes_what_its_own_job_writes(tmp_path):
    base = [*GRAPH, "model=gcn", "trainer.max_epochs=3", "logger=csv"]
    train(compose_cfg(tmp_path, [*base, "parallel_seeds=[0,1]"], job="group"))
    train(compose_cfg(tmp_path, [*base, "seed=1"], job="alone"))
    alone, mine = results(tmp_path / "alone"), results(tmp_path / "group" / "seed_1")
    assert set(mine) - {"parallel_seeds"} == set(alone)
    assert mine["params"] == alone["params"]
    header = (tmp_path / "group" / "seed_1" / "csv" / "metrics.csv").read_text().splitlines()[0]
    alone_header = (tmp_path / "alone" / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert set(header.split(",")) == set(alone_header.split(","))
    # its best checkpoint written as a single job's is: atomically, loadable as data
    assert not list((tmp_path / "group" / "seed_1" / "checkpoints").glob("*.part"))
    assert read_checkpoint(mine["checkpoint"])["epoch"] == mine["best_epoch"]


def test_a_killed_job_stops_and_resumes_as_a_single_job(tmp_path, monkeypatch):
    """SIGTERM in the 4th epoch, both ways: each seed `interrupted` with exit code 143, as its
    own job; resumed from the last checkpoint, each seed ends as its uninterrupted job."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from dl2.run.seed_group import SeedGroup
    from dl2.tasks.node_classification import NodeClassifier

    kill = {"at": None}

    def killable(step):
        def wrapped(self, *args, **kwargs):
            if self.global_step == kill["at"]:
                raise SIGTERMException()
            return step(self, *args, **kwargs)

        return wrapped

    monkeypatch.setattr(NodeClassifier, "training_step", killable(NodeClassifier.training_step))
    monkeypatch.setattr(SeedGroup, "training_step", killable(SeedGroup.training_step))
    base = [*GRAPH, "model=gcn", "logger=none", "trainer.max_epochs=6"]
    for seed in (0, 1):
        train(compose_cfg(tmp_path, [*base, f"seed={seed}"], job=f"straight{seed}"))
    kill["at"] = 3
    for job, extra in (("alone", ["seed=0"]), ("group", ["parallel_seeds=[0,1]"])):
        with pytest.raises(SystemExit) as stopped:
            train(compose_cfg(tmp_path, [*base, *extra], job=job))
        assert stopped.value.code == 143, job
    kill["at"] = None
    alone, mine = results(tmp_path / "alone"), results(tmp_path / "group" / "seed_0")
    assert mine["status"] == alone["status"] == "interrupted"
    assert mine["exit_code"] == alone["exit_code"] == 143
    for job, extra in (("alone", ["seed=0"]), ("group", ["parallel_seeds=[0,1]"])):
        last = tmp_path / job / "checkpoints" / "last.ckpt"
        train(compose_cfg(tmp_path, [*base, *extra, f"ckpt_path={last}"], job=f"{job}-resumed"))
    resumed = [
        (0, tmp_path / "alone-resumed"),
        (0, tmp_path / "group-resumed" / "seed_0"),
        (1, tmp_path / "group-resumed" / "seed_1"),
    ]
    for seed, folder in resumed:
        run, straight = results(folder), results(tmp_path / f"straight{seed}")
        assert run["status"] == "completed", folder
        assert (run["metrics"], run["best_epoch"]) == (
            straight["metrics"],
            straight["best_epoch"],
        ), folder


def test_the_runner_resumes_a_stopped_group_and_it_logs_progress(tmp_path, monkeypatch, capsys):
    """A group of seeds side by side stopped in its 4th epoch (SIGTERM, or the runner's end)
    is found by the next run of the study, resumed from the group's last.ckpt as one job,
    and stores what the uninterrupted group stores; its train.log has a progress line per
    epoch with each seed's validation metrics."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from dl2.run.seed_group import SeedGroup
    from dl2.studies.runner import hashes, resumable_groups, still_to_train

    path = tmp_path / "sbm.yaml"
    path.write_text("""
name: sbm
title: GCN on a small synthetic graph
experiment: gnn
overrides: [data=sbm_graph, model=gcn, trainer.max_epochs=6, logger=none]
axes: []
seeds: [0, 1]
metrics: [test/acc]
parallel_seeds: true
""")
    study = load_study(path)
    jobs = expand(study)
    straight = Store(tmp_path / "straight" / "jobs.jsonl")
    assert (
        run(study, jobs, straight, log_dir=tmp_path / "logs-straight", launch=inprocess_multirun)
        == 0
    )
    (log,) = (tmp_path / "logs-straight").rglob("train.log")
    lines = [line for line in log.read_text().splitlines() if "dl2.progress" in line]
    assert any(
        "epoch 6/6" in line and "seed_0/val/acc" in line and "seed_1/val/loss" in line
        for line in lines
    ), lines

    stop_at = {"step": 3}
    step = SeedGroup.training_step

    def killable(self, *args, **kwargs):
        if self.global_step == stop_at["step"]:
            raise SIGTERMException()
        return step(self, *args, **kwargs)

    monkeypatch.setattr(SeedGroup, "training_step", killable)
    logs, store = tmp_path / "logs", Store(tmp_path / "out" / "jobs.jsonl")
    assert run(study, jobs, store, log_dir=logs, launch=inprocess_multirun) == 143
    assert not store.completed()
    (group,) = resumable_groups(study, set(hashes(jobs)), logs)
    assert set(group.hashes) == set(hashes(jobs))
    assert set(still_to_train({h: group.last for h in group.hashes}).values()) == {0.5}
    monkeypatch.setattr(SeedGroup, "training_step", step)
    capsys.readouterr()
    assert run(study, jobs, store, log_dir=logs, launch=inprocess_multirun) == 0
    assert "ckpt_path=" in capsys.readouterr().out, "resumed, not started again"
    done, expected = store.completed(), straight.completed()
    assert set(done) == set(expected)
    for config_hash, record in expected.items():
        assert (done[config_hash]["metrics"], done[config_hash]["best_epoch"]) == (
            record["metrics"],
            record["best_epoch"],
        )
    resumed = [results(f.parent) for f in logs.rglob("seed_*/results.json")]
    resumed = [r for r in resumed if r["status"] == "completed"]
    assert len(resumed) == 2 and {r["resumed_from"] for r in resumed} == {str(group.last)}
