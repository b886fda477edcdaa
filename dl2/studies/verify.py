"""Re-check a study's stored results: rerun some of its completed jobs into a scratch folder
and compare every stored metric with the rerun's.

Same command, same seed, same numbers: on the machine a record was made on (the same torch,
device, CPU model and torch threads) a rerun must match it to the bit; elsewhere float
arithmetic may differ in its last digits, so a metric must agree within TOLERANCE.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dl2.config.identity import is_plumbing, parse_overrides
from dl2.errors import ConfigValueError
from dl2.studies.hashes import hashes
from dl2.studies.launch import Launch, multirun
from dl2.studies.runner import run
from dl2.studies.spec import Study, StudyJob, expand
from dl2.studies.store import Store

# |stored - rerun| allowed on another machine: absolute, plus relative to the stored value
TOLERANCE = (1e-6, 1e-3)
# what a machine record must share with this machine for the rerun to match to the bit
SAME_MACHINE = ("torch", "cuda", "gpu", "cpu", "torch_threads")


@dataclass(frozen=True)
class Check:
    """One metric of one job: the stored value, the rerun's, and whether they agree."""

    job: str
    metric: str
    stored: float | None
    rerun: float | None
    exact: bool

    @property
    def ok(self) -> bool:
        if self.stored is None or self.rerun is None:
            return self.stored is None and self.rerun is None
        if self.exact:
            return self.stored == self.rerun
        absolute, relative = TOLERANCE
        return math.isclose(self.stored, self.rerun, rel_tol=relative, abs_tol=absolute)


def same_machine(stored: dict[str, Any], here: dict[str, Any]) -> bool:
    """Whether a record's machine is this one, as far as float results go (a record made
    before the CPU model was stored never is)."""
    return all(stored.get(k) == here.get(k) for k in SAME_MACHINE) and "cpu" in stored


def same_threads(job: StudyJob, stored: dict[str, Any]) -> StudyJob:
    """The job with the torch threads its record ran with (float sums can depend on the
    thread count; a plumbing override, so the job's hash stays)."""
    threads = (stored.get("machine") or {}).get("torch_threads")
    if not isinstance(threads, int) or threads < 1:
        return job
    return replace(job, overrides=(*job.overrides, f"torch_threads={threads}"))


def choose(
    jobs: list[StudyJob],
    config_hashes: list[str],
    done: dict[str, dict[str, Any]],
    sample: int | None,
    seed: int,
    where: dict[str, str],
) -> list[tuple[StudyJob, str]]:
    """The completed jobs to rerun: those matching every `where` override (key=value), then
    `sample` of them drawn with `seed` (all of them without a sample)."""
    pool = [
        (job, h)
        for job, h in zip(jobs, config_hashes, strict=True)
        if h in done and all(parse_overrides(job.overrides).get(k) == v for k, v in where.items())
    ]
    if not pool:
        raise ConfigValueError(
            "--where", " ".join(f"{k}={v}" for k, v in where.items()) or "(none)",
            "matches no completed job of the study",
        )  # fmt: skip
    if sample is None or sample >= len(pool):
        return pool
    return sorted(random.Random(seed).sample(pool, sample), key=lambda p: pool.index(p))


def verify(
    study: Study,
    store: Store,
    out: Path,
    sample: int | None = 1,
    seed: int = 0,
    where: dict[str, str] | None = None,
    extra: list[str] = (),
    launch: Launch = multirun,
    dry_run: bool = False,
) -> int:
    """Rerun the chosen jobs into `out` and print each metric's stored and new value; 0 when
    every metric agrees, 1 otherwise (a job that does not complete counts as a mismatch).
    `dry_run` prints the chosen jobs and runs nothing."""
    jobs = expand(study, list(extra))
    config_hashes = hashes(jobs)
    done = store.completed()
    chosen = choose(jobs, config_hashes, done, sample, seed, where or {})
    stored = sum(h in done for h in config_hashes)
    if dry_run:
        print(f"{study.name}: {len(chosen)} of {stored} stored jobs to rerun")
        for job, h in chosen:
            print(f"  verify  {h}  {' '.join(job.overrides[1:])}")
        return 0
    out = out / datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    scratch = Store.at(out)
    print(
        f"[{study.name}] verify: rerunning {len(chosen)} of {stored} stored jobs into {out}",
        file=sys.stderr,
    )
    started = datetime.now()
    run(
        study,
        [same_threads(job, done[h]) for job, h in chosen],
        scratch,
        force=True,
        log_dir=out / "logs",
        config_hashes=[h for _, h in chosen],
        launch=launch,
    )
    checks: list[Check] = []
    failed = []
    for job, h in chosen:
        stored, new = done[h], scratch.latest().get(h)
        name = " ".join(o for o in job.overrides[1:] if not is_plumbing(o))
        if new is None or new.get("status") != "completed":
            failed.append(f"{name}: the rerun did not complete ({(new or {}).get('status')})")
            continue
        exact = same_machine(stored.get("machine", {}), new.get("machine", {}))
        metrics = stored.get("metrics") or {}
        checks += [
            Check(name, m, metrics[m], (new.get("metrics") or {}).get(m), exact)
            for m in sorted(metrics)
        ]
    for line in report_lines(checks, failed):
        print(line)
    seconds = (datetime.now() - started).total_seconds()
    bad = sum(not c.ok for c in checks) + len(failed)
    print(
        f"[{study.name}] verify: {len(chosen)} jobs, {len(checks)} metrics, "
        f"{'all agree' if not bad else f'{bad} mismatches'} ({seconds:.0f} s)",
        file=sys.stderr,
    )
    return 1 if bad else 0


def report_lines(checks: list[Check], failed: list[str]) -> list[str]:
    """A line per metric: job, metric, stored, rerun, how they were compared, agree or not."""
    lines = []
    for c in checks:
        how = "bit-exact" if c.exact else f"within {TOLERANCE[0]:g} + {TOLERANCE[1]:g}·|value|"
        mark = "ok" if c.ok else "MISMATCH"
        lines.append(
            f"{mark:8s} {c.job} | {c.metric}: stored {c.stored!r}, rerun {c.rerun!r} ({how})"
        )
    return lines + [f"FAILED   {line}" for line in failed]
