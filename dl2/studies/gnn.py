"""The graph studies' report: test accuracy per model (and per noise level, for the noise
study), mean and population std over seeds, as a table and a plot."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dl2.io import save_figure, write_csv
from dl2.studies.results import Job, write_markdown, write_summary


def summarise(jobs: list[Job]) -> dict[str, dict[str, Any]]:
    """{model: {noise: {"seeds": {seed: acc %}, "mean", "std", "n"}}} for the dataset(s) found."""
    grouped: dict[str, dict[float, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for job in jobs:
        if job.status != "completed":
            continue
        data = job.config.get("data", {})
        name = f"{job.config.get('model', {}).get('name')} ({data.get('name', 'graph')})"
        grouped[name][float(data.get("noise", 0.0))][job.results["seed"]] = \
            100 * job.metrics["test/acc"]
    summary: dict[str, dict[str, Any]] = {}
    for name, by_noise in sorted(grouped.items()):
        summary[name] = {}
        for noise, seeds in sorted(by_noise.items()):
            values = np.array(list(seeds.values()))
            summary[name][f"{noise:g}"] = {"seeds": dict(sorted(seeds.items())),
                                           "mean": float(values.mean()),
                                           "std": float(values.std(ddof=0)),
                                           "n": int(len(values))}
    return summary


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    noises = sorted({float(k) for row in summary.values() for k in row})
    head = ["model (dataset)", *[f"noise {n:g}" for n in noises]]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(noises)]
    for name, row in summary.items():
        cells = [f"{row[f'{n:g}']['mean']:.2f} ± {row[f'{n:g}']['std']:.2f} "
                 f"(n={row[f'{n:g}']['n']})" if f"{n:g}" in row else "–" for n in noises]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines) + "\n"


def plot(summary: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, row in summary.items():
        noises = sorted(row, key=float)
        x = np.array([100 * float(n) for n in noises])
        mean = np.array([row[n]["mean"] for n in noises])
        std = np.array([row[n]["std"] for n in noises])
        ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=name)
    ax.set_xlabel("random edges added (% of the original edge count)")
    ax.set_ylabel("test accuracy (%), mean ± std over seeds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def write_report(jobs: list[Job], out: Path, title: str = "Graph study") -> dict[str, Any]:
    """report.md, accuracy.csv, summary.json and noise.png into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(jobs)
    left_out = [j for j in jobs if j.status != "completed"]
    write_csv(out / "accuracy.csv", ["model", "noise", "seed", "test_acc"],
              ([name, noise, s, v] for name, row in summary.items()
               for noise, cell in row.items() for s, v in cell["seeds"].items()))
    payload = write_summary(out, summary, jobs, left_out)
    lines = [f"# {title}\n", "Test accuracy (%) at the best validation epoch, mean ± std over "
             "seeds.\n", markdown_table(summary)]
    if any(len(row) > 1 for row in summary.values()):
        plot(summary, out / "noise.png")
        lines.append("![accuracy against added random edges](noise.png)\n")
    write_markdown(out, lines, payload, left_out)
    return payload
