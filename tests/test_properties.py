"""Rules that hold for every input, checked on inputs hypothesis draws: a job's config hash
whatever the order of its overrides and whatever plumbing it is given, the store's
read-after-write of any record, and a study's table whatever order its jobs finished in."""

from __future__ import annotations

import itertools
import json
import math

import hypothesis.strategies as st
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hypothesis import HealthCheck, given, settings

from dl2.config.identity import is_plumbing, job_hashes
from dl2.job_folder import STATUSES
from dl2.paths import CONF
from dl2.studies.hashes import setting_of
from dl2.studies.plan import JobState, blocks
from dl2.studies.spec import expand, load_study
from dl2.studies.store import Store, record
from dl2.studies.summary import summarise, tidy
from dl2.studies.tables import markdown_tables
from tests.harness import examples, multirun_jobs

# overrides that change what a job computes, one value per key
SETTINGS = {
    "model.conv_type": st.sampled_from(["valid", "replicate", "reflect", "circular"]),
    "model": st.sampled_from(["net1", "net2"]),
    "seed": st.integers(0, 2**31 - 1),
    "data.batch_size": st.integers(1, 512),
    "model.task.optimizer.lr": st.floats(1e-5, 10.0, allow_nan=False).map(lambda x: f"{x:.6g}"),
    "trainer.max_epochs": st.integers(1, 100),
}
# overrides that only say where and how a job runs
PLUMBING = {
    "torch_threads": st.integers(1, 8),
    "paths.log_dir": st.sampled_from(["/tmp/a", "/scratch/b c", "relative/logs"]),
    "logger": st.sampled_from(["none", "csv", "wandb", "tensorboard"]),
    "tags": st.sampled_from(["[]", "[baseline]", "[a,b]"]),
    "notes": st.sampled_from(["null", "first-try"]),
    "verbose": st.booleans().map(str).map(str.lower),
    "launcher": st.sampled_from(["local", "joblib"]),
}


def overrides_of(draw, choices: dict) -> list[str]:
    keys = draw(st.lists(st.sampled_from(sorted(choices)), unique=True))
    return [f"{key}={draw(choices[key])}" for key in keys]


@st.composite
def a_job(draw) -> tuple[list[str], list[str]]:
    """(a job's overrides, the same overrides shuffled with plumbing added)."""
    setting = overrides_of(draw, SETTINGS)
    shuffled = draw(st.permutations([*setting, *overrides_of(draw, PLUMBING)]))
    return setting, shuffled


def composed_hashes(overrides: list[str]) -> dict[str, str]:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    GlobalHydra.instance().clear()
    return job_hashes(cfg)


# each example composes the config twice: few in the quick suite (tests/harness.py examples)
@settings(max_examples=examples(4), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a_job())
def test_a_config_hash_ignores_override_order_and_plumbing(job):
    setting, shuffled = job
    assert all(not is_plumbing(o) for o in setting) and all(
        is_plumbing(o) for o in shuffled if o not in setting
    )
    assert composed_hashes(shuffled) == composed_hashes(setting)


@settings(max_examples=examples(3), deadline=None)
@given(st.integers(0, 2**31 - 2))
def test_a_config_hash_tells_seeds_apart_and_the_setting_hash_does_not(seed):
    one, other = composed_hashes([f"seed={seed}"]), composed_hashes([f"seed={seed + 1}"])
    assert one["config_hash"] != other["config_hash"]
    assert one["setting_hash"] == other["setting_hash"]


HEX = "0123456789abcdef"
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
metric = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6))
results = st.fixed_dictionaries(
    {
        "config_hash": st.text(HEX, min_size=16, max_size=16),
        "setting_hash": st.text(HEX, min_size=16, max_size=16),
        "seed": st.integers(0, 2**31 - 1),
        "status": st.sampled_from(STATUSES),
        "overrides": st.lists(text, max_size=4),
        "metrics": st.dictionaries(st.sampled_from(["test/acc", "val/loss", "a/b"]), metric),
        "finished_at": st.datetimes().map(lambda d: d.isoformat()),
    },
    optional={
        "wall_time_s": st.floats(0, 1e6),
        "error": text,
        "machine": st.dictionaries(st.sampled_from(["cpu", "host", "gpu"]), text, max_size=3),
        "attempts": st.lists(st.fixed_dictionaries({"wall_time_s": st.floats(0, 1e6)})),
    },
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(results, max_size=6))
def test_the_store_reads_back_what_it_wrote(tmp_path, jobs):
    """Every record added is read back by a fresh Store as its compact, strict-JSON form (a
    non-finite metric stored as null, its completed job as failed); adding again adds nothing."""
    path = tmp_path / f"{len(list(tmp_path.iterdir()))}" / "jobs.jsonl"
    store = Store(path)
    store.add(jobs)
    again = Store(path)
    expected = {(r["config_hash"], r["finished_at"]): record(r, r) for r in jobs}
    assert {(r["config_hash"], r["finished_at"]): r for r in again.records} == expected
    for line in path.read_text().splitlines() if path.exists() else []:
        json.loads(line, parse_constant=pytest.fail)  # no NaN / Infinity in the file
    for stored in again.records:
        metrics = stored["metrics"].values()
        assert all(v is None or math.isfinite(v) for v in metrics)
        if any(v is None for v in metrics) and stored["status"] != "failed":
            assert expected[(stored["config_hash"], stored["finished_at"])]["status"] != (
                "completed"
            )
    assert again.add(jobs) == 0 and Store(path).records == again.records


STUDY = load_study("padding-reference")
STORED = list(Store.of("padding-reference").completed().values())


def table(records: list[dict]) -> list[str]:
    return markdown_tables(STUDY, summarise(STUDY, tidy(STUDY, records)))


TABLE = table(STORED)


@settings(max_examples=examples(20), deadline=None)
@given(st.permutations(STORED))
def test_a_studys_table_is_the_same_whatever_order_its_jobs_finished_in(records):
    assert table(records) == TABLE


@settings(
    max_examples=examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.permutations(STORED))
def test_the_store_is_the_same_whatever_order_its_jobs_were_added_in(tmp_path, records):
    folder = tmp_path / str(len(list(tmp_path.iterdir())))
    Store(folder / "jobs.jsonl").add(records)
    first = tmp_path / "first"
    if not first.exists():
        Store(first / "jobs.jsonl").add(STORED)
    assert (folder / "jobs.jsonl").read_bytes() == (first / "jobs.jsonl").read_bytes()


def test_the_study_under_test_has_a_table():
    assert len(STORED) > 20 and any(line.startswith("| ") for line in TABLE)


GRID = expand(load_study("padding-reference"), seeds=[0, 1, 2])  # 2 nets x 6 paddings x 3


@given(left=st.sets(st.integers(0, len(GRID) - 1)))
def test_the_multiruns_of_any_jobs_left_run_each_of_them_once(left):
    """Whatever jobs of a grid are left (a stopped run's rest), the multiruns make exactly
    those jobs, none twice, and no more multiruns than settings left."""
    todo = [JobState(GRID[i], f"h{i}", None) for i in sorted(left)]
    runs = blocks(todo)
    made = [job for run in runs for job in multirun_jobs(run)]
    assert sorted(made) == sorted(tuple(p.job.overrides) for p in todo), "each job once"
    assert len(runs) <= len({setting_of(p.job) for p in todo})
    for a, b in itertools.combinations(runs, 2):  # none left that could merge into one
        assert sum(x != y for x, y in zip(a, b, strict=True)) > 1, (a, b)


def test_the_rest_of_a_grid_stopped_in_table_order_is_a_few_multiruns():
    """A grid stopped after its first jobs: the rest is not one multirun per setting."""
    for done in (1, 7, 20, 35):
        runs = blocks([JobState(job, f"h{i}", None) for i, job in enumerate(GRID[done:])])
        assert len(runs) <= 4, (done, runs)
