"""The study runner: list a study's jobs, skip the ones whose result is stored, launch the rest
as Hydra multiruns (any launcher), and keep what they produce in the study's store."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from dl2.identity import job_hashes
from dl2.studies.launch import multirun, sweep_dir
from dl2.studies.spec import PlannedJob, Study
from dl2.studies.store import REPORTS, Store, completed_anywhere, ingest

CONF = Path(__file__).resolve().parents[2] / "conf"
LOGS = Path(__file__).resolve().parents[2] / "logs"


@dataclass
class Planned:
    """A planned job with its hash, and the stored record that makes it done (or None)."""

    job: PlannedJob
    config_hash: str
    done: dict | None


def hashes(jobs: list[PlannedJob]) -> list[str]:
    """Each job's config hash, from the real composed config (without running anything). One
    composition per setting: the seed is then set in it, and interpolations of the seed
    (`data.noise_seed: ${seed}`) follow when the hash resolves them."""
    configs = {}
    out = []
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            for job in jobs:
                setting = tuple(o for o in job.overrides if not o.startswith("seed="))
                if setting not in configs:
                    configs[setting] = compose("train", overrides=list(setting))
                cfg = configs[setting]
                cfg.seed = job.seed
                out.append(job_hashes(cfg)["config_hash"])
    finally:
        GlobalHydra.instance().clear()
    return out


def study_logs(study: Study, log_dir: Path = LOGS) -> Path:
    """Where a study's multiruns write their job folders."""
    return log_dir / "studies" / study.name


def refresh(study: Study, store: Store, wanted: set[str], log_dir: Path = LOGS) -> int:
    """Bring the results of the study's job folders with a wanted config hash (finished since
    the last run, even if the runner was killed) into `store`; returns how many were new."""
    return store.add(r for r in ingest(study_logs(study, log_dir), study.keep)
                     if r["config_hash"] in wanted)


def plan(jobs: list[PlannedJob], job_hashes: list[str], store: Store, force: bool = False,
         keep: list[str] = ()) -> list[Planned]:
    """Which jobs are done: a completed record of the same config hash, holding every entry
    the study keeps (`keep`: a record imported without its history is not done), in `store`
    or in any study's stored results (copied into `store`). `force` runs every job."""
    found = completed_anywhere(REPORTS)
    found.update(store.completed())
    found = {h: r for h, r in found.items() if all(k in r for k in keep)}
    planned = [Planned(job, h, None if force else found.get(h))
               for job, h in zip(jobs, job_hashes, strict=True)]
    store.add([p.done for p in planned if p.done is not None])
    return planned


def blocks(todo: list[Planned]) -> list[list[str]]:
    """The jobs to run as few multiruns as their shape allows: jobs of one setting (all but
    the seed) share a multirun over their seeds; settings with the same seeds and every
    combination of their axis values share one multirun over axes and seeds."""
    by_setting: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for p in todo:
        setting = tuple(o for o in p.job.overrides if not o.startswith("seed="))
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
    key = overrides[0].split("=", 1)[0]
    return key + "=" + ",".join(o.split("=", 1)[1] for o in overrides)


def multirun_size(overrides: list[str]) -> int:
    """How many jobs a multirun's overrides make: the product of their comma lists."""
    count = 1
    for item in overrides:
        value = item.split("=", 1)[1] if "=" in item else ""
        if "," in value and not value.startswith(("[", "{", "'", '"')):
            count *= len(value.split(","))
    return count


def progress_line(name: str, total: int, before: int, size: int) -> Callable[[int], None]:
    """A callback that prints `[study] done/total (finished/size of this multirun, ~N min
    left in it)`, the time left from this multirun's own pace so far."""
    start = time.time()

    def report(finished: int) -> None:
        left = (time.time() - start) / finished * max(size - finished, 0)
        print(f"[{name}] {before + finished}/{total} done ({finished}/{size} of this multirun, "
              f"~{left / 60:.1f} min left in it)", file=sys.stderr, flush=True)
    return report


def estimate(planned: list[Planned]) -> float | None:
    """Seconds the jobs still to run should take, from the wall times of the done jobs (of the
    same setting where there are some); None when no done job has a wall time."""
    done = [p for p in planned if p.done and "wall_time_s" in p.done]
    if not done:
        return None
    overall = sum(p.done.get("wall_time_s", 0.0) for p in done) / len(done)
    by_values: dict[tuple, list[float]] = defaultdict(list)
    for p in done:
        by_values[p.job.values].append(p.done.get("wall_time_s", 0.0))
    return sum((sum(by_values[p.job.values]) / len(by_values[p.job.values]))
               if by_values.get(p.job.values) else overall
               for p in planned if not p.done)


def describe(study: Study, planned: list[Planned]) -> str:
    """The job list of a dry run: done / to run, and the estimated time left."""
    lines = [f"{study.name}: {sum(bool(p.done) for p in planned)}/{len(planned)} jobs done"]
    for p in planned:
        state = "done" if p.done else "to run"
        lines.append(f"  {state:7s} {p.config_hash}  {' '.join(p.job.overrides[1:])}")
    seconds = estimate(planned)
    todo = sum(not p.done for p in planned)
    if todo:
        left = "unknown (no timed job done yet)" if seconds is None else f"~{seconds / 60:.1f} min"
        lines.append(f"{todo} to run, estimated {left} on this machine, one job at a time")
    return "\n".join(lines)


def run(study: Study, jobs: list[PlannedJob], store: Store, force: bool = False,
        dry_run: bool = False, log_dir: Path = LOGS,
        job_hashes: list[str] | None = None) -> int:
    """Run what is missing of `jobs`, keeping results in `store`; returns the first non-zero
    multirun exit code (0 if all ran). Each multirun's results are stored as soon as it ends,
    and a killed runner loses only the jobs that were running: the next run picks up the
    finished ones from their folders."""
    job_hashes = job_hashes if job_hashes is not None else hashes(jobs)
    wanted = set(job_hashes)
    refresh(study, store, wanted, log_dir)
    planned = plan(jobs, job_hashes, store, force, study.keep)
    if dry_run:
        print(describe(study, planned))
        return 0
    todo = [p for p in planned if not p.done]
    code = 0
    parts = blocks(todo)
    start = time.time()
    for i, overrides in enumerate(parts, 1):
        left = estimate(planned)
        eta = "" if left is None else f", ~{left / 60:.1f} min left"
        print(f"[{study.name}] {len(planned) - len(todo)}/{len(planned)} done; multirun "
              f"{i}/{len(parts)}: {' '.join(overrides[1:])}{eta}", file=sys.stderr, flush=True)
        before = len(planned) - len(todo)
        tracker = progress_line(study.name, len(planned), before, multirun_size(overrides))
        result = multirun(overrides, sweep_dir(log_dir / "studies", study.name, "jobs"),
                          progress=tracker)
        code = code or result
        refresh(study, store, wanted, log_dir)
        planned = plan(jobs, job_hashes, store, keep=study.keep)
        todo = [p for p in planned if not p.done]
    if parts:
        print(f"[{study.name}] {len(planned) - len(todo)}/{len(planned)} done after "
              f"{(time.time() - start) / 60:.1f} min", file=sys.stderr)
    return code
