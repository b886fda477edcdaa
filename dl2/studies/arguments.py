"""The options of `sweep.py`'s commands: a study's parser (one option per declared axis),
the seeds' syntax, the folders it may write in, and how a study is named on the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from dl2.errors import ConfigValueError
from dl2.files import unwritable_reason
from dl2.paths import LOGS
from dl2.studies.spec import Study, study_names


def writable_folder(text: str) -> str:
    """An option's folder that dl2 can make and write in (argparse names the option)."""
    if reason := unwritable_reason(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder dl2 can write in ({reason})")
    return text


def existing_folder(text: str) -> Path:
    """An option's folder that exists (argparse names the option)."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return Path(text)


def study_parser(study: Study | None) -> argparse.ArgumentParser:
    """Options of `sweep.py <study>` (and `sweep.py all`): one option per declared axis."""
    name = study.name if study else "all"
    parser = argparse.ArgumentParser(
        prog=f"sweep.py {name}",
        description=study.title
        if study
        else "Every declared study in turn, skipping what is done.",
    )
    if study is None:
        parser.add_argument(
            "--studies", default=",".join(study_names()), help="which studies, comma-separated"
        )
    else:
        parser.add_argument(
            "--seeds",
            help=f"seeds to run, e.g. 0,1,2 or range(10) (default the study's: {study.seeds})",
        )
        for axis in study.axes:
            if axis.option:
                parser.add_argument(
                    f"--{axis.option}",
                    dest=f"axis:{axis.key}",
                    help=f"only these values of {axis.key} "
                    f"(from {','.join(map(str, axis.values))})",
                )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list the jobs (done / to run) and the time left; run nothing",
    )
    parser.add_argument("--force", action="store_true", help="rerun jobs already done")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        type=existing_folder,
        metavar="FOLDER",
        help="take in the completed jobs of this folder (a train.py -m multirun) whose "
        "configs are the study's, instead of running them again; repeatable",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        help="jobs at once, each with an equal share of "
        "the cores as torch threads (default: the cores this process may use, "
        "filled with jobs of the study's cores_per_job)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="run nothing: rebuild the report(s) from the stored results",
    )
    parser.add_argument(
        "--out",
        type=writable_folder,
        help="results and report folder (default reports/<study>; "
        "with extra overrides logs/studies/<study>/<their hash>)",
    )
    parser.add_argument(
        "--log-dir",
        type=writable_folder,
        default=str(LOGS),
        help="where the jobs' folders go (logs/studies/<study>/...)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="extra train.py overrides for every job "
        "(they make new settings, kept apart from the study's own results)",
    )
    return parser


def parse_seeds(text: str) -> list[int]:
    """`0,1,2` or `range(10)` / `range(2,5)` as a list of seeds."""
    text = text.strip()
    try:
        if text.startswith("range(") and text.endswith(")"):
            return list(range(*(int(x) for x in text[6:-1].split(","))))
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise ConfigValueError("--seeds", text, "give integers, e.g. 0,1,2 or range(10)") from None


def is_study_file(arg: str) -> bool:
    """Whether a command-line argument names a study by its file (`trial/padding-lr.yaml`)."""
    return Path(arg).suffix in (".yaml", ".yml")
