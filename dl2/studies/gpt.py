"""The GPT study's report: validation bits per character and speed per (positions, attention)
arm over seeds, the training curves, and the text samples of each run."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dl2.io import save_figure
from dl2.studies.curves import read_curves
from dl2.studies.results import Job, write_markdown, write_summary


def arm(job: Job) -> str:
    model = job.config.get("model", {})
    return f"{model.get('name')} {model.get('pos_emb')}/{model.get('attn')}"


def summarise(jobs: list[Job]) -> dict[str, dict[str, Any]]:
    """{arm: {"seeds": {seed: val_bpc}, "bpc_mean", "bpc_std", "tokens_per_s", "steps"}}."""
    grouped: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        if job.status == "completed":
            grouped[arm(job)].append(job)
    summary = {}
    for name, members in sorted(grouped.items()):
        bpc = {j.results["seed"]: j.metrics["val/bpc"] for j in members}
        speed = [j.metrics.get("train/tokens_per_s", float("nan")) for j in members]
        values = np.array(list(bpc.values()))
        summary[name] = {"seeds": dict(sorted(bpc.items())), "bpc_mean": float(values.mean()),
                         "bpc_std": float(values.std(ddof=0)),
                         "tokens_per_s": float(np.mean(speed)),
                         "steps": members[0].config.get("trainer", {}).get("max_steps")}
    return summary


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    seeds = sorted({s for row in summary.values() for s in row["seeds"]})
    head = ["model positions/attention", "steps", *[f"seed {s}" for s in seeds],
            "val bpc mean", "std", "train tokens/s"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, row in summary.items():
        vals = [f"{row['seeds'][s]:.4f}" if s in row["seeds"] else "–" for s in seeds]
        lines.append("| " + " | ".join([name, str(row["steps"]), *vals, f"{row['bpc_mean']:.4f}",
                                        f"{row['bpc_std']:.4f}",
                                        f"{row['tokens_per_s']:.0f}"]) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(jobs: list[Job], path: Path) -> bool:
    """Train and val loss against step, one colour per arm; False when no job has a CSV log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours: dict[str, str] = {}
    drawn = False
    for job in jobs:
        curves = read_curves(job.folder)
        if not curves:
            continue
        name = arm(job)
        first = name not in colours  # label each arm once
        colour = colours.setdefault(name, f"C{len(colours)}")
        if "train/loss" in curves:
            ax.plot(*curves["train/loss"], color=colour, alpha=0.35, lw=0.8,
                    label=f"{name} (train)" if first else None)
        if "val/loss" in curves:
            ax.plot(*curves["val/loss"], color=colour, marker="o", ms=3, lw=1.5,
                    label=f"{name} (val)" if first else None)
        drawn = True
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per character)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def last_samples(job: Job) -> list[tuple[str, str]]:
    """(prompt, text) of the last sampling step of a job's samples.csv."""
    path = job.folder / "samples.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return []
    last = max(int(r["step"]) for r in rows)
    return [(r["prompt"], r["text"]) for r in rows if int(r["step"]) == last]


def write_report(jobs: list[Job], out: Path, title: str = "GPT study") -> dict[str, Any]:
    """report.md (table, curve, samples), summary.json and curves.png into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(jobs)
    left_out = [j for j in jobs if j.status != "completed"]
    has_plot = plot_curves(jobs, out / "curves.png")
    payload = write_summary(out, summary, jobs, left_out)
    lines = [f"# {title}\n", markdown_table(summary)]
    if has_plot:
        lines.append("![training curves](curves.png)\n")
    completed = [j for j in jobs if j.status == "completed"]
    if completed:
        job = min(completed, key=lambda j: j.metrics.get("val/loss", float("inf")))
        samples = last_samples(job)
        if samples:
            cb = job.config.get("callbacks", {}).get("text_samples", {})
            settings = ", ".join(f"{k}={cb.get(k)}" for k in ("greedy", "temperature", "top_k",
                                                              "top_p", "length", "seed"))
            lines.append(f"## Samples of the best run ({arm(job)}, seed {job.results['seed']}, "
                         f"val loss {job.metrics['val/loss']:.3f}; {settings})\n")
            for prompt, text in samples:
                lines += [f"**{prompt}**", "", "```", prompt + text, "```", ""]
    write_markdown(out, lines, payload, left_out)
    return payload
