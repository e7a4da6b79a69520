"""Metrics over runs: bootstrap confidence intervals, area under the curve, rollouts to a target.

Shapes follow rliable: a metric is a vector over runs (seeds) for each scheduler; confidence intervals are
percentile bootstrap over runs with a seeded generator that is actually used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from schedsim.core.seeding import make_rng


def bootstrap_ci(
    values: np.ndarray,
    *,
    statistic: Callable[[np.ndarray], float] = np.mean,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(point, low, high)`` of ``statistic`` over runs, percentile bootstrap; NaNs dropped.

    Args:
        values: ``(runs,)``.
        statistic: reduces a resample to a number (default mean).
        n_boot: resamples.
        level: confidence level.
        seed: seeds the resampling.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return (np.nan, np.nan, np.nan)
    point = float(statistic(x))
    if x.size == 1:
        return (point, point, point)
    rng = make_rng(seed)
    idx = rng.integers(0, x.size, (n_boot, x.size))
    stats = np.apply_along_axis(statistic, 1, x[idx])
    alpha = (1 - level) / 2
    return point, float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def area_under_curve(rollouts: np.ndarray, acc: np.ndarray) -> float:
    """Mean accuracy over the rollout axis (trapezoid area divided by the span): 1 = perfect from the start."""
    r, a = np.asarray(rollouts, dtype=float), np.asarray(acc, dtype=float)
    span = r[-1] - r[0]
    if span <= 0:
        return float(a[-1])
    return float(np.sum((a[1:] + a[:-1]) / 2 * np.diff(r)) / span)


def rollouts_to_target(rollouts: np.ndarray, acc: np.ndarray, target: float) -> float:
    """First evaluation's rollouts at which ``acc >= target``, linearly interpolated; NaN if never reached."""
    r, a = np.asarray(rollouts, dtype=float), np.asarray(acc, dtype=float)
    hit = np.flatnonzero(a >= target)
    if hit.size == 0:
        return np.nan
    i = int(hit[0])
    if i == 0:
        return float(r[0])
    frac = (target - a[i - 1]) / (a[i] - a[i - 1])
    return float(r[i - 1] + frac * (r[i] - r[i - 1]))


def per_unit(table: pd.DataFrame, target: float | dict[int, float], metric: str = "heldout_acc") -> pd.DataFrame:
    """One row per (scheduler, seed): final accuracy, AUC, rollouts to target, zero-variance fraction, ...

    ``target`` is one accuracy, or one per seed (paired targets, see :func:`paired_targets`).
    """
    rows = []
    for (spec, seed), unit in table.sort_values("rollouts").groupby(["scheduler", "seed"], sort=False):
        r, a = unit["rollouts"].to_numpy(), unit[metric].to_numpy()
        goal = target.get(int(seed), np.nan) if isinstance(target, dict) else target
        rows.append(
            {
                "scheduler": spec,
                "seed": seed,
                "final": float(a[-1]),
                "auc": area_under_curve(r, a),
                "to_target": rollouts_to_target(r, a, goal),
                "zero_var": float(unit["zero_var_frac"].mean()),
                "calib": float(unit["calib_abs_err"].iloc[1:].mean()) if len(unit) > 1 else np.nan,
                "sched_share": float(unit["sched_time_share"].mean()),
            }
        )
    return pd.DataFrame(rows)


def paired_targets(table: pd.DataFrame, baseline: str, metric: str = "heldout_acc") -> dict[int, float]:
    """Per seed, the baseline's final accuracy on that seed: "rollouts to match the baseline's final level".

    Seeds build different worlds, so a per-seed target keeps the comparison paired; the baseline itself reaches
    its target at (about) the full budget, and a scheduler's rollouts-to-target over the budget is its speed-up.
    """
    last = table.sort_values("rollouts").groupby(["scheduler", "seed"]).tail(1)
    base = last[last["scheduler"] == baseline]
    return {int(s): float(v) for s, v in zip(base["seed"], base[metric], strict=True)}


def summarize(units: pd.DataFrame, order: list[str], baseline: str, *, seed: int = 0) -> pd.DataFrame:
    """Per scheduler: mean and 95 % bootstrap CI of each per-unit metric, and paired differences vs baseline."""
    base = units[units["scheduler"] == baseline].set_index("seed")
    rows = []
    for spec in order:
        u = units[units["scheduler"] == spec]
        if u.empty:
            continue
        row: dict[str, object] = {"scheduler": spec, "seeds": len(u)}
        for col in ("final", "auc", "to_target", "zero_var", "calib", "sched_share"):
            point, lo, hi = bootstrap_ci(u[col].to_numpy(), seed=seed)
            row.update({col: point, f"{col}_lo": lo, f"{col}_hi": hi})
        row["reached"] = float(np.mean(~np.isnan(u["to_target"].to_numpy())))
        paired = u.set_index("seed")["final"] - base["final"]
        point, lo, hi = bootstrap_ci(paired.dropna().to_numpy(), seed=seed)
        row.update({"final_vs_base": point, "final_vs_base_lo": lo, "final_vs_base_hi": hi})
        wins = paired.dropna()
        row["wins_vs_base"] = f"{int((wins > 0).sum())}/{len(wins)}"
        rows.append(row)
    return pd.DataFrame(rows)


def curve_band(table: pd.DataFrame, metric: str, *, seed: int = 0) -> pd.DataFrame:
    """Per scheduler and evaluation index: mean rollouts, mean metric and its 95 % bootstrap CI over seeds."""
    rows = []
    for spec, sub in table.groupby("scheduler", sort=False):
        sub = sub.sort_values(["seed", "rollouts"]).copy()
        sub["eval_idx"] = sub.groupby("seed").cumcount()
        for idx, at in sub.groupby("eval_idx"):
            point, lo, hi = bootstrap_ci(at[metric].to_numpy(), seed=seed, n_boot=500)
            rows.append({"scheduler": spec, "rollouts": at["rollouts"].mean(), "mean": point, "lo": lo, "hi": hi})
            del idx
    return pd.DataFrame(rows)


def paired_delta_band(table: pd.DataFrame, baseline: str, metric: str, *, seed: int = 0) -> pd.DataFrame:
    """Per scheduler and evaluation index: mean and 95 % CI over seeds of (metric - baseline's, same seed)."""
    t = table.sort_values(["scheduler", "seed", "rollouts"]).copy()
    t["eval_idx"] = t.groupby(["scheduler", "seed"]).cumcount()
    base = t[t["scheduler"] == baseline][["seed", "eval_idx", metric]].rename(columns={metric: "base"})
    rows = []
    for spec, sub in t[t["scheduler"] != baseline].groupby("scheduler", sort=False):
        joined = sub.merge(base, on=["seed", "eval_idx"])
        for _, at in joined.groupby("eval_idx"):
            point, lo, hi = bootstrap_ci((at[metric] - at["base"]).to_numpy(), seed=seed, n_boot=500)
            rows.append({"scheduler": spec, "rollouts": at["rollouts"].mean(), "mean": point, "lo": lo, "hi": hi})
    return pd.DataFrame(rows, columns=["scheduler", "rollouts", "mean", "lo", "hi"])
