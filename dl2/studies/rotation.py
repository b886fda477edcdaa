"""The rotation study's report: test accuracy per angle for each training arm (augmentation,
model), mean and population std over seeds, as a table and one figure with bands."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dl2.callbacks.rotation import accuracy_by_angle
from dl2.io import save_figure, write_csv
from dl2.studies.results import Job, write_markdown, write_summary


def arm(job: Job) -> str:
    cfg = job.config
    return f"{cfg.get('model', {}).get('name')}, augment={cfg.get('data', {}).get('augment')}"


def summarise(jobs: list[Job]) -> dict[str, dict[str, Any]]:
    """{arm: {"angles": [...], "mean": [...], "std": [...], "seeds": {seed: [...]}}} in %."""
    grouped: dict[str, dict[int, dict[float, float]]] = defaultdict(dict)
    for job in jobs:
        if job.status == "completed":
            grouped[arm(job)][job.results["seed"]] = dict(accuracy_by_angle(job.metrics))
    summary = {}
    for name, seeds in sorted(grouped.items()):
        angles = sorted(set.intersection(*(set(v) for v in seeds.values())))
        values = np.array([[100 * seeds[s][a] for a in angles] for s in sorted(seeds)])
        summary[name] = {"angles": angles, "mean": values.mean(0).tolist(),
                         "std": values.std(0, ddof=0).tolist(),
                         "seeds": {s: values[i].tolist() for i, s in enumerate(sorted(seeds))}}
    return summary


def plot(summary: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, row in summary.items():
        angles, mean, std = np.array(row["angles"]), np.array(row["mean"]), np.array(row["std"])
        ax.plot(angles, mean, marker="o", label=f"{name} ({len(row['seeds'])} seeds)")
        ax.fill_between(angles, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("rotation of the test images (degrees)")
    ax.set_ylabel("test accuracy (%), mean ± std over seeds")
    all_angles = sorted({a for row in summary.values() for a in row["angles"]})
    ax.set_xticks(all_angles)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    names = list(summary)
    angles = sorted({a for row in summary.values() for a in row["angles"]})
    lines = ["| angle | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for a in angles:
        cells = []
        for name in names:
            row = summary[name]
            if a in row["angles"]:
                i = row["angles"].index(a)
                cells.append(f"{row['mean'][i]:.2f} ± {row['std'][i]:.2f}")
            else:
                cells.append("–")
        lines.append(f"| {a:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(jobs: list[Job], out: Path, title: str = "Rotation study") -> dict[str, Any]:
    """report.md, accuracy.csv (arm, seed, angle, acc), summary.json and rotation.png."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(jobs)
    left_out = [j for j in jobs if j.status != "completed"]
    write_csv(out / "accuracy.csv", ["arm", "seed", "angle", "acc"],
              ([name, seed, a, v] for name, row in summary.items()
               for seed, values in row["seeds"].items()
               for a, v in zip(row["angles"], values, strict=True)))
    payload = write_summary(out, summary, jobs, left_out)
    lines = [f"# {title}\n", "Test accuracy (%) by rotation angle, mean ± std over seeds.\n",
             markdown_table(summary)]
    if summary:
        plot(summary, out / "rotation.png")
        lines.append("![accuracy by rotation](rotation.png)\n")
    write_markdown(out, lines, payload, left_out)
    return payload
