"""What the report cost on the machines that ran it, from the stored job records: per study the
summed job time and the wall time (how long at least one of its jobs was running), and both for
the whole report. Only the declared jobs count, each config once (a job two studies share, like
gnn-noise's 0 % column and gnn-models, is counted where it first appears)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dl2.studies.job_folders import machine_line
from dl2.studies.store import record_time
from dl2.studies.timing import job_seconds

COST_BLOCK = "report-cost"  # its block in docs/results/index.md: <!-- study:report-cost -->


@dataclass
class StudyCost:
    """One study's share: declared and completed jobs, those with stored times, the summed job
    time and the union of the jobs' [start, finish] intervals (seconds)."""

    name: str
    declared: int
    completed: int
    timed: int
    shared: int
    job_s: float
    wall_s: float
    intervals: list[tuple[float, float]]
    machines: set[str]


def _interval(record: dict[str, Any]) -> tuple[float, float] | None:
    """[start, finish] of one run (a job record or one of its earlier attempts)."""
    start, end = record_time(record, "started_at"), record_time(record, "finished_at")
    if start is None or end is None:
        return None
    return (start, end) if end >= start else None


def covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of `intervals`: overlapping jobs count once."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def study_cost(
    name: str, completed: dict[str, dict[str, Any]], declared: list[str], seen: set[str]
) -> StudyCost:
    """The cost of the declared hashes `declared` among `completed` ({hash: record}); hashes in
    `seen` (counted by an earlier study) are left out of the times and added to `seen`."""
    records = [completed[h] for h in dict.fromkeys(declared) if h in completed]
    own = [r for r in records if r["config_hash"] not in seen]
    seen.update(r["config_hash"] for r in own)
    timed = [r for r in own if "wall_time_s" in r and _interval(r)]
    # a resumed job ran in several processes: each attempt's interval and time count
    intervals = [
        span for r in timed for span in map(_interval, [*r.get("attempts", []), r]) if span
    ]
    return StudyCost(
        name,
        len(set(declared)),
        len(records),
        len(timed),
        len(records) - len(own),
        sum(job_seconds(r) or 0.0 for r in timed),
        covered(intervals),
        intervals,
        {machine_line(r["machine"], r.get("code")) for r in timed if r.get("machine")},
    )


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"


def cost_block(costs: list[StudyCost]) -> str:
    """The cost block of the results index: a row per study and the total."""
    lines = [
        "| study | jobs done | of them timed | job time | wall time |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in costs:
        done = f"{c.completed}/{c.declared}" + (f" ({c.shared} shared)" if c.shared else "")
        lines.append(f"| {c.name} | {done} | {c.timed} | {_hours(c.job_s)} | {_hours(c.wall_s)} |")
    every = [i for c in costs for i in c.intervals]
    lines.append(
        f"| **all** | {sum(c.completed for c in costs)}/"
        f"{sum(c.declared for c in costs)} | {sum(c.timed for c in costs)} | "
        f"{_hours(sum(c.job_s for c in costs))} | {_hours(covered(every))} |"
    )
    machines = sorted(set().union(*(c.machines for c in costs)))
    untimed = sum(c.completed - c.shared - c.timed for c in costs)
    lines += [
        "",
        "Job time: the timed jobs' own wall times, summed (a seed trained side by "
        "side with others counts its share of the group; a job stopped and resumed "
        "counts each of its processes). Wall time: how long at least "
        "one of them was running (the union of their start-to-finish intervals; process "
        "start-up and the gaps between runs are not in it). Shared jobs are counted in "
        "the study listed first."
        + (
            f" {untimed} jobs ran before job times were stored and are in neither."
            if untimed
            else ""
        ),
        "",
        "Machines: " + ("; ".join(machines) if machines else "none yet") + ".",
    ]
    return "\n".join(lines) + "\n"
