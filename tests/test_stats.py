"""schedsim.analysis.stats against hand computations and independent scipy calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from schedsim.analysis.stats import (
    N_RESAMPLES,
    Interval,
    StatsError,
    aggregate_table,
    censored_median,
    improvement_probability,
    iqm,
    iqm_interval,
    mann_whitney_fraction,
    mean_interval,
    paired_delta,
    paired_differences,
    performance_profile,
    ratio_interval,
    wins,
)

DIFFS = [0.1, -0.02, 0.05, 0.03, -0.01]


def units_of(finals: dict[str, list[float]]) -> pd.DataFrame:
    """Tidy per-unit table: one row per scheduler and seed."""
    return pd.DataFrame(
        [{"scheduler": s, "seed": k, "final": v} for s, values in finals.items() for k, v in enumerate(values)]
    )


def test_t_interval_is_the_hand_formula() -> None:
    # mean 0.03; squared deviations .0049+.0025+.0004+0+.0016 = .0094, s^2 = .0094/4; t_{0.975,4} = 2.776445
    half = 2.776445 * np.sqrt(0.0094 / 4) / np.sqrt(5)
    iv = mean_interval(DIFFS)
    assert (iv.point, iv.n, iv.method, iv.level) == (pytest.approx(0.03), 5, "t", 0.95)
    assert iv.lo == pytest.approx(0.03 - half, abs=1e-6) and iv.hi == pytest.approx(0.03 + half, abs=1e-6)
    ninety = mean_interval(DIFFS, level=0.90)  # t_{0.95,4} = 2.131847: a 90 % interval is narrower
    assert ninety.hi - ninety.point == pytest.approx(2.131847 * np.sqrt(0.0094 / 4) / np.sqrt(5), abs=1e-6)
    assert ninety.level == 0.90


def test_interval_edge_cases() -> None:
    assert mean_interval([0.5, np.nan, 0.7]).n == 2  # NaN dropped
    one = mean_interval([0.4])
    assert one.point == 0.4 and np.isnan(one.lo) and np.isnan(one.hi)
    for method in ("t", "bca"):
        flat = mean_interval([0.2, 0.2, 0.2], method=method)  # BCa is undefined on a constant sample
        assert flat.lo == flat.point == flat.hi == pytest.approx(0.2)
    with pytest.raises(StatsError, match=r"ci='percentile' is not an interval method here; accepted: 't', 'bca'"):
        mean_interval(DIFFS, method="percentile")
    with pytest.raises(StatsError, match="level=95 is out of range"):
        mean_interval(DIFFS, level=95)


def test_bca_matches_an_independent_scipy_call_with_the_same_seed() -> None:
    x = np.array([0.71, 0.74, 0.88, 0.69, 0.75, 0.80, 0.77])
    expected = sps.bootstrap((x,), np.mean, method="BCa", confidence_level=0.9, rng=np.random.default_rng(3))
    iv = mean_interval(x, method="bca", level=0.9, seed=3)
    assert iv.lo == pytest.approx(expected.confidence_interval.low, rel=1e-12)
    assert iv.hi == pytest.approx(expected.confidence_interval.high, rel=1e-12)
    assert mean_interval(x, method="bca", level=0.9, seed=4) != iv  # the seed reaches the resampling


def test_paired_delta_pairs_by_seed_and_counts_wins() -> None:
    base = [0.5, 0.6, 0.7, 0.8, 0.9]
    units = units_of({"uniform": base, "paced": [b + d for b, d in zip(base, DIFFS, strict=True)]})
    units = units.sample(frac=1.0, random_state=0)  # row order must not matter: pairing is by seed
    delta = paired_delta(units, "paced", "uniform")
    assert (delta.lo, delta.hi) == pytest.approx((mean_interval(DIFFS).lo, mean_interval(DIFFS).hi))
    unpaired = mean_interval(units[units.scheduler == "paced"]["final"]).width
    assert delta.width < unpaired  # pairing removes the between-world spread
    assert wins(units, "paced", "uniform") == (3, 5)
    assert wins(units, "uniform", "uniform") == (0, 5)  # a tie is not a win
    with pytest.raises(StatsError, match="scheduler 'sec' has no runs; accepted: "):
        paired_delta(units, "sec", "uniform")


def test_default_compare_data_interval_is_at_least_the_paired_t_width() -> None:
    # per-seed final accuracies of `schedsim compare --schedulers paced,uniform --seeds 5` (default bandit world)
    units = units_of(
        {
            "paced": [0.697948, 0.741274, 0.883571, 0.713635, 0.754401],
            "uniform": [0.78573, 0.787885, 0.882059, 0.782619, 0.773967],
        }
    )
    d = np.array([0.697948, 0.741274, 0.883571, 0.713635, 0.754401]) - [0.78573, 0.787885, 0.882059, 0.782619, 0.773967]
    t_width = 2 * 2.776445 * d.std(ddof=1) / np.sqrt(5)
    delta = paired_delta(units, "paced", "uniform")
    assert delta.width >= t_width - 1e-6 and delta.hi > 0  # the old percentile bootstrap gave [-0.072, -0.017]


def test_censored_median_is_kaplan_meier() -> None:
    # times 100k, 150k, never, never, 120k; budget 200k: S = 4/5 at 100k, 3/5 at 120k, 2/5 at 150k -> median 150k
    km = censored_median([100_000, 150_000, np.nan, np.nan, 120_000], 200_000)
    assert (km.median, km.reached, km.n) == (150_000, 3, 5)
    assert km.label() == "150k (3/5)"
    # two of five reached: S never falls to 1/2 within the budget
    never = censored_median([100_000, np.nan, np.nan, np.nan, 120_000], 200_000)
    assert np.isinf(never.median) and never.label() == ">200k (2/5)"
    # a run censored early leaves the risk set: S = 4/5 at 50, then 4/5 * 2/3 at 100, then * 1/2 at 150 -> 150,
    # where dropping it (or counting it as reached at 60) gives 100
    early = censored_median([50, np.nan, 100, 150, np.nan], [200, 60, 200, 200, 200])
    assert early.median == 150 and early.reached == 3 and early.label() == "150 (3/5)"
    assert censored_median([np.nan, np.nan], 3000).label() == ">3000 (0/2)"


def test_iqm_and_its_stratified_interval() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.3], [0.7, 0.2, 0.8, 0.4]])
    assert iqm(scores) == pytest.approx((0.3 + 0.4 + 0.5 + 0.7) / 4)  # middle half of the 8 pooled scores
    table = pd.DataFrame(
        [
            {"scheduler": "a", "world": w, "seed": k, "final": v}
            for w, row in zip("xy", scores, strict=True)
            for k, v in enumerate(row)
        ]
    )
    iv = iqm_interval(table, "a", seed=1)
    assert iv.point == pytest.approx(0.475) and iv.n == 8 and iv.lo < 0.475 < iv.hi
    # the same stratified bootstrap written independently: each world resampled within itself, pooled IQM
    worlds = [np.array([0.11, 0.93, 0.52, 0.34, 0.47]), np.array([0.71, 0.25, 0.86, 0.42, 0.6, 0.58])]
    varied = pd.DataFrame(
        [
            {"scheduler": "a", "world": w, "seed": k, "final": v}
            for w, xs in zip("xy", worlds, strict=True)
            for k, v in enumerate(xs)
        ]
    )

    def pooled_iqm(*samples: np.ndarray, axis: int) -> np.ndarray:
        return sps.trim_mean(np.concatenate(samples, axis=axis), 0.25, axis=axis)

    for method, scipy_method in (("percentile", "percentile"), ("bca", "BCa")):
        ref = sps.bootstrap(
            tuple(worlds), pooled_iqm, method=scipy_method, rng=np.random.default_rng(1)
        ).confidence_interval
        got = iqm_interval(varied, "a", method=method, seed=1)
        assert (got.lo, got.hi) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert iqm_interval(varied, "a", seed=2) != iqm_interval(varied, "a", seed=1)
    # a stratified resample keeps each world's size: with world x constant at 0.5 and y constant at 0.9 every
    # resample is the same four 0.5s and four 0.9s, so the interval collapses on the point
    fixed = table.assign(final=np.where(table["world"] == "x", 0.5, 0.9))
    stiff = iqm_interval(fixed, "a", method="percentile")
    assert (stiff.lo, stiff.hi) == pytest.approx((0.7, 0.7))


def test_probability_of_improvement_by_hand() -> None:
    # world u: x=[3,4] vs y=[1,3,5]: 3 beats 1, ties 3 (1/2), loses to 5; 4 beats 1 and 3 -> 3.5 / 6
    # world v: x=[0.5,0.6] vs y=[0.7,0.7] -> 0;  average over worlds 3.5/12 (pooling the worlds would give 11/20)
    assert mann_whitney_fraction(np.array([3, 4]), np.array([1, 3, 5])) == pytest.approx(3.5 / 6)
    rows = [("x", "u", [3, 4]), ("y", "u", [1, 3, 5]), ("x", "v", [0.5, 0.6]), ("y", "v", [0.7, 0.7])]
    table = pd.DataFrame(
        [{"scheduler": s, "world": w, "seed": k, "final": v} for s, w, vals in rows for k, v in enumerate(vals)]
    )
    p = improvement_probability(table, "x", "y", seed=0)
    assert p.point == pytest.approx(3.5 / 12) and 0.0 <= p.lo <= p.point <= p.hi <= 1.0
    assert improvement_probability(table, "y", "y").point == pytest.approx(0.5)
    agg = aggregate_table(table, ["x", "y"], "y").set_index("scheduler")
    assert agg.loc["x", "p_improve"] == pytest.approx(3.5 / 12) and agg.loc["x", "worlds"] == 2
    assert agg.loc["x", "runs"] == 4 and agg.loc["y", "runs"] == 5


def test_performance_profile_averages_worlds() -> None:
    rows = [("a", "w1", [0.2, 0.6, 0.8]), ("a", "w2", [0.5, 0.9]), ("b", "w1", [0.1]), ("b", "w2", [0.95])]
    table = pd.DataFrame(
        [{"scheduler": s, "world": w, "seed": k, "final": v} for s, w, vals in rows for k, v in enumerate(vals)]
    )
    prof = performance_profile(table, [0.0, 0.5, 0.55, 0.95]).set_index(["scheduler", "tau"])["fraction"]
    # tau=0.5: w1 2/3, w2 1/2 (0.5 is not > 0.5) -> 7/12; pooled runs would give 3/5
    assert prof[("a", 0.5)] == pytest.approx(7 / 12) and prof[("a", 0.55)] == pytest.approx(7 / 12)
    assert prof[("a", 0.0)] == 1.0 and prof[("a", 0.95)] == 0.0
    assert prof[("b", 0.5)] == pytest.approx(0.5) and prof[("b", 0.95)] == 0.0


def test_ratio_interval_resamples_items_as_pairs() -> None:
    num, den = np.array([1.0, 2.0, 4.0, 3.0, 0.5]), np.array([2.0, 2.0, 5.0, 3.0, 4.0])
    iv = ratio_interval(num, den, seed=5, n_resamples=3000)
    assert iv.point == pytest.approx(10.5 / 16.0)  # ratio of means, not mean of ratios (0.6)

    def ratio(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return x.mean(axis=axis) / y.mean(axis=axis)

    ref = sps.bootstrap(
        (num, den), ratio, paired=True, method="percentile", n_resamples=3000, rng=np.random.default_rng(5)
    ).confidence_interval
    assert (iv.lo, iv.hi) == pytest.approx((ref.low, ref.high), rel=1e-12)
    # a prompt without gradient noise (trace 0): resamples made of it alone have no ratio and are left out
    lone = ratio_interval(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 2.0]), seed=0)
    assert lone.point == pytest.approx(0.75) and 0.0 <= lone.lo <= 0.75 <= lone.hi <= 1.0


def test_interval_width_and_text() -> None:
    iv = Interval(0.25, 0.125, 0.5, 3, "t", 0.9)
    assert iv.width == 0.375 and str(iv) == "0.250 [0.125, 0.500]"
    assert Interval(1.0, 0.5, 2.0, 2, "t").level == 0.95  # the default level


def test_levels_at_the_ends_and_sizes_at_the_edges_are_handled_by_value() -> None:
    for bad in (0.0, 1.0):
        with pytest.raises(StatsError, match=f"level={bad!r} is out of range; accepted: a confidence level in"):
            mean_interval(DIFFS, level=bad)
        with pytest.raises(StatsError, match="out of range"):
            ratio_interval(np.ones(3), np.ones(3), level=bad)
    empty = mean_interval([np.nan, np.nan], level=0.8)
    assert np.isnan(empty.point) and np.isnan(empty.lo) and empty.n == 0 and empty.level == 0.8
    # two values are enough for a t interval: mean 0.3, s = 0.1 * sqrt(2), t_{0.975,1} = 12.706205
    two = mean_interval([0.2, 0.4])
    assert two.hi - 0.3 == pytest.approx(12.706205 * 0.1 * np.sqrt(2) / np.sqrt(2), abs=1e-6) and two.n == 2
    flat = mean_interval([0.7, 0.7], method="bca", level=0.8)
    assert (flat.n, flat.method, flat.level) == (2, "bca", 0.8)
    assert mean_interval([0.1, 0.3, 0.2], method="bca").method == "bca"


def test_ratio_interval_edges() -> None:
    one = ratio_interval(np.array([3.0]), np.array([4.0]), level=0.8)
    assert one.point == 0.75 and np.isnan(one.lo) and np.isnan(one.hi) and (one.n, one.level) == (1, 0.8)
    assert np.isnan(ratio_interval(np.array([1.0]), np.array([0.0])).point)  # no trace: no ratio, not inf
    # every resample of an all-zero trace is undefined: NaN bounds, not an error
    dead = ratio_interval(np.array([1.0, 2.0]), np.array([0.0, 0.0]), n_resamples=50)
    assert np.isnan(dead.point) and np.isnan(dead.lo) and np.isnan(dead.hi) and dead.n == 2
    # a resample made only of the zero-trace prompt (which has a positive numerator) is left out, not inf
    mixed = ratio_interval(np.array([1.0, 1.0, 2.0]), np.array([0.0, 2.0, 2.0]), seed=1, n_resamples=500)
    assert mixed.point == pytest.approx(1.0) and np.isfinite(mixed.hi) and mixed.method == "percentile"


def test_by_seed_errors_and_nan_pairs() -> None:
    units = units_of({"a": [0.5, 0.625, np.nan], "b": [0.25, 0.5, 0.75]})
    with pytest.raises(StatsError, match=r"metric 'auc' is not a column; accepted: 'scheduler', 'seed', 'final'"):
        wins(units, "a", "b", metric="auc")
    with pytest.raises(StatsError, match=r"scheduler 'c' has no runs; accepted: 'a', 'b'"):
        wins(units, "c", "b")
    doubled = pd.concat([units, units.iloc[[0]]])
    with pytest.raises(StatsError, match="scheduler 'a' has two runs with the same seed; accepted: one run per seed"):
        wins(doubled, "a", "b")
    assert wins(units, "a", "b") == (2, 2)  # seed 2 has no value for a: dropped, not a loss
    delta = paired_delta(units, "a", "b", level=0.8)
    assert delta.point == pytest.approx(0.1875) and delta.n == 2 and delta.level == 0.8
    other = units.assign(auc=units["final"] * 2)
    assert paired_delta(other, "a", "b", metric="auc").point == pytest.approx(0.375)
    assert wins(other, "b", "a", metric="auc") == (0, 2)


def test_censored_median_edges() -> None:
    none = censored_median([], 100)
    assert np.isnan(none.median) and (none.reached, none.n) == (0, 0) and none.label() == "n/a"
    # S falls to exactly 1/2 at 200 (4 runs: 100, 200 reached; two censored at 300): the median is 200
    half = censored_median([100, 200, np.nan, np.nan], 300)
    assert half.median == 200 and half.horizon == 300 and half.label() == "200 (2/4)"
    # the horizon is the largest time seen, a reached time (500, not its run's 600) included; the run censored
    # at 400 has left the risk set when the other reaches the target, so S(500) = 0
    late = censored_median([500, np.nan], [600, 400])
    assert late.horizon == 500 and late.median == 500 and late.label() == "500 (1/2)"
    assert censored_median([np.nan], [9_999]).label() == ">9999 (0/1)"
    assert censored_median([10_000], 10_000).label() == "10k (1/1)"


def test_strata_drop_nans_and_empty_worlds() -> None:
    from schedsim.analysis.stats import strata

    table = pd.DataFrame(
        [
            {"scheduler": "a", "world": "w2", "seed": 0, "final": 0.5},
            {"scheduler": "a", "world": "w2", "seed": 1, "final": np.nan},
            {"scheduler": "a", "world": "w1", "seed": 0, "final": 0.25},
            {"scheduler": "a", "world": "w3", "seed": 0, "final": np.nan},
            {"scheduler": "b", "world": "w1", "seed": 0, "final": 0.75},
        ]
    )
    got = strata(table, "a")
    assert list(got) == ["w1", "w2"] and got["w2"].tolist() == [0.5] and got["w1"].tolist() == [0.25]
    with pytest.raises(StatsError, match=r"metric 'auc' is not a column; accepted: 'scheduler', 'world'"):
        strata(table, "a", metric="auc")
    with pytest.raises(StatsError, match=r"scheduler 'c' has no runs; accepted: 'a', 'b'"):
        strata(table, "c")
    # one value in a world: the point, NaN bounds
    lone = iqm_interval(table, "a", level=0.8)
    assert lone.point == pytest.approx(0.375) and np.isnan(lone.lo) and lone.n == 2 and lone.level == 0.8
    with pytest.raises(StatsError, match="ci='t' is not an interval method here; accepted: 'percentile', 'bca'"):
        iqm_interval(table, "a", method="t")
    apart = pd.DataFrame([{"scheduler": s, "world": s, "seed": 0, "final": 0.5} for s in "xy"])
    with pytest.raises(StatsError, match="'x' and 'y' share no world; accepted: schedulers run in the same worlds"):
        improvement_probability(apart, "x", "y")


def test_iqm_trims_a_quarter_from_each_end_along_an_axis() -> None:
    scores = np.array([[1.0, 2.0, 3.0, 10.0], [4.0, 0.0, 8.0, 6.0]])
    np.testing.assert_allclose(iqm(scores, axis=1), [2.5, 5.0])
    assert iqm(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0])) == pytest.approx(3.5)


def test_aggregate_intervals_when_only_one_world_is_constant() -> None:
    # world x constant, world y varies: the interval is a real bootstrap one, not collapsed on the point
    rows = [("a", "x", [0.5, 0.5, 0.5]), ("a", "y", [0.1, 0.9, 0.4]), ("b", "x", [0.2, 0.6]), ("b", "y", [0.3, 0.3])]
    table = pd.DataFrame(
        [{"scheduler": s, "world": w, "seed": k, "final": v} for s, w, vals in rows for k, v in enumerate(vals)]
    )
    iv = iqm_interval(table, "a", n_resamples=200)
    assert iv.lo < iv.point < iv.hi
    p = improvement_probability(table, "a", "b", level=0.8, n_resamples=200)
    # x: 0.5 beats 0.2, loses to 0.6 -> 1/2; y: 0.1 loses, 0.9 and 0.4 beat 0.3 -> 2/3; mean 7/12
    assert p.point == pytest.approx(7 / 12) and p.n == 6 and (p.method, p.level) == ("percentile", 0.8)
    agg = aggregate_table(table, ["a"], "b", method="bca", level=0.8).iloc[0]
    assert (agg["method"], agg["level"], agg["worlds"], agg["runs"]) == ("bca", 0.8, 2, 6)
    assert agg["iqm_lo"] < agg["iqm"] < agg["iqm_hi"] and agg["p_improve_lo"] <= agg["p_improve"]
    assert agg["p_improve_hi"] >= agg["p_improve"] and agg["p_improve"] == pytest.approx(7 / 12)


CONTINUOUS = np.array([0.61, 0.35, 0.92, 0.47, 0.78, 0.15, 0.66, 0.29, 0.83, 0.54, 0.41, 0.7])


def test_resample_counts_reach_scipy_and_defaults_are_the_documented_ones() -> None:
    den = CONTINUOUS[::-1] + 0.5
    iv = ratio_interval(CONTINUOUS, den, seed=2, n_resamples=400, level=0.8)

    def ratio(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return x.mean(axis=axis) / y.mean(axis=axis)

    ref = sps.bootstrap(
        (CONTINUOUS, den), ratio, paired=True, method="percentile", n_resamples=400, confidence_level=0.8,
        rng=np.random.default_rng(2),
    ).bootstrap_distribution  # fmt: skip
    assert (iv.lo, iv.hi) == pytest.approx(tuple(np.quantile(ref, [0.1, 0.9])), rel=1e-12)
    assert (iv.n, iv.method, iv.level) == (12, "percentile", 0.8)
    assert ratio_interval(CONTINUOUS, den) == ratio_interval(CONTINUOUS, den, seed=0, n_resamples=2000)
    assert ratio_interval(CONTINUOUS, den, seed=3) != ratio_interval(CONTINUOUS, den, seed=4)
    bca = mean_interval(CONTINUOUS, method="bca", seed=1, n_resamples=300)
    ref_bca = sps.bootstrap((CONTINUOUS,), np.mean, method="BCa", n_resamples=300, rng=np.random.default_rng(1))
    assert (bca.lo, bca.hi) == pytest.approx(
        (ref_bca.confidence_interval.low, ref_bca.confidence_interval.high), rel=1e-12
    )
    # two items are enough for a ratio interval: resampled ratios 0.5, 1 and 1.5
    two = ratio_interval(np.array([1.0, 3.0]), np.array([2.0, 2.0]), n_resamples=200)
    assert (two.lo, two.hi) == (0.5, 1.5) and two.point == 1.0
    dead = ratio_interval(np.array([1.0, 2.0]), np.array([0.0, 0.0]), n_resamples=50, level=0.8)
    assert (dead.method, dead.level) == ("percentile", 0.8)
    assert ratio_interval(np.array([3.0]), np.array([4.0])).method == "percentile"


def worlds_table() -> pd.DataFrame:
    rows = [("a", "x", [0.5, 0.2, 0.7]), ("a", "y", [0.1, 0.9, 0.4]), ("b", "x", [0.2, 0.6]), ("b", "y", [0.3, 0.35])]
    table = pd.DataFrame(
        [{"scheduler": s, "world": w, "seed": k, "final": v} for s, w, vals in rows for k, v in enumerate(vals)]
    )
    return table.assign(auc=1.0 - table["final"])


def test_aggregates_pass_metric_method_level_and_seed_through() -> None:
    table = worlds_table()
    kw = dict(metric="auc", method="bca", level=0.8, seed=3)
    centre = iqm_interval(table, "a", n_resamples=N_RESAMPLES, **kw)
    assert centre.point == pytest.approx(1.0 - 0.45) and (centre.method, centre.level) == ("bca", 0.8)
    better = improvement_probability(table, "a", "b", **kw)
    # on auc = 1 - final, world x: a [0.5, 0.8, 0.3] vs b [0.8, 0.4] -> (1 + 1.5 + 0) / 6; world y: a [0.9, 0.1,
    # 0.6] vs b [0.7, 0.65] -> 2 / 6; mean 3 / 8 (on final it would be 5 / 8)
    assert better.point == pytest.approx(3 / 8) and better.method == "bca"
    agg = aggregate_table(table, ["a"], "b", **kw).iloc[0]
    assert (agg["iqm"], agg["iqm_lo"], agg["iqm_hi"]) == pytest.approx((centre.point, centre.lo, centre.hi))
    assert (agg["p_improve"], agg["p_improve_lo"], agg["p_improve_hi"]) == pytest.approx(
        (better.point, better.lo, better.hi)
    )
    assert iqm_interval(table, "a", seed=0) == iqm_interval(table, "a")  # default seed 0
    assert improvement_probability(table, "a", "b") == improvement_probability(table, "a", "b", seed=0)
    assert improvement_probability(table, "a", "b", seed=5) == improvement_probability(table, "a", "b", seed=5)
    default = aggregate_table(table, ["a"], "b").iloc[0]
    assert default["iqm_lo"] == iqm_interval(table, "a", seed=0).lo
    prof = performance_profile(table, [0.5], metric="auc")
    assert prof["fraction"].tolist() == pytest.approx([(1 / 3 + 2 / 3) / 2, (1 / 2 + 1) / 2])  # auc > 0.5
    assert prof.index.tolist() == [0, 1]  # one fresh index over the schedulers' rows


def test_constant_strata_collapse_for_bca_and_degenerate_bca_is_nan_silently() -> None:
    import warnings

    fixed = worlds_table().assign(final=lambda t: np.where(t["world"] == "x", 0.5, 0.9))
    stiff = iqm_interval(fixed, "a", method="bca")
    assert (stiff.lo, stiff.point, stiff.hi) == pytest.approx((0.7, 0.7, 0.7))
    # every resample has the same IQM 0.5: BCa cannot be formed, and says so with NaN, not a warning
    rows = [("a", "x", [0.5] * 5 + [0.9]), ("a", "y", [0.5] * 6)]
    table = pd.DataFrame(
        [{"scheduler": s, "world": w, "seed": k, "final": v} for s, w, vals in rows for k, v in enumerate(vals)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        degenerate = iqm_interval(table, "a", method="bca", n_resamples=200)
    assert degenerate.point == 0.5 and np.isnan(degenerate.lo) and np.isnan(degenerate.hi)


def continuous_worlds() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        [
            {"scheduler": s, "world": w, "seed": k, "final": float(v), "auc": float(v) ** 2}
            for s, shift in (("a", 0.1), ("b", 0.0))
            for w in ("x", "y")
            for k, v in enumerate(rng.uniform(0.2, 0.8, 9) + shift)
        ]
    )


def test_defaults_and_pass_through_on_continuous_scores() -> None:
    import warnings

    table = continuous_worlds()
    kw = dict(metric="auc", method="bca", level=0.8, seed=3)
    agg = aggregate_table(table, ["a"], "b", **kw).iloc[0]
    centre, better = iqm_interval(table, "a", **kw), improvement_probability(table, "a", "b", **kw)
    assert (agg["iqm_lo"], agg["iqm_hi"]) == (centre.lo, centre.hi)
    assert (agg["p_improve_lo"], agg["p_improve_hi"]) == (better.lo, better.hi)
    assert centre != iqm_interval(table, "a", **(kw | {"method": "percentile"}))
    assert centre != iqm_interval(table, "a", **(kw | {"seed": 4}))
    assert better != improvement_probability(table, "a", "b", **(kw | {"method": "percentile"}))
    assert better != improvement_probability(table, "a", "b", **(kw | {"seed": 4}))
    assert iqm_interval(table, "a") == iqm_interval(table, "a", seed=0)
    assert aggregate_table(table, ["a"], "b").iloc[0]["iqm_lo"] == iqm_interval(table, "a", seed=0).lo
    units = table[table["world"] == "x"]
    assert paired_delta(units, "a", "b", method="bca") == paired_delta(units, "a", "b", method="bca", seed=0)
    assert paired_delta(units, "a", "b", method="bca", seed=5) == paired_delta(units, "a", "b", method="bca", seed=5)
    assert paired_delta(units, "a", "b", method="bca", seed=5) != paired_delta(units, "a", "b", method="bca", seed=6)
    assert mean_interval(CONTINUOUS, method="bca") == mean_interval(CONTINUOUS, method="bca", seed=0)
    diff = paired_differences(units, "a", "b")  # default metric: final
    np.testing.assert_allclose(diff.to_numpy(), units[units.scheduler == "a"]["final"].to_numpy() - units[
        units.scheduler == "b"
    ]["final"].to_numpy())  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = mean_interval([], level=0.9)
    assert np.isnan(empty.point) and empty.method == "t" and mean_interval([0.3], method="bca").method == "bca"
    assert np.isnan(censored_median([], 5).horizon)
    assert censored_median([1_000_000], 2_000_000).label() == "1000k (1/1)"
