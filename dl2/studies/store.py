"""The results kept with the project: one JSON-lines file per study (reports/<study>/jobs.jsonl),
a compact record per job (no checkpoints, no logs), enough to rebuild every table offline and to
know which jobs are done."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from dl2.files import atomic_write_text
from dl2.job_folder import NotAResultsFile, non_finite_metrics, read_record
from dl2.paths import REPORTS, RESULTS_FILE, STORE_FILE

try:  # POSIX; elsewhere add() still merges with the file, without the lock
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

# store files whose damaged lines were reported in this process (one warning per file)
_WARNED: set[Path] = set()

# the fields of results.json a study keeps
KEPT = (
    "config_hash",
    "setting_hash",
    "seed",
    "status",
    "overrides",
    "metrics",
    "best_epoch",
    "best_step",
    "epochs_run",
    "wall_time_s",
    "started_at",
    "finished_at",
    "machine",
    "dl2_version",
    "code",
    "non_finite",
    "exit_code",
    "attempts",
)


def record(results: dict[str, Any], keep: Iterable[str] = ()) -> dict[str, Any]:
    """The compact record of one job's results.json, with the entries in `keep` too, as
    strict JSON: a metric that is not a finite number is null, and a job that completed with
    one is stored as failed (its mean would leave it out while its n counted it)."""
    out = {k: results[k] for k in (*KEPT, *keep) if k in results}
    if isinstance(out.get("metrics"), dict):
        out["metrics"] = {
            k: v if isinstance(v, int | float) and math.isfinite(v) else None
            for k, v in out["metrics"].items()
        }
    if results.get("error"):
        out["error"] = str(results["error"]).splitlines()[0][:300]
    bad = non_finite_metrics(out)
    if out.get("status") == "completed" and bad:
        out["status"], out["non_finite"] = "failed", bad
        out["error"] = f"completed with metrics that are not finite: {', '.join(bad)}"
    return out


class Store:
    """The records of one study, keyed by config hash: the newest finished record per hash
    counts, the older ones are kept as history (`superseded`)."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path, self.readonly = path, readonly  # readonly: add() keeps records in memory
        self.damaged: list[str] = []  # lines that hold no job record
        self.records = self._read()

    def _read(self) -> list[dict[str, Any]]:
        """The file's job records. A line that is not one (truncated, edited by hand) is left
        out and named in one warning per file: its job counts as missing, and the line is kept
        (in the file, or beside it in `<file>.damaged` once the file is rewritten)."""
        if not self.path.exists():
            return []
        records, self.damaged, bad = [], [], []
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            item = _job_record(line)
            if item is None:
                self.damaged.append(line)
                bad.append(number)
            else:
                records.append(item)
        if bad and self.path not in _WARNED:
            _WARNED.add(self.path)
            print(
                f"dl2: {self.path}: "
                + (
                    f"lines {', '.join(map(str, bad))} are not job records"
                    if len(bad) > 1
                    else f"line {bad[0]} is not a job record"
                )
                + " (truncated or edited?): left out, their jobs count as missing; "
                f"kept in {self.path.name}.damaged when the file is next written",
                file=sys.stderr,
            )
        return records

    @classmethod
    def at(cls, folder: Path, readonly: bool = False) -> Store:
        """The store of a study's results folder (`<folder>/jobs.jsonl`)."""
        return cls(folder / STORE_FILE, readonly=readonly)

    @classmethod
    def of(cls, study: str, root: Path = REPORTS) -> Store:
        """A declared study's stored results (reports/<study>/jobs.jsonl)."""
        return cls.at(root / study)

    def known(self) -> set[tuple[str, str]]:
        """The (config hash, finish time) of every stored record: what makes a job the same."""
        return {_job_key(r) for r in self.records}

    def add(self, records: Iterable[dict[str, Any]]) -> int:
        """Add records not yet stored (same hash and finish time = same job); returns how many
        were new. Written atomically, sorted, so that the file diffs well; under a lock and
        merged with what the file holds now, so that two runners adding to one study (two
        `sweep.py` processes, each with some of its seeds) keep each other's records."""
        # strict JSON, a non-finite metric's job failed
        records = [record(r, r) for r in _new(records, self.known())]
        if self.readonly or not records:  # nothing new to write: the disk is left alone
            return self._merge(records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            self.records = self._read()
            added = self._merge(records)
            if added:
                if self.damaged:  # set aside before the rewrite drops them, never deleted
                    with open(self.path.with_name(f"{self.path.name}.damaged"), "a") as aside:
                        aside.write("".join(line + "\n" for line in self.damaged))
                atomic_write_text(
                    self.path,
                    "".join(
                        json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in self.records
                    ),
                )
        return added

    def _merge(self, records: list[dict[str, Any]]) -> int:
        new = _new(records, self.known())
        if new:
            self.records = sorted([*self.records, *new], key=_job_key)
        return len(new)

    def latest(self, status: str | None = None) -> dict[str, dict[str, Any]]:
        """{config_hash: the newest record of that hash, by finish time}; with `status`,
        the newest of that status."""
        out: dict[str, dict[str, Any]] = {}
        for r in sorted(self.records, key=_finish_time):
            before = out.get(r["config_hash"], {})
            if before.get("status") == "completed" and r.get("non_finite"):
                continue  # a rerun that produced NaN does not undo a completed result
            if status is None or r.get("status") == status:
                out[r["config_hash"]] = r
        return out

    def completed(self) -> dict[str, dict[str, Any]]:
        """{config_hash: record} of the hashes whose newest record completed."""
        return {h: r for h, r in self.latest().items() if r.get("status") == "completed"}


def _job_record(line: str) -> dict[str, Any] | None:
    """The job record a store line holds, or None: strict JSON (no NaN), an object, a hash."""
    try:
        item = json.loads(line, parse_constant=_not_json)
    except ValueError:  # JSONDecodeError too
        return None
    return item if isinstance(item, dict) and isinstance(item.get("config_hash"), str) else None


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


def _finish_time(r: dict[str, Any]) -> str:
    """A record's ISO finish time; one without (an older record) counts as the oldest."""
    return r.get("finished_at") or ""


def _job_key(r: dict[str, Any]) -> tuple[str, str]:
    """(config hash, finish time): two records with both equal are the same job."""
    return r["config_hash"], _finish_time(r)


def _new(records: Iterable[dict[str, Any]], known: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The records with a config hash that `known` does not hold yet."""
    return [r for r in records if r.get("config_hash") and _job_key(r) not in known]


def record_time(record: dict[str, Any], key: str) -> float | None:
    """A record's `started_at` / `finished_at` as a POSIX timestamp, or None."""
    try:
        return datetime.fromisoformat(record[key]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def ingest(folder: Path, keep: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Records of every results.json under `folder` that has a config hash (jobs of any age;
    failed and interrupted ones too, so that reports can list them)."""
    out = []
    for path in sorted(folder.rglob(RESULTS_FILE)):  # none if the folder is missing
        try:
            results = read_record(path.parent)
        except (FileNotFoundError, NotAResultsFile) as err:
            print(f"dl2: {err}: left out (its job counts as not run)", file=sys.stderr)
            continue
        if results.get("config_hash") and results.get("status") != "running":
            out.append(record(results, keep))
    return out


def completed_anywhere(root: Path = REPORTS) -> dict[str, dict[str, Any]]:
    """{config_hash: record} of completed jobs in every study's store: a job another study
    already ran (the same config) is not run again."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(root.glob(f"*/{STORE_FILE}")):
        out.update(Store(path).completed())
    return out
