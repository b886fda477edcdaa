"""Claims as data: the statistics (against scipy's own tests), each claim kind on crafted
records with a known answer, and the schema's one-line errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from dl2.errors import ConfigValueError
from dl2.studies import claims, stats
from dl2.studies.report import write_report
from dl2.studies.spec import load_study
from dl2.studies.store import Store
from dl2.studies.summary import tidy

RNG = np.random.default_rng(0)


def per_seed(values) -> dict[int, float]:
    return {i: float(v) for i, v in enumerate(values)}


def test_paired_welch_and_one_sample_match_scipy():
    a, b = RNG.normal(10, 1, 8), RNG.normal(9, 2, 8)
    paired = stats.difference(per_seed(a), per_seed(b))
    ref = scipy_stats.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    assert paired.test == "paired t" and paired.p == pytest.approx(ref.pvalue)
    assert (paired.low, paired.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    # other seeds in b: no pairing, Welch's test
    welch = stats.difference(per_seed(a), {s + 100: v for s, v in per_seed(b[:5]).items()})
    ref = scipy_stats.ttest_ind(a, b[:5], equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert welch.test == "Welch t" and welch.p == pytest.approx(ref.pvalue)
    assert (welch.low, welch.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    one = stats.difference(per_seed(a), 9.5)
    assert one.p == pytest.approx(scipy_stats.ttest_1samp(a, 9.5).pvalue)
    assert one.estimate == pytest.approx(a.mean() - 9.5)


def test_equivalence_is_two_one_sided_tests():
    a = RNG.normal(0.2, 1, 12)
    margin = 1.0
    res = stats.equivalence(per_seed(a), 0.0, margin)
    low = scipy_stats.ttest_1samp(a, -margin, alternative="greater").pvalue
    high = scipy_stats.ttest_1samp(a, margin, alternative="less").pvalue
    assert res.p == pytest.approx(max(low, high)) and res.level == pytest.approx(0.9)
    ci = scipy_stats.ttest_1samp(a, 0).confidence_interval(0.9)
    assert (res.low, res.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    far = stats.equivalence(per_seed(a + 5), 0.0, margin)
    assert far.p > 0.5 and far.p_outside < 0.001, "clearly beyond the margin"


def test_degenerate_arms():
    same = stats.difference({0: 1.0, 1: 1.0}, {0: 1.0, 1: 1.0})
    assert same.p == 1.0 and same.low == same.high == 0.0, "no difference, no spread"
    shifted = stats.difference({0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0})
    assert shifted.p == 0.0 and shifted.estimate == 1.0, "the same shift in every seed"
    one = stats.difference({0: 2.0}, {0: 1.0})
    assert not one.shown and one.estimate == 1.0, "one seed: an estimate, no test"
    assert stats.difference({}, {0: 1.0}).test == "no data"
    inside = stats.equivalence({0: 0.0, 1: 0.0}, 0.0, 1.0)
    assert inside.p == 0.0 and inside.p_outside == 1.0


def test_holm():
    assert stats.holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx(
        [0.03, 0.06, 0.06, math.nan], nan_ok=True
    )
    assert stats.holm([]) == []
    assert stats.holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert stats.holm([0.6, 0.7]) == [1.0, 1.0], "an adjusted p-value stops at 1"


def test_the_bootstrap_is_seeded():
    a, b = per_seed(RNG.normal(1, 1, 10)), per_seed(RNG.normal(0, 1, 10))
    first = stats.difference(a, b, "bootstrap", seed=7)
    assert first == stats.difference(a, b, "bootstrap", seed=7), "same seed, same numbers"
    assert first.test == "paired bootstrap" and first.low < first.estimate < first.high
    # sign flips of 10 paired differences: the exact permutation p-value
    t = stats.difference(a, b)
    assert abs(first.p - t.p) < 0.05 and first.p == pytest.approx(
        scipy_stats.permutation_test(
            (np.array([a[s] - b[s] for s in a]),),
            np.mean,
            permutation_type="samples",
            n_resamples=stats.BOOTSTRAP_RESAMPLES,
            rng=np.random.default_rng(7),
        ).pvalue
    )


NAN = math.nan


def fields(result: stats.Result) -> tuple:
    """A test's every field, NaN as "nan" (NaN equals nothing; None is not NaN)."""
    return tuple(
        "nan" if isinstance(v, float) and math.isnan(v) else v for v in dataclasses.astuple(result)
    )


def test_every_field_of_a_test_with_too_few_seeds_or_no_spread():
    """estimate, interval, level, p, design, n per arm, p_outside: nothing left to chance."""
    cases = {
        # no data in an arm: nothing
        ("nan", "nan", "nan", 0.95, "nan", "no data", 0, 1, "nan"): stats.difference({}, {0: 1.0}),
        ("nan", "nan", "nan", 0.95, "nan", "no data", 1, 0, "nan"): stats.difference({0: 1.0}, {}),
        ("nan", "nan", "nan", 0.9, "nan", "no data", 0, 0, "nan"): stats.equivalence({}, 0.0, 1.0),
        ("nan", "nan", "nan", 0.9, "nan", "no data", 1, 0, "nan"): stats.equivalence(
            {0: 1.0}, {}, 1
        ),
        # one seed: an estimate, no interval, no test
        (1.0, "nan", "nan", 0.95, "nan", "Welch t", 1, 1, "nan"): stats.difference(
            {0: 2.0}, {0: 1.0}
        ),
        (1.5, "nan", "nan", 0.95, "nan", "Welch t", 2, 1, "nan"): stats.difference(
            {0: 2.0, 1: 3.0}, {5: 1.0}
        ),
        (1.5, "nan", "nan", 0.95, "nan", "one-sample t", 1, 0, "nan"): stats.difference(
            {0: 2.0}, 0.5
        ),
        (1.0, "nan", "nan", 0.95, "nan", "bootstrap", 1, 1, "nan"): stats.difference(
            {0: 2.0}, {0: 1.0}, "bootstrap"
        ),
        (1.5, "nan", "nan", 0.95, "nan", "bootstrap", 2, 1, "nan"): stats.difference(
            {0: 2.0, 1: 3.0}, {5: 1.0}, "bootstrap"
        ),
        (1.0, "nan", "nan", 0.9, "nan", "Welch t, TOST ±0.5", 1, 1, "nan"): stats.equivalence(
            {0: 2.0}, {0: 1.0}, 0.5
        ),
        # the same difference in every seed: an interval of width 0, p 0 or 1
        (0.0, 0.0, 0.0, 0.95, 1.0, "paired t", 2, 2, "nan"): stats.difference(
            {0: 1.0, 1: 1.0}, {0: 1.0, 1: 1.0}
        ),
        (1.0, 1.0, 1.0, 0.95, 0.0, "paired t", 2, 2, "nan"): stats.difference(
            {0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0}
        ),
        (0.0, 0.0, 0.0, 0.9, 0.0, "one-sample t, TOST ±1", 2, 0, 1.0): stats.equivalence(
            {0: 0.0, 1: 0.0}, 0.0, 1.0
        ),
        (2.0, 2.0, 2.0, 0.9, 1.0, "one-sample t, TOST ±1", 2, 0, 0.0): stats.equivalence(
            {0: 2.0, 1: 2.0}, 0.0, 1.0
        ),
        # on the margin: not within it, and not beyond it either
        (1.0, 1.0, 1.0, 0.9, 1.0, "one-sample t, TOST ±1", 2, 0, 1.0): stats.equivalence(
            {0: 1.0, 1: 1.0}, 0.0, 1.0
        ),
    }
    for expected, result in cases.items():
        assert fields(result) == pytest.approx(expected), result


def test_equivalence_of_two_arms_and_beyond_the_margin_on_either_side():
    """Welch's TOST against scipy's one-sided Welch tests; `p_outside` against the one-sided
    test that the difference lies beyond the margin, above and below."""
    a, b = RNG.normal(0.3, 1, 9), RNG.normal(0, 2, 6)
    margin = 1.5
    res = stats.equivalence(per_seed(a), {s + 50: v for s, v in per_seed(b).items()}, margin)
    low = scipy_stats.ttest_ind(a + margin, b, equal_var=False, alternative="greater").pvalue
    high = scipy_stats.ttest_ind(a - margin, b, equal_var=False, alternative="less").pvalue
    ci = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
    assert res.test == "Welch t, TOST ±1.5" and (res.n_a, res.n_b) == (9, 6)
    assert res.p == pytest.approx(max(low, high))
    assert (res.low, res.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    # two seeds in each arm: the fewest Welch's test takes
    two = stats.difference({0: 1.0, 1: 2.5}, {7: 0.0, 8: 0.5})
    ref = scipy_stats.ttest_ind([1.0, 2.5], [0.0, 0.5], equal_var=False)
    assert two.test == "Welch t" and two.p == pytest.approx(ref.pvalue)
    for shift, alternative in ((2.0, "greater"), (-2.0, "less")):
        x = a + shift
        res = stats.equivalence(per_seed(x), 0.0, 1.0)
        bound = 1.0 if shift > 0 else -1.0
        ref = scipy_stats.ttest_1samp(x, bound, alternative=alternative).pvalue
        assert res.p_outside == pytest.approx(ref), shift


def scipy_resampled(data: tuple, statistic, kind: str, seed: int) -> tuple[float, float, float]:
    """(low, high, p): scipy's permutation test, then its percentile bootstrap, drawn in that
    order from one generator seeded with `seed`."""
    rng = np.random.default_rng(seed)
    p = scipy_stats.permutation_test(
        data, statistic, permutation_type=kind, n_resamples=stats.BOOTSTRAP_RESAMPLES, rng=rng
    ).pvalue
    ci = scipy_stats.bootstrap(
        data,
        statistic,
        confidence_level=0.95,
        n_resamples=stats.BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=rng,
    ).confidence_interval
    return ci.low, ci.high, p


def mean_difference(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def test_the_bootstrap_of_each_design_is_scipys():
    """Paired arms resample their differences, an arm against a value its differences from
    it, two arms of other seeds each arm on its own (shuffled for the p-value)."""
    # 16 seeds: more sign flips (2^16) and shuffles than the 9999 resamples, so the p-values
    # are drawn, not enumerated, and the seeded generator decides them too
    a, b = RNG.normal(1, 1, 16), RNG.normal(0, 1, 16)
    cases = [
        ("paired bootstrap", per_seed(b), ((a - b),), np.mean, "samples", 16),
        ("bootstrap", 0.25, ((a - 0.25),), np.mean, "samples", 0),
        (
            "bootstrap",
            {s + 20: v for s, v in per_seed(b[:10]).items()},
            (a, b[:10]),
            mean_difference,
            "independent",
            10,
        ),
    ]
    for label, other, data, statistic, kind, n_b in cases:
        res = stats.difference(per_seed(a), other, "bootstrap", seed=11)
        low, high, p = scipy_resampled(data, statistic, kind, 11)
        assert (res.test, res.level, res.n_a, res.n_b) == (label, 0.95, 16, n_b)
        assert res.estimate == pytest.approx(
            float(np.mean(data[0]) - (np.mean(data[1]) if len(data) > 1 else 0))
        )
        assert (res.low, res.high, res.p) == (
            pytest.approx(low),
            pytest.approx(high),
            pytest.approx(p),
        )
    # two seeds in each arm: the fewest the bootstrap takes
    two = stats.difference({0: 1.0, 1: 2.0}, {5: 0.0, 6: 0.5}, "bootstrap", seed=3)
    low, high, p = scipy_resampled(([1.0, 2.0], [0.0, 0.5]), mean_difference, "independent", 3)
    assert (two.low, two.high, two.p) == (pytest.approx(low), pytest.approx(high), pytest.approx(p))
    flat = stats.difference({0: 2.0, 1: 3.0, 2: 4.0}, {0: 1.0, 1: 2.0, 2: 3.0}, "bootstrap")
    assert flat.low == flat.high == flat.estimate == 1.0, "the same difference in every seed"


def test_a_method_that_is_not_one_fails_naming_it():
    with pytest.raises(ValueError, match="method='jackknife' is not a test: choose one of t, boot"):
        stats.difference({0: 1.0, 1: 2.0}, 0.0, "jackknife")


STUDY = """
name: crafted
title: crafted
experiment: gnn
axes:
  - {key: model, values: [gcn, gat, mean]}
  - {key: data.noise, values: [0.0, 1.0]}
seeds: [0, 1, 2, 3, 4, 5]
metrics: [test/acc, val/acc]
scale: 100
reference:
  - {model: gcn, data.noise: 0.0, test/acc: "80.0 ± 0.5"}
"""


def load(tmp_path, claims_yaml: str):
    path = tmp_path / "crafted.yaml"
    path.write_text(STUDY + claims_yaml)
    return load_study(path)


def record(model: str, noise: float, seed: int, acc: float, val: float = 0.5) -> dict:
    return {
        "config_hash": f"{model}-{noise}-{seed}",
        "setting_hash": f"{model}-{noise}",
        "seed": seed,
        "status": "completed",
        "overrides": ["experiment=gnn", f"model={model}", f"data.noise={noise}", f"seed={seed}"],
        "metrics": {"test/acc": acc, "val/acc": val},
        "finished_at": "2026-01-01",
    }


def crafted_records(seeds=range(6)) -> list[dict]:
    """gat 5 points above gcn at noise 0 (in every seed), the mean layer as gcn up to noise;
    gat 10 points below gcn at noise 1; noise costs gcn and gat, not the mean layer."""
    out = []
    for s in seeds:
        jitter = 0.002 * ((s * 7) % 5)
        out += [
            record("gcn", 0.0, s, 0.80 + jitter),
            record("gat", 0.0, s, 0.85 + jitter + 0.001 * (s % 2)),
            record("mean", 0.0, s, 0.80 + 0.01 * ((s * 3) % 4 - 1.5)),
            record("gcn", 1.0, s, 0.70 + jitter),
            record("gat", 1.0, s, 0.60 + jitter),
            record("mean", 1.0, s, 0.80 + 0.01 * ((s * 5) % 4 - 1.5)),
        ]
    return out


CLAIMS = """
claims:
  - {id: clear, report: gat wins, kind: compare, a: {model: gat, data.noise: 0.0},
     b: {model: gcn}, expect: greater}
  - {id: none, report: mean wins, kind: compare, a: {model: mean, data.noise: 0.0},
     b: {model: gcn}, expect: greater}
  - {id: opposite, report: gat wins with noise, kind: compare,
     a: {model: gat, data.noise: 1.0}, b: {model: gcn}, expect: greater}
  - {id: robust, report: gcn loses less, kind: compare, a: {model: gcn, data.noise: 1.0},
     b: {model: gat}, change_from: {data.noise: 0.0}, expect: greater}
  - {id: chance, report: above chance, kind: compare, a: {model: gcn}, b: {value: 50},
     expect: greater}
  - {id: paper, report: "GCN 80.0", kind: reference, a: {model: gcn, data.noise: 0.0},
     margin: 1.0}
  - {id: same, report: gcn and mean alike, kind: equivalent,
     a: {model: gcn, data.noise: 0.0}, b: {model: mean}, margin: 3.0}
  - {id: falls, report: noise hurts, kind: decreasing, over: data.noise, each: [model]}
  - {id: top, report: gat on top, kind: peak, over: model, a: {data.noise: 0.0}, at: [gat]}
"""


def verdicts_of(study, records) -> dict[str, claims.Verdict]:
    return {v.claim.id: v for v in claims.evaluate(study, tidy(study, records))}


def test_each_kind_on_records_with_a_known_answer(tmp_path):
    study = load(tmp_path, CLAIMS)
    found = verdicts_of(study, crafted_records())
    verdict = {k: v.verdict for k, v in found.items()}
    assert verdict == {
        "clear": "holds",
        "none": "not shown",
        "opposite": "fails",
        "robust": "holds",
        "chance": "holds",
        "paper": "holds",
        "same": "holds",
        "falls-gcn": "holds",
        "falls-gat": "holds",
        "falls-mean": "not shown",
        "top": "holds",
    }
    clear = found["clear"].deciding.result
    assert clear.test == "paired t" and clear.estimate == pytest.approx(5.05, abs=0.01)
    assert found["robust"].deciding.result.estimate == pytest.approx(15.05, abs=0.01)
    assert found["chance"].deciding.result.test == "one-sample t"
    assert len(found["top"].tests) == 2 and found["falls-gat"].tests[0].label == "1.0 − 0.0"
    # a shape holds when every test of it does: its p is the largest of them
    top = found["top"]
    assert top.raw_hold == max(t.result.p for t in top.tests)
    # Holm over the study's claims
    every = list(found.values())
    assert [v.p_hold for v in every] == pytest.approx(
        stats.holm([v.raw_hold for v in every]), nan_ok=True
    )
    assert any(v.p_hold > v.raw_hold > 0 for v in every), "corrected, not raw"
    assert found["opposite"].p == found["opposite"].p_fail < 0.05


def test_unequal_seeds_and_missing_cells(tmp_path):
    study = load(tmp_path, CLAIMS)
    records = [r for r in crafted_records() if not (r["seed"] < 3 and "gat" in r["overrides"][1])]
    records = [r for r in records if not (r["seed"] >= 3 and "gcn" in r["overrides"][1])]
    found = verdicts_of(study, records)
    clear = found["clear"].deciding.result
    assert clear.test == "Welch t" and (clear.n_a, clear.n_b) == (3, 3), "no shared seed"
    gone = [r for r in crafted_records() if "mean" not in r["overrides"][1]]
    found = verdicts_of(study, gone)
    assert found["none"].verdict == "no data" and found["falls-mean"].verdict == "no data"
    assert found["clear"].verdict == "holds"
    one_seed = verdicts_of(study, crafted_records(seeds=[0]))
    assert one_seed["clear"].verdict == "not shown", "n = 1: nothing is shown"


def test_the_report_shows_the_claims_and_a_changed_metric_changes_them(tmp_path):
    study = load(tmp_path, CLAIMS)
    store = Store(tmp_path / "out" / "jobs.jsonl")
    store.add(crafted_records())
    payload = write_report(study, store, tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## Claims" in text and "| clear | “gat wins” |" in text and "**fails** |" in text
    assert {c["id"]: c["verdict"] for c in payload["claims"]}["opposite"] == "fails"
    # the stored gat results at noise 1 edited upwards: the verdict follows
    edited = [
        {**r, "metrics": {"test/acc": 0.9, "val/acc": 0.5}, "finished_at": "2026-01-02"}
        if r["config_hash"].startswith("gat-1.0")
        else r
        for r in crafted_records()
    ]
    store.add(edited)
    payload = write_report(study, store, tmp_path / "out")
    assert {c["id"]: c["verdict"] for c in payload["claims"]}["opposite"] == "holds"


@pytest.mark.parametrize(
    ("claim", "key", "words"),
    [
        ("{id: x, report: r, kind: guess}", "claim x: kind", "choose one of compare"),
        (
            "{id: x, report: r, kind: compare, a: {model: sage}, b: {}, expect: greater}",
            "claim x: a.model",
            "choose from gcn, gat, mean",
        ),
        (
            "{id: x, report: r, kind: compare, a: {depth: 2}, b: {}, expect: greater}",
            "claim x: a",
            "must be one of the axes",
        ),
        (
            "{id: x, report: r, kind: compare, a: {metric: test/f1}, b: {}, expect: greater}",
            "claim x: a.metric",
            "one of the study's metrics",
        ),
        (
            "{id: x, report: r, kind: compare, a: {}, b: {}, expect: more}",
            "claim x: expect",
            "greater or less",
        ),
        ("{id: x, report: r, kind: compare, a: {}, expect: greater}", "claim x: b", "cell b"),
        ("{id: x, report: r, kind: equivalent, a: {}, b: {}}", "claim x: margin", "margin > 0"),
        ("{id: x, report: r, kind: peak, over: model, at: [sage]}", "claim x: at", "choose"),
        ("{id: x, report: r, kind: peak, over: depth, at: [gcn]}", "claim x: over", "metric"),
        ("{id: x, report: r, kind: flat, over: model}", "claim x: margin", "margin > 0"),
        (
            "{id: x, report: r, kind: compare, a: {}, b: {}, expect: less, method: jackknife}",
            "claim x: method",
            "bootstrap",
        ),
        (
            "{id: x, report: r, kind: compare, a: {}, b: {value: high}, expect: less}",
            "claim x: b.value",
            "a number",
        ),
        (
            "{id: x, report: r, kind: compare, a: {}, b: {}, expect: less, each: [depth]}",
            "claim x: each",
            "one of the axes",
        ),
    ],
)
def test_a_claim_the_study_cannot_check_fails_in_one_line(tmp_path, claim, key, words):
    with pytest.raises(ConfigValueError) as info:
        load(tmp_path, f"claims:\n  - {claim}\n")
    message = str(info.value)
    assert key in info.value.key and words in message and "\n" not in message


def test_two_claims_of_one_id(tmp_path):
    twice = "{id: x, report: r, kind: compare, a: {}, b: {model: gat}, expect: less}"
    with pytest.raises(ConfigValueError, match="its own id"):
        load(tmp_path, f"claims:\n  - {twice}\n  - {twice}\n")


def test_every_declared_claim_is_decided_on_the_stored_results():
    """The report's claims in studies/: each study's claims have a verdict from its stored
    results (no 'no data': a cell the study never ran is a typo in the study file)."""
    from dl2.paths import REPORTS
    from dl2.studies.spec import study_names

    for name in study_names():
        study = load_study(name)
        store = Store.of(name, REPORTS)
        records = list(store.completed().values())
        for v in claims.evaluate(study, tidy(study, records)):
            assert v.verdict in claims.VERDICTS
            if name != "rotation-cnn" or v.claim.id != "coursework-protocol":
                assert v.verdict != "no data", (name, v.claim.id)


CURVE = """
name: curve
title: curve
experiment: rotation
axes:
  - {key: data.augment, values: [none, rotation]}
seeds: [0, 1, 2, 3]
metrics: [a000, a090, a180, a270]
metric_labels: ["0", "90", "180", "270"]
metric_name: angle
claims:
  - {id: peak, report: r, kind: peak, over: metric, a: {data.augment: none}, at: ["0"]}
  - {id: bump, report: r, kind: bumps, over: metric, a: {data.augment: none}, at: ["180"]}
  - {id: mirror, report: r, kind: symmetric, over: metric, a: {data.augment: none},
     about: "180", margin: 1.0}
  - {id: flat, report: r, kind: flat, over: metric, a: {data.augment: rotation}, margin: 1.0}
  - {id: flat-upright, report: r, kind: flat, over: metric, a: {data.augment: none},
     margin: 1.0}
  - {id: rises, report: r, kind: increasing, over: metric, a: {data.augment: rotation},
     points: ["0", "90", "180"]}
"""


def test_shapes_over_the_metrics(tmp_path):
    """Upright: 0° on top, a bump at 180° over 90° and 270°, 90° = 270° (symmetric);
    rotated: flat within a point; its 0-90-180 rise of 0.1 point is noise, not shown."""
    path = tmp_path / "curve.yaml"
    path.write_text(CURVE)
    study = load_study(path)
    noise = [0.1, -0.2, 0.15, -0.05]
    records = []
    for s in range(4):
        curves = {
            "none": [60, 20 + noise[s], 30 + noise[(s + 1) % 4], 20 + noise[(s + 2) % 4]],
            "rotation": [
                40 + noise[s],
                40.05 + noise[(s + 1) % 4],
                40.1 + noise[(s + 3) % 4],
                40 + noise[(s + 2) % 4],
            ],  # fmt: skip
        }
        for arm, values in curves.items():
            records.append(
                {
                    "config_hash": f"{arm}{s}",
                    "setting_hash": arm,
                    "seed": s,
                    "status": "completed",
                    "overrides": ["experiment=rotation", f"data.augment={arm}", f"seed={s}"],
                    "metrics": dict(zip(study.metrics, values, strict=True)),
                }
            )
    found = verdicts_of(study, records)
    assert {k: v.verdict for k, v in found.items()} == {
        "peak": "holds",
        "bump": "holds",
        "mirror": "holds",
        "flat": "holds",
        "flat-upright": "fails",
        "rises": "not shown",
    }
    assert [t.label for t in found["bump"].tests] == ["180 − 90", "180 − 270"]
    assert [t.label for t in found["mirror"].tests] == ["90 − 270"], "0 has no mirror here"
    assert len(found["flat"].tests) == 4 and found["peak"].deciding.label.startswith("0 − ")
