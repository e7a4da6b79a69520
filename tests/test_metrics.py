from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schedsim.analysis.metrics import (
    area_under_curve,
    bootstrap_ci,
    paired_targets,
    per_unit,
    rollouts_to_target,
    summarize,
)


def test_bootstrap_ci_is_seeded_and_brackets_the_mean() -> None:
    x = np.random.default_rng(0).normal(1.0, 1.0, 30)
    a, b = bootstrap_ci(x, seed=1), bootstrap_ci(x, seed=1)
    assert a == b and a[1] < a[0] < a[2]
    assert bootstrap_ci(x, seed=2) != a  # the seed reaches the resampling
    assert bootstrap_ci(np.array([0.5]))[1:] == (0.5, 0.5)
    assert np.isnan(bootstrap_ci(np.array([np.nan]))[0])


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
                        "sched_time_share": 0.01,
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
