"""The overviews of every stored study, rebuilt whenever a study's own report is written (a
`sweep.py <study>` run, `make report-offline`), so a rerun never leaves them behind: the
README's table of the studies (from each summary.json: what it runs, its jobs, how its claims
came out, linking to its results page) and the results index's cost table (from the stored
job records)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dl2.paths import REPORTS
from dl2.studies.claims import VERDICTS
from dl2.studies.cost import StudyCost, study_cost
from dl2.studies.spec import load_study, study_names
from dl2.studies.store import Store

OVERVIEW_BLOCK = "studies"  # its block in README.md: <!-- study:studies -->


def verdict_counts(claims: list[dict[str, Any]]) -> str:
    """`3 hold, 1 fails, 2 not shown` of a summary's claims, or `no claims`."""
    if not claims:
        return "no claims"
    counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}
    words = {"holds": "hold", "fails": "fail", "not shown": "not shown", "no data": "no data"}
    return ", ".join(f"{n} {words[v] if n != 1 else v}" for v, n in counts.items() if n)


def overview_block(rows: list[tuple[Any, Path]]) -> str:
    """The table: a row per (study, its report folder holding summary.json)."""
    lines = [
        "| study | jobs | the report's claims, tested | results |",
        "|---|---:|---|---|",
    ]
    for study, folder in rows:
        summary = json.loads((folder / "summary.json").read_text())
        page = f"[{study.name}](docs/results/{study.page}.md)" if study.page else study.name
        lines.append(
            f"| {study.title} | {summary['jobs_completed']} "
            f"| {verdict_counts(summary.get('claims', []))} | {page} |"
        )
    return "\n".join(lines) + "\n"


def stored_reports() -> list[tuple[Any, Path]]:
    """(study, reports/<study>) of every declared study whose report has been written."""
    return [
        (load_study(name), REPORTS / name)
        for name in study_names()
        if (REPORTS / name / "summary.json").is_file()
    ]


def stored_costs() -> list[StudyCost]:
    """The cost of every stored study (`stored_reports`) from its stored jobs, those its
    report declares (summary.json's `declared_hashes`), a job two studies share counted in
    the first."""
    seen: set[str] = set()
    return [
        study_cost(
            study.name,
            Store.at(folder).completed(),
            json.loads((folder / "summary.json").read_text()).get("declared_hashes", []),
            seen,
        )
        for study, folder in stored_reports()
    ]
