"""The earlier attempts of a resumed job. A job stopped mid-training (SIGTERM, a session's or a
SLURM allocation's end) and resumed from its last.ckpt is one job spread over several
processes; its results.json lists the processes before it, so that what the job cost counts
all of them, not only the last."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dl2.job_folder import OVERRIDES_FILE, checkpoint_results, run_folder

# what an attempt keeps of its run's results.json
ATTEMPT_KEYS = ("status", "started_at", "finished_at", "wall_time_s")


def earlier_attempts(ckpt_path: Path | str | None) -> list[dict[str, Any]]:
    """The stopped runs this job continues from `ckpt_path`, oldest first: the run that wrote
    the checkpoint and, through its own `attempts` or `resumed_from`, the ones before it. A
    completed run is a job of its own (training longer from its checkpoint is a new job), so
    the chain ends there. A run killed before writing results.json counts from its folder's
    files (`killed_attempt`), and the chain ends with it."""
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    while ckpt_path and str(ckpt_path) not in seen:
        seen.add(str(ckpt_path))
        results = checkpoint_results(ckpt_path)
        if not results and (killed := killed_attempt(ckpt_path)):
            chain.insert(0, killed)  # its own earlier attempts went with its results.json
            break
        if results.get("status") in (None, "completed") or "wall_time_s" not in results:
            break
        chain.insert(0, {k: results[k] for k in ATTEMPT_KEYS if k in results})
        if "attempts" in results:  # it already lists the ones before it
            return [*results["attempts"], *chain]
        ckpt_path = results.get("resumed_from")
    return chain


def killed_attempt(ckpt_path: Path | str) -> dict[str, Any] | None:
    """The attempt of a run killed before it wrote results.json (kill -9, a lost machine),
    from its folder's files: it started when Hydra recorded its overrides and ran at least
    until it wrote `ckpt_path`. None outside a job folder."""
    try:
        started = (run_folder(ckpt_path) / OVERRIDES_FILE).stat().st_mtime
        ended = Path(ckpt_path).stat().st_mtime
    except OSError:
        return None
    if ended < started:
        return None

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="microseconds")

    return {
        "status": "killed",
        "started_at": iso(started),
        "finished_at": iso(ended),
        "wall_time_s": round(ended - started, 3),
    }
