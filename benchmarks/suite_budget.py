"""The quick suite's budget: `make test` within 20 times `python -c "import dl2.run.job"` on
the same machine. Both measured here, one after the other (the import as the best of a few
runs, the suite once), printed with their ratio; `--write` puts the figures, with the machine,
in docs/speed.md's generated block; `--serial` also times the suite in one process (`make test
WORKERS=`), what its pytest-xdist workers gain. Run it on an idle machine: a load average above
0.5 is named in the output, as the ratio is then not the machine's.

    python benchmarks/suite_budget.py [--runs 3] [--serial] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from dl2.studies.pages import fill_block

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 20.0  # make test's time over the import's (docs/guide/testing.md)
IMPORT = [sys.executable, "-c", "import dl2.run.job"]
SUITE = ["make", "test"]
SERIAL = ["make", "test", "WORKERS="]
PAGE, BLOCK = ROOT / "docs" / "speed.md", "suite-budget"


def wall(command: list[str], log: Path | None = None) -> float:
    """Seconds `command` takes in the checkout; its output to `log` (or nowhere). A failing
    command is an error: a suite that fails has no budget to meet."""
    start = time.perf_counter()
    with open(log or os.devnull, "w") as out:
        done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        where = f" (its output: {log})" if log else ""
        raise SystemExit(f"suite_budget: {' '.join(command)} exited {done.returncode}{where}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="imports timed (the best counts)")
    parser.add_argument("--serial", action="store_true", help="also time it in one process")
    parser.add_argument("--write", action="store_true", help="put the figures in docs/speed.md")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs={args.runs} is not allowed: time at least one import")
    from dl2.run.results import cpu_model  # the processor's name, as the jobs' records give it

    load = os.getloadavg()[0]
    machine = f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}; load average {load:.2f}" + (" (not idle)" if load > 0.5 else ""))
    imports = [wall(IMPORT) for _ in range(args.runs)]
    best = min(imports)
    print(f"import dl2.run.job: {best:.2f} s (best of {', '.join(f'{s:.2f}' for s in imports)})")
    log = ROOT / "build" / "suite_budget.log"
    log.parent.mkdir(exist_ok=True)
    wall(["make", "install"])  # a changed pyproject.toml reinstalls here, not inside the timing
    suite = wall(SUITE, log)
    ratio = suite / best
    verdict = "within" if ratio <= BUDGET else "over"
    print(f"make test: {suite:.1f} s")
    print(f"ratio: {ratio:.1f} ({verdict} the budget of {BUDGET:g})")
    serial = wall(SERIAL, log) if args.serial else None
    if serial is not None:
        print(f"make test WORKERS= (one process): {serial:.1f} s, {serial / suite:.2f}x the time")
    if args.write:
        one = "not timed" if serial is None else f"{serial:.1f} s"
        block = (
            "| measured | import dl2.run.job (best) | make test | ratio | budget "
            "| one process (`WORKERS=`) |\n"
            "|---|---:|---:|---:|---:|---:|\n"
            f"| {dt.date.today()}, {machine} | {best:.2f} s | {suite:.1f} s | {ratio:.1f} "
            f"| {BUDGET:g} | {one} |\n"
        )
        if load > 0.5:
            block += f"\nThe machine was not idle (load average {load:.2f}).\n"
        try:
            fill_block(PAGE, BLOCK, block, required=True)
        except ValueError as err:
            raise SystemExit(f"suite_budget: {err}") from None
        print(f"written to {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
