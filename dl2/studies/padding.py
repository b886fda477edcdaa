"""The padding study's report: per net, a row per conv type and split, a column per seed
("round"), then mean and population std (ddof=0), as in the report's Tables 1 and 2."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dl2.io import write_csv
from dl2.nets.cnn import CONV_TYPES, conv_type_name
from dl2.studies.results import Job, write_markdown, write_summary

# the order of the report's Table 1
CONV_ORDER = ("valid", "replicate", "reflect", "circular", "sconv", "fconv")
SPLITS = ("val", "test", "test_unshifted")
STUDY_NETS = ("net1", "net2")

assert set(CONV_ORDER) == set(CONV_TYPES)


def job_key(job: Job) -> tuple[str, str, str, int]:
    """(protocol, net, conv type, seed) of a padding job."""
    cfg = job.config
    model = cfg.get("model", {})
    conv = conv_type_name(model["pad"], model["pad_size"]) if "pad" in model else "-"
    return (cfg.get("data", {}).get("protocol", "?"), model.get("name", "?"), conv,
            cfg.get("seed"))


def accuracy_records(jobs: list[Job]) -> tuple[list[dict[str, Any]], list[Job]]:
    """Long-format rows (protocol, net, conv_type, split, seed, acc in %) of the completed jobs,
    and the jobs left out of the tables (failed, unfinished, or superseded by a later rerun)."""
    latest: dict[tuple, Job] = {}
    left_out: list[Job] = []
    for job in jobs:
        if job.status != "completed":
            left_out.append(job)
            continue
        key = job_key(job)
        if key in latest:  # folders sort by time: the later rerun wins, the earlier is listed
            left_out.append(Job(latest[key].folder, "superseded", latest[key].results))
        latest[key] = job
    rows = []
    for (protocol, net, conv, seed), job in latest.items():
        for split in SPLITS:
            value = job.metrics.get(f"{split}/acc")
            if value is not None:
                rows.append({"protocol": protocol, "net": net, "conv_type": conv, "split": split,
                             "seed": seed, "acc": 100.0 * value})
    return rows, left_out


def _conv_sort(name: str) -> tuple[int, str]:
    return (CONV_ORDER.index(name) if name in CONV_ORDER else len(CONV_ORDER), name)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{protocol: {net: {conv: {split: {"seeds": {seed: acc}, "mean", "std", "n"}}}}}."""
    grouped: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for row in rows:
        cell = grouped[row["protocol"]][row["net"]][row["conv_type"]]
        cell.setdefault(row["split"], {})[row["seed"]] = row["acc"]
    summary: dict[str, Any] = {}
    for protocol, nets in sorted(grouped.items()):
        for net, convs in sorted(nets.items()):
            for conv in sorted(convs, key=_conv_sort):
                for split in SPLITS:
                    seeds = convs[conv].get(split)
                    if not seeds:
                        continue
                    values = np.array(list(seeds.values()))
                    summary.setdefault(protocol, {}).setdefault(net, {}).setdefault(conv, {})[
                        split] = {"seeds": dict(sorted(seeds.items())),
                                  "mean": float(values.mean()), "std": float(values.std(ddof=0)),
                                  "n": int(len(values))}
    return summary


def markdown_tables(summary: dict[str, Any]) -> str:
    """One Markdown table per protocol and net: test accuracy in %, a column per seed."""
    out = []
    for protocol, nets in summary.items():
        for net, convs in nets.items():
            seeds = sorted({s for splits in convs.values() for cell in splits.values()
                            for s in cell["seeds"]})
            out.append(f"### {net}, {protocol} protocol (accuracy %, seeds as rounds)\n")
            head = ["conv type", "split", *[str(s) for s in seeds], "mean", "std"]
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
            for conv, splits in convs.items():
                for split, cell in splits.items():
                    vals = [f"{cell['seeds'][s]:.2f}" if s in cell["seeds"] else "–"
                            for s in seeds]
                    out.append("| " + " | ".join([conv, split, *vals, f"{cell['mean']:.2f}",
                                                  f"{cell['std']:.2f}"]) + " |")
            out.append("")
    return "\n".join(out)


def write_report(jobs: list[Job], out: Path, title: str = "Padding study") -> dict[str, Any]:
    """Write report.md, accuracy.csv (long format) and summary.json into `out`."""
    rows, left_out = accuracy_records(jobs)
    summary = summarise(rows)
    out.mkdir(parents=True, exist_ok=True)
    fields = ["protocol", "net", "conv_type", "split", "seed", "acc"]
    ordered = sorted(rows, key=lambda r: (r["protocol"], r["net"], _conv_sort(r["conv_type"]),
                                          r["split"], r["seed"]))
    write_csv(out / "accuracy.csv", fields, ([r[k] for k in fields] for r in ordered))
    payload = write_summary(out, summary, jobs, left_out)
    write_markdown(out, [f"# {title}\n", f"{payload['jobs_completed']} completed jobs.\n",
                         markdown_tables(summary)], payload, left_out)
    return payload

