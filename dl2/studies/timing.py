"""How long a study's jobs take and how far a stopped one got: what the runner's time estimates
and the reports' job-time lines are made of."""

from __future__ import annotations

from typing import Any

from dl2.compat import epochs_completed


def job_seconds(record: dict[str, Any]) -> float | None:
    """Seconds a job took in all: its run's wall time plus its earlier attempts'; None for a
    job without a stored time."""
    if "wall_time_s" not in record:
        return None
    return float(record["wall_time_s"]) + sum(
        float(a.get("wall_time_s", 0.0)) for a in record.get("attempts", [])
    )


def fraction_trained(
    checkpoint: dict[str, Any], max_epochs: int | None, max_steps: int | None
) -> float | None:
    """How much of its training a run had done when it wrote `checkpoint` (0 to 1): the
    larger of its optimizer steps over `max_steps` and its whole epochs over `max_epochs`
    (a mid-epoch checkpoint counts only the epochs before it), since Lightning stops at the
    first limit reached. None when neither limit is set (-1 or None: unlimited)."""
    fractions = []
    if max_steps is not None and max_steps > 0:
        fractions.append(int(checkpoint.get("global_step", 0)) / max_steps)
    if max_epochs is not None and max_epochs > 0:
        fractions.append(epochs_completed(checkpoint) / max_epochs)
    return min(1.0, max(fractions)) if fractions else None
