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
