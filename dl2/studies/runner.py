"""The study runner: list a study's jobs, skip the ones whose result is stored, launch the rest
as Hydra multiruns (any launcher), and keep what they produce in the study's store."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from dl2.config.compose import Composer
from dl2.config.identity import (
    LAUNCHER,
    config_hash_of,
    is_plumbing,
    override_key,
    override_value,
    parse_overrides,
)
from dl2.config.preflight import check_values
from dl2.errors import ConfigValueError
from dl2.files import read_checkpoint
from dl2.job_folder import (
    CONFIG_FILE,
    LAST_CHECKPOINT,
    NotAResultsFile,
    read_record,
    run_folder,
)
from dl2.paths import CONF, LOGS, REPORTS, RESULTS_FILE, STORE_FILE
from dl2.studies.cores import CoreShare
from dl2.studies.job_folders import Job
from dl2.studies.launch import Launch, multirun, sweep_dir
from dl2.studies.spec import PlannedJob, Study
from dl2.studies.store import Store, completed_anywhere, ingest, record_time
from dl2.studies.timing import fraction_trained, job_seconds


@dataclass
class Planned:
    """A planned job with its hash, and the stored record that makes it done (or None)."""

    job: PlannedJob
    config_hash: str
    done: dict | None


def setting_of(job: PlannedJob) -> tuple[str, ...]:
    """A job's overrides without its seed: what the seeds of one setting share."""
    return tuple(o for o in job.overrides if not o.startswith("seed="))


# composed configs by setting, for this process (`sweep.py all` or a test run plans many)
_COMPOSER = Composer(CONF)


def hashes(jobs: list[PlannedJob]) -> list[str]:
    """Each job's config hash, from the real composed config (without running anything). One
    composition per setting (and per process; dl2/config/compose.py): the seed is then set in
    it, and interpolations of the seed (`data.noise_seed: ${seed}`) follow when the hash
    resolves them."""
    configs = _COMPOSER.compose_all(setting_of(j) for j in jobs)
    checked: set[tuple[str, ...]] = set()
    out = []
    for job in jobs:
        cfg = configs[setting_of(job)]
        cfg.seed = job.seed
        if setting_of(job) not in checked:  # a bad value fails before any job starts
            check_values(cfg)
            checked.add(setting_of(job))
        out.append(config_hash_of(cfg))
    return out


def study_logs(study: Study, log_dir: Path = LOGS) -> Path:
    """Where a study's multiruns write their job folders."""
    return log_dir / "studies" / study.name


def refresh(study: Study, store: Store, wanted: set[str], log_dir: Path = LOGS) -> int:
    """Bring the results of the study's job folders with a wanted config hash (finished since
    the last run, even if the runner was killed) into `store`; returns how many were new."""
    return store.add(
        r for r in ingest(study_logs(study, log_dir), study.keep) if r["config_hash"] in wanted
    )


def resumable(study: Study, wanted: set[str], log_dir: Path = LOGS) -> dict[str, Path]:
    """{config hash: checkpoints/last.ckpt} of the study's jobs with a hash in `wanted` that
    stopped before they finished: interrupted (SIGTERM, Ctrl-C) or killed with the runner or
    the machine (no results.json; the hash then comes from the folder's overrides). The newest
    checkpoint of a hash wins. Checkpoints are written atomically, so each is a whole epoch's."""
    root = study_logs(study, log_dir)
    found: list[tuple[str, Path]] = []
    killed: list[tuple[PlannedJob, Path]] = []
    for last in sorted(root.rglob(LAST_CHECKPOINT)) if root.is_dir() else []:
        folder = run_folder(last)
        if (folder / RESULTS_FILE).is_file():
            try:
                results = read_record(folder)
            except (FileNotFoundError, NotAResultsFile):
                continue
            if results.get("status") == "interrupted" and results.get("config_hash"):
                found.append((results["config_hash"], last))
            continue
        overrides = [o for o in Job(folder, "missing").overrides if not is_plumbing(o)]
        seeds = [override_value(o) for o in overrides if override_key(o) == "seed"]
        if len(seeds) == 1 and seeds[0].lstrip("-").isdigit():
            killed.append((PlannedJob(tuple(overrides), (), int(seeds[0])), last))
    if killed:
        found += zip(hashes([job for job, _ in killed]), [last for _, last in killed], strict=True)
    newest: dict[str, Path] = {}
    for config_hash, last in sorted(found, key=lambda item: item[1].stat().st_mtime):
        if config_hash in wanted:
            newest[config_hash] = last
    return newest


def _after(last: Path, record: dict | None) -> bool:
    """Whether checkpoint `last` was written after `record` finished (a rerun's own)."""
    finished = record_time(record, "finished_at") if record else None
    return finished is None or last.stat().st_mtime > finished


def stopped(
    study: Study, todo: set[str], store: Store, force: bool, log_dir: Path = LOGS
) -> dict[str, Path]:
    """{config hash: last.ckpt} of the jobs of `todo` that stopped mid-training, to resume.
    With `force` only checkpoints written after the stored result of their job (its newest
    completed record) count: a forced rerun that was stopped continues (its own interrupted
    record is no result), an old run's checkpoint is not taken for one."""
    resume = resumable(study, todo, log_dir)
    if force:
        latest = store.latest("completed")
        resume = {h: last for h, last in resume.items() if _after(last, latest.get(h))}
    return resume


def still_to_train(resume: dict[str, Path]) -> dict[str, float]:
    """{config hash: the fraction of its training a stopped job has left} for the jobs of
    `resume` (as `resumable` returns them), from each checkpoint's steps and epochs against
    the job's own limits (its folder's .hydra/config.yaml). A checkpoint or config that
    cannot be read counts as a whole job left."""
    left = {}
    for config_hash, last in resume.items():
        try:
            trainer = OmegaConf.load(run_folder(last) / CONFIG_FILE).get("trainer") or {}
            done = fraction_trained(
                read_checkpoint(last), trainer.get("max_epochs"), trainer.get("max_steps")
            )
        except (ConfigValueError, OSError, ValueError):
            done = None
        left[config_hash] = 1.0 if done is None else 1.0 - done
    return left


def resume_overrides(overrides: tuple[str, ...], last: Path) -> list[str]:
    """One job's multirun overrides resuming from `last`, quoted (job folders
    hold commas, which a multirun would read as a sweep)."""
    quoted = str(last).replace("\\", "\\\\").replace("'", "\\'")
    return [*overrides, f"ckpt_path='{quoted}'"]


def plan(
    jobs: list[PlannedJob],
    job_hashes: list[str],
    store: Store,
    force: bool = False,
    keep: list[str] = (),
) -> list[Planned]:
    """Which jobs are done: a completed record of the same config hash, holding every entry
    the study keeps (`keep`: a record imported without its history is not done), in `store`
    or in any study's stored results (copied into `store`). `force` runs every job."""
    found = completed_anywhere(REPORTS)
    found.update(store.completed())
    found = {h: r for h, r in found.items() if all(k in r for k in keep)}
    planned = [
        Planned(job, h, None if force else found.get(h))
        for job, h in zip(jobs, job_hashes, strict=True)
    ]
    store.add([p.done for p in planned if p.done is not None])
    return planned


def blocks(todo: list[Planned]) -> list[list[str]]:
    """The jobs to run as few multiruns as their shape allows: jobs of one setting (all but
    the seed) share a multirun over their seeds; settings with the same seeds and every
    combination of their axis values share one multirun over axes and seeds."""
    by_setting: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for p in todo:
        setting = setting_of(p.job)
        by_setting[setting].append(p.job.seed)
    by_seeds: dict[tuple[int, ...], list[tuple[str, ...]]] = defaultdict(list)
    for setting, seeds in by_setting.items():
        by_seeds[tuple(sorted(seeds))].append(setting)
    out = []
    for seeds, settings in by_seeds.items():
        seed_arg = "seed=" + ",".join(map(str, seeds))
        columns = list(zip(*settings, strict=True))
        values = [list(dict.fromkeys(col)) for col in columns]
        size = 1
        for v in values:
            size *= len(v)
        if size == len(settings):  # a full grid: one multirun
            swept = [v[0] if len(v) == 1 else _sweep(v) for v in values]
            out.append([*swept, seed_arg])
        else:
            out += [[*setting, seed_arg] for setting in settings]
    return out


def _sweep(overrides: list[str]) -> str:
    """`k=a`, `k=b` as the sweep override `k=a,b`."""
    return overrides[0].partition("=")[0] + "=" + ",".join(override_value(o) for o in overrides)


def multirun_size(overrides: list[str]) -> int:
    """How many results.json a multirun's overrides make: the product of their comma lists."""
    count = 1
    for item in overrides:
        value = override_value(item)
        if "," in value and not value.startswith(("[", "{", "'", '"')):
            count *= len(value.split(","))
    return count


def progress_line(name: str, total: int, before: int, size: int) -> Callable[[int], None]:
    """A callback that prints `[study] ended/size jobs of this multirun ended, ~N min left in
    it`, the time left from this multirun's own pace so far. An ended job may have failed or
    been stopped: what is done is counted from the store after the multirun."""
    start = time.time()

    def report(finished: int) -> None:
        left = (time.time() - start) / finished * max(size - finished, 0)
        print(
            f"[{name}] {finished}/{size} jobs of this multirun ended ({before}/{total} of "
            f"the study done before it), ~{left / 60:.1f} min left in it",
            file=sys.stderr,
            flush=True,
        )

    return report


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
    planned: list[Planned],
    times: dict[tuple, list[float]] | None = None,
    left: dict[str, float] | None = None,
) -> float | None:
    """Seconds the jobs still to run should take, one after another: each from the mean wall
    time of done jobs with its axis values (this study's, else `times`, from any store), else
    from the mean of all of them, times the fraction of its training left (`left`, by config
    hash, for stopped jobs that resume: see `still_to_train`); None when no timed job is
    known."""
    left = left or {}
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
        (sum(times[_key(p)]) / len(times[_key(p)]) if times.get(_key(p)) else overall)
        * left.get(p.config_hash, 1.0)
        for p in planned
        if not p.done
    )


def _key(p: Planned) -> tuple:
    return tuple((k, "null" if v is None else str(v)) for k, v in p.job.values)


def time_left(
    planned: list[Planned],
    slot: CoreShare | None = None,
    times: dict[tuple, list[float]] | None = None,
    left: dict[str, float] | None = None,
) -> float | None:
    """`estimate` spread over the jobs that run at once (each job's stored wall time was
    measured the way the runner runs it, sharing the machine with the others)."""
    seconds = estimate(planned, times, left)
    return None if seconds is None else seconds / (slot.jobs if slot else 1)


def spent(planned: list[Planned]) -> float:
    """Seconds the done jobs took, summed over jobs (their stored times, earlier attempts
    included)."""
    return sum(job_seconds(p.done) or 0.0 for p in planned if p.done)


def describe(
    study: Study,
    planned: list[Planned],
    slot: CoreShare | None = None,
    times: dict[tuple, list[float]] | None = None,
    left: dict[str, float] | None = None,
) -> str:
    """The job list of a dry run: done / to run / resume (a stopped job: `left` holds the
    fraction of its training left by config hash, see `still_to_train`), and the estimated
    time left."""
    left = left or {}
    lines = [f"{study.name}: {sum(bool(p.done) for p in planned)}/{len(planned)} jobs done"]
    for p in planned:
        state = "done" if p.done else "resume" if p.config_hash in left else "to run"
        rest = f"  ({left[p.config_hash]:.0%} of its training left)" if state == "resume" else ""
        lines.append(f"  {state:7s} {p.config_hash}  {' '.join(p.job.overrides[1:])}{rest}")
    seconds = time_left(planned, slot, times, left)
    todo = sum(not p.done for p in planned)
    if todo:
        eta = "unknown (no timed job done yet)" if seconds is None else f"~{seconds / 60:.1f} min"
        how = slot.describe() if slot else "as the overrides say"
        lines.append(f"{todo} to run, estimated {eta} on this machine ({how})")
    return "\n".join(lines)


def pending(
    study: Study,
    jobs: list[PlannedJob],
    store: Store,
    job_hashes: list[str],
    force: bool = False,
    log_dir: Path = LOGS,
) -> list[Planned]:
    """The study's jobs, done (stored, or finished in a job folder since the last run) or not."""
    refresh(study, store, set(job_hashes), log_dir)
    return plan(jobs, job_hashes, store, force, study.keep)


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


def run(
    study: Study,
    jobs: list[PlannedJob],
    store: Store,
    force: bool = False,
    log_dir: Path = LOGS,
    job_hashes: list[str] | None = None,
    slot: CoreShare | None = None,
    launch: Launch = multirun,
) -> int:
    """Run what is missing of `jobs`, keeping results in `store`; returns the first non-zero
    multirun exit code (0 if all ran). Each multirun's results are stored as soon as it ends,
    and a killed runner loses only the jobs that were running: the next run picks up the
    finished ones from their folders. `slot` says how many jobs run at once, with how many
    threads each (None: as the overrides say). A job stopped in the middle of training
    (interrupted, or killed with the runner) resumes from its last checkpoint, exactly where
    it stopped. `launch` runs each multirun (a `train.py -m` process by default)."""
    job_hashes = job_hashes if job_hashes is not None else hashes(jobs)
    wanted = set(job_hashes)
    planned = pending(study, jobs, store, job_hashes, force, log_dir)
    todo = [p for p in planned if not p.done]
    code = 0
    # jobs stopped mid-training continue from their last checkpoint, each as its own multirun
    resume = stopped(study, {p.config_hash for p in todo}, store, force, log_dir)
    left = still_to_train(resume)
    fresh = [p for p in todo if p.config_hash not in left]
    parts = [
        resume_overrides(p.job.overrides, resume[p.config_hash])
        for p in todo
        if p.config_hash in resume
    ] + blocks(fresh)
    start = time.time()
    for i, overrides in enumerate(parts, 1):
        seconds = time_left(planned, slot, left=left)
        eta = "" if seconds is None else f", ~{seconds / 60:.1f} min left"
        print(
            f"[{study.name}] {len(planned) - len(todo)}/{len(planned)} done; multirun "
            f"{i}/{len(parts)}: {' '.join(overrides[1:])}{eta}",
            file=sys.stderr,
            flush=True,
        )
        before = len(planned) - len(todo)
        tracker = progress_line(study.name, len(planned), before, multirun_size(overrides))
        try:
            result = launch(
                with_share(overrides, slot),
                sweep_dir(log_dir / "studies", study.name, "jobs"),
                progress=tracker,
            )
        finally:  # told to stop too: what finished is kept
            refresh(study, store, wanted, log_dir)
        code = code or result
        planned = plan(jobs, job_hashes, store, keep=study.keep)
        todo = [p for p in planned if not p.done]
    if parts:
        print(
            f"[{study.name}] {len(planned) - len(todo)}/{len(planned)} done after "
            f"{(time.time() - start) / 60:.1f} min",
            file=sys.stderr,
        )
    return code
