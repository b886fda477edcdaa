"""The statistics behind a study's claims: a difference between two arms (or one arm and a
fixed value) with its interval and p-value, its equivalence within a margin (two one-sided
tests), and Holm's correction over a study's tests.

Arms are per-seed values ({seed: value}). Two arms with the same seeds (two or more) are
paired by seed (a paired t-test on the differences); other arms are compared with Welch's
t-test (unequal variances); an arm against a fixed value with a one-sample t-test. With
`method="bootstrap"` the interval is a percentile bootstrap and the p-value a permutation
test, both seeded, so a report rebuilt from the same records is the same to the byte.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05  # the level of every test: 95 % intervals, 90 % for two one-sided tests
METHODS = ("t", "bootstrap")
BOOTSTRAP_RESAMPLES = 9999


@dataclass(frozen=True)
class Result:
    """One test: the estimate (arm a minus arm b, or minus the fixed value), its interval at
    `level`, the p-value, the design ("paired t", ...) and each arm's n."""

    estimate: float
    low: float
    high: float
    level: float
    p: float
    test: str
    n_a: int
    n_b: int
    # equivalence tests: the p-value that the difference lies outside the margin
    p_outside: float = math.nan

    @property
    def shown(self) -> bool:
        """Whether the test could be computed (enough seeds in each arm)."""
        return not math.isnan(self.p)


def _design(
    a: dict[int, float], b: dict[int, float] | float
) -> tuple[str, float, float, float, np.ndarray | None, np.ndarray | None]:
    """(name, estimate, standard error, degrees of freedom, the samples a, b) of the t-test
    that fits the arms; the error is NaN where an arm has too few seeds."""
    xa = np.array([a[s] for s in sorted(a)], dtype=float)
    if not isinstance(b, dict):
        n = len(xa)
        se = xa.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
        return "one-sample t", float(xa.mean() - b), se, n - 1.0, xa, None
    if sorted(a) == sorted(b) and len(a) > 1:
        d = xa - np.array([b[s] for s in sorted(b)], dtype=float)
        return "paired t", float(d.mean()), d.std(ddof=1) / math.sqrt(len(d)), len(d) - 1.0, xa, d
    xb = np.array([b[s] for s in sorted(b)], dtype=float)
    if len(xa) < 2 or len(xb) < 2:
        return "Welch t", float(xa.mean() - xb.mean()), math.nan, math.nan, xa, xb
    va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1)) if se > 0 else 1.0
    return "Welch t", float(xa.mean() - xb.mean()), se, df, xa, xb


def _tail(t: float, df: float) -> float:
    """P(T >= t) for Student's t with `df` degrees of freedom (t may be infinite)."""
    return float(stats.t.sf(t, df))


def difference(
    a: dict[int, float],
    b: dict[int, float] | float,
    method: str = "t",
    seed: int = 0,
) -> Result:
    """a - b with a 95 % interval and a two-sided p-value. Identical differences (no spread)
    give an interval of width 0 and p = 0 (or 1 where the difference is 0)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not a test: choose one of {', '.join(METHODS)}")
    n_b = len(b) if isinstance(b, dict) else 0
    if not a or (isinstance(b, dict) and not b):
        return Result(math.nan, math.nan, math.nan, 1 - ALPHA, math.nan, "no data", len(a), n_b)
    name, est, se, df, xa, xb = _design(a, b)
    if method == "bootstrap":
        return _bootstrap(name, est, xa, xb if isinstance(b, dict) else b, seed, len(a), n_b)
    if math.isnan(se):
        return Result(est, math.nan, math.nan, 1 - ALPHA, math.nan, name, len(a), n_b)
    if se == 0:
        p = 1.0 if est == 0 else 0.0
        return Result(est, est, est, 1 - ALPHA, p, name, len(a), n_b)
    half = stats.t.ppf(1 - ALPHA / 2, df) * se
    p = min(1.0, 2 * _tail(abs(est) / se, df))
    return Result(est, est - half, est + half, 1 - ALPHA, p, name, len(a), n_b)


def equivalence(a: dict[int, float], b: dict[int, float] | float, margin: float) -> Result:
    """Whether a - b lies within ±margin: two one-sided t-tests (TOST), p the larger of the
    two, with the 90 % interval that matches them; `p_outside` is the one-sided p-value that
    the difference lies beyond the margin on the side of the estimate."""
    n_b = len(b) if isinstance(b, dict) else 0
    if not a or (isinstance(b, dict) and not b):
        return Result(math.nan, math.nan, math.nan, 1 - 2 * ALPHA, math.nan, "no data", len(a), n_b)
    name, est, se, df, _, _ = _design(a, b)
    name = f"{name}, TOST ±{margin:g}"
    if math.isnan(se):
        return Result(est, math.nan, math.nan, 1 - 2 * ALPHA, math.nan, name, len(a), n_b)
    if se == 0:
        inside = abs(est) < margin
        return Result(
            est, est, est, 1 - 2 * ALPHA, 0.0 if inside else 1.0, name, len(a), n_b,
            p_outside=1.0 if inside or abs(est) == margin else 0.0,
        )  # fmt: skip
    p_low = _tail((est + margin) / se, df)  # H0: a - b <= -margin
    p_high = _tail((margin - est) / se, df)  # H0: a - b >= +margin
    half = stats.t.ppf(1 - ALPHA, df) * se
    # beyond the margin on the estimate's side: H0 a - b <= margin (or >= -margin)
    outside = _tail((abs(est) - margin) / se, df)
    return Result(
        est, est - half, est + half, 1 - 2 * ALPHA, max(p_low, p_high), name, len(a), n_b,
        p_outside=outside,
    )  # fmt: skip


def _bootstrap(
    name: str,
    est: float,
    xa: np.ndarray,
    other: np.ndarray | float | None,
    seed: int,
    n_a: int,
    n_b: int,
) -> Result:
    """A percentile bootstrap interval of the mean difference and a permutation test's
    p-value (sign flips of the paired differences, or shuffles of the two arms), seeded."""
    paired = name == "paired t"
    one = not isinstance(other, np.ndarray)
    label = f"{'paired ' if paired else ''}bootstrap"
    if len(xa) < 2 or (not one and len(other) < 2):
        return Result(est, math.nan, math.nan, 1 - ALPHA, math.nan, label, n_a, n_b)
    rng = np.random.default_rng(seed)
    if paired or one:
        sample = other if paired else xa - other
        data, stat, kind = (sample,), np.mean, "samples"
        perm = stats.permutation_test(
            (sample,), np.mean, permutation_type="samples", n_resamples=BOOTSTRAP_RESAMPLES,
            rng=rng,
        )  # fmt: skip
    else:
        data, kind = (xa, other), "independent"

        def stat(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
            return np.mean(x, axis=axis) - np.mean(y, axis=axis)

        perm = stats.permutation_test(
            data, stat, permutation_type=kind, n_resamples=BOOTSTRAP_RESAMPLES, rng=rng
        )
    if np.ptp(np.concatenate([np.atleast_1d(d) for d in data])) == 0 and (paired or one):
        low = high = est
    else:
        ci = stats.bootstrap(
            data, stat, confidence_level=1 - ALPHA, n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile", rng=rng,
        ).confidence_interval  # fmt: skip
        low, high = float(ci.low), float(ci.high)
    return Result(est, low, high, 1 - ALPHA, float(perm.pvalue), label, n_a, n_b)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (NaN ones stay NaN and are not
    counted in the family)."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m = len(order)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def seed_of(text: str) -> int:
    """A stable seed from a text (a claim's id): the same bootstrap draws in every process."""
    return zlib.crc32(text.encode())
