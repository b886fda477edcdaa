"""A study's claims (studies/<name>.yaml `claims:`), checked against its stored results.

Each claim becomes one or more elementary tests (dl2/studies/stats.py) over the study's
tidy table (one row per completed job and metric): a comparison is one, a shape one per pair
of points it compares. A claim holds when every one of its tests shows the claimed side (an
equivalence: within the margin) and fails when one shows the other side (beyond the margin);
each claim's two p-values are Holm-corrected over the study's claims and compared with ALPHA;
otherwise the claim is not shown. The table shows the test that decided it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from dl2.studies.claim_checks import SHAPES, position_metric, positions
from dl2.studies.stats import ALPHA, Result, difference, equivalence, holm, seed_of

if TYPE_CHECKING:
    from dl2.studies.spec import Claim, Study

VERDICTS = ("holds", "fails", "not shown", "no data")


@dataclass(frozen=True)
class Test:
    """One elementary test of a claim: what it compares, its result, and what the claim
    expects of it (greater, less, or equal within a margin)."""

    label: str
    result: Result
    expect: str

    @property
    def missing(self) -> bool:
        return self.result.test == "no data"

    @property
    def p_hold(self) -> float:
        """The p-value against the claim: the test's own where its estimate lies on the
        claimed side (or, for an equivalence, the two one-sided tests'), else 1."""
        r = self.result
        if self.expect == "equal" or math.isnan(r.p):
            return r.p
        return r.p if r.estimate != 0 and (r.estimate > 0) == (self.expect == "greater") else 1.0

    @property
    def p_fail(self) -> float:
        """The p-value that the truth lies on the other side (or beyond the margin)."""
        r = self.result
        if self.expect == "equal":
            return r.p_outside
        if math.isnan(r.p):
            return r.p
        return r.p if r.estimate != 0 and (r.estimate > 0) != (self.expect == "greater") else 1.0


@dataclass(frozen=True)
class Verdict:
    """A claim's outcome: the claim, its checkable statement, its tests, and its p-values
    corrected over the study's claims (Holm): `p_hold` that it holds, `p_fail` that it fails.

    A claim of several tests holds when every one does (an intersection-union test: its
    p-value is the largest), and fails when one shows the other side (the smallest such
    p-value times the number of tests, Bonferroni within the claim)."""

    claim: Claim
    statement: str
    tests: tuple[Test, ...]
    p_hold: float = math.nan
    p_fail: float = math.nan

    @property
    def raw_hold(self) -> float:
        if not self.tests or any(math.isnan(t.p_hold) for t in self.tests):
            return math.nan
        return max(t.p_hold for t in self.tests)

    @property
    def raw_fail(self) -> float:
        found = [t.p_fail for t in self.tests if not math.isnan(t.p_fail)]
        return min(1.0, min(found) * len(self.tests)) if found else math.nan

    @property
    def verdict(self) -> str:
        if not self.tests or any(t.missing for t in self.tests):
            return "no data"
        if self.p_hold < ALPHA:
            return "holds"
        return "fails" if self.p_fail < ALPHA else "not shown"

    @property
    def p(self) -> float:
        """The corrected p-value behind the verdict shown."""
        return self.p_fail if self.verdict == "fails" else self.p_hold

    @property
    def deciding(self) -> Test | None:
        """The test behind the verdict: the clearest failing one, else the weakest."""
        if not self.tests:
            return None
        if self.verdict == "fails":
            return min(self.tests, key=lambda t: _nan_last(t.p_fail))
        return max(self.tests, key=lambda t: _nan_first(t.p_hold))

    def as_dict(self, digits: int) -> dict[str, Any]:
        t = self.deciding
        r = t.result if t else None
        return {
            "id": self.claim.id,
            "verdict": self.verdict,
            "statement": self.statement,
            "test": t.label if t else "",
            "estimate": _round(r.estimate, digits) if r else None,
            "low": _round(r.low, digits) if r else None,
            "high": _round(r.high, digits) if r else None,
            "level": r.level if r else None,
            "p_holm": _round(self.p, 6),
            "n": [r.n_a, r.n_b] if r else [0, 0],
        }


def _nan_last(value: float) -> tuple:
    return (math.isnan(value), value)


def _nan_first(value: float) -> tuple:
    return (math.isnan(value), value)


def _round(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


# -- evaluating them -------------------------------------------------------------------------


def expanded(study: Study) -> list[Claim]:
    """The study's claims with each `each` claim made one per value of its axes."""
    out = []
    for claim in study.claims:
        if not claim.each:
            out.append(claim)
            continue
        combos: list[dict[str, str]] = [{}]
        for key in claim.each:
            values = [str(v) for a in study.axes if a.key == key for v in a.values]
            combos = [{**c, key: v} for c in combos for v in values]
        for combo in combos:
            suffix = "-".join(combo.values())
            b = None if claim.b is None else {**claim.b, **combo}
            out.append(
                replace(claim, id=f"{claim.id}-{suffix}", a={**claim.a, **combo}, b=b, each=[])
            )
    return out


def arm(frame: pd.DataFrame, study: Study, cell: dict[str, Any], metric: str) -> dict[int, float]:
    """{seed: value} of the completed jobs in `cell` (the mean over the cell's settings for
    a seed, where the cell leaves an axis open)."""
    if frame.empty:
        return {}
    rows = frame[frame["metric"] == metric]
    for key, value in cell.items():
        if key not in ("metric", "value"):
            rows = rows[rows[key].astype(str) == str(value)]
    rows = rows.dropna(subset=["value"])
    return {int(s): float(v) for s, v in rows.groupby("seed")["value"].mean().items()}


def _cell_text(cell: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell.items() if k != "metric") or "every job"


def _metric(claim: Claim, cell: dict[str, Any], study: Study) -> str:
    return cell.get("metric") or claim.metric or study.metrics[0]


def reference_value(study: Study, values: dict[str, str], metric: str) -> str:
    """The report's value for a row (the study's `reference:` entry whose keys all match
    `values`), or '' where the report has none."""
    for ref in study.reference:
        keys = {k: v for k, v in ref.items() if k not in study.metrics}
        if all(str(values.get(k)) == str(v) for k, v in keys.items()) and metric in ref:
            return str(ref[metric])
    return ""


def reference_number(study: Study, cell: dict[str, Any], metric: str) -> float | None:
    """The mean of the report's value for `cell` (`reference_value`), or None where the
    report gives none (or no number)."""
    try:
        values = {k: str(v) for k, v in cell.items()}
        return float(reference_value(study, values, metric).split("±")[0])
    except ValueError:  # none given ('') or not a number
        return None


def _pair_tests(study: Study, claim: Claim, frame: pd.DataFrame) -> tuple[str, list[Test]]:
    a_metric = _metric(claim, claim.a, study)
    xa = arm(frame, study, claim.a, a_metric)
    seed = seed_of(f"{study.name}/{claim.id}")
    if claim.kind == "reference":
        ref = reference_number(study, claim.a, a_metric)
        text = f"{a_metric} at {_cell_text(claim.a)} = the report's {ref} ± {claim.margin:g}"
        if ref is None:
            return text, [Test("the report gives no value here", none_result(xa), "equal")]
        return text, [Test("dl2 − report", equivalence(xa, ref, claim.margin), "equal")]
    b_cell = {**{k: v for k, v in claim.a.items() if k != "metric"}, **(claim.b or {})}
    b_metric = _metric(claim, b_cell, study)
    if "value" in b_cell:
        xb: dict[int, float] | float = float(b_cell["value"])
        b_text = f"{xb:g}"
    else:
        xb = arm(frame, study, b_cell, b_metric)
        b_text = (
            f"{b_metric} at {_cell_text(b_cell)}" if b_metric != a_metric else _cell_text(b_cell)
        )
    a_text = f"{a_metric} at {_cell_text(claim.a)}"
    if claim.change_from:
        base = claim.change_from
        xa = _change(xa, arm(frame, study, {**claim.a, **base}, a_metric))
        if isinstance(xb, dict):
            xb = _change(xb, arm(frame, study, {**b_cell, **base}, b_metric))
        to = {k: claim.a.get(k, "") for k in base}
        a_text = f"{a_metric} change {_cell_text(base)} → {_cell_text(to)}: " + _cell_text(
            {k: v for k, v in claim.a.items() if k not in base}
        )
        b_text = _cell_text({k: v for k, v in b_cell.items() if k not in base})
    if claim.kind == "equivalent":
        text = f"{a_text} = {b_text} ± {claim.margin:g}"
        return text, [Test("a − b", equivalence(xa, xb, claim.margin), "equal")]
    sign = ">" if claim.expect == "greater" else "<"
    text = f"{a_text} {sign} {b_text}"
    return text, [Test("a − b", difference(xa, xb, claim.method, seed), claim.expect)]


def _change(values: dict[int, float], base: dict[int, float]) -> dict[int, float]:
    """Per seed, `values` minus `base` (the seeds both have)."""
    return {s: v - base[s] for s, v in values.items() if s in base}


def none_result(xa: dict[int, float]) -> Result:
    return Result(math.nan, math.nan, math.nan, 0.9, math.nan, "no data", len(xa), 0)


def _shape_tests(study: Study, claim: Claim, frame: pd.DataFrame) -> tuple[str, list[Test]]:
    order = positions(study, claim.over)
    points = [str(p) for p in claim.points] or order
    points = [p for p in order if p in points]

    def series(point: str) -> dict[int, float]:
        if claim.over == "metric":
            return arm(frame, study, claim.a, position_metric(study, point))
        return arm(frame, study, {**claim.a, claim.over: point}, _metric(claim, claim.a, study))

    where = _cell_text(claim.a)
    metric = "" if claim.over == "metric" else f"{_metric(claim, claim.a, study)} "
    over = f"the {study.metric_name}s" if claim.over == "metric" else claim.over
    tests: list[Test] = []
    if claim.kind == "peak":
        top = str(claim.at[0])
        tests = [
            Test(f"{top} − {p}", difference(series(top), series(p)), "greater")
            for p in points
            if p != top
        ]
        text = f"{metric}at {where}: {top} above every other point of {over}"
    elif claim.kind == "bumps":
        for x in (str(v) for v in claim.at):
            i = points.index(x) if x in points else -1
            for j in (i - 1, i + 1):
                if i >= 0 and 0 <= j < len(points):
                    tests.append(
                        Test(f"{x} − {points[j]}", difference(series(x), series(points[j])),
                             "greater")
                    )  # fmt: skip
        text = f"{metric}at {where}: " + ", ".join(map(str, claim.at)) + " above both neighbours"
    elif claim.kind == "symmetric":
        centre = float(claim.about)
        by_value = {float(p): p for p in points}
        for p in points:
            mirror = by_value.get(2 * centre - float(p))
            if float(p) < centre and mirror is not None:
                tests.append(
                    Test(f"{p} − {mirror}", equivalence(series(p), series(mirror), claim.margin),
                         "equal")
                )  # fmt: skip
        text = f"{metric}at {where}: symmetric about {claim.about} within ±{claim.margin:g}"
    elif claim.kind == "flat":
        curves = {p: series(p) for p in points}
        seeds = set.intersection(*(set(c) for c in curves.values())) if curves else set()
        mean = {s: sum(c[s] for c in curves.values()) / len(curves) for s in seeds}
        tests = [
            Test(f"{p} − mean", equivalence(c, mean, claim.margin), "equal")
            for p, c in curves.items()
        ]
        text = f"{metric}at {where}: every point within ±{claim.margin:g} of the curve's mean"
    else:  # increasing / decreasing
        expect = "greater" if claim.kind == "increasing" else "less"
        tests = [
            Test(f"{q} − {p}", difference(series(q), series(p)), expect)
            for p, q in zip(points, points[1:], strict=False)
        ]
        text = f"{metric}at {where}: {claim.kind} over {over}"
    return text, tests


def evaluate(study: Study, frame: pd.DataFrame) -> list[Verdict]:
    """Every claim of the study, tested on the tidy table `frame` (summary.tidy), with the
    p-values Holm-corrected over all the study's tests."""
    found = []
    for claim in expanded(study):
        make = _shape_tests if claim.kind in SHAPES else _pair_tests
        found.append((claim, *make(study, claim, frame)))
    raw = [Verdict(claim, text, tuple(tests)) for claim, text, tests in found]
    hold = holm([v.raw_hold for v in raw])
    fail = holm([v.raw_fail for v in raw])
    out = [
        Verdict(v.claim, v.statement, v.tests, h, f)
        for v, h, f in zip(raw, hold, fail, strict=True)
    ]
    return out
