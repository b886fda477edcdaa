"""A study's numbers, before any formatting: its stored job records as a tidy table (one row
per completed job and metric) and that table summarised per setting (mean, sample std, n,
min, max in the axes' order). The report, the claims and the figures all read these."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dl2.config.identity import is_plumbing, parse_overrides
from dl2.studies.spec import Study

STATS = ["mean", "std", "n", "min", "max"]


def fixed_keys(study: Study) -> set[str]:
    """The keys that label no setting: the experiment, the seed and the study's fixed overrides."""
    return {"experiment", "seed", *parse_overrides(study.overrides)}


def tidy(study: Study, records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (completed job, metric): the axis values, the extra overrides the jobs vary,
    setting and config hash, seed, metric, value (times the study's scale)."""
    axes = [axis.key for axis in study.axes]
    defaults = {a.key: "" if a.default is None else str(a.default) for a in study.axes}
    skip = fixed_keys(study) | set(axes)
    rows = []
    for r in records:
        if r.get("status") != "completed":
            continue
        given = parse_overrides(r.get("overrides", []))
        extra = {k: v for k, v in given.items() if k not in skip and not is_plumbing(f"{k}={v}")}
        cell = {a: given.get(a, defaults[a]) for a in axes}
        for metric in study.metrics:
            value = (r.get("metrics") or {}).get(metric)
            rows.append(
                {
                    **cell,
                    **extra,
                    "setting_hash": r.get("setting_hash"),
                    "config_hash": r["config_hash"],
                    "seed": r.get("seed"),
                    "metric": metric,
                    "value": np.nan if value is None else value * study.scale,
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(
            columns=[*axes, "setting_hash", "config_hash", "seed", "metric", "value"]
        )
    return frame


def unlogged_metrics(study: Study, records: list[dict[str, Any]]) -> str | None:
    """A line naming the study's `metrics` that none of its completed jobs logged (a typo,
    or a metric of another task) and those they did; None when each was logged or no job
    completed yet."""
    completed = [r for r in records if r.get("status") == "completed"]
    logged = sorted({m for r in completed for m in r.get("metrics") or {}})
    missing = [m for m in study.metrics if m not in logged]
    if not (completed and missing):
        return None
    return (
        f"study {study.name}: metrics {', '.join(missing)} logged by none of its "
        f"{len(completed)} completed jobs (they log {', '.join(logged) or 'nothing'})"
    )


def label_columns(study: Study, frame: pd.DataFrame) -> list[str]:
    """The axes, then every other override column whose value differs between jobs."""
    axes = [axis.key for axis in study.axes]
    fixed = {"setting_hash", "config_hash", "seed", "metric", "value", *axes}
    # a job without the override (NaN) differs from one with it
    extra = [c for c in frame.columns if c not in fixed and frame[c].nunique(dropna=False) > 1]
    return [*axes, *extra]


def summarise(study: Study, frame: pd.DataFrame) -> pd.DataFrame:
    """mean, sample std (ddof=1; NaN for n=1), n, min, max per setting and metric, in the
    axes' order."""
    labels = label_columns(study, frame)
    if frame.empty:
        return pd.DataFrame(columns=[*labels, "setting_hash", "metric", *STATS])
    frame = frame.fillna({c: "" for c in labels})
    grouped = frame.groupby([*labels, "setting_hash", "metric"], sort=False)["value"]
    out = grouped.agg(
        mean="mean",
        std="std",  # pandas': the sample std (ddof=1) of the values logged, NaN below two
        n="count",
        min="min",
        max="max",
    ).reset_index()
    out = out[out["n"] > 0]  # a metric no job of the setting logged
    order = {axis.key: [str(v) for v in axis.values] for axis in study.axes}
    keys = [
        out[k].map(lambda v, k=k: order[k].index(v) if v in order[k] else len(order[k]))
        for k in order
    ] + [out["metric"].map(study.metrics.index)]
    out = out.iloc[np.lexsort(list(reversed(keys)))]  # the metric's order is always a key
    return out.reset_index(drop=True)
