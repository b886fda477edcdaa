"""A study's plan, computed once: every job with its config hash and state (done: a completed
record of its hash in any study's store; resume: stopped mid-training with a checkpoint; to
run), how the jobs share the machine's cores, the multiruns that run what is left, and the time
they should take. The dry run prints the plan and the run executes it (dl2/studies/runner.py):
they cannot disagree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from dl2.config.identity import (
    LAUNCHER,
    is_plumbing,
    override_key,
    override_value,
    parse_overrides,
)
from dl2.paths import LOGS, REPORTS, STORE_FILE
from dl2.studies.cores import CoreShare
from dl2.studies.hashes import check_to_run, hashes, setting_of
from dl2.studies.resume import (
    forced_since,
    refresh,
    resume_overrides,
    still_to_train,
    stopped,
)
from dl2.studies.spec import Study, StudyJob
from dl2.studies.store import Store, completed_anywhere, record_time
from dl2.studies.summary import unlogged_metrics
from dl2.studies.timing import job_seconds


@dataclass(frozen=True)
class JobState:
    """A job of the plan: its config hash, the stored record that makes it done (or None), and
    for a job stopped mid-training the checkpoint it resumes from and the fraction of its
    training left."""

    job: StudyJob
    config_hash: str
    done: dict | None
    resume: Path | None = None
    left: float = 1.0

    @property
    def state(self) -> str:
        return "done" if self.done else "resume" if self.resume else "to run"


def done_states(
    jobs: list[StudyJob],
    config_hashes: list[str],
    store: Store,
    force: bool = False,
    keep: list[str] = (),
    since: float | None = None,
) -> list[JobState]:
    """Which jobs are done: a completed record of the same config hash, holding every entry
    the study keeps (`keep`: a record imported without its history is not done), in `store`
    or in any study's stored results (copied into `store`). `force` runs every job again but
    those that finished after `since` (the forced rerun under way that they belong to)."""

    def counts(record: dict) -> bool:
        if not all(k in record for k in keep):
            return False
        if not force:
            return True
        return since is not None and (record_time(record, "finished_at") or 0) > since

    found = completed_anywhere(REPORTS)
    found.update(store.completed())
    found = {h: r for h, r in found.items() if counts(r)}
    states = [JobState(job, h, found.get(h)) for job, h in zip(jobs, config_hashes, strict=True)]
    store.add([s.done for s in states if s.done is not None])
    return states


@dataclass
class Plan:
    """What a study run does: `jobs` in table order, `share` (None: as the overrides say),
    `times` (wall times of done jobs of the study's experiment in any store, by axis values:
    `measured_times`)."""

    study: Study
    jobs: list[JobState]
    share: CoreShare | None = None
    times: dict[tuple, list[float]] | None = None
    forced_since: float | None = None

    @property
    def todo(self) -> list[JobState]:
        return [s for s in self.jobs if not s.done]

    @property
    def done(self) -> int:
        return len(self.jobs) - len(self.todo)

    def multiruns(self) -> list[list[str]]:
        """The train.py -m overrides that run what is left: each stopped job resuming from its
        checkpoint, then the fresh jobs as few multiruns as their shape allows, each with the
        launcher and threads of `share` unless the overrides chose them."""
        resumed = [resume_overrides(s.job.overrides, s.resume) for s in self.todo if s.resume]
        fresh = blocks([s for s in self.todo if not s.resume])
        return [with_share(overrides, self.share) for overrides in resumed + fresh]

    def running(self) -> CoreShare | None:
        """How the jobs really run: `share`, with the threads and the jobs at once that the
        study's or the user's overrides set instead (`torch_threads=1`, `launcher=local`,
        `hydra.launcher.n_jobs=4`); None when neither says."""
        if not self.jobs:
            return self.share
        given = parse_overrides(with_share(list(self.jobs[0].job.overrides), self.share))
        threads, n_jobs = given.get("torch_threads", ""), given.get("hydra.launcher.n_jobs", "")
        if self.share is None and not threads.isdigit():
            return None
        base = self.share or CoreShare(1, 1)
        if n_jobs.isdigit():
            jobs = int(n_jobs)
        elif given.get(LAUNCHER, "local") == "local":
            jobs = 1
        else:
            jobs = base.jobs
        return CoreShare(jobs, int(threads) if threads.isdigit() else base.threads)

    def seconds_left(self) -> float | None:
        """`estimate` spread over the jobs that run at once (each job's stored wall time was
        measured the way the runner runs it, sharing the machine with the others)."""
        seconds = estimate(self.jobs, self.times)
        running = self.running()
        return None if seconds is None else seconds / (running.jobs if running else 1)

    def guessed(self) -> bool:
        """Whether the time left is a guess: some job to run has no done job of the plan with
        its axis values, so its time comes from stored jobs of other settings (another
        study's sizes, threads or machine) or from the mean of all of them."""
        own = {_key(s) for s in self.jobs if s.done and "wall_time_s" in s.done}
        return any(_key(s) not in own for s in self.todo)

    def spent(self) -> float:
        """Seconds the done jobs took, summed over jobs (their stored times, earlier attempts
        included)."""
        return sum(job_seconds(s.done) or 0.0 for s in self.jobs if s.done)

    def describe(self) -> str:
        """The job list of a dry run: done / to run / resume (with the fraction of its
        training a stopped job has left), and the estimated time left."""
        lines = [f"{self.study.name}: {self.done}/{len(self.jobs)} jobs done"]
        if self.forced_since is not None:
            began = datetime.fromtimestamp(self.forced_since).strftime("%Y-%m-%d %H:%M")
            lines.append(f"  (continuing the forced rerun begun {began}: done means rerun since)")
        for s in self.jobs:
            rest = f"  ({s.left:.0%} of its training left)" if s.state == "resume" else ""
            lines.append(f"  {s.state:7s} {s.config_hash}  {' '.join(s.job.overrides[1:])}{rest}")
        if self.todo:
            seconds = self.seconds_left()
            if seconds is None:
                eta = "unknown (no timed job done yet)"
            elif self.guessed():
                eta = f"~{seconds / 60:.1f} min (a guess from jobs of other settings)"
            else:
                eta = f"~{seconds / 60:.1f} min"
            running = self.running()
            how = running.describe() if running else "as the overrides say"
            lines.append(f"{len(self.todo)} to run, estimated {eta} on this machine ({how})")
        if unlogged := unlogged_metrics(self.study, [s.done for s in self.jobs if s.done]):
            lines.append(f"warning: {unlogged}")
        return "\n".join(lines)


def make_plan(
    study: Study,
    jobs: list[StudyJob],
    store: Store,
    *,
    force: bool = False,
    log_dir: Path = LOGS,
    share: CoreShare | None = None,
    config_hashes: list[str] | None = None,
    times: dict[tuple, list[float]] | None = None,
    imports: Sequence[Path] = (),
) -> Plan:
    """The plan of `jobs` against `store`: jobs finished in their folders since the store was
    written are brought in first (a read-only store keeps them in memory), then each job is
    done, to resume or to run. With `force` every job runs again; a forced rerun that was
    stopped continues (the jobs it completed are done: `forced_since`, and those it stopped
    resume from their own checkpoints: `stopped`). `times` defaults to
    `measured_times(study)`. The completed jobs of the folders in `imports` (`sweep.py <study>
    --import <multirun folder>`) with a planned config hash are taken in, not run again."""
    config_hashes = config_hashes if config_hashes is not None else hashes(jobs)
    refresh(study, store, set(config_hashes), log_dir, imports)
    since = forced_since(study, config_hashes, log_dir) if force else None
    states = done_states(jobs, config_hashes, store, force, study.keep, since)
    resume = stopped(study, {s.config_hash for s in states if not s.done}, store, force, log_dir)
    left = still_to_train(resume)
    states = [
        replace(s, resume=resume[s.config_hash], left=left[s.config_hash])
        if not s.done and s.config_hash in resume
        else s
        for s in states
    ]
    check_to_run([s.job for s in states if not s.done and s.resume is None])
    times = measured_times(study) if times is None else times
    return Plan(study, states, share, times, since)


def blocks(todo: list[JobState]) -> list[list[str]]:
    """The jobs to run as few multiruns as their shape allows. Each job starts as a box (one
    value per override, its seed last); column by column, the seed first, boxes that differ in
    that column only merge into one that sweeps it. None are left that differ in one column
    (tests/test_properties.py): a full grid is one multirun, and the rest of a grid whose first
    jobs are done is a few (the settings that share their missing seeds, then those that share
    their missing values of an axis)."""
    # a study's jobs have the same overrides in the same order (expand): columns line up
    boxes = [[[o] for o in setting_of(p.job)] + [[str(p.job.seed)]] for p in todo]
    for column in reversed(range(len(boxes[0]) if boxes else 0)):
        out: dict[tuple, list[list[str]]] = {}
        for box in boxes:
            rest = tuple(tuple(v) for c, v in enumerate(box) if c != column)
            if rest in out:  # boxes are disjoint (each job is in one): so are their values
                out[rest][column] += box[column]
            else:
                out[rest] = box
        boxes = list(out.values())
    return [
        [v[0] if len(v) == 1 else _sweep(v) for v in box[:-1]]
        + ["seed=" + ",".join(sorted(box[-1], key=int))]
        for box in boxes
    ]


def _sweep(overrides: list[str]) -> str:
    """`k=a`, `k=b` as the sweep override `k=a,b`."""
    return overrides[0].partition("=")[0] + "=" + ",".join(override_value(o) for o in overrides)


def group_choices(
    overrides: list[str] | tuple[str, ...], skip: set[str] = frozenset()
) -> dict[str, str]:
    """The config-group choices among `overrides` (`model=vit`: keys without a dot), leaving
    out the experiment, the seed, plumbing and the keys in `skip`."""
    out = {}
    for item in overrides:
        key = override_key(item)
        if "." not in key and key not in {"experiment", "seed", *skip} and not is_plumbing(item):
            out[key] = override_value(item)
    return out


def measured_times(study: Study, root: Path = REPORTS) -> dict[tuple, list[float]]:
    """Wall times of the completed jobs of the study's experiment in every store, by their
    values of the study's axes, from jobs with the study's own group choices (the same Net2 /
    circular job of the other protocol is a fair guess for a job never run; a CNN job is no
    guess for a `model=vit` study)."""
    axes = {a.key for a in study.axes}
    groups = group_choices(study.overrides, axes)
    out: dict[tuple, list[float]] = defaultdict(list)
    for path in sorted(root.glob(f"*/{STORE_FILE}")):
        for r in Store(path).completed().values():
            overrides = r.get("overrides", [])
            given = parse_overrides(overrides)
            if (
                "wall_time_s" in r
                and given.get("experiment") == study.experiment
                and group_choices(overrides, axes) == groups
            ):
                key = tuple((a.key, given.get(a.key, "")) for a in study.axes)
                out[key].append(job_seconds(r))
    return out


def estimate(
    planned: list[JobState], times: dict[tuple, list[float]] | None = None
) -> float | None:
    """Seconds the jobs still to run should take, one after another: each from the mean wall
    time of done jobs with its axis values (this study's, else `times`, from any store), else
    from the mean of all of them, times the fraction of its training left (a stopped job
    resumes: `JobState.left`); None when no timed job is known."""
    times = defaultdict(list, {k: list(v) for k, v in (times or {}).items()})
    for p in planned:
        if p.done and "wall_time_s" in p.done:
            key, seconds = _key(p), job_seconds(p.done)
            if seconds not in times[key]:
                times[key].append(seconds)
    every = [t for ts in times.values() for t in ts]
    if not every:
        return None
    overall = sum(every) / len(every)
    return sum(
        (sum(times[_key(p)]) / len(times[_key(p)]) if times.get(_key(p)) else overall) * p.left
        for p in planned
        if not p.done
    )


def _key(p: JobState) -> tuple:
    return tuple((k, "null" if v is None else str(v)) for k, v in p.job.values)


def with_share(overrides: list[str], slot: CoreShare | None) -> list[str]:
    """A multirun's overrides plus the launcher and threads of `slot`, unless the user chose
    them (a `launcher=...` or `torch_threads=...` of their own wins)."""
    if slot is None:
        return overrides
    given = {override_key(o) for o in overrides}
    added = slot.overrides()
    if LAUNCHER in given:
        added = [o for o in added if not o.startswith(("launcher=", "hydra.launcher."))]
    return [*overrides, *(o for o in added if override_key(o) not in given)]
