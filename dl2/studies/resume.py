"""What a study's job folders say: jobs that finished since the store was last written
(`refresh`), and jobs stopped in the middle of training with a checkpoint to resume from (their
config hash from their results.json, or from their overrides when they were killed before
writing one), with how much of their training is left; and a forced rerun under way, so that
one stopped continues with the same command."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from dl2.config.identity import digest, is_plumbing, override_key, override_value
from dl2.errors import ConfigValueError
from dl2.files import read_checkpoint
from dl2.job_folder import (
    CONFIG_FILE,
    LAST_CHECKPOINT,
    NotAResultsFile,
    read_record,
    run_folder,
)
from dl2.paths import LOGS, RESULTS_FILE
from dl2.studies.hashes import hashes
from dl2.studies.job_folders import Job
from dl2.studies.spec import Study, StudyJob
from dl2.studies.store import Store, ingest, record_time
from dl2.studies.timing import fraction_trained


def study_logs(study: Study, log_dir: Path = LOGS) -> Path:
    """Where a study's multiruns write their job folders."""
    return log_dir / "studies" / study.name


def refresh(
    study: Study,
    store: Store,
    wanted: set[str],
    log_dir: Path = LOGS,
    imports: Sequence[Path] = (),
) -> int:
    """Bring the results of the study's job folders with a wanted config hash (finished since
    the last run, even if the runner was killed) into `store`, and the completed jobs with a
    wanted hash of the folders in `imports` (a `train.py -m` run outside the study: its jobs
    are the study's if their configs are); returns how many were new."""
    found = [
        r for r in ingest(study_logs(study, log_dir), study.keep) if r["config_hash"] in wanted
    ]
    for folder in imports:
        found += [
            r
            for r in ingest(folder, study.keep)
            if r["config_hash"] in wanted and r.get("status") == "completed"
        ]
    return store.add(found)


def resumable(study: Study, wanted: set[str], log_dir: Path = LOGS) -> dict[str, Path]:
    """{config hash: checkpoints/last.ckpt} of the study's jobs with a hash in `wanted` that
    stopped before they finished: interrupted (SIGTERM, Ctrl-C) or killed with the runner or
    the machine (no results.json; the hash then comes from the folder's overrides). The newest
    checkpoint of a hash wins. Checkpoints are written atomically, so each is a whole epoch's."""
    root = study_logs(study, log_dir)
    found: list[tuple[str, Path]] = []
    killed: list[tuple[StudyJob, Path]] = []
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
            killed.append((StudyJob(tuple(overrides), (), int(seeds[0])), last))
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


def forced_rerun(study: Study, config_hashes: Sequence[str], log_dir: Path = LOGS) -> Path:
    """The file that marks a forced rerun of these jobs as under way
    (logs/studies/<study>/forced-<their digest>.json, holding when it began)."""
    return study_logs(study, log_dir) / f"forced-{digest(sorted(set(config_hashes)))[:12]}.json"


def forced_since(study: Study, config_hashes: Sequence[str], log_dir: Path = LOGS) -> float | None:
    """When a forced rerun of these jobs that has not finished began (a POSIX time), or None:
    the jobs it completed since then are done, so the same `--force` command continues it."""
    try:
        return float(json.loads(forced_rerun(study, config_hashes, log_dir).read_text())["began"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def begin_forced_rerun(study: Study, config_hashes: Sequence[str], log_dir: Path = LOGS) -> None:
    """Mark a forced rerun of these jobs as under way from now (`forced_since` reads it)."""
    path = forced_rerun(study, config_hashes, log_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"began": time.time()}) + "\n")


def end_forced_rerun(study: Study, config_hashes: Sequence[str], log_dir: Path = LOGS) -> None:
    """The forced rerun of these jobs is done: the next `--force` reruns them all again."""
    forced_rerun(study, config_hashes, log_dir).unlink(missing_ok=True)
