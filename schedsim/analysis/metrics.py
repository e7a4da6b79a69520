"""Per-unit metrics of runs (final accuracy, area under the curve, rollouts to a target) and their summaries.

A unit table has one row per evaluation of a (scheduler, seed) run; :func:`per_unit` reduces it to one row per
run, and :func:`summarize`, :func:`curve_band` and :func:`paired_delta_band` put intervals over seeds on it
through :mod:`schedsim.analysis.stats`, the one module that computes intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schedsim.analysis.stats import censored_median, check_method, mean_interval, paired_delta, wins


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
    """One row per (scheduler, seed) run from its evaluations.

    Columns: ``final`` (last evaluation's ``metric``), ``auc`` (:func:`area_under_curve`), ``to_target``
    (:func:`rollouts_to_target`, NaN if never reached), ``budget_used`` (rollouts at the last evaluation: where a
    run that never reached the target is censored), ``zero_var`` (mean zero-variance fraction over
    evaluations), ``calib`` (mean |p̂ − p| over evaluations after the first, whose estimates are the prior),
    ``time_sched_share`` (mean share of wall time spent in the scheduler; like every ``time_`` column it is a
    measurement of the machine, not a result, and is ignored when results are compared).

    Args:
        table: unit tables, columns ``scheduler, seed, rollouts, metric, zero_var_frac, calib_abs_err,
            time_sched_share``.
        target: one accuracy, or one per seed (paired targets, see :func:`paired_targets`).
        metric: the accuracy column.
    """
    rows = []
    # canonical order whatever the input's row order: schedulers as first seen, seeds ascending, evaluations by
    # rollouts (stable), so resampling intervals (BCa, aggregates) are the same for the same units
    first_seen = {spec: i for i, spec in enumerate(dict.fromkeys(table["scheduler"]))}
    table = table.assign(_order=table["scheduler"].map(first_seen)).sort_values(
        ["_order", "seed", "rollouts"], kind="stable"
    )
    for (_, spec, seed), unit in table.groupby(["_order", "scheduler", "seed"], sort=False):
        r, a = unit["rollouts"].to_numpy(), unit[metric].to_numpy()
        goal = target.get(int(seed), np.nan) if isinstance(target, dict) else target
        rows.append(
            {
                "scheduler": spec,
                "seed": seed,
                "final": float(a[-1]),
                "auc": area_under_curve(r, a),
                "to_target": rollouts_to_target(r, a, goal),
                "budget_used": float(r[-1]),
                "zero_var": float(unit["zero_var_frac"].mean()),
                "calib": float(unit["calib_abs_err"].iloc[1:].mean()) if len(unit) > 1 else np.nan,
                "time_sched_share": float(unit["time_sched_share"].mean()),
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


SUMMARY_METRICS = ("final", "auc", "zero_var", "calib", "time_sched_share")


def summarize(
    units: pd.DataFrame, order: list[str], baseline: str, *, ci: str = "t", level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Per scheduler: each per-unit metric's mean over seeds with its interval, the paired difference of the
    final accuracy to the baseline with its interval, wins, and the censored rollouts-to-target.

    Args:
        units: :func:`per_unit`'s table.
        order: schedulers, in the order of the rows (absent ones skipped).
        baseline: the scheduler of the paired differences.
        ci: ``"t"`` (Student-t) or ``"bca"`` (BCa bootstrap), see :func:`~schedsim.analysis.stats.mean_interval`.
        level: confidence level.
        seed: seeds the bootstrap.

    Returns:
        One row per scheduler: ``seeds``, ``<m>, <m>_lo, <m>_hi`` for each of :data:`SUMMARY_METRICS`,
        ``final_vs_base[_lo|_hi]``, ``wins_vs_base`` ("3/5"), ``to_target`` (Kaplan–Meier median rollouts, inf
        when fewer than half reached the target), ``reached`` (count), ``to_target_label`` (">200k (2/5)"),
        ``ci``, ``level``.
    """
    check_method(ci)
    rows = []
    for spec in order:
        u = units[units["scheduler"] == spec]
        if u.empty:
            continue
        row: dict[str, object] = {"scheduler": spec, "seeds": len(u)}
        for col in SUMMARY_METRICS:
            iv = mean_interval(u[col], method=ci, level=level, seed=seed)
            row.update({col: iv.point, f"{col}_lo": iv.lo, f"{col}_hi": iv.hi})
        delta = paired_delta(units, spec, baseline, method=ci, level=level, seed=seed)
        row.update({"final_vs_base": delta.point, "final_vs_base_lo": delta.lo, "final_vs_base_hi": delta.hi})
        won, pairs = wins(units, spec, baseline)
        row["wins_vs_base"] = f"{won}/{pairs}"
        km = censored_median(u["to_target"], u["budget_used"])
        row.update({"to_target": km.median, "reached": km.reached, "to_target_label": km.label()})
        rows.append(row | {"ci": ci, "level": level})
    return pd.DataFrame(rows)


def _eval_index(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``table`` sorted by ``keys`` + rollouts, with ``eval_idx``: the evaluation's index within its run."""
    t = table.sort_values([*keys, "rollouts"]).copy()
    t["eval_idx"] = t.groupby(keys).cumcount()
    return t


def curve_band(table: pd.DataFrame, metric: str, *, level: float = 0.95) -> pd.DataFrame:
    """Per scheduler and evaluation index: mean rollouts, mean ``metric`` over seeds and its t interval.

    Returns:
        Columns ``scheduler, rollouts, mean, lo, hi`` (NaN bounds with one seed).
    """
    rows = []
    for spec, sub in _eval_index(table, ["scheduler", "seed"]).groupby("scheduler", sort=False):
        for _, at in sub.groupby("eval_idx"):
            iv = mean_interval(at[metric], method="t", level=level)
            rows.append(
                {"scheduler": spec, "rollouts": at["rollouts"].mean(), "mean": iv.point, "lo": iv.lo, "hi": iv.hi}
            )
    return pd.DataFrame(rows, columns=["scheduler", "rollouts", "mean", "lo", "hi"])


def paired_delta_band(table: pd.DataFrame, baseline: str, metric: str, *, level: float = 0.95) -> pd.DataFrame:
    """Per scheduler and evaluation index: mean over seeds of (metric − baseline's, same seed), t interval.

    Returns:
        Columns ``scheduler, rollouts, mean, lo, hi``; the baseline itself is left out.
    """
    t = _eval_index(table, ["scheduler", "seed"])
    base = t[t["scheduler"] == baseline][["seed", "eval_idx", metric]].rename(columns={metric: "base"})
    rows = []
    for spec, sub in t[t["scheduler"] != baseline].groupby("scheduler", sort=False):
        joined = sub.merge(base, on=["seed", "eval_idx"])
        for _, at in joined.groupby("eval_idx"):
            iv = mean_interval(at[metric] - at["base"], method="t", level=level)
            rows.append(
                {"scheduler": spec, "rollouts": at["rollouts"].mean(), "mean": iv.point, "lo": iv.lo, "hi": iv.hi}
            )
    return pd.DataFrame(rows, columns=["scheduler", "rollouts", "mean", "lo", "hi"])
