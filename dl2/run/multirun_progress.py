"""One line per job event of a multirun, printed by the launching process. Jobs that run in
other processes (joblib's workers, SLURM jobs) say nothing to the terminal that launched them:
joblib's parent prints every job's overrides at once, and a SLURM multirun is silent while its
jobs wait in the queue. The launching process watches the sweep folder instead, which every
launcher fills the same way: a job's `.hydra/overrides.yaml` is written when it starts (again
when SLURM requeues it), its results.json when it ends, and submitit's `.submitit/<job id>/`
folders when the jobs are submitted. Registered by the launcher configs (conf/launcher/)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from dl2.config.identity import is_plumbing
from dl2.errors import ConfigValueError
from dl2.job_folder import HYDRA_FILE, OVERRIDES_FILE, job_overrides, results_or_empty
from dl2.paths import RESULTS_FILE

log = logging.getLogger("dl2.jobs")

SUBMITIT = ".submitit"


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class JobWatch:
    """The events of the jobs under `sweep_dir` since the last `poll()` (or since the watch
    began: what the folder held before is not news), as lines to print."""

    def __init__(self, sweep_dir: Path) -> None:
        self.sweep_dir = sweep_dir
        self.started: dict[Path, float] = {}  # job folder: mtime of its overrides.yaml
        self.ended: dict[Path, float] = {}  # job folder: mtime of its results.json
        self.ids: set[str] = set()  # submitit job ids seen
        self.fresh: set[Path] = set()  # folders that started while watched
        self._scan(report=False)

    def _folders(self) -> list[Path]:
        try:
            entries = sorted(self.sweep_dir.iterdir())
        except OSError:
            return []
        return [f for f in entries if (f / OVERRIDES_FILE).is_file()]

    def _submitted(self) -> list[str]:
        try:
            found = [f.name for f in (self.sweep_dir / SUBMITIT).iterdir() if f.is_dir()]
        except OSError:
            return []
        return sorted(set(found) - self.ids)

    def poll(self) -> list[str]:
        """Lines for the jobs submitted, started (or restarted) and ended since the last call."""
        return self._scan(report=True)

    def _scan(self, report: bool) -> list[str]:
        lines = []
        new_ids = self._submitted()
        self.ids.update(new_ids)
        if new_ids and report:
            lines.append(
                f"submitted {len(new_ids)} job{'s' * (len(new_ids) > 1)}: {', '.join(new_ids)}"
                " (waiting for them to start)"
            )
        for folder in self._folders():
            started = _mtime(folder / OVERRIDES_FILE)
            if started is not None and started != self.started.get(folder):
                again = folder in self.fresh
                self.started[folder] = started
                if report:
                    self.fresh.add(folder)
                    lines.append(self._start_line(folder, again))
            ended = _mtime(folder / RESULTS_FILE)
            if ended is not None and ended != self.ended.get(folder):
                self.ended[folder] = ended
                if report and folder in self.fresh:
                    lines.append(self._end_line(folder))
        return lines

    def unfinished(self) -> list[str]:
        """Lines for the jobs that started while watched and left no new results.json."""
        return [
            f"job {self._name(folder)} ended without a new {RESULTS_FILE} (a finished job "
            "skipped, or a job that was killed)"
            for folder in sorted(self.fresh)
            if self.ended.get(folder, 0.0) < self.started[folder]
        ]

    def summary(self) -> str:
        """The multirun in one line: its jobs by status, its folder, and the command for its
        table."""
        counts: dict[str, int] = {}
        for folder in sorted(self.fresh):
            done = self.ended.get(folder, 0.0) >= self.started[folder]
            status = results_or_empty(folder).get("status", "unknown") if done else "not finished"
            counts[status] = counts.get(status, 0) + 1
        order = ("completed", "failed", "diverged", "interrupted", "not finished")
        parts = [f"{counts.pop(s)} {s}" for s in order if s in counts]
        parts += [f"{n} {s}" for s, n in sorted(counts.items())]
        jobs = sum(1 for _ in self.fresh)
        return (
            f"multirun ended: {jobs} job{'s' * (jobs != 1)}"
            + (f" ({', '.join(parts)})" if parts else "")
            + f" in {self.sweep_dir}; its table: python sweep.py report {self.sweep_dir}"
        )

    def _name(self, folder: Path) -> str:
        num = folder.name.split("_", 1)[0]
        return f"#{num}" if num.isdigit() else folder.name

    def _start_line(self, folder: Path, again: bool) -> str:
        overrides = job_overrides(folder)
        shown = " ".join(o for o in overrides if not is_plumbing(o)) or "(defaults)"
        node = _read_yaml(folder / HYDRA_FILE)
        for key in ("hydra", "job", "id"):  # hydra.job.id, where the file holds it
            node = node.get(key) if isinstance(node, dict) else None
        job_id = str(node or "")
        where = f" as job {job_id}" if job_id in self.ids else ""
        verb = "restarted (requeued)" if again else "started"
        return f"job {self._name(folder)} {verb}{where}: {shown}"

    def _end_line(self, folder: Path) -> str:
        results = results_or_empty(folder)
        status = results.get("status", "unknown")
        code = results.get("exit_code")
        took = results.get("wall_time_s")
        after = f" after {_duration(took)}" if isinstance(took, int | float) else ""
        exit_part = f" (exit {code})" if code not in (None, 0) else ""
        return f"job {self._name(folder)} {status}{exit_part}{after}: {folder}"


class JobProgress(Callback):
    """Prints the jobs' events (JobWatch) from a thread of the launching process while the
    launcher waits for them, and the last ones when the multirun ends."""

    def __init__(self, interval_s: float = 2.0, job_lines: bool = True) -> None:
        if (
            isinstance(interval_s, bool)
            or not isinstance(interval_s, int | float)
            or not (0 < interval_s < float("inf"))
        ):
            raise ConfigValueError(
                "hydra.callbacks.job_progress.interval_s", interval_s, "seconds between looks, > 0"
            )
        # job_lines=false: the summary alone (the basic launcher's jobs print their own lines)
        self.interval_s, self.job_lines = interval_s, job_lines
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: JobWatch | None = None

    def __getstate__(self) -> dict[str, Any]:
        # launchers send Hydra's callbacks to their workers (joblib pickles them): the
        # settings travel, the watching thread stays in the launching process
        return {"interval_s": self.interval_s, "job_lines": self.job_lines}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._watch = JobWatch(Path(str(config.hydra.sweep.dir)))
        if not self.job_lines:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dl2-job-progress", daemon=True)
        self._thread.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._watch is None:
            return
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        lines = self._watch.poll() + self._watch.unfinished()
        for line in lines if self.job_lines else []:
            log.info(line)
        log.info(self._watch.summary())

    def _run(self) -> None:
        assert self._watch is not None
        while not self._stop.wait(self.interval_s):
            for line in self._watch.poll():
                log.info(line)
