"""The store's rules the property tests (tests/test_properties.py) do not draw: what a record
keeps of a failed job's error, records without a config hash or a finish time, a store whose
folder does not exist yet, and lines that diff well."""

from __future__ import annotations

import json

from dl2.studies.store import Store, record


def test_a_failed_jobs_error_is_its_first_line_cut_at_300_characters():
    failed = record({"config_hash": "h", "status": "failed", "error": "x" * 400 + "\nTraceback"})
    assert failed["error"] == "x" * 300
    assert "error" not in record({"config_hash": "h", "status": "failed", "error": ""})
    metrics = {"a": float("nan"), "b": float("inf"), "c": 1.0}
    nan = record({"config_hash": "h", "status": "completed", "metrics": metrics})
    assert (nan["status"], nan["non_finite"]) == ("failed", ["a", "b"])
    assert nan["error"] == "completed with metrics that are not finite: a, b"
    assert nan["metrics"] == {"a": None, "b": None, "c": 1.0}


def test_records_without_a_hash_or_a_finish_time(tmp_path):
    store = Store(tmp_path / "not" / "made" / "jobs.jsonl")  # its folders: made on the first add
    assert store.add([{"status": "completed", "metrics": {"a": 1.0}}]) == 0, "no hash: no job"
    assert not store.path.exists(), "nothing new: the disk is left alone"
    job = {"config_hash": "h", "status": "completed", "metrics": {"a": 1.0}}
    assert store.add([job]) == 1
    assert store.add([job]) == 0, "no finish time: the same job again all the same"
    assert Store(store.path).add([job]) == 0, "and as the file says"
    (line,) = store.path.read_text().splitlines()
    assert list(json.loads(line)) == sorted(json.loads(line)), "keys sorted: reruns diff by line"


def test_two_runners_that_read_the_file_before_either_added_store_a_job_once(tmp_path):
    path = tmp_path / "jobs.jsonl"
    first, second = Store(path), Store(path)  # each read the (empty) file first
    job = {"config_hash": "h", "status": "completed"}  # no finish time either
    assert first.add([job]) == 1
    assert second.add([job]) == 0, "what the file holds now is merged in under the lock"
    assert len(path.read_text().splitlines()) == 1
