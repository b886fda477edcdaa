"""How the study runner shares the cores: jobs at once, threads each, and its overrides."""

import os
from dataclasses import replace

import pytest

from dl2.errors import ConfigValueError
from dl2.studies.cores import CoreShare, available_cores, share_cores
from dl2.studies.plan import JobState, Plan, estimate, measured_times, with_share
from dl2.studies.spec import Axis, Study, StudyJob
from dl2.studies.store import Store
from dl2.studies.timing import fraction_trained


@pytest.mark.parametrize(
    ("cores", "per_job", "jobs", "expected"),
    [
        (2, 1, None, CoreShare(2, 1)),  # tiny nets: one job per core
        (2, None, None, CoreShare(1, 2)),  # GPT / CIFAR: one job on every core
        (16, 4, None, CoreShare(4, 4)),
        (16, 1, 3, CoreShare(3, 5)),  # --jobs 3: an equal share each
        (3, 2, None, CoreShare(1, 3)),  # a job never gets fewer cores than it asked for
        (1, 1, 4, CoreShare(4, 1)),  # more jobs than cores, if asked: at least one thread
    ],
)
def test_share_cores(cores, per_job, jobs, expected):
    assert share_cores(cores, per_job, jobs) == expected


@pytest.mark.parametrize(
    ("args", "key"), [((0, 1), "cores"), ((2, 0), "cores_per_job"), ((2, 1, 0), "--jobs")]
)
def test_bad_share_cores(args, key):
    with pytest.raises(ConfigValueError) as info:
        share_cores(*args)
    assert info.value.key == key


def test_available_cores_is_what_this_process_may_use(monkeypatch):
    """A SLURM allocation or `taskset` narrows the affinity below os.cpu_count()."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert available_cores() == 2


def test_with_slots_adds_launcher_and_threads_unless_given():
    base = ["experiment=padding", "seed=0,1"]
    assert with_share(base, CoreShare(2, 1)) == [
        *base,
        "launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "torch_threads=1",
    ]
    assert with_share(base, CoreShare(1, 2)) == [*base, "torch_threads=2"]
    assert with_share(base, None) == base
    # the user's own launcher and threads win
    mine = [*base, "launcher=slurm", "torch_threads=4"]
    assert with_share(mine, CoreShare(2, 1)) == mine


def _planned(values, seed, wall=None, left=1.0):
    job = StudyJob(("experiment=padding", f"seed={seed}"), values, seed)
    done = None if wall is None else {"wall_time_s": wall, "status": "completed"}
    return JobState(job, f"h{values}{seed}", done, left=left)


def test_estimate_uses_same_values_then_other_stores_then_the_mean():
    a, b, c = (("model", "net1"),), (("model", "net2"),), (("model", "net3"),)
    planned = [_planned(a, 0, 10.0), _planned(a, 1), _planned(b, 0), _planned(c, 0)]
    # a: its own done job (10 s); b: another store's (30 s); c: the mean of all known (20 s)
    assert estimate(planned, {(("model", "net2"),): [30.0]}) == pytest.approx(10 + 30 + 20)
    assert estimate([_planned(a, 1)]) is None
    # a stopped job that resumes costs the part of its training it has left
    planned[2] = _planned(b, 0, left=0.25)
    assert estimate(planned, {(("model", "net2"),): [30.0]}) == pytest.approx(10 + 7.5 + 20)


def test_a_time_left_from_other_settings_jobs_is_called_a_guess():
    """The dry run's estimate is the study's own measure only when every job to run has a
    done job of the plan with its axis values; otherwise it says it is a guess."""
    study = Study(name="s", title="s", experiment="padding", metrics=["m"])
    a, b = (("model", "net1"),), (("model", "net2"),)
    own = Plan(study, [_planned(a, 0, 10.0), _planned(a, 1)], CoreShare(1, 1))
    assert not own.guessed() and "~0.2 min on this machine" in own.describe()
    other = Plan(study, [_planned(a, 0, 10.0), _planned(b, 0)], CoreShare(1, 1), {b: [30.0]})
    assert other.guessed() and "~0.5 min (a guess from jobs of other settings)" in other.describe()
    done = replace(_planned(a, 0), done={"status": "completed"})  # stored without its time
    untimed = Plan(study, [done, _planned(a, 1)], CoreShare(1, 1), {a: [6.0]})
    assert untimed.guessed(), "a done job without a wall time measures nothing"


def _checkpoint(epoch, step, last_batch):
    return {
        "epoch": epoch,
        "global_step": step,
        "loops": {"fit_loop": {"epoch_loop.batch_progress": {"is_last_batch": last_batch}}},
    }


def test_fraction_trained_counts_whole_epochs_and_steps():
    # written at the end of the 8th of 10 epochs (Lightning's epoch is 0-based: 7)
    assert fraction_trained(_checkpoint(7, 5632, True), 10, -1) == pytest.approx(0.8)
    # mid-epoch (in the 4th epoch): only the 3 whole epochs count
    assert fraction_trained(_checkpoint(3, 2500, False), 10, None) == pytest.approx(0.3)
    # a step budget: the larger fraction wins, since training stops at the first limit
    assert fraction_trained(_checkpoint(0, 500, False), 1000, 2000) == pytest.approx(0.25)
    assert fraction_trained(_checkpoint(3, 1900, False), 10, 2000) == pytest.approx(0.95)
    assert fraction_trained(_checkpoint(3, 1900, False), -1, -1) is None


def test_measured_times_come_from_jobs_of_the_same_model_only(tmp_path):
    """A ViT study's time left is not guessed from the CNN jobs of the same experiment; the
    other padding protocol's jobs (a leaf value apart) are a fair guess."""

    def stored(name, overrides, wall):
        Store(tmp_path / name / "jobs.jsonl").add(
            [
                {
                    "config_hash": name + overrides[-1],
                    "status": "completed",
                    "wall_time_s": wall,
                    "overrides": ["experiment=rotation", *overrides, "launcher=joblib", "seed=0"],
                }
            ]
        )

    stored("cnn", ["model=cnn", "data.augment=none"], 600.0)
    stored("vit", ["model=vit", "data.augment=none"], 3000.0)
    stored("ref", ["data.protocol=reference", "data.augment=none"], 60.0)
    axis = [Axis(key="data.augment", values=["none"])]
    vit = Study(
        name="v",
        title="v",
        experiment="rotation",
        overrides=["model=vit"],
        axes=axis,
        metrics=["m"],
    )
    cnn = Study(
        name="c",
        title="c",
        experiment="rotation",
        overrides=["model=cnn"],
        axes=axis,
        metrics=["m"],
    )
    other = Study(
        name="i",
        title="i",
        experiment="rotation",
        axes=axis,
        metrics=["m"],
        overrides=["data.protocol=independent"],
    )
    key = (("data.augment", "none"),)
    assert measured_times(vit, tmp_path) == {key: [3000.0]}
    assert measured_times(cnn, tmp_path) == {key: [600.0]}
    assert measured_times(other, tmp_path) == {key: [60.0]}


def test_the_plan_says_the_threads_and_jobs_the_overrides_really_set():
    """A study given `torch_threads=1` runs its jobs on one thread, whatever the core share
    would give them; the dry run says so (it said the share's threads)."""
    study = Study(name="s", title="s", experiment="padding", metrics=["m"])
    job = StudyJob(("experiment=padding", "seed=0"), (), 0)
    own = StudyJob(("experiment=padding", "seed=0", "torch_threads=1"), (), 0)
    assert Plan(study, [JobState(job, "h", None)], CoreShare(1, 2)).running() == CoreShare(1, 2)
    assert Plan(study, [JobState(own, "h", None)], CoreShare(1, 2)).running() == CoreShare(1, 1)
    assert (
        "1 torch thread each" in Plan(study, [JobState(own, "h", None)], CoreShare(1, 2)).describe()
    )
    mine = StudyJob(("experiment=padding", "seed=0", "launcher=local"), (), 0)
    assert Plan(study, [JobState(mine, "h", None)], CoreShare(2, 1)).running() == CoreShare(1, 1)
    assert Plan(study, [JobState(job, "h", None)]).running() is None
