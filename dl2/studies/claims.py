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

from dl2.errors import ConfigValueError
from dl2.studies.stats import ALPHA, METHODS, Result, difference, equivalence, holm, seed_of

if TYPE_CHECKING:
    from dl2.studies.spec import Claim, Study

PAIRS = ("compare", "equivalent", "reference")
SHAPES = ("peak", "bumps", "symmetric", "flat", "increasing", "decreasing")
KINDS = (*PAIRS, *SHAPES)
EXPECT = ("greater", "less")
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


# -- checking the declarations ---------------------------------------------------------------


def positions(study: Study, over: str) -> list[str]:
    """The points a shape can look at: the metrics' labels (or names), or an axis' values."""
    if over == "metric":
        return [str(x) for x in (study.metric_labels or study.metrics)]
    return [str(v) for a in study.axes if a.key == over for v in a.values]


def _position_metric(study: Study, label: str) -> str:
    return study.metrics[positions(study, "metric").index(label)]


def check_claims(study: Study, where: str) -> None:
    """Raise ConfigValueError naming the claim and the key for a claim the study cannot
    check: an unknown kind, cell, axis value, metric or position, a missing margin."""
    seen: set[str] = set()
    axes = {a.key: [str(v) for v in a.values] for a in study.axes}
    for claim in study.claims:
        here = f"{where}: claim {claim.id}"
        if claim.id in seen:
            raise ConfigValueError(f"{where}: claims", claim.id, "each claim needs its own id")
        seen.add(claim.id)
        if claim.kind not in KINDS:
            raise ConfigValueError(f"{here}: kind", claim.kind, "choose one of " + ", ".join(KINDS))
        if claim.method not in METHODS or (claim.method != "t" and claim.kind != "compare"):
            raise ConfigValueError(
                f"{here}: method", claim.method, "t, or bootstrap for a compare claim"
            )
        if claim.metric is not None and claim.metric not in study.metrics:
            raise ConfigValueError(
                f"{here}: metric", claim.metric, "one of the study's metrics: "
                + ", ".join(study.metrics)
            )  # fmt: skip
        for key in claim.each:
            if key not in axes:
                raise ConfigValueError(f"{here}: each", key, "must be one of the axes")
        _check_cell(study, claim.a, f"{here}: a", axes)
        _check_cell(study, claim.change_from, f"{here}: change_from", axes)
        if claim.change_from and claim.kind not in ("compare", "equivalent"):
            raise ConfigValueError(
                f"{here}: change_from", dict(claim.change_from), "only in compare / equivalent"
            )
        if claim.b is not None:
            _check_cell(study, claim.b, f"{here}: b", axes, value_allowed=True)
        if claim.kind in ("compare", "equivalent") and claim.b is None:
            raise ConfigValueError(f"{here}: b", None, f"a {claim.kind} claim needs a cell b")
        if claim.kind == "compare" and claim.expect not in EXPECT:
            raise ConfigValueError(f"{here}: expect", claim.expect, "greater or less")
        needs_margin = claim.kind in ("equivalent", "reference", "symmetric", "flat")
        if needs_margin and (claim.margin is None or not claim.margin > 0):
            raise ConfigValueError(
                f"{here}: margin", claim.margin, f"a {claim.kind} claim needs a margin > 0"
            )
        if claim.kind == "reference" and not study.reference:
            raise ConfigValueError(f"{here}: kind", claim.kind, "the study has no reference:")
        if claim.kind in SHAPES:
            _check_shape(study, claim, here, axes)


def _check_cell(
    study: Study, cell: dict[str, Any], where: str, axes: dict, value_allowed: bool = False
) -> None:
    for key, value in cell.items():
        if key == "metric":
            if value not in study.metrics:
                raise ConfigValueError(
                    f"{where}.metric", value, "one of the study's metrics: "
                    + ", ".join(study.metrics)
                )  # fmt: skip
        elif key == "value" and value_allowed:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigValueError(f"{where}.value", value, "must be a number")
        elif key not in axes:
            raise ConfigValueError(
                where, key, "must be one of the axes: " + ", ".join(sorted(axes))
                + (", metric, value" if value_allowed else ", metric")
            )  # fmt: skip
        elif str(value) not in axes[key]:
            raise ConfigValueError(f"{where}.{key}", value, "choose from " + ", ".join(axes[key]))


def _check_shape(study: Study, claim: Claim, here: str, axes: dict) -> None:
    if claim.over != "metric" and claim.over not in axes:
        raise ConfigValueError(
            f"{here}: over", claim.over, "metric or one of the axes: " + ", ".join(sorted(axes))
        )
    known = positions(study, claim.over)
    for key, values in (("points", claim.points), ("at", claim.at)):
        for value in values:
            if str(value) not in known:
                raise ConfigValueError(f"{here}: {key}", value, "choose from " + ", ".join(known))
    if claim.kind in ("peak", "bumps") and not claim.at:
        raise ConfigValueError(f"{here}: at", claim.at, f"a {claim.kind} claim needs at")
    if claim.kind == "peak" and len(claim.at) != 1:
        raise ConfigValueError(f"{here}: at", claim.at, "a peak claim names one point")
    if claim.kind == "symmetric":
        try:
            float(claim.about)
            [float(p) for p in known]
        except (TypeError, ValueError):
            raise ConfigValueError(
                f"{here}: about", claim.about, "a number, over points that are numbers"
            ) from None


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
            return text, [Test("the report gives no value here", _none(xa), "equal")]
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


def _none(xa: dict[int, float]) -> Result:
    return Result(math.nan, math.nan, math.nan, 0.9, math.nan, "no data", len(xa), 0)


def _shape_tests(study: Study, claim: Claim, frame: pd.DataFrame) -> tuple[str, list[Test]]:
    order = positions(study, claim.over)
    points = [str(p) for p in claim.points] or order
    points = [p for p in order if p in points]

    def series(point: str) -> dict[int, float]:
        if claim.over == "metric":
            return arm(frame, study, claim.a, _position_metric(study, point))
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


def _number(value: float, digits: int, sign: bool = False) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "–"
    return "< 0.0001" if value < 1e-4 else f"{value:.2g}"


def markdown(verdicts: list[Verdict], digits: int) -> list[str]:
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
        r = t.result if t else _none({})
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
