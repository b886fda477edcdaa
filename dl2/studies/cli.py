"""`python sweep.py`'s command line (sweep.py holds only the process's signal handling): the
declared studies (`list`, `<study>` or a study file's path, `all`), `report` of any folder of
jobs, `verify` of stored jobs. Each command parses its arguments and calls the study layer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dl2.config.environment import load_env_file
from dl2.config.identity import is_plumbing
from dl2.errors import ConfigValueError
from dl2.locks import ClaimedError, claimed
from dl2.paths import LOGS, README, RESULTS_PAGES
from dl2.studies.arguments import is_study_file, parse_seeds, study_parser, writable_folder
from dl2.studies.cores import available_cores, share_cores
from dl2.studies.cost import COST_BLOCK, cost_block
from dl2.studies.hashes import hashes
from dl2.studies.job_folders import collect
from dl2.studies.launch import Launch, Stopped, multirun
from dl2.studies.outputs import declared, default_out, is_study_folder, report_jobs
from dl2.studies.overview import OVERVIEW_BLOCK, overview_block, stored_costs, stored_reports
from dl2.studies.pages import fill_block
from dl2.studies.plan import make_plan
from dl2.studies.report import PAGE_BLOCK, write_report
from dl2.studies.runner import run
from dl2.studies.spec import Study, expand, inferred_study, load_study, study_names
from dl2.studies.store import REPORTS, Store, ingest
from dl2.studies.verify import verify


def main(argv: list[str] | None = None, launch: Launch = multirun) -> int:
    """The command line (`argv`, default sys.argv[1:]); returns the exit status. `launch` runs
    a study's multiruns (a `train.py -m` process each by default)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] == "list":
            for name in study_names():
                study = load_study(name)
                print(f"{name:22s} {len(expand(study)):4d} jobs  {study.title}")
            return 0
        if argv and (argv[0] == "all" or argv[0] in study_names() or is_study_file(argv[0])):
            return main_studies(argv, launch)
        if argv and argv[0] == "verify":
            return main_verify(argv[1:], launch)
        parser = argparse.ArgumentParser(
            description="dl2 studies: run what is missing of a declared study (or of a study "
            "file: sweep.py path/to/study.yaml), then rebuild its report. Studies: "
            + ", ".join(study_names())
            + " (python sweep.py <study> --help), or all."
        )
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("list", help="the declared studies")
        sub.add_parser("all", help="every declared study: run what is missing, rebuild reports")
        sub.add_parser("verify", help="rerun stored jobs of a study and compare their metrics")
        r = sub.add_parser("report", help="a study's tables from any folder of results.json")
        r.add_argument("folder")
        r.add_argument(
            "--study",
            help="a declared study (" + ", ".join(study_names()) + ") or a study file whose "
            "tables to build (default: one read from the folder: the overrides that vary "
            "between its jobs are the axes)",
        )
        r.add_argument(
            "--out", type=writable_folder, help="report folder (default <folder>/report)"
        )
        args = parser.parse_args(argv)
        folder = Path(args.folder)
        return report_study(
            load_study(args.study) if args.study else None,
            folder,
            Path(args.out) if args.out else folder / "report",
        )
    except (ConfigValueError, ClaimedError) as err:
        sys.exit(f"sweep.py: {err}")
    except (OSError, ValueError) as err:  # a file named in the message
        sys.exit(f"sweep.py: {err}")


def main_verify(argv: list[str], launch: Launch = multirun) -> int:
    """`sweep.py verify <study> [--sample N] [--seed S] [--where key=value] [overrides]`."""
    parser = argparse.ArgumentParser(
        prog="sweep.py verify",
        description="Rerun stored jobs of a study into a scratch folder and compare every "
        "stored metric with the rerun's (to the bit on the machine that stored it); exit 1 "
        "on a mismatch.",
    )
    parser.add_argument("study", help="a declared study (or a study file's path)")
    parser.add_argument("--sample", type=int, default=1, help="how many jobs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random choice")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only jobs with this override (model=gat); repeatable",
    )
    parser.add_argument(
        "--out", type=writable_folder, help="scratch folder (default logs/verify/<study>)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list the jobs; run nothing")
    parser.add_argument("overrides", nargs="*", help="plumbing overrides (paths.data_dir=...)")
    args = parser.parse_intermixed_args(argv)  # overrides may follow the options
    if args.sample < 1:
        raise ConfigValueError("--sample", args.sample, "must be a positive integer")
    study = load_study(args.study)
    changes = [o for o in args.overrides if not is_plumbing(o)]
    if changes:
        raise ConfigValueError(
            "overrides", " ".join(changes), "only where or how jobs run (they would change "
            "the jobs being verified)",
        )  # fmt: skip
    bad = [w for w in args.where if "=" not in w]
    if bad:
        raise ConfigValueError("--where", bad[0], "give key=value")
    return verify(
        study,
        Store.at(REPORTS / study.name, readonly=True),
        Path(args.out) if args.out else LOGS / "verify" / study.name,
        sample=args.sample,
        seed=args.seed,
        where=dict(w.split("=", 1) for w in args.where),
        extra=args.overrides,
        launch=launch,
        dry_run=args.dry_run,
    )


def main_studies(argv: list[str], launch: Launch = multirun) -> int:
    """`sweep.py <study> ...` and `sweep.py all ...`."""
    study = None if argv[0] == "all" else load_study(argv[0])
    args = study_parser(study).parse_args(argv[1:])
    studies = [study] if study else [load_study(n) for n in args.studies.split(",")]
    code = 0
    cores = available_cores()
    total: list[float | None] = []
    wrote_stored = False
    for one in studies:
        narrow = {}
        for key, value in vars(args).items():
            if key.startswith("axis:") and value:
                narrow[key[5:]] = value.split(",")
        seeds = parse_seeds(args.seeds) if getattr(args, "seeds", None) else None
        jobs = expand(one, args.overrides, seeds, narrow)
        config_hashes = hashes(jobs)  # composed once, for the plan and the report
        out = Path(args.out) if args.out else default_out(one, args.overrides)
        # what the plan is made of, the same for the dry run and the run
        planning = dict(
            force=args.force,
            log_dir=Path(args.log_dir),
            share=share_cores(cores, one.cores_per_job, args.jobs),
            config_hashes=config_hashes,
            imports=args.imports,
        )
        if args.dry_run:
            plan = make_plan(one, jobs, Store.at(out, readonly=True), **planning)  # writes nothing
            print(plan.describe())
            total.append(plan.seconds_left() if plan.todo else 0.0)
            timed = [s for s in plan.jobs if s.done and "wall_time_s" in s.done]
            if timed:
                print(
                    f"  its {len(timed)} timed done jobs took {plan.spent() / 3600:.2f} h "
                    "of job time"
                )
        elif not args.offline:
            try:
                with claimed(out, one.name):  # one runner per study at a time
                    code = code or run(one, jobs, Store.at(out), launch=launch, **planning)
            except Stopped as stop:  # its jobs stopped at their last checkpoints
                print(
                    f"[{one.name}] stopped by {stop}: its jobs were interrupted at their last "
                    "checkpoints and its finished jobs stored; resume with the same command",
                    file=sys.stderr,
                )
                return stop.exit_code
        if not args.dry_run:
            jobs, config_hashes = report_jobs(
                one,
                out,
                args.overrides,
                jobs,
                config_hashes,
                narrowed=bool(narrow) or seeds is not None,
            )
            payload = write_report(one, Store.at(out), out, jobs, config_hashes)
            stored = declared(one) and is_study_folder(one, out)  # not a check elsewhere
            page = RESULTS_PAGES / f"{one.page}.md"
            if (
                stored
                and one.page
                and not fill_block(page, one.name, (out / PAGE_BLOCK).read_text())
            ):
                print(
                    f"[{one.name}] {page} has no <!-- study:{one.name} --> section to "
                    "fill; add the two markers where its results belong",
                    file=sys.stderr,
                )
            print(
                f"[{one.name}] report: {out}/report.md ({payload['jobs_completed']} completed "
                f"jobs, {len(payload['left_out'])} left out)",
                file=sys.stderr,
            )
            wrote_stored = wrote_stored or stored
    if wrote_stored:  # the overviews of every stored study: README's table, the cost index
        fill_block(README, OVERVIEW_BLOCK, overview_block(stored_reports()))
        fill_block(RESULTS_PAGES / "index.md", COST_BLOCK, cost_block(stored_costs()))
    if args.dry_run and len(studies) > 1:
        known = [t for t in total if t is not None]
        unknown = len(total) - len(known)
        print(
            f"all {len(studies)} studies: ~{sum(known) / 3600:.1f} h left on this machine"
            + (f", plus {unknown} studies with no timed job yet" if unknown else "")
        )
    return code


def report_study(study: Study | None, folder: Path, out: Path) -> int:
    """The study's report built from every results.json under `folder`; without a study, the
    one the folder's jobs make (`inferred_study`)."""
    records = list(ingest(folder, study.keep if study else []))
    if study is None:
        study = inferred_study(folder.resolve().name, records)
    store = Store.at(out)
    store.add(records)
    unfinished = [
        {"status": job.status, "overrides": job.overrides, "error": job.error}
        for job in collect(folder)
        if job.status in ("missing", "unreadable")  # a folder without a job record
    ]
    payload = write_report(study, store, out, unfinished=unfinished)
    print((out / "report.md").read_text())
    print(f"wrote {out}/ ({payload['jobs_completed']} completed jobs)")
    return 0


def run_command() -> int:
    """`sweep.py` as a process: .env read, Ctrl-C outside a multirun in one line, a closed
    pipe (`sweep.py list | head`) quiet."""
    import os
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    load_env_file()  # .env, for the multiruns it starts
    try:
        return main()
    except KeyboardInterrupt:  # outside a multirun (planning, writing the report)
        print("sweep.py: stopped (Ctrl-C); resume with the same command", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python sweep.py list | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
