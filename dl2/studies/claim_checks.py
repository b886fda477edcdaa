"""What a study's claims may say (studies/<name>.yaml `claims:`), checked when the study file
is read: each claim's kind, cells, metrics, margin and the points a shape looks at, so that a
claim the study cannot test fails at once, naming the claim and the key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dl2.errors import ConfigValueError
from dl2.studies.stats import METHODS

if TYPE_CHECKING:
    from dl2.studies.spec import Claim, Study

PAIRS = ("compare", "equivalent", "reference")
SHAPES = ("peak", "bumps", "symmetric", "flat", "increasing", "decreasing")
KINDS = (*PAIRS, *SHAPES)
EXPECT = ("greater", "less")


def positions(study: Study, over: str) -> list[str]:
    """The points a shape can look at: the metrics' labels (or names), or an axis' values."""
    if over == "metric":
        return [str(x) for x in (study.metric_labels or study.metrics)]
    return [str(v) for a in study.axes if a.key == over for v in a.values]


def position_metric(study: Study, label: str) -> str:
    """The metric a shape's point names by its label."""
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
