from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schedsim.analysis.metrics import (
    area_under_curve,
    curve_band,
    paired_delta_band,
    paired_targets,
    per_unit,
    rollouts_to_target,
    summarize,
)
from schedsim.analysis.report import format_table
from schedsim.analysis.stats import mean_interval, paired_differences


def test_auc_and_rollouts_to_target() -> None:
    r = np.array([0, 100, 200])
    a = np.array([0.2, 0.4, 0.8])
    assert area_under_curve(r, a) == pytest.approx((0.3 * 100 + 0.6 * 100) / 200)
    assert rollouts_to_target(r, a, 0.6) == pytest.approx(150.0)
    assert rollouts_to_target(r, a, 0.1) == 0.0
    assert np.isnan(rollouts_to_target(r, a, 0.9))


def test_paired_targets_and_summary() -> None:
    rows = []
    for seed, (u_final, s_final) in enumerate([(0.6, 0.7), (0.8, 0.85)]):
        for spec, final in (("uniform", u_final), ("sec", s_final)):
            for r, acc in ((0, 0.5), (100, (0.5 + final) / 2), (200, final)):
                rows.append(
                    {
                        "scheduler": spec,
                        "seed": seed,
                        "rollouts": r,
                        "heldout_acc": acc,
                        "zero_var_frac": 0.1,
                        "calib_abs_err": np.nan,
                        "time_sched_share": 0.01,
                    }
                )
    table = pd.DataFrame(rows)
    targets = paired_targets(table, "uniform")
    assert targets == {0: 0.6, 1: 0.8}
    units = per_unit(table, targets)
    assert units.set_index(["scheduler", "seed"]).loc[("uniform", 0), "to_target"] == pytest.approx(200)
    summary = summarize(units, ["sec", "uniform"], "uniform").set_index("scheduler")
    assert summary.loc["sec", "final_vs_base"] == pytest.approx(0.075)
    assert summary.loc["sec", "wins_vs_base"] == "2/2"
    assert summary.loc["sec", "to_target"] < 200


def unit_rows(spec: str, seed: int, rollouts: list[int], acc: list[float], **cols: list[float]) -> list[dict]:
    base = {"zero_var_frac": 0.0, "calib_abs_err": np.nan, "time_sched_share": 0.0}
    return [
        {"scheduler": spec, "seed": seed, "rollouts": r, "heldout_acc": a} | base | {k: v[i] for k, v in cols.items()}
        for i, (r, a) in enumerate(zip(rollouts, acc, strict=True))
    ]


def test_per_unit_on_a_hand_made_unit() -> None:
    rows = unit_rows(
        "beta",
        3,
        [0, 100, 300],
        [0.2, 0.5, 0.6],
        zero_var_frac=[0.5, 0.3, 0.1],
        calib_abs_err=[0.4, 0.2, 0.1],
        time_sched_share=[0.1, 0.2, 0.3],
    )
    table = pd.DataFrame(rows[::-1])  # stored order must not matter
    u = per_unit(table, 0.55).iloc[0]
    assert u["final"] == 0.6 and u["budget_used"] == 300
    assert u["auc"] == pytest.approx((0.35 * 100 + 0.55 * 200) / 300)  # trapezoids over the rollout axis
    assert u["to_target"] == pytest.approx(100 + 0.5 * 200)  # 0.55 halfway between 0.5 (100) and 0.6 (300)
    assert u["zero_var"] == pytest.approx(0.3)
    assert u["calib"] == pytest.approx(0.15)  # after the first evaluation, whose estimates are the prior
    assert u["time_sched_share"] == pytest.approx(0.2)


def test_summary_uses_t_intervals_and_censored_rollouts_to_target() -> None:
    diffs = [0.1, -0.02, 0.05, 0.03, -0.01]
    rows = []
    for seed, d in enumerate(diffs):
        base_final = 0.5 + 0.05 * seed
        rows += unit_rows("uniform", seed, [0, 100_000, 200_000], [0.3, 0.4, base_final])
        # "fast" reaches 0.45 early on seeds 0 and 1 only; elsewhere it never does (censored at 200k)
        early = 0.5 if seed < 2 else 0.35
        rows += unit_rows("fast", seed, [0, 100_000, 200_000], [0.3, early, 0.3 + d])
    units = per_unit(pd.DataFrame(rows), 0.45)
    summary = summarize(units, ["fast", "uniform"], "uniform", level=0.9).set_index("scheduler")
    d = np.array(diffs) + 0.3 - (0.5 + 0.05 * np.arange(5))
    half = 2.131847 * d.std(ddof=1) / np.sqrt(5)  # t_{0.95,4}: a 90 % interval
    assert summary.loc["fast", "final_vs_base"] == pytest.approx(d.mean())
    assert summary.loc["fast", "final_vs_base_hi"] - d.mean() == pytest.approx(half, abs=1e-6)
    assert summary.loc["fast", "wins_vs_base"] == f"{int((d > 0).sum())}/5"
    # reached on 2 of 5 seeds (at 75k each): averaging those would say 75k; censored, the median is beyond 200k
    assert summary.loc["fast", "reached"] == 2 and np.isinf(summary.loc["fast", "to_target"])
    assert summary.loc["fast", "to_target_label"] == ">200k (2/5)"
    # uniform crosses 0.45 at 100k + 0.05 / (final - 0.4) * 100k: 150k, 133k, 125k, 120k, 117k; the middle one
    assert summary.loc["uniform", "to_target"] == pytest.approx(125_000)
    assert summary.loc["uniform", "to_target_label"] == "125k (5/5)"
    text = format_table(summary.reset_index(), 0.45, "uniform")
    assert "final acc [90% t CI]" in text and ">200k (2/5)" in text


def test_bands_are_t_intervals_over_seeds() -> None:
    rows = []
    for seed, (a, b) in enumerate([(0.50, 0.40), (0.62, 0.45), (0.55, 0.52)]):
        rows += unit_rows("x", seed, [0, 100], [0.3, a])
        rows += unit_rows("uniform", seed, [0, 100], [0.3, b])
    table = pd.DataFrame(rows)
    band = curve_band(table, "heldout_acc").set_index(["scheduler", "rollouts"])
    at = np.array([0.50, 0.62, 0.55])
    half = 4.302653 * at.std(ddof=1) / np.sqrt(3)  # t_{0.975,2}
    assert band.loc[("x", 100), "hi"] == pytest.approx(at.mean() + half, abs=1e-6)
    assert band.loc[("x", 0), "lo"] == band.loc[("x", 0), "hi"] == pytest.approx(0.3)  # all seeds equal
    delta = paired_delta_band(table, "uniform", "heldout_acc").set_index("rollouts")
    d = at - [0.40, 0.45, 0.52]
    assert delta.loc[100, "lo"] == pytest.approx(d.mean() - 4.302653 * d.std(ddof=1) / np.sqrt(3), abs=1e-6)
    assert set(delta["scheduler"]) == {"x"}


def test_tally_counts_zero_variance_groups_and_effective_rollouts() -> None:
    from schedsim.runner.loop import Tally

    tally = Tally()
    rewards = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, np.nan], [1.0, 0.0, np.nan]])
    tally.add(rewards, np.array([0.95, 0.3, 0.05, 0.5]))
    row = tally.row()
    assert row["zero_var_frac"] == pytest.approx(2 / 4)  # all-ones and all-zeros (NaN padding ignored)
    assert row["effective_ratio"] == pytest.approx(5 / 10)  # rollouts in mixed groups / valid rollouts
    assert [row[f"sel_p{b}"] for b in (0, 3, 5, 9)] == [0.25, 0.25, 0.25, 0.25]


def test_auc_and_rollouts_to_target_off_zero() -> None:
    r, a = np.array([50, 150, 400]), np.array([0.3, 0.5, 0.6])
    assert rollouts_to_target(r, a, 0.2) == 50.0  # reached at the first evaluation: its rollouts
    assert rollouts_to_target(r, a, 0.5) == 150.0  # reached exactly at an evaluation
    assert rollouts_to_target(r, a, 0.575) == pytest.approx(150 + 0.75 * 250)
    assert area_under_curve(r, a) == pytest.approx((0.4 * 100 + 0.55 * 250) / 350)
    assert area_under_curve(np.array([70]), np.array([0.35])) == 0.35  # one evaluation: its accuracy


def test_per_unit_targets_per_seed_and_one_evaluation() -> None:
    rows = unit_rows("a", 0, [0, 100], [0.2, 0.6], calib_abs_err=[0.3, 0.1]) + unit_rows("a", 1, [0], [0.4])
    rows += unit_rows("a", 2, [0, 100], [0.2, 0.6], time_sched_share=[0.25, 0.75])
    units = per_unit(pd.DataFrame(rows), {0: 0.5, 1: 0.3}).set_index("seed")
    assert units.loc[0, "to_target"] == pytest.approx(75.0) and np.isnan(units.loc[2, "to_target"])  # no target
    assert units.loc[1, "to_target"] == 0.0 and np.isnan(units.loc[1, "calib"])  # one evaluation: no calibration
    assert units.loc[1, "final"] == 0.4 and units.loc[0, "calib"] == pytest.approx(0.1)
    assert units.loc[2, "time_sched_share"] == pytest.approx(0.5) and list(units["scheduler"]) == ["a"] * 3
    acc = pd.DataFrame(unit_rows("a", 0, [0, 100], [0.2, 0.6])).assign(train_acc=[0.5, 0.9])
    assert per_unit(acc, 0.7, metric="train_acc").iloc[0]["to_target"] == pytest.approx(50.0)
    assert paired_targets(acc, "a", metric="train_acc") == {0: 0.9}


def test_summary_columns_skip_absent_schedulers_and_name_the_interval() -> None:
    rows = []
    for seed, (u, x) in enumerate([(0.5, 0.55), (0.6, 0.58), (0.55, 0.7)]):
        rows += unit_rows("uniform", seed, [0, 100], [0.3, u], zero_var_frac=[0.2, 0.4])
        rows += unit_rows("x", seed, [0, 100], [0.3, x], zero_var_frac=[0.1, 0.1 * seed])
    units = per_unit(pd.DataFrame(rows), 0.52)
    summary = summarize(units, ["missing", "x", "uniform"], "uniform", ci="bca", level=0.8, seed=2)
    assert list(summary["scheduler"]) == ["x", "uniform"]
    x = summary.set_index("scheduler").loc["x"]
    assert (x["seeds"], x["ci"], x["level"], x["wins_vs_base"]) == (3, "bca", 0.8, "2/3")
    zero_var = np.array([0.05, 0.1, 0.15])  # per seed: mean of 0.1 and 0.1 * seed
    assert x["zero_var"] == pytest.approx(zero_var.mean()) and x["zero_var_lo"] < x["zero_var"] < x["zero_var_hi"]
    ref = mean_interval(units[units.scheduler == "x"]["final"], method="bca", level=0.8, seed=2)
    assert (x["final"], x["final_lo"], x["final_hi"]) == pytest.approx((ref.point, ref.lo, ref.hi))
    d = np.array([0.05, -0.02, 0.15])
    ref_d = mean_interval(d, method="bca", level=0.8, seed=2)
    assert (x["final_vs_base_lo"], x["final_vs_base_hi"]) == pytest.approx((ref_d.lo, ref_d.hi))
    for col in ("auc", "calib", "time_sched_share"):
        assert f"{col}_lo" in summary.columns and f"{col}_hi" in summary.columns
    # x reaches 0.52 at 100 * 0.22 / 0.25, 100 * 0.22 / 0.28 and 100 * 0.22 / 0.4 (88, 78.6, 55): the middle one
    assert x["to_target"] == pytest.approx(2200 / 28) and x["reached"] == 3 and x["to_target_label"] == "79 (3/3)"
    with pytest.raises(Exception, match="ci='percentile' is not an interval method here"):
        summarize(units, ["x"], "uniform", ci="percentile")


def test_bands_average_rollouts_and_use_the_level() -> None:
    rows = []
    for seed, (a, b, r) in enumerate([(0.5, 0.4, 100), (0.7, 0.45, 120), (0.6, 0.6, 110)]):
        rows += unit_rows("x", seed, [10, r], [0.3, a])
        rows += unit_rows("uniform", seed, [10, r + 10], [0.3, b])
    table = pd.DataFrame(rows)
    band = curve_band(table, "heldout_acc", level=0.9)
    at = band[band.scheduler == "x"].iloc[1]
    assert at["rollouts"] == pytest.approx(110.0) and at["mean"] == pytest.approx(0.6)
    assert at["hi"] - 0.6 == pytest.approx(2.919986 * 0.1 / np.sqrt(3), abs=1e-6)  # t_{0.95,2}, s = 0.1
    assert list(band["scheduler"]) == ["uniform", "uniform", "x", "x"]  # sorted by scheduler, then evaluation
    delta = paired_delta_band(table, "uniform", "heldout_acc", level=0.9)
    last = delta.iloc[-1]
    d = np.array([0.1, 0.25, 0.0])
    assert last["rollouts"] == pytest.approx(110.0) and last["mean"] == pytest.approx(d.mean())
    assert last["hi"] - d.mean() == pytest.approx(2.919986 * d.std(ddof=1) / np.sqrt(3), abs=1e-6)
    assert delta.iloc[0]["mean"] == 0.0 and list(delta.columns) == ["scheduler", "rollouts", "mean", "lo", "hi"]


def test_auc_over_a_span_of_one_rollout_is_still_the_trapezoid_mean() -> None:
    assert area_under_curve(np.array([0, 1]), np.array([0.2, 0.6])) == pytest.approx(0.4)


def test_summary_intervals_reach_the_seed_and_empty_bands_keep_their_columns() -> None:
    finals = [0.61, 0.35, 0.92, 0.47, 0.78, 0.15, 0.66, 0.29]
    base = [0.5, 0.4, 0.7, 0.45, 0.6, 0.3, 0.62, 0.33]
    rows = []
    for seed, (x, b) in enumerate(zip(finals, base, strict=True)):
        rows += unit_rows("x", seed, [0, 100], [0.1, x]) + unit_rows("uniform", seed, [0, 100], [0.1, b])
    units = per_unit(pd.DataFrame(rows), 0.5)
    got = summarize(units, ["x"], "uniform", ci="bca", seed=2).iloc[0]
    ref = mean_interval(units[units["scheduler"] == "x"]["final"], method="bca", seed=2)  # resampled in row order
    assert (got["final_lo"], got["final_hi"]) == pytest.approx((ref.lo, ref.hi), rel=1e-12)
    d = mean_interval(paired_differences(units, "x", "uniform"), method="bca", seed=2)
    assert (got["final_vs_base_lo"], got["final_vs_base_hi"]) == pytest.approx((d.lo, d.hi), rel=1e-12)
    default = summarize(units, ["x"], "uniform", ci="bca").iloc[0]
    zero = mean_interval(units[units["scheduler"] == "x"]["final"], method="bca", seed=0)
    assert default["final_lo"] == pytest.approx(zero.lo, rel=1e-12) and zero.lo != ref.lo
    empty = pd.DataFrame(rows).iloc[:0]
    assert list(curve_band(empty, "heldout_acc").columns) == ["scheduler", "rollouts", "mean", "lo", "hi"]
    assert list(paired_delta_band(empty, "uniform", "heldout_acc").columns) == [
        "scheduler", "rollouts", "mean", "lo", "hi",
    ]  # fmt: skip


def test_per_unit_rows_are_schedulers_as_first_seen_then_seeds_ascending() -> None:
    rows = unit_rows("b", 0, [0, 50], [0.1, 0.2]) + unit_rows("a", 1, [5, 60], [0.1, 0.3])
    rows += unit_rows("a", 0, [10, 70], [0.1, 0.4])
    units = per_unit(pd.DataFrame(rows[::-1]), 0.9)  # reversed: "a" is seen first, seed 1 before seed 0
    assert list(zip(units["scheduler"], units["seed"], strict=True)) == [("a", 0), ("a", 1), ("b", 0)]
    assert units["final"].tolist() == [0.4, 0.3, 0.2]  # each unit's evaluations sorted by rollouts


def test_bca_summary_does_not_depend_on_the_row_order_of_the_units() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for spec in ("uniform", "beta", "sec"):
        for seed in range(5):
            acc = rng.uniform(0.3, 0.6)
            for r in (0, 1000, 2000):
                rows.append(
                    {
                        "scheduler": spec,
                        "seed": seed,
                        "rollouts": r,
                        "heldout_acc": 0.1 + acc * r / 2000,
                        "zero_var_frac": 0.2,
                        "calib_abs_err": 0.1,
                        "time_sched_share": 0.01,
                    }
                )
    table = pd.DataFrame(rows)
    order = ["uniform", "beta", "sec"]

    def summary(t: pd.DataFrame) -> pd.DataFrame:
        return summarize(per_unit(t, paired_targets(t, "uniform")), order, "uniform", ci="bca")

    reference = summary(table)
    units = per_unit(table.sample(frac=1, random_state=3), 0.5)
    assert units["seed"].tolist() == list(range(5)) * 3  # seeds ascending within each scheduler
    for state in range(4):  # the same units in another row order: the same bootstrap resamples, the same intervals
        pd.testing.assert_frame_equal(summary(table.sample(frac=1, random_state=state)), reference)
