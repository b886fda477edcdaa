"""A study's figures: the declared line plot (`plot:`), the comparison with the report's values
(`bars:`), and the training curves of the jobs that kept a history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dl2.files import save_figure
from dl2.studies import claims
from dl2.studies.spec import Study
from dl2.studies.summary import STATS
from dl2.studies.tables import axis_label, metric_label, setting_label


def plot(study: Study, summary: pd.DataFrame, path: Path) -> bool:
    """The declared line plot: mean over seeds against `plot.x`, a ± std band per line."""
    spec = study.plot
    if spec is None or summary.empty:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if spec.x == "metric":
        data = summary.copy()
        data["x"] = data["metric"].map(lambda m: float(metric_label(study, m))) * spec.x_scale
    else:
        data = summary[summary["metric"] == spec.metric].copy()
        data["x"] = data[spec.x].astype(float) * spec.x_scale
    fig, ax = plt.subplots(figsize=(9.5, 4.5), layout="constrained")
    groups = data.groupby(spec.lines, sort=False) if spec.lines else [("all", data)]
    for name, line in groups:
        line = line.sort_values("x")
        values = name if isinstance(name, tuple) else (name,)
        label = ", ".join(
            f"{axis_label(study, k)} {v}" for k, v in zip(spec.lines, values, strict=False)
        )
        label += (
            f" (n={int(line['n'].min())}-{int(line['n'].max())})"
            if line["n"].min() != line["n"].max()
            else f" (n={int(line['n'].min())})"
        )
        ax.plot(line["x"], line["mean"], marker="o", label=label)
        ax.fill_between(
            line["x"], line["mean"] - line["std"], line["mean"] + line["std"], alpha=0.2
        )
    ax.set_xlabel(spec.xlabel or spec.x)
    ax.set_ylabel(spec.ylabel or spec.metric or "")
    if spec.x == "metric" and study.metric_labels:
        ax.set_xticks(sorted(data["x"].unique()))
    ax.grid(alpha=0.3)
    if spec.lines:  # beside the axes, never over a line
        fig.legend(loc="outside right center", fontsize=8)
    fig.suptitle(study.title, fontsize=11)
    save_figure(fig, path)
    plt.close(fig)
    return True


def reference_mean(study: Study, fixed: dict[str, str], metric: str) -> float | None:
    """The mean of the report's value for the setting `fixed`, or None."""
    return claims.reference_number(study, fixed, metric)


def plot_bars(study: Study, summary: pd.DataFrame, path: Path) -> bool:
    """The declared comparison figure (`study.bars`): ours as points, mean ± std over seeds
    (no whisker where n = 1), beside the report's value of each (a black mark). Points rather
    than bars from zero, so the axis covers the data with a margin: differences of a fraction
    of a point (the GNNs on Cora) are visible, and 0-100 % ranges (padding) stay whole."""
    spec = study.bars
    if spec is None or summary.empty:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = spec.metrics or study.metrics
    panels = list(summary.groupby(spec.panels, sort=False)) if spec.panels else [((), summary)]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(4.5 * len(panels) + 2.5, 4.2),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    width = 0.6 / len(metrics)
    # overrides the jobs vary beyond the declared axes split a point too (never merged)
    declared = {*STATS, "setting_hash", "metric", *spec.panels, *(a.key for a in study.axes)}
    extra = [c for c in summary.columns if c not in declared]
    for ax, (key, part) in zip(axes[0], panels, strict=True):
        key = key if isinstance(key, tuple) else (key,)
        fixed = {k: str(v) for k, v in zip(spec.panels, key, strict=True)}
        names = part.apply(
            lambda row: ", ".join(
                [str(row[spec.x]), *(f"{c}={row[c]}" for c in extra if str(row[c]) != "")]
            ),
            axis=1,
        )
        xs = list(dict.fromkeys(names))
        x_value = dict(zip(names, part[spec.x].astype(str), strict=True))
        for i, metric in enumerate(metrics):
            rows = part.assign(name=names)[part["metric"] == metric].set_index("name")
            where = [j + (i - (len(metrics) - 1) / 2) * width for j in range(len(xs))]
            means = [rows["mean"].get(x, np.nan) for x in xs]
            stds = [rows["std"].get(x, np.nan) for x in xs]
            ax.errorbar(
                where,
                means,
                yerr=[0.0 if np.isnan(v) else v for v in stds],
                fmt="o",
                capsize=3,
                color=f"C{i}",
                label=f"{metric_label(study, metric)}, dl2" if ax is axes[0][0] else None,
            )
            refs = [
                reference_mean(study, {**fixed, spec.x: x_value[x]}, metric)
                if x == x_value[x]
                else None
                for x in xs
            ]
            ax.scatter(
                [w for w, r in zip(where, refs, strict=True) if r is not None],
                [r for r in refs if r is not None],
                marker="_",
                s=160,
                linewidths=2.5,
                color="black",
                zorder=3,
                label="the report"
                if i == 0 and ax is axes[0][0] and any(r is not None for r in refs)
                else None,
            )
        ax.set_xticks(range(len(xs)), xs, rotation=30)
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_xlabel(axis_label(study, spec.x))
        if fixed:  # a panel's own title; the figure's is the study's
            ax.set_title(
                ", ".join(f"{axis_label(study, k)} {v}" for k, v in fixed.items()), fontsize=10
            )
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel(spec.ylabel or ", ".join(metrics))
    fig.legend(loc="outside right center", fontsize=8)
    fig.suptitle(study.title, fontsize=11)
    save_figure(fig, path)
    plt.close(fig)
    return True


LINE_STYLES = ("-", "--", ":", "-.")


def plot_curves(study: Study, records: list[dict[str, Any]], path: Path) -> bool:
    """The study's training curves: each completed job's history, one colour per setting."""
    spec = study.curves
    runs = [r for r in records if r.get("status") == "completed" and r.get("history")]
    if spec is None or not runs:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a panel per metric; a setting keeps its colour and line style in every panel, so
    # settings whose curves coincide (sdpa and manual attention) stay visible as two lines
    fig, axes = plt.subplots(
        1,
        len(spec.metrics),
        figsize=(5.5 * len(spec.metrics) + 1.5, 4.3),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    styles: dict[str, int] = {}
    for r in sorted(runs, key=lambda r: (setting_label(study, r), r.get("seed", 0))):
        name = setting_label(study, r)
        first = name not in styles
        k = styles.setdefault(name, len(styles))
        for ax, metric in zip(axes[0], spec.metrics, strict=True):
            points = r["history"].get(metric)
            if not points:
                continue
            steps, values = zip(*points, strict=True)
            ax.plot(
                steps,
                values,
                color=f"C{k % 10}",
                ls=LINE_STYLES[k % len(LINE_STYLES)],
                lw=1.2,
                alpha=0.8,
                label=name if first else None,
            )
    for ax, metric in zip(axes[0], spec.metrics, strict=True):
        ax.set_xlabel("step")
        ax.set_title(metric, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(spec.ylabel or ", ".join(spec.metrics))
    if len(styles) > 1:  # one setting needs no legend
        fig.legend(loc="outside right center", fontsize=8)
    seeds = sorted({r.get("seed") for r in runs}, key=str)
    shown = f"seed {seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} seeds"
    fig.suptitle(f"{study.title}: training curves, {shown}", fontsize=11)
    save_figure(fig, path)
    plt.close(fig)
    return True
