"""The store's rules the property tests (tests/test_properties.py) do not draw: what a record
keeps of a failed job's error, records without a config hash or a finish time, a store whose
folder does not exist yet, and lines that diff well."""

from __future__ import annotations

import json
import threading

import pytest

from dl2.studies.store import Store, ingest, record


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


def job(h: str, finished: str | None, status: str = "completed", acc: float = 0.5) -> dict:
    out = {"config_hash": h, "status": status, "metrics": {"acc": acc}}
    return out if finished is None else {**out, "finished_at": finished}


def test_the_newest_record_of_a_hash_counts_whatever_the_order_of_the_files_lines(tmp_path):
    path = tmp_path / "jobs.jsonl"
    lines = [job("h", "2026-01-02", acc=0.2), job("h", "2026-01-01", acc=0.1), job("h", None)]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))  # edited by hand: unsorted
    store = Store(path)
    assert store.latest()["h"]["metrics"] == {"acc": 0.2}, "by finish time, not by line"
    assert store.add([job("h", "2026-01-03", status="failed")]) == 1
    finished = [json.loads(line).get("finished_at") for line in path.read_text().splitlines()]
    assert finished == [None, "2026-01-01", "2026-01-02", "2026-01-03"], "the oldest first"
    assert store.latest()["h"]["status"] == "failed", "the newest record counts"
    assert store.latest("completed")["h"]["metrics"] == {"acc": 0.2}, "the newest completed"
    assert store.latest("failed")["h"]["finished_at"] == "2026-01-03"
    assert "h" not in store.completed(), "its newest record failed"


def test_a_record_without_a_finish_time_is_the_oldest_and_another_job(tmp_path):
    store = Store(tmp_path / "jobs.jsonl")
    assert store.add([job("h", None, acc=0.1)]) == 1
    assert store.add([job("h", "2026-01-01", acc=0.2)]) == 1, "a finished run of the same hash"
    assert store.add([job("h", None, acc=0.3)]) == 0, "the unfinished one is known"
    assert store.latest()["h"]["metrics"] == {"acc": 0.2}
    assert len(Store(store.path).records) == 2


def test_a_rerun_that_produced_nan_leaves_every_other_hash_alone(tmp_path):
    store = Store(tmp_path / "jobs.jsonl")
    nan = {**job("a", "2026-01-02"), "metrics": {"acc": float("nan")}}
    store.add([job("a", "2026-01-01"), nan, job("b", "2026-01-03", acc=0.7)])
    latest = store.latest()
    assert latest["a"]["status"] == "completed", "the completed result stands"
    assert latest["b"]["metrics"] == {"acc": 0.7}, "a later hash is still read"


def test_damaged_lines_are_named_in_one_line_blank_lines_are_not(tmp_path, capsys):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    good = json.dumps(job("h", "2026-01-01"))
    one.write_text(f"{good}\n\n{json.dumps(job('g', None))}\n{{\n")  # a blank line, then a cut
    store = Store(one)
    assert sorted(store.completed()) == ["g", "h"], "a blank line hides nothing after it"
    assert store.damaged == ["{"]
    assert f"{one}: line 4 is not a job record (truncated or edited?)" in capsys.readouterr().err
    assert Store(one).damaged == ["{"] and capsys.readouterr().err == "", "one warning a file"
    nan = json.dumps(job("n", "2026-01-01")).replace("0.5", "NaN")  # json.dumps writes NaN
    two.write_text(f"{nan}\n[1]\n{good}\n")
    assert sorted(Store(two).completed()) == ["h"], "a NaN is no strict JSON: not a record"
    assert f"{two}: lines 1, 2 are not job records (truncated" in capsys.readouterr().err
    assert Store(tmp_path / "missing.jsonl").damaged == [], "no file: nothing damaged"


def test_a_studys_store_is_written_unless_read_only(tmp_path):
    assert Store.at(tmp_path / "study").add([job("h", "2026-01-01")]) == 1
    assert Store.at(tmp_path / "study").path.exists(), "written: the default"
    dry = Store.at(tmp_path / "dry", readonly=True)
    assert dry.add([job("h", "2026-01-01")]) == 1 and not dry.path.exists()
    assert sorted(dry.completed()) == ["h"], "kept in memory"


def test_add_waits_for_the_lock_another_runner_holds(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    store = Store(tmp_path / "jobs.jsonl")
    store.add([job("a", "2026-01-01")])  # the lock file exists now
    (lock_path,) = tmp_path.glob(".jobs.jsonl.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another runner is writing
        adding = threading.Thread(target=store.add, args=([job("b", "2026-01-01")],))
        adding.start()
        adding.join(timeout=0.5)
        assert adding.is_alive(), "add() waits while another runner holds the lock"
        fcntl.flock(lock, fcntl.LOCK_UN)
    adding.join(timeout=30)
    assert not adding.is_alive() and sorted(Store(store.path).completed()) == ["a", "b"]


def test_ingest_keeps_the_studys_extra_entries_and_skips_running_jobs(tmp_path):
    for name, status in (("done", "completed"), ("live", "running")):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        results = {**job(name, "2026-01-01", status=status), "history": {"val/loss": [[1, 0.5]]}}
        (folder / "results.json").write_text(json.dumps(results))
    (done,) = ingest(tmp_path / "runs", keep=["history"])
    assert done["config_hash"] == "done" and done["history"] == {"val/loss": [[1, 0.5]]}
    assert "history" not in ingest(tmp_path / "runs")[0], "kept only when a study asks"
    assert ingest(tmp_path / "nowhere") == []
