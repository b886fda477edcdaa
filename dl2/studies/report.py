"""One report for every study: stored job records -> a tidy table and its summary per setting
(dl2/studies/summary.py) -> report.md (tables, figures, claims tested, samples, the jobs left
out), results.csv (long format), summary.json, and the study's block of its results page."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from dl2.config.identity import is_plumbing, override_key, override_value
from dl2.files import atomic_write_text
from dl2.paths import REPORTS
from dl2.studies import claims
from dl2.studies.figures import plot, plot_bars, plot_curves
from dl2.studies.job_folders import NEXT_STEP, machine_line
from dl2.studies.spec import Study, StudyJob
from dl2.studies.store import Store
from dl2.studies.summary import fixed_keys, summarise, tidy, unlogged_metrics
from dl2.studies.tables import claims_table, markdown_tables, setting_label
from dl2.studies.timing import job_seconds

PAGE_BLOCK = "page-block.md"  # a report folder's part of its results page (docs/results/)


def samples_section(study: Study, records: list[dict[str, Any]]) -> list[str]:
    """Markdown lines with the samples of the best completed job by `samples.best_by`."""
    spec = study.samples
    runs = (
        [
            r
            for r in records
            if r.get("status") == "completed"
            and r.get("samples")
            and (r.get("metrics") or {}).get(spec.best_by) is not None
        ]
        if spec
        else []
    )
    if not runs:
        return []
    pick = min if spec.mode == "min" else max
    best = pick(runs, key=lambda r: (r["metrics"][spec.best_by], r["config_hash"]))
    samples = best["samples"]
    lines = [
        f"## Samples of the best run ({setting_label(study, best)}, seed {best.get('seed')}"
        f", {spec.best_by} {best['metrics'][spec.best_by]:.4f}, step {samples['step']})\n"
    ]
    for prompt, text in samples["texts"]:
        lines += [f"**{prompt}**", "", "```", prompt + text, "```", ""]
    return lines


def left_out(
    store: Store, planned: list[StudyJob] | None, hashes: list[str] | None
) -> list[dict[str, Any]]:
    """Rows of the footer: newest records that did not complete, older records superseded by a
    newer one of the same hash, and planned jobs with no record at all."""
    latest = store.latest()
    rows = []
    for r in store.records:
        if hashes is not None and r["config_hash"] not in hashes:
            continue  # an earlier config's run: history (write_report counts them)
        newest = latest[r["config_hash"]]
        if r is not newest:
            rows.append({**r, "status": "superseded"})
        elif r.get("status") != "completed":
            rows.append(r)
    for job, h in zip(planned or [], hashes or [], strict=True):
        if h not in latest:
            rows.append(
                {
                    "status": "not run",
                    "overrides": list(job.overrides),
                    "seed": job.seed,
                    "config_hash": h,
                }
            )
    return rows


def footer_rows(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(status, overrides, error) lines of the footer; jobs of one setting and status that
    differ only in the seed share a line (`seed=3,4,5`)."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for r in rows:
        overrides = [o for o in r.get("overrides", []) if not o.startswith("seed=")]
        seeds = [override_value(o) for o in r.get("overrides", []) if override_key(o) == "seed"]
        key = (r["status"], " ".join(overrides), r.get("error") or "")
        grouped.setdefault(key, []).extend(seeds)
    return [
        (status, f"{text} seed={','.join(seeds)}" if seeds else text, error)
        for (status, text, error), seeds in grouped.items()
    ]


def shared_extras(study: Study, records: list[dict[str, Any]]) -> list[str]:
    """Overrides beyond the study's own that every completed job has (a quick check's
    `trainer.max_epochs=1`): the report names them."""
    skip = fixed_keys(study) | {axis.key for axis in study.axes}
    sets = [
        {o for o in r.get("overrides", []) if override_key(o) not in skip and not is_plumbing(o)}
        for r in records
    ]
    return sorted(set.intersection(*sets)) if sets else []


def write_report(
    study: Study,
    store: Store,
    out: Path,
    planned: list[StudyJob] | None = None,
    hashes: list[str] | None = None,
    unfinished: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    """report.md, results.csv (long format), summary.json and the plot into `out`; returns
    the summary payload. `unfinished`: footer rows for job folders without results."""
    out.mkdir(parents=True, exist_ok=True)
    records = list(store.latest().values())
    # with a plan, records of hashes it no longer has (its config changed since) are history
    outdated = [r for r in records if hashes is not None and r["config_hash"] not in hashes]
    records = [r for r in records if r not in outdated]
    frame = tidy(study, records)
    summary = summarise(study, frame)
    long = frame.drop(columns=["setting_hash"]).sort_values(
        [c for c in ("metric", "config_hash") if c in frame.columns]
    )
    atomic_write_text(out / "results.csv", long.to_csv(index=False, float_format="%.6g"))
    rest = [*left_out(store, planned, hashes), *unfinished]
    completed = [r for r in records if r.get("status") == "completed"]
    machines = sorted(
        {machine_line(r["machine"], r.get("code")) for r in completed if r.get("machine")}
    )
    verdicts = claims.evaluate(study, frame)
    claim_lines = claims_table(verdicts, study.digits)
    payload = {
        "study": study.name,
        "jobs_completed": len(completed),
        "rows": json.loads(summary.to_json(orient="records")),
        "claims": [v.as_dict(study.digits) for v in verdicts],
        "left_out": [{k: r.get(k) for k in ("status", "overrides", "seed", "error")} for r in rest],
        "machines": machines,
        "wall_time_s": round(sum(job_seconds(r) or 0.0 for r in completed), 1),
    }
    if hashes is not None:  # the jobs it declares, for the report's cost (dl2/studies/cost.py)
        payload["declared_hashes"] = sorted(set(hashes))
    atomic_write_text(out / "summary.json", json.dumps(payload, indent=2) + "\n")
    lines = [f"# {study.title}\n"]
    if study.description:
        lines.append(study.description.strip() + "\n")
    timed = [r for r in completed if "wall_time_s" in r]
    lines.append(
        f"{len(completed)} completed jobs, {payload['wall_time_s'] / 60:.1f} min of "
        f"job time in all ({len(timed)} timed jobs).\n"
    )
    sources = sorted({r["imported_from"] for r in completed if r.get("imported_from")})
    for source in sources:
        count = sum(r.get("imported_from") == source for r in completed)
        lines.append(
            f"{count} jobs imported from {source} (no job times or configs kept "
            "then; their hashes are those of today's config of the same overrides).\n"
        )
    if unlogged := unlogged_metrics(study, completed):
        print(f"dl2: {unlogged}", file=sys.stderr)
        lines.append(f"**{unlogged[0].upper()}{unlogged[1:]}.**\n")
    shared = shared_extras(study, completed)
    if shared:
        lines.append("Every job also ran with: `" + " ".join(shared) + "`.\n")
    lines += markdown_tables(study, summary)
    if plot(study, summary, out / f"{study.name}.png") or plot_bars(
        study, summary, out / f"{study.name}.png"
    ):
        lines.append(f"![{study.title}]({study.name}.png)\n")
    if plot_curves(study, records, out / f"{study.name}-curves.png"):
        lines.append(f"![training curves]({study.name}-curves.png)\n")
    if claim_lines:
        lines += ["## Claims\n", *claim_lines]
    lines += samples_section(study, records)
    history = [r for r in rest if r["status"] == "superseded"]
    work = [r for r in rest if r["status"] != "superseded"]
    if work:
        lines += [
            "## Jobs left out of the tables\n",
            "| status | to do | overrides | error |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {status} | {NEXT_STEP.get(status, 'rerun')} | {text} | {error} |"
            for status, text, error in footer_rows(work)
        ]
        lines.append("")
    if history:
        lines.append(
            f"{len(history)} earlier runs of jobs that ran again later are kept in "
            "jobs.jsonl as history (superseded: the newest run of a job is used).\n"
        )
    if outdated:
        lines.append(
            f"{len(outdated)} runs of an earlier config of the study's jobs (its experiment's "
            "config has changed since, so their hashes are no longer planned) are kept in "
            "jobs.jsonl as history.\n"
        )
    if machines:
        lines += ["## Machines\n", *[f"- {m}" for m in machines]]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    atomic_write_text(
        out / PAGE_BLOCK, page_block(study, summary, out, payload, rest, records, claim_lines)
    )
    return payload


def page_block(
    study: Study,
    summary: pd.DataFrame,
    out: Path,
    payload: dict[str, Any],
    rest: list[dict[str, Any]],
    records: list[dict[str, Any]],
    claim_lines: list[str] = (),
) -> str:
    """What a study's results page shows of it (between its markers): the tables, the plot,
    the claims tested, and a line with the job count, the jobs still to run and the
    machines. Links are as the
    documentation site places reports/ (beside results/: docs/hooks.py)."""
    link = f"../reports/{out.name}" if out.parent.resolve() == REPORTS.resolve() else str(out)
    lines = [
        line.replace("### ", "#### ", 1) if line.startswith("### ") else line
        for line in markdown_tables(study, summary)
    ]
    for suffix, alt in ((".png", study.title), ("-curves.png", "training curves")):
        if (out / f"{study.name}{suffix}").exists():
            lines.append(f"![{alt}]({link}/{study.name}{suffix})\n")
    if claim_lines:
        lines += ["#### Claims\n", *claim_lines]
    lines += [
        line.replace("## ", "#### ", 1) if line.startswith("## ") else line
        for line in samples_section(study, records)
    ]
    todo = sum(r["status"] != "superseded" for r in rest)
    machines = "; ".join(payload["machines"]) or "no machine yet"
    lines.append(
        f"{payload['jobs_completed']} completed jobs"
        + (f", {todo} still to run or rerun" if todo else "")
        + f" ({machines}). Per-seed values and the jobs left out: "
        f"[the study's report]({link}/report.md)."
    )
    return "\n".join(lines) + "\n"
