"""Seeds side by side vs a job per seed: the same study jobs through the study runner, first
one process per seed (as the runner chooses how many run at once), then a process per setting
training its seeds side by side (`parallel_seeds`), as the runner chooses and on every core
at once. Prints wall times, speed-ups and the largest metric difference to the job per seed.

    python benchmarks/parallel_seeds.py [--study gnn-models]
        [-- sweep.py options that pick the jobs; default --models gcn --seeds range(10)]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from parallel_jobs import run

from dl2.studies.slots import available_cores, slots
from dl2.studies.spec import load_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="gnn-models")
    parser.add_argument("narrow", nargs="*", help="sweep.py options after --")
    args = parser.parse_args()
    study = load_study(args.study)
    cores = available_cores()
    chosen = slots(cores, study.cores_per_job)
    narrow = args.narrow or ["--models", "gcn", "--seeds", "range(10)"]
    ways = [
        ("a job per seed", ["--one-job-per-seed"], chosen),
        ("seeds side by side", [], chosen),
        ("seeds side by side", ["--jobs", "1"], slots(cores, None, 1)),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, options, slot) in enumerate(ways):
            out, logs = Path(tmp) / f"out{i}", Path(tmp) / f"logs{i}"
            seconds, jobs = run(args.study, [*narrow, "--force", *options], out, logs)
            rows.append((label, slot, seconds, jobs))
    base_seconds, base = rows[0][2], rows[0][3]
    print(f"{len(base)} jobs of {args.study} ({' '.join(narrow)}) on {cores} cores")
    print("| run | processes at once | wall time | speed-up | largest metric difference |")
    print("|---|---|---:|---:|---:|")
    for label, slot, seconds, jobs in rows:
        diff = max(
            abs(r["metrics"][k] - jobs[h]["metrics"][k])
            for h, r in base.items()
            for k in r["metrics"]
        )
        print(
            f"| {label} | {slot.describe()} | {seconds:.1f} s | {base_seconds / seconds:.2f}x "
            f"| {diff:.2g} |"
        )


if __name__ == "__main__":
    main()
