"""What a job leaves behind, named once: its folder's layout and its results.json record.

Every reader of a job folder goes through here: the run layer (a finished folder, a resume's
earlier attempts, a multirun's job lines), the config layer (a checkpoint's run) and the study
layer (the store, `sweep.py report`, resuming stopped jobs). `read_record` returns a checked
record or raises NotAResultsFile naming the file and why, which each caller turns into a line
and a job left out, never a traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from dl2.paths import RESULTS_FILE

# the layout of a job's output folder (Hydra's and dl2's files in it)
CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = f"{CHECKPOINTS}/last.ckpt"
HYDRA_DIR = ".hydra"
OVERRIDES_FILE = f"{HYDRA_DIR}/overrides.yaml"
HYDRA_FILE = f"{HYDRA_DIR}/hydra.yaml"
CONFIG_FILE = f"{HYDRA_DIR}/config.yaml"

# a results.json's `status`: running while the job runs, then how it ended
STATUSES = ("running", "completed", "failed", "diverged", "interrupted")


class NotAResultsFile(ValueError):
    """A results.json that is not a job record: unreadable, not JSON, or not the shape dl2
    writes. Its message names the file and why."""

    def __init__(self, path: Path, why: str) -> None:
        self.path, self.why = Path(path), why
        super().__init__(f"not a results file: {path}: {why}")


def run_folder(ckpt_path: Path | str) -> Path:
    """The job folder of one of its checkpoints (`<folder>/checkpoints/<file>.ckpt`)."""
    return Path(ckpt_path).resolve().parent.parent


def check_record(record: Any, path: Path) -> dict[str, Any]:
    """`record` if it has the shape of a results.json, else NotAResultsFile."""
    if not isinstance(record, dict):
        raise NotAResultsFile(path, f"a JSON {type(record).__name__}, not an object")
    status = record.get("status")
    if status not in STATUSES:
        raise NotAResultsFile(path, f"status {status!r} is not one of {', '.join(STATUSES)}")
    checks = {
        "metrics": lambda v: (
            isinstance(v, dict) and all(x is None or isinstance(x, int | float) for x in v.values())
        ),
        "overrides": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "config_hash": lambda v: isinstance(v, str) and bool(v),
        "seed": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
    }
    for key, ok in checks.items():
        if key in record and not ok(record[key]):
            raise NotAResultsFile(path, f"its {key} is {record[key]!r}")
    return record


def read_record(folder: Path | str) -> dict[str, Any]:
    """The checked results.json of the job folder `folder`. Raises FileNotFoundError when
    it has none and NotAResultsFile when it is not a job record."""
    path = Path(folder) / RESULTS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise NotAResultsFile(path, err.strerror or str(err)) from None
    if not data.strip():
        raise NotAResultsFile(path, "empty")
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:  # truncated, not JSON
        raise NotAResultsFile(path, f"not JSON ({err})") from None
    return check_record(record, path)


def results_or_empty(folder: Path | str) -> dict[str, Any]:
    """The job's record, or {} when it has none or it is not a job record (for callers to
    whom such a folder is one without results: a finished-folder guard, a job line)."""
    try:
        return read_record(folder)
    except (FileNotFoundError, NotAResultsFile):
        return {}


def checkpoint_results(ckpt_path: Path | str) -> dict[str, Any]:
    """The record of the run that wrote `ckpt_path`; {} when the checkpoint is not in a dl2
    run folder or its results.json is not a job record."""
    return results_or_empty(run_folder(ckpt_path))


def job_overrides(folder: Path | str) -> list[str]:
    """The command-line overrides Hydra recorded for the job (`.hydra/overrides.yaml`);
    [] when the file is missing or not a list of overrides."""
    try:
        given = yaml.safe_load((Path(folder) / OVERRIDES_FILE).read_text())
    except (OSError, yaml.YAMLError):
        return []
    return [str(o) for o in given] if isinstance(given, list) else []


def non_finite_metrics(record: dict[str, Any]) -> list[str]:
    """The metrics of a record that are not finite numbers (null in strict JSON included),
    and those its `non_finite` entry names."""
    metrics = record.get("metrics") or {}
    bad = {k for k, v in metrics.items() if v is None or not math.isfinite(float(v))}
    return sorted(bad | set(record.get("non_finite") or []))
