"""Where a study's results and report go: reports/<study> for a declared study's own jobs,
a folder under logs/ for anything else (extra overrides, a trial study file), and which jobs a
report into that folder counts."""

from __future__ import annotations

from pathlib import Path

from dl2.config.identity import digest, is_plumbing
from dl2.paths import LOGS
from dl2.studies.hashes import hashes
from dl2.studies.spec import Study, expand, load_study, study_names
from dl2.studies.store import REPORTS


def declared(study: Study) -> bool:
    """Whether `study` is one of the declared studies (studies/<name>.yaml), whose results are
    stored in reports/; a study file elsewhere (a trial) keeps its results under logs/."""
    return study.name in study_names() and load_study(study.name) == study


def default_out(study: Study, overrides: list[str]) -> Path:
    """reports/<study> for a declared study's own jobs; a folder of their own under logs/ for
    jobs with extra overrides, so that a quick check never mixes into the stored study, and
    for a study file outside studies/ (a trial never enters reports/ or the docs)."""
    changes = [o for o in overrides if not is_plumbing(o)]
    if not declared(study):
        return LOGS / "studies" / study.name / "report"
    if not changes:  # launcher=joblib, torch_threads=1, logger=csv: the study's own jobs
        return REPORTS / study.name
    return LOGS / "studies" / study.name / f"with-{digest(sorted(changes))[:8]}"


def is_study_folder(study: Study, out: Path) -> bool:
    """Whether `out` is the study's own results folder, reports/<study>."""
    return out.resolve() == (REPORTS / study.name).resolve()


def report_jobs(
    study: Study,
    out: Path,
    overrides: list[str],
    jobs: list,
    config_hashes: list[str],
    *,
    narrowed: bool,
) -> tuple[list, list[str]]:
    """The jobs a report into `out` counts (done, or still to run): the study's own report
    counts every declared job, so that a run narrowed to some seeds or axis values leaves the
    report that `--offline` rebuilds; any other folder counts the jobs run into it."""
    if narrowed and is_study_folder(study, out):
        every = expand(study, overrides)
        return every, hashes(every)
    return jobs, config_hashes
