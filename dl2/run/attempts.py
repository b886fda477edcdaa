"""The earlier attempts of a resumed job. A job stopped mid-training (SIGTERM, a session's or a
SLURM allocation's end) and resumed from its last.ckpt is one job spread over several
processes; its results.json lists the processes before it, so that what the job cost counts
all of them, not only the last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dl2.job_folder import checkpoint_results

# what an attempt keeps of its run's results.json
ATTEMPT_KEYS = ("status", "started_at", "finished_at", "wall_time_s")


def earlier_attempts(ckpt_path: Path | str | None) -> list[dict[str, Any]]:
    """The stopped runs this job continues from `ckpt_path`, oldest first: the run that wrote
    the checkpoint and, through its own `attempts` or `resumed_from`, the ones before it. A
    completed run is a job of its own (training longer from its checkpoint is a new job), so
    the chain ends there; so it does at a run whose results.json is missing."""
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    while ckpt_path and str(ckpt_path) not in seen:
        seen.add(str(ckpt_path))
        results = checkpoint_results(ckpt_path)
        if results.get("status") in (None, "completed") or "wall_time_s" not in results:
            break
        chain.insert(0, {k: results[k] for k in ATTEMPT_KEYS if k in results})
        if "attempts" in results:  # it already lists the ones before it
            return [*results["attempts"], *chain]
        ckpt_path = results.get("resumed_from")
    return chain


def job_seconds(record: dict[str, Any]) -> float | None:
    """Seconds a job took in all: its run's wall time plus its earlier attempts'; None for a
    job without a stored time."""
    if "wall_time_s" not in record:
        return None
    return float(record["wall_time_s"]) + sum(
        float(a.get("wall_time_s", 0.0)) for a in record.get("attempts", [])
    )
