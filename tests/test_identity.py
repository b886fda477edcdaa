"""A job's identity (dl2/config/identity.py) on the inputs the hash properties do not draw:
override text with prefixes and `=` in values, plumbing names below the top level, lists that
interpolate, values JSON has no type for, and the stored hashes themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dl2.config.identity import (
    config_hash_of,
    digest,
    is_plumbing,
    job_hashes,
    override_key,
    override_value,
    parse_overrides,
    result_config,
    top_key,
)
from dl2.studies.spec import expand, load_study
from dl2.studies.store import Store
from tests.harness import compose_cfg


@pytest.mark.parametrize(
    ("override", "key", "value", "top"),
    [
        ("+model.pad=zeros", "model.pad", "zeros", "model"),
        ("++trainer.max_epochs=3", "trainer.max_epochs", "3", "trainer"),
        ("~seed", "seed", "", "seed"),
        ("data.path=/a=b/c.txt", "data.path", "/a=b/c.txt", "data"),
        ("Xkey.a.b=1", "Xkey.a.b", "1", "Xkey"),
    ],
)
def test_an_override_is_split_at_its_first_equals_sign(override, key, value, top):
    assert (override_key(override), override_value(override), top_key(override)) == (
        key,
        value,
        top,
    )
    assert parse_overrides([override, "seed=1"]) == {key: value, "seed": "1"} | (
        {"seed": "1"} if key == "seed" else {}
    )


def test_plumbing_is_a_top_level_key_or_a_named_leaf_not_a_name_found_deeper():
    assert is_plumbing("+logger=csv") and is_plumbing("data.data_dir=/x")
    assert is_plumbing("launcher=joblib") and not is_plumbing("data.path=/x")
    cfg = OmegaConf.create(
        {"tags": ["a"], "verbose": True, "model": {"verbose": True, "tags": ["b"], "w": 1}}
    )
    assert result_config(cfg) == {"model": {"verbose": True, "tags": ["b"], "w": 1}}


def test_a_list_enters_the_hash_resolved():
    cfg = OmegaConf.create({"model": {"width": 4, "sizes": ["${model.width}", 3]}})
    assert result_config(cfg) == {"model": {"width": 4, "sizes": [4, 3]}}
    wider = OmegaConf.create({"model": {"width": 8, "sizes": ["${model.width}", 3]}})
    assert config_hash_of(wider) != config_hash_of(cfg)


def test_a_value_json_has_no_type_for_hashes_as_its_text():
    assert digest({"a": Path("x/y")}) == digest({"a": "x/y"})
    assert digest({"b": 1, "a": 2}) == digest({"a": 2, "b": 1}) != digest({"a": 2, "b": 2})


def test_hashing_leaves_the_config_as_it_was():
    cfg = OmegaConf.create({"seed": 3, "data": {"noise_seed": "${seed}"}})
    before = OmegaConf.to_container(cfg)
    job_hashes(cfg)
    assert OmegaConf.to_container(cfg) == before and cfg.data.noise_seed == 3


def test_the_jobs_of_a_stored_study_compose_to_its_stored_hashes(tmp_path):
    """Both hashes of a study's jobs, composed as the planner does, are those of its stored
    results: a change to either would orphan them (a rerun would not find them)."""
    stored = Store.of("gnn-noise").completed()
    jobs = expand(load_study("gnn-noise"), seeds=[0, 1], narrow={"model": ["meanconv", "gat"]})
    for job in jobs[:: len(jobs) // 4]:
        hashes = job_hashes(compose_cfg(tmp_path, list(job.overrides)))
        record = stored.get(hashes["config_hash"], {})
        assert record.get("setting_hash") == hashes["setting_hash"], job.overrides
