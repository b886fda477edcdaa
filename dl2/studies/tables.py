"""A study's summary as Markdown tables: one per `split_by` part, rows and columns as the
study's `table:` lays them out, each cell mean ± std over the seeds (dl2/studies/summary.py
computes them), the report's own values beside ours where it gives them; and the claims
table, each claim's deciding test and verdict (dl2/studies/claims.py evaluates them)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from dl2.config.identity import parse_overrides
from dl2.studies.claims import Verdict, none_result, reference_value
from dl2.studies.spec import Study
from dl2.studies.stats import ALPHA
from dl2.studies.summary import STATS


def _cell(row: pd.Series, digits: int) -> str:
    """`mean ± std`, or the mean alone for one seed (no spread to show)."""
    if row is None or pd.isna(row["mean"]):
        return "–"
    if row["n"] < 2 or pd.isna(row["std"]):
        return f"{row['mean']:.{digits}f}"
    return f"{row['mean']:.{digits}f} ± {row['std']:.{digits}f}"


CAPTION = "Mean ± sample std (ddof = 1) over the seeds; n seeds; the mean alone where n = 1."


def axis_label(study: Study, key: str) -> str:
    """The label a study gives an axis (`label:`), or its key."""
    axis = next((a for a in study.axes if a.key == key), None)
    return axis.label if axis and axis.label else key


def markdown_tables(study: Study, summary: pd.DataFrame) -> list[str]:
    """The study's tables as Markdown lines, laid out as `study.table` says."""
    if summary.empty:
        return ["No completed job has logged the study's metrics yet.", ""]
    table, digits = study.table, study.digits
    labels = [c for c in summary.columns if c not in ("setting_hash", "metric", *STATS)]
    split = [k for k in table.split_by if k in labels]
    rows = [k for k in labels if k not in split and k != table.columns]
    lines: list[str] = [CAPTION, ""]
    groups = summary.groupby(split, sort=False) if split else [((), summary)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        if split:
            lines.append(
                "### "
                + ", ".join(
                    f"{axis_label(study, k)} = {v}" for k, v in zip(split, key, strict=True)
                )
                + "\n"
            )
        fixed = dict(zip(split, key, strict=True))
        if table.columns == "metric":
            lines += _by_metric(study, part, rows, fixed, digits)
        elif "metric" in table.rows:
            lines += _metric_rows(study, part, table.columns, digits)
        else:
            lines += _by_axis(study, part, rows, table.columns, digits)
        lines.append("")
    return lines


def _by_metric(
    study: Study, part: pd.DataFrame, rows: list[str], fixed: dict[str, str], digits: int
) -> list[str]:
    refs = {m for m in study.metrics if any(m in ref for ref in study.reference)}
    head = [axis_label(study, r) for r in rows]
    for metric in study.metrics:
        head.append(metric)
        if metric in refs:
            head.append("report")
    head.append("n")
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(rows) + "---:|" * (len(head) - len(rows)),
    ]
    for values, group in part.groupby(rows + ["setting_hash"], sort=False):
        values = values if isinstance(values, tuple) else (values,)
        named = {**fixed, **dict(zip(rows, values[:-1], strict=True))}
        cells = [str(v) for v in values[:-1]]
        by_metric = {m: g.iloc[0] for m, g in group.groupby("metric")}
        for metric in study.metrics:
            cells.append(_cell(by_metric.get(metric), digits))
            if metric in refs:
                cells.append(reference_value(study, named, metric) or "–")
        cells.append(str(int(max(r["n"] for r in by_metric.values()))))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def metric_label(study: Study, metric: str) -> str:
    """A metric's name in tables: its label when the study gives labels."""
    if study.metric_labels:
        return str(study.metric_labels[study.metrics.index(metric)])
    return metric


def _metric_rows(study: Study, part: pd.DataFrame, column: str, digits: int) -> list[str]:
    """One row per metric (an angle, say), one column per value of the `column` axis."""
    columns = [str(v) for a in study.axes if a.key == column for v in a.values]
    present = [c for c in columns if c in set(part[column])]
    head = [study.metric_name, *(f"{axis_label(study, column)} {c}" for c in present)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(present)]
    for metric in study.metrics:
        cells = [metric_label(study, metric)]
        for c in present:
            hit = part[(part["metric"] == metric) & (part[column] == c)]
            cells.append(
                "–" if hit.empty else f"{_cell(hit.iloc[0], digits)} (n={int(hit.iloc[0]['n'])})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _by_axis(
    study: Study, part: pd.DataFrame, rows: list[str], column: str, digits: int
) -> list[str]:
    lines = []
    columns = [str(v) for a in study.axes if a.key == column for v in a.values]
    columns += [c for c in part[column].unique() if c not in columns]
    present = [c for c in columns if c in set(part[column])]
    for metric in study.metrics:
        block = part[part["metric"] == metric]
        if block.empty:
            continue
        if len(study.metrics) > 1:
            lines.append(f"{metric}:\n")
        head = [
            *(axis_label(study, r) for r in rows),
            *(f"{axis_label(study, column)} {c}" for c in present),
        ]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(rows) + "---:|" * len(present)]
        for values, group in block.groupby(rows, sort=False):
            values = values if isinstance(values, tuple) else (values,)
            cells = [str(v) for v in values]
            for c in present:
                hit = group[group[column] == c]
                cells.append(
                    "–"
                    if hit.empty
                    else f"{_cell(hit.iloc[0], digits)} (n={int(hit.iloc[0]['n'])})"
                )
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def setting_label(study: Study, r: dict[str, Any]) -> str:
    """A job's axis values, `rope/sdpa`, or `all` for a study without axes."""
    given = parse_overrides(r.get("overrides", []))
    return "/".join(str(given.get(a.key, "")) for a in study.axes) or "all"


def _number(value: float, digits: int, sign: bool = False) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "–"
    return "< 0.0001" if value < 1e-4 else f"{value:.2g}"


def claims_table(verdicts: list[Verdict], digits: int) -> list[str]:
    """The claims table: the report's words, what dl2 tests, the deciding test's estimate
    with its interval, the test and its Holm-corrected p, n per arm, and the verdict."""
    if not verdicts:
        return []
    lines = [
        "| claim | the report | dl2 tests | estimate [interval] | test | p (Holm) | n | verdict |",
        "|---|---|---|---:|---|---:|---:|---|",
    ]
    for v in verdicts:
        t = v.deciding
        r = t.result if t else none_result({})
        where = f"{t.label}: " if t and len(v.tests) > 1 else ""
        interval = (
            f"{where}{_number(r.estimate, digits, True)} [{_number(r.low, digits, True)}, "
            f"{_number(r.high, digits, True)}]"
        )
        level = f", {r.level:.0%} CI" if not math.isnan(r.estimate) else ""
        tests = f" (weakest of {len(v.tests)})" if len(v.tests) > 1 and v.verdict != "fails" else ""
        n = f"{r.n_a}" + (f" / {r.n_b}" if r.n_b else "")
        report = v.claim.report.replace("|", "\\|").strip()
        lines.append(
            f"| {v.claim.id} | “{report}” | {v.statement} | {interval} | {r.test}{level}{tests} "
            f"| {_p(v.p)} | {n} | **{v.verdict}** |"
        )
    lines += [
        "",
        f"Estimates are dl2's difference in the table's units (a − b), with the interval of "
        f"the test named. Verdicts at α = {ALPHA}, p Holm-corrected over the study's claims: "
        "**holds** (the claimed side, or within the margin), **fails** (the other side, or "
        "beyond the margin), **not shown** (neither, at this number of seeds). A claim of "
        "several tests holds when every one does, and shows its weakest test, or the one "
        "that fails; the studies guide explains the tests.",
        "",
    ]
    return lines
