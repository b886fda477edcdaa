"""One aggregator for every study: stored job records -> a tidy table and its summary per
setting (dl2/studies/summary.py) -> the report (Markdown, long CSV, summary.json, the study's
plot if it declares one, and its claims tested: dl2/studies/claims.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dl2.config.identity import is_plumbing, override_key, override_value, parse_overrides
from dl2.files import atomic_write_text, save_figure
from dl2.paths import REPORTS
from dl2.run.attempts import job_seconds
from dl2.studies import claims
from dl2.studies.claims import reference_value
from dl2.studies.results import NEXT_STEP, machine_line
from dl2.studies.spec import PlannedJob, Study
from dl2.studies.store import Store
from dl2.studies.summary import STATS, fixed_keys, summarise, tidy

PAGE_BLOCK = "page-block.md"  # a report folder's part of its results page (docs/results/)


def _cell(row: pd.Series, digits: int) -> str:
    """`mean ± std`, or the mean alone for one seed (no spread to show)."""
    if row is None or pd.isna(row["mean"]):
        return "–"
    if row["n"] < 2 or pd.isna(row["std"]):
        return f"{row['mean']:.{digits}f}"
    return f"{row['mean']:.{digits}f} ± {row['std']:.{digits}f}"


CAPTION = "Mean ± sample std (ddof = 1) over the seeds; n seeds; the mean alone where n = 1."


def _label(study: Study, key: str) -> str:
    axis = next((a for a in study.axes if a.key == key), None)
    return axis.label if axis and axis.label else key


def markdown_tables(study: Study, summary: pd.DataFrame) -> list[str]:
    """The study's tables as Markdown lines, laid out as `study.table` says."""
    if summary.empty:
        return ["No completed jobs yet.", ""]
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
                + ", ".join(f"{_label(study, k)} = {v}" for k, v in zip(split, key, strict=True))
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
    head = [_label(study, r) for r in rows]
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
    head = [study.metric_name, *(f"{_label(study, column)} {c}" for c in present)]
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
            *(_label(study, r) for r in rows),
            *(f"{_label(study, column)} {c}" for c in present),
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
            f"{_label(study, k)} {v}" for k, v in zip(spec.lines, values, strict=False)
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


def _reference_value(study: Study, fixed: dict[str, str], metric: str) -> float | None:
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
                _reference_value(study, {**fixed, spec.x: x_value[x]}, metric)
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
        ax.set_xlabel(_label(study, spec.x))
        if fixed:  # a panel's own title; the figure's is the study's
            ax.set_title(
                ", ".join(f"{_label(study, k)} {v}" for k, v in fixed.items()), fontsize=10
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


def setting_label(study: Study, r: dict[str, Any]) -> str:
    """A job's axis values, `rope/sdpa`, or `all` for a study without axes."""
    given = parse_overrides(r.get("overrides", []))
    return "/".join(str(given.get(a.key, "")) for a in study.axes) or "all"


def samples_section(study: Study, records: list[dict[str, Any]]) -> list[str]:
    """Markdown lines with the samples of the best completed job by `samples.best_by`."""
    spec = study.samples
    runs = (
        [
            r
            for r in records
            if r.get("status") == "completed"
            and r.get("samples")
            and (r.get("metrics") or {}).get(spec.best_by) is not None
        ]
        if spec
        else []
    )
    if not runs:
        return []
    pick = min if spec.mode == "min" else max
    best = pick(runs, key=lambda r: (r["metrics"][spec.best_by], r["config_hash"]))
    samples = best["samples"]
    lines = [
        f"## Samples of the best run ({setting_label(study, best)}, seed {best.get('seed')}"
        f", {spec.best_by} {best['metrics'][spec.best_by]:.4f}, step {samples['step']})\n"
    ]
    for prompt, text in samples["texts"]:
        lines += [f"**{prompt}**", "", "```", prompt + text, "```", ""]
    return lines


def left_out(
    store: Store, planned: list[PlannedJob] | None, hashes: list[str] | None
) -> list[dict[str, Any]]:
    """Rows of the footer: newest records that did not complete, older records superseded by a
    newer one of the same hash, and planned jobs with no record at all."""
    latest = store.latest()
    rows = []
    for r in store.records:
        if hashes is not None and r["config_hash"] not in hashes:
            continue  # an earlier config's run: history (write_report counts them)
        newest = latest[r["config_hash"]]
        if r is not newest:
            rows.append({**r, "status": "superseded"})
        elif r.get("status") != "completed":
            rows.append(r)
    for job, h in zip(planned or [], hashes or [], strict=True):
        if h not in latest:
            rows.append(
                {
                    "status": "not run",
                    "overrides": list(job.overrides),
                    "seed": job.seed,
                    "config_hash": h,
                }
            )
    return rows


def footer_rows(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(status, overrides, error) lines of the footer; jobs of one setting and status that
    differ only in the seed share a line (`seed=3,4,5`)."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for r in rows:
        overrides = [o for o in r.get("overrides", []) if not o.startswith("seed=")]
        seeds = [override_value(o) for o in r.get("overrides", []) if override_key(o) == "seed"]
        key = (r["status"], " ".join(overrides), r.get("error") or "")
        grouped.setdefault(key, []).extend(seeds)
    return [
        (status, f"{text} seed={','.join(seeds)}" if seeds else text, error)
        for (status, text, error), seeds in grouped.items()
    ]


def shared_extras(study: Study, records: list[dict[str, Any]]) -> list[str]:
    """Overrides beyond the study's own that every completed job has (a quick check's
    `trainer.max_epochs=1`): the report names them."""
    skip = fixed_keys(study) | {axis.key for axis in study.axes}
    sets = [
        {o for o in r.get("overrides", []) if override_key(o) not in skip and not is_plumbing(o)}
        for r in records
    ]
    return sorted(set.intersection(*sets)) if sets else []


def write_report(
    study: Study,
    store: Store,
    out: Path,
    planned: list[PlannedJob] | None = None,
    hashes: list[str] | None = None,
    unfinished: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    """report.md, results.csv (long format), summary.json and the plot into `out`; returns
    the summary payload. `unfinished`: footer rows for job folders without results."""
    out.mkdir(parents=True, exist_ok=True)
    records = list(store.latest().values())
    # with a plan, records of hashes it no longer has (its config changed since) are history
    outdated = [r for r in records if hashes is not None and r["config_hash"] not in hashes]
    records = [r for r in records if r not in outdated]
    frame = tidy(study, records)
    summary = summarise(study, frame)
    long = frame.drop(columns=["setting_hash"]).sort_values(
        [c for c in ("metric", "config_hash") if c in frame.columns]
    )
    atomic_write_text(out / "results.csv", long.to_csv(index=False, float_format="%.6g"))
    rest = [*left_out(store, planned, hashes), *unfinished]
    completed = [r for r in records if r.get("status") == "completed"]
    machines = sorted(
        {machine_line(r["machine"], r.get("code")) for r in completed if r.get("machine")}
    )
    verdicts = claims.evaluate(study, frame)
    claim_lines = claims.markdown(verdicts, study.digits)
    payload = {
        "study": study.name,
        "jobs_completed": len(completed),
        "rows": json.loads(summary.to_json(orient="records")),
        "claims": [v.as_dict(study.digits) for v in verdicts],
        "left_out": [{k: r.get(k) for k in ("status", "overrides", "seed", "error")} for r in rest],
        "machines": machines,
        "wall_time_s": round(sum(job_seconds(r) or 0.0 for r in completed), 1),
    }
    atomic_write_text(out / "summary.json", json.dumps(payload, indent=2) + "\n")
    lines = [f"# {study.title}\n"]
    if study.description:
        lines.append(study.description.strip() + "\n")
    timed = [r for r in completed if "wall_time_s" in r]
    lines.append(
        f"{len(completed)} completed jobs, {payload['wall_time_s'] / 60:.1f} min of "
        f"job time in all ({len(timed)} timed jobs).\n"
    )
    sources = sorted({r["imported_from"] for r in completed if r.get("imported_from")})
    for source in sources:
        count = sum(r.get("imported_from") == source for r in completed)
        lines.append(
            f"{count} jobs imported from {source} (no job times or configs kept "
            "then; their hashes are those of today's config of the same overrides).\n"
        )
    shared = shared_extras(study, completed)
    if shared:
        lines.append("Every job also ran with: `" + " ".join(shared) + "`.\n")
    lines += markdown_tables(study, summary)
    if plot(study, summary, out / f"{study.name}.png") or plot_bars(
        study, summary, out / f"{study.name}.png"
    ):
        lines.append(f"![{study.title}]({study.name}.png)\n")
    if plot_curves(study, records, out / f"{study.name}-curves.png"):
        lines.append(f"![training curves]({study.name}-curves.png)\n")
    if claim_lines:
        lines += ["## Claims\n", *claim_lines]
    lines += samples_section(study, records)
    history = [r for r in rest if r["status"] == "superseded"]
    work = [r for r in rest if r["status"] != "superseded"]
    if work:
        lines += [
            "## Jobs left out of the tables\n",
            "| status | to do | overrides | error |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {status} | {NEXT_STEP.get(status, 'rerun')} | {text} | {error} |"
            for status, text, error in footer_rows(work)
        ]
        lines.append("")
    if history:
        lines.append(
            f"{len(history)} earlier runs of jobs that ran again later are kept in "
            "jobs.jsonl as history (superseded: the newest run of a job is used).\n"
        )
    if outdated:
        lines.append(
            f"{len(outdated)} runs of an earlier config of the study's jobs (its experiment's "
            "config has changed since, so their hashes are no longer planned) are kept in "
            "jobs.jsonl as history.\n"
        )
    if machines:
        lines += ["## Machines\n", *[f"- {m}" for m in machines]]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    atomic_write_text(
        out / PAGE_BLOCK, page_block(study, summary, out, payload, rest, records, claim_lines)
    )
    return payload


def page_block(
    study: Study,
    summary: pd.DataFrame,
    out: Path,
    payload: dict[str, Any],
    rest: list[dict[str, Any]],
    records: list[dict[str, Any]],
    claim_lines: list[str] = (),
) -> str:
    """What a study's results page shows of it (between its markers): the tables, the plot,
    the claims tested, and a line with the job count, the jobs still to run and the
    machines. Links are as the
    documentation site places reports/ (beside results/: docs/hooks.py)."""
    link = f"../reports/{out.name}" if out.parent.resolve() == REPORTS.resolve() else str(out)
    lines = [
        line.replace("### ", "#### ", 1) if line.startswith("### ") else line
        for line in markdown_tables(study, summary)
    ]
    for suffix, alt in ((".png", study.title), ("-curves.png", "training curves")):
        if (out / f"{study.name}{suffix}").exists():
            lines.append(f"![{alt}]({link}/{study.name}{suffix})\n")
    if claim_lines:
        lines += ["#### Claims\n", *claim_lines]
    lines += [
        line.replace("## ", "#### ", 1) if line.startswith("## ") else line
        for line in samples_section(study, records)
    ]
    todo = sum(r["status"] != "superseded" for r in rest)
    machines = "; ".join(payload["machines"]) or "no machine yet"
    lines.append(
        f"{payload['jobs_completed']} completed jobs"
        + (f", {todo} still to run or rerun" if todo else "")
        + f" ({machines}). Per-seed values and the jobs left out: "
        f"[the study's report]({link}/report.md)."
    )
    return "\n".join(lines) + "\n"


def fill_block(page: Path, name: str, block: str) -> bool:
    """Put `block` between `<!-- study:<name> -->` and `<!-- /study:<name> -->` in the
    Markdown file `page` (the prose around stays); False when it has no such markers."""
    text = page.read_text() if page.is_file() else ""
    start, end = f"<!-- study:{name} -->", f"<!-- /study:{name} -->"
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{block}{end}{tail}"
    if new != text:
        atomic_write_text(page, new)
    return True
