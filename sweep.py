"""Named studies: launch their multiruns and turn results.json files into tables and plots.

    python sweep.py padding                      # Net1/Net2 x six conv types x seeds 0-9
    python sweep.py padding --protocol independent --seeds 0,1,2 logger=csv
    python sweep.py gpt                          # RoPE vs absolute, sdpa vs manual, 3 seeds
    python sweep.py rotation                     # CIFAR-10 CNN, with/without rotation, 3 seeds
    python sweep.py gnn                          # GCN, meanconv, GAT on Cora, 10 seeds
    python sweep.py gnn-noise                    # the same with 0-100% random edges added
    python sweep.py report logs/padding/sweeps/<folder>   # rebuild tables from any folder
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("DL2_ROOT", str(ROOT))

from dl2.studies import gnn, gpt, padding, rotation  # noqa: E402
from dl2.studies.launch import multirun, sweep_dir  # noqa: E402
from dl2.studies.results import collect  # noqa: E402


def launch(args: argparse.Namespace, task: str, label: str, overrides: list[str],
           report_name: str) -> int:
    """Run one multirun (the study's overrides, then the user's) into --sweep-dir or a fresh
    logs/<task>/sweeps/<stamp>_<label>, then write its report to --out or reports/<name>."""
    folder = Path(args.sweep_dir) if args.sweep_dir else sweep_dir(Path(args.log_dir), task,
                                                                   label)
    code = multirun([*overrides, *args.overrides], folder)
    out = Path(args.out) if args.out else safe_report_dir(folder, ROOT / "reports" / report_name)
    report(folder, out)
    return code


def safe_report_dir(folder: Path, stored: Path) -> Path:
    """`stored` (the study's report kept with the project), unless the sweep in `folder`
    completed fewer jobs than the report there was built from: then the sweep's own
    `folder/report`, so that a quick check never replaces a full study. `--out` overrides."""
    summary = stored / "summary.json"
    if not summary.exists():
        return stored
    stored_jobs = json.loads(summary.read_text()).get("jobs_completed", 0)
    jobs = sum(job.status == "completed" for job in collect(folder))
    if jobs >= stored_jobs:
        return stored
    print(f"sweep.py: {folder} has {jobs} completed jobs, fewer than the {stored_jobs} behind "
          f"{stored}; writing its report to {folder / 'report'} instead (give --out {stored} "
          "to replace the stored report)", file=sys.stderr)
    return folder / "report"


def run_padding(args: argparse.Namespace) -> int:
    """Both nets x six conv types x seeds as one multirun, then the report."""
    for net in args.nets.split(","):
        if net not in padding.STUDY_NETS:
            sys.exit(f"--nets: {net!r} is not allowed: choose from {', '.join(padding.STUDY_NETS)}")
    for conv in args.conv_types.split(","):
        if conv not in padding.CONV_ORDER:
            sys.exit(f"--conv-types: {conv!r} is not allowed: choose from "
                     f"{', '.join(padding.CONV_ORDER)}")
    overrides = ["experiment=padding", f"model={args.nets}",
                 f"model.conv_type={args.conv_types}", f"seed={args.seeds}",
                 f"data.protocol={args.protocol}"]
    return launch(args, "padding", args.protocol, overrides, f"padding-{args.protocol}")


def run_gpt(args: argparse.Namespace) -> int:
    """RoPE vs learned absolute positions (and sdpa vs manual attention) over seeds."""
    overrides = [f"experiment={args.experiment}", f"model.pos_emb={args.pos_embs}",
                 f"model.attn={args.attns}", f"seed={args.seeds}",
                 f"trainer.max_steps={args.steps}",
                 f"trainer.val_check_interval={args.val_every}", "logger=many"]
    return launch(args, "gpt", "positions", overrides, "gpt")


def run_rotation(args: argparse.Namespace) -> int:
    """Both training arms (upright, randomly rotated) over seeds, tested at every angle."""
    overrides = ["experiment=rotation", f"model={args.model}", f"data.augment={args.augments}",
                 f"seed={args.seeds}"]
    return launch(args, "rotation", args.model, overrides, f"rotation-{args.model}")


def run_gnn(args: argparse.Namespace) -> int:
    """Models x noise levels x seeds on a Planetoid graph, then the report (gnn-models for
    `sweep.py gnn`, gnn-noise for `sweep.py gnn-noise`, whatever --noise says)."""
    for value in args.noise.split(","):
        try:
            negative = float(value) < 0
        except ValueError:
            negative = True
        if negative:
            sys.exit(f"--noise: {value!r} is not allowed: give fractions >= 0, e.g. 0,0.1,0.5")
    label = "noise" if args.study == "gnn-noise" else "models"
    overrides = ["experiment=gnn", f"model={args.models}", f"data.noise={args.noise}",
                 f"seed={args.seeds}"]
    return launch(args, "gnn", label, overrides, f"gnn-{label}")


STUDIES = {"padding": padding, "gpt": gpt, "rotation": rotation, "gnn": gnn}


def report(folder: Path, out: Path) -> None:
    """Rebuild a study's report from every results.json under `folder`; the study is read off
    the jobs' task_name."""
    jobs = collect(folder)
    tasks = {j.results.get("task_name") for j in jobs if j.results.get("task_name")}
    if len(tasks) != 1 or next(iter(tasks)) not in STUDIES:
        raise ValueError(f"{folder} holds jobs of tasks {sorted(map(str, tasks))}; a report "
                         f"needs the jobs of one study ({', '.join(STUDIES)})")
    task = tasks.pop()
    payload = STUDIES[task].write_report(jobs, out, title=f"{task} study ({folder})")
    print((out / "report.md").read_text())
    print(f"wrote {out}/ ({len(jobs) - len(payload['left_out'])} jobs in the tables, "
          f"{len(payload['left_out'])} left out)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dl2 studies: launch sweeps and build reports.")
    sub = parser.add_subparsers(dest="study", required=True)

    p = sub.add_parser("padding", help="Tables 1 and 2: nets x conv types x seeds")
    p.add_argument("--protocol", default="reference", choices=["reference", "independent"])
    p.add_argument("--seeds", default="range(10)", help="Hydra sweep syntax: range(10) or 0,1,2")
    p.add_argument("--nets", default="net1,net2")
    p.add_argument("--conv-types", default=",".join(padding.CONV_ORDER))
    p.add_argument("--out", help="report folder (default reports/padding-<protocol>, unless "
                   "this sweep completes fewer jobs than the stored report: then <sweep>/report)")
    p.add_argument("--sweep-dir", help="where the jobs go (default logs/padding/sweeps/...)")
    p.add_argument("--log-dir", default=str(ROOT / "logs"))
    p.add_argument("overrides", nargs="*", help="extra train.py overrides, e.g. logger=csv")

    g = sub.add_parser("gpt", help="RoPE vs absolute positions, sdpa vs manual, over seeds")
    g.add_argument("--experiment", default="gpt_cpu")
    g.add_argument("--pos-embs", default="rope,absolute")
    g.add_argument("--attns", default="sdpa,manual")
    g.add_argument("--seeds", default="0,1,2")
    g.add_argument("--steps", type=int, default=300)
    g.add_argument("--val-every", type=int, default=100,
                   help="validate every N steps; the best validation step is what the table shows")
    g.add_argument("--out", help="report folder (default reports/gpt)")
    g.add_argument("--sweep-dir", help="where the jobs go (default logs/gpt/sweeps/...)")
    g.add_argument("--log-dir", default=str(ROOT / "logs"))
    g.add_argument("overrides", nargs="*", help="extra train.py overrides")

    o = sub.add_parser("rotation", help="CIFAR-10 accuracy vs rotation, with/without augmentation")
    o.add_argument("--model", default="cnn", help="cnn or vit")
    o.add_argument("--augments", default="none,rotation")
    o.add_argument("--seeds", default="0,1,2")
    o.add_argument("--out", help="report folder (default reports/rotation-<model>)")
    o.add_argument("--sweep-dir", help="where the jobs go (default logs/rotation/sweeps/...)")
    o.add_argument("--log-dir", default=str(ROOT / "logs"))
    o.add_argument("overrides", nargs="*",
                   help="extra train.py overrides, e.g. data.data_dir=... data.verify=false")

    for name, noises, text in (("gnn", "0", "GCN / meanconv / GAT on Cora over seeds"),
                               ("gnn-noise", "0,0.1,0.25,0.5,1.0",
                                "accuracy as random edges are added (0-100% of the edges)")):
        n = sub.add_parser(name, help=text)
        n.add_argument("--models", default="gcn,meanconv,gat")
        n.add_argument("--noise", default=noises, help="fractions of the edge count to add")
        n.add_argument("--seeds", default="range(10)")
        n.add_argument("--out", help="report folder (default reports/gnn-<models|noise>)")
        n.add_argument("--sweep-dir", help="where the jobs go (default logs/gnn/sweeps/...)")
        n.add_argument("--log-dir", default=str(ROOT / "logs"))
        n.add_argument("overrides", nargs="*", help="extra train.py overrides (data.name=...)")

    r = sub.add_parser("report", help="rebuild a study's tables from a folder of results.json")
    r.add_argument("folder")
    r.add_argument("--out", help="report folder (default <folder>/report)")

    args = parser.parse_args(argv)
    if args.study == "padding":
        return run_padding(args)
    if args.study == "gpt":
        return run_gpt(args)
    if args.study == "rotation":
        return run_rotation(args)
    if args.study in ("gnn", "gnn-noise"):
        return run_gnn(args)
    folder = Path(args.folder)
    try:
        report(folder, Path(args.out) if args.out else folder / "report")
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"sweep.py report: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
