"""The study runner: execute a study's plan (dl2/studies/plan.py), its multiruns launched one
after another (any launcher), what they produce kept in the study's store as each ends, with a
progress line per ended job and per multirun."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from dl2.config.identity import override_value
from dl2.paths import LOGS
from dl2.studies.cores import CoreShare
from dl2.studies.launch import Launch, multirun, sweep_dir
from dl2.studies.plan import Plan, done_states, make_plan
from dl2.studies.resume import begin_forced_rerun, end_forced_rerun, refresh
from dl2.studies.spec import Study, StudyJob
from dl2.studies.store import Store


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


def execute(plan: Plan, store: Store, log_dir: Path = LOGS, launch: Launch = multirun) -> int:
    """Run the plan's multiruns, keeping results in `store`; returns the first non-zero
    multirun exit code (0 if all ran). Each multirun's results are stored as soon as it ends,
    and a killed runner loses only the jobs that were running: the next run picks up the
    finished ones from their folders, and a job stopped in the middle of training resumes from
    its last checkpoint, exactly where it stopped. `launch` runs each multirun (a
    `train.py -m` process by default)."""
    study = plan.study
    jobs = [s.job for s in plan.jobs]
    config_hashes = [s.config_hash for s in plan.jobs]
    parts = plan.multiruns()
    code, start, now = 0, time.time(), plan
    for i, overrides in enumerate(parts, 1):
        seconds = now.seconds_left()
        eta = "" if seconds is None else f", ~{seconds / 60:.1f} min left"
        print(
            f"[{study.name}] {now.done}/{len(now.jobs)} done; multirun "
            f"{i}/{len(parts)}: {' '.join(overrides[1:])}{eta}",
            file=sys.stderr,
            flush=True,
        )
        tracker = progress_line(study.name, len(now.jobs), now.done, multirun_size(overrides))
        try:
            result = launch(
                overrides, sweep_dir(log_dir / "studies", study.name, "jobs"), progress=tracker
            )
        finally:  # told to stop too: what finished is kept
            refresh(study, store, set(config_hashes), log_dir)
        code = code or result
        states = done_states(jobs, config_hashes, store, keep=study.keep)
        now = replace(
            now,
            jobs=[
                new if new.done else replace(new, resume=old.resume, left=old.left)
                for new, old in zip(states, plan.jobs, strict=True)
            ],
        )
    if parts:
        print(
            f"[{study.name}] {now.done}/{len(now.jobs)} done after "
            f"{(time.time() - start) / 60:.1f} min",
            file=sys.stderr,
        )
    return code


def run(
    study: Study,
    jobs: list[StudyJob],
    store: Store,
    force: bool = False,
    log_dir: Path = LOGS,
    config_hashes: list[str] | None = None,
    share: CoreShare | None = None,
    launch: Launch = multirun,
    imports: Sequence[Path] = (),
) -> int:
    """Plan `jobs` against `store` and execute the plan (`make_plan`, `execute`)."""
    plan = make_plan(
        study,
        jobs,
        store,
        force=force,
        log_dir=log_dir,
        share=share,
        config_hashes=config_hashes,
        imports=imports,
    )
    if not force:
        return execute(plan, store, log_dir, launch)
    hashes = [s.config_hash for s in plan.jobs]
    if plan.forced_since is None:  # stopped, the same command continues this rerun
        begin_forced_rerun(study, hashes, log_dir)
    code = execute(plan, store, log_dir, launch)
    if code == 0:
        end_forced_rerun(study, hashes, log_dir)
    return code
