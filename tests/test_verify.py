"""`sweep.py verify`: stored jobs rerun into a scratch folder agree with their records to the
bit on the machine that made them, and an altered record is named, with exit status 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dl2.errors import ConfigValueError
from dl2.studies.runner import run
from dl2.studies.spec import expand, load_study
from dl2.studies.store import Store
from dl2.studies.verify import Check, same_machine, verify
from tests.harness import inprocess_multirun

STUDY = """
name: tiny-verify
title: GCN on a small synthetic graph
experiment: gnn
overrides: [data=sbm_graph, trainer.max_epochs=3, logger=none]
axes:
  - {key: model, values: [gcn, gat]}
seeds: [0]
metrics: [test/acc]
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The tiny study run once for this module (a test that alters its store alters a copy)."""
    tmp_path = tmp_path_factory.mktemp("verify")
    path = tmp_path / "tiny-verify.yaml"
    path.write_text(STUDY)
    study = load_study(path)
    store = Store(tmp_path / "out" / "jobs.jsonl")
    assert (
        run(study, expand(study), store, log_dir=tmp_path / "logs", launch=inprocess_multirun) == 0
    )
    return study, store


def test_a_rerun_matches_its_record_to_the_bit_and_an_altered_one_fails(tmp_path, stored, capsys):
    study, original = stored
    store = Store(Path(shutil.copy(original.path, tmp_path / "jobs.jsonl")))
    assert len(store.completed()) == 2
    code = verify(study, store, tmp_path / "v", sample=1, seed=1, launch=inprocess_multirun)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line for line in out.splitlines() if "| test/acc" in line or "| val/" in line]
    assert lines and all(line.startswith("ok") and "bit-exact" in line for line in lines)
    assert out.count("| test/acc:") == 1 and out.count("| val/acc:") == 1, "one job, each once"
    # the stored test accuracy of model=gat seed=0 edited by 0.001
    record = next(
        r for r in store.completed().values() if "model=gat" in r["overrides"] and r["seed"] == 0
    )
    altered = {
        **record,
        "metrics": {**record["metrics"], "test/acc": record["metrics"]["test/acc"] + 1e-3},
    }
    store.add([{**altered, "finished_at": record["finished_at"] + "1"}])
    code = verify(
        study, store, tmp_path / "v", where={"model": "gat", "seed": "0"}, launch=inprocess_multirun
    )
    out = capsys.readouterr().out
    assert code == 1
    bad = [line for line in out.splitlines() if line.startswith("MISMATCH")]
    assert len(bad) == 1 and "test/acc" in bad[0] and "model=gat" in bad[0]
    assert (
        repr(altered["metrics"]["test/acc"]) in bad[0]
        and repr(record["metrics"]["test/acc"]) in bad[0]
    )


def test_a_where_that_matches_nothing(tmp_path, stored):
    study, store = stored
    with pytest.raises(ConfigValueError, match="--where"):
        verify(study, store, tmp_path / "v", where={"model": "sage"}, launch=inprocess_multirun)


def test_another_machine_agrees_within_the_tolerance():
    here = {"torch": "2.14.1", "cuda": False, "cpu": "AMD EPYC", "torch_threads": 1}
    assert same_machine(here, dict(here))
    assert not same_machine({**here, "cpu": "Intel Xeon"}, here)
    assert not same_machine({k: v for k, v in here.items() if k != "cpu"}, here), "unknown CPU"
    assert Check("j", "m", 0.8, 0.8, exact=True).ok
    assert not Check("j", "m", 0.8, 0.8 + 1e-12, exact=True).ok
    assert Check("j", "m", 0.8, 0.8 + 1e-7, exact=False).ok
    assert not Check("j", "m", 0.8, 0.81, exact=False).ok
    assert not Check("j", "m", 0.8, None, exact=False).ok
