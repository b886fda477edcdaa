"""Studies: run what is missing of a study, then rebuild its report from the stored results.

python sweep.py list                         # the declared studies (studies/*.yaml)
python sweep.py padding-reference            # run what is missing, then the report
python sweep.py padding-reference --dry-run  # the job list: done / to run, time left
python sweep.py padding-reference --seeds 0,1 --nets net1 --conv-types valid,fconv
python sweep.py all                          # every declared study in turn
python sweep.py all --offline                # rebuild the reports from reports/*/jobs.jsonl
python sweep.py report logs/<...>/<sweep>    # any folder of jobs: its table, mean ± std
python sweep.py report logs/<...>/<sweep> --study padding-reference   # as a declared study
python sweep.py verify gnn-models --sample 2 # rerun 2 stored jobs, compare every metric
"""

from __future__ import annotations

import os
import signal
import sys


def _stopped_while_starting(signum: int, _frame: object) -> None:
    print("sweep.py: stopped while starting (Ctrl-C); nothing was run", file=sys.stderr)
    os._exit(128 + signum)  # nothing started yet: no job, no claim, no file to close


if __name__ == "__main__":  # loading dl2 takes seconds: a Ctrl-C meanwhile is one line
    signal.signal(signal.SIGINT, _stopped_while_starting)

from dl2.studies.cli import run_command  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_command())
