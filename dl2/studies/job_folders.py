"""Collect the results.json files of any folder of jobs, failed and unfinished ones included;
what a report says of the jobs it leaves out; the machine line of a job."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dl2.job_folder import CONFIG_FILE, HYDRA_DIR, NotAResultsFile, job_overrides, read_record
from dl2.paths import RESULTS_FILE


@dataclass
class Job:
    """One job folder: its results (empty when the job never wrote them) and status."""

    folder: Path
    status: str
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        return self.results.get("config", {})

    @property
    def metrics(self) -> dict[str, float]:
        return self.results.get("metrics", {})

    @property
    def error(self) -> str:
        if self.status == "missing":
            return "no results.json (the job was killed or is still running)"
        return self.results.get("error", "")

    @property
    def overrides(self) -> list[str]:
        if "overrides" in self.results:
            return list(self.results["overrides"])
        return job_overrides(self.folder)


def collect(root: Path | str) -> list[Job]:
    """Every job under `root`: folders with a results.json, and Hydra job folders without one.

    Raises FileNotFoundError when `root` does not exist and ValueError when it holds no job.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"report folder {str(root)!r} does not exist")
    jobs: dict[Path, Job] = {}
    for path in sorted(root.rglob(RESULTS_FILE)):
        try:
            results = read_record(path.parent)
        except NotAResultsFile as err:
            jobs[path.parent] = Job(path.parent, "unreadable", {"error": str(err)})
            continue
        jobs[path.parent] = Job(path.parent, results["status"], results)
    for hydra_dir in sorted(root.rglob(HYDRA_DIR)):
        folder = hydra_dir.parent
        if folder not in jobs and (folder / CONFIG_FILE).exists():
            jobs[folder] = Job(folder, "missing")
    if not jobs:
        raise ValueError(f"no job folders (results.json or .hydra/) under {str(root)!r}")
    return sorted(jobs.values(), key=lambda job: str(job.folder))


# what a job left out of a report still needs, by status; none of these is ever averaged in
NEXT_STEP = {
    "interrupted": "to run: resume from its checkpoints/last.ckpt",
    "missing": "to run: killed or still running",
    "not run": "to run: the study's command runs it",
    "failed": "to run after a fix",
    "diverged": "to run after a fix (the loss left the finite range)",
}


def machine_line(machine: dict[str, Any], code: dict[str, Any] | None = None) -> str:
    """One line naming the device, torch and Python of a job's `machine` record, and the
    commit of dl2 that ran it (its `code` record; older records have none)."""
    device = machine.get("gpu") or f"CPU, {machine.get('cpu_count')} cores"
    if machine.get("cpu") and not machine.get("gpu"):
        device = f"{machine['cpu']} ({machine.get('cpu_count')} cores)"
    line = (
        f"{device}; torch {machine.get('torch')}, Python {machine.get('python')}, "
        f"{machine.get('platform')}"
    )
    if code and code.get("commit"):
        line += f"; dl2 {code['commit'][:10]}" + (
            " with local changes" if code.get("dirty") else ""
        )
    return line
