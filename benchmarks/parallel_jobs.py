"""Jobs side by side vs one at a time: the same padding-study jobs through the study runner,
first one job at a time on every core, then as the runner chooses for this machine (jobs of
the study's `cores_per_job`, each with its share of the cores). Prints both wall times, the
ratio, and the largest metric difference between the two runs of each job.

    python benchmarks/parallel_jobs.py [--study padding-independent] [--keep]
        [-- sweep.py options that pick the jobs; default --seeds 0,1 --nets net1
            --conv-types valid,circular,reflect,fconv]
    python benchmarks/parallel_jobs.py --study gnn-models -- --seeds 0,1,2,3 --models gcn,gat

With --keep the second run writes into the study's own store (reports/<study>), so the
benchmark's jobs count towards the report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dl2.studies.cores import available_cores, share_cores
from dl2.studies.spec import load_study

ROOT = Path(__file__).resolve().parents[1]


def run(study: str, options: list[str], out: Path, log_dir: Path) -> tuple[float, dict]:
    """Wall time of `sweep.py <study> <options>` and {config_hash: metrics} of its jobs."""
    cmd = [
        sys.executable,
        str(ROOT / "sweep.py"),
        study,
        *options,
        "--out",
        str(out),
        "--log-dir",
        str(log_dir),
        "logger=csv",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    rows = [json.loads(line) for line in (out / "jobs.jsonl").read_text().splitlines()]
    return seconds, {r["config_hash"]: r for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="padding-independent")
    parser.add_argument(
        "--keep", action="store_true", help="the parallel run writes into reports/<study>"
    )
    parser.add_argument("narrow", nargs="*", help="sweep.py options after --")
    args = parser.parse_args()
    study = load_study(args.study)
    cores = available_cores()
    chosen = share_cores(cores, study.cores_per_job)
    narrow = args.narrow or [
        "--seeds",
        "0,1",
        "--nets",
        "net1",
        "--conv-types",
        "valid,circular,reflect,fconv",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one, seq = run(args.study, [*narrow, "--force", "--jobs", "1"], tmp / "one", tmp / "l1")
        out = ROOT / "reports" / args.study if args.keep else tmp / "par"
        many, par = run(
            args.study, [*narrow, "--force", "--jobs", str(chosen.jobs)], out, tmp / "l2"
        )
    seq_job = sum(r["wall_time_s"] for r in seq.values())
    par_job = sum(r["wall_time_s"] for r in par.values() if r["config_hash"] in seq)
    diff = max(
        abs(r["metrics"][k] - par[h]["metrics"][k])
        for h, r in seq.items()
        for k in r["metrics"]
        if k in par[h]["metrics"]
    )
    print(f"{len(seq)} jobs of {args.study} on {cores} cores")
    print("| run | how | wall time | sum of job times |\n|---|---|---:|---:|")
    print(
        f"| one at a time | {share_cores(cores, None, 1).describe()} | {one:.1f} s "
        f"| {seq_job:.1f} s |"
    )
    print(f"| runner's choice | {chosen.describe()} | {many:.1f} s | {par_job:.1f} s |")
    print(f"speed-up {one / many:.2f}x; largest metric difference between the runs {diff:.2g}")


if __name__ == "__main__":
    main()
