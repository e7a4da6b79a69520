"""Statistics over tidy tables of runs: seed intervals, paired differences, censored times, rliable aggregates.

The one module of schedsim that computes confidence intervals or resamples. Inputs are tidy tables with one row
per run (a (scheduler, seed) unit): columns ``scheduler``, ``seed`` and a metric such as ``final``; the
aggregates across environments add ``world`` (one ``schedsim compare`` run directory), so a table holds
runs × worlds × seeds. Seed ``s`` builds the same world for every scheduler, so differences pair by seed.

- Intervals of a mean over seeds: Student-t (default) or BCa bootstrap (:func:`scipy.stats.bootstrap`).
  With 3–5 seeds a percentile bootstrap is too narrow (it ignores the t quantile's heavier tails); BCa corrects
  bias and skew but not that, so t is the default.
- Rollouts to a target: a seed that never reaches it is right-censored at the rollouts it consumed (the
  budget), never dropped; the Kaplan–Meier median (:func:`scipy.stats.ecdf`) summarises them.
- Aggregates across worlds (rliable): interquartile mean, probability of improvement and performance profiles,
  with stratified bootstrap intervals (seeds resampled within each world, worlds kept).

References:
    Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021,
    arXiv 2108.13264 (rliable: IQM, probability of improvement, performance profiles, stratified bootstrap).
    Efron, "Better Bootstrap Confidence Intervals", JASA 1987 (BCa). Kaplan & Meier, JASA 1958.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from schedsim.core.errors import SchedsimError, accepted
from schedsim.core.seeding import make_rng

CI_METHODS = ("t", "bca")  # intervals of a mean over seeds (report, compare)
AGGREGATE_METHODS = ("percentile", "bca")  # stratified bootstrap intervals across worlds (aggregate)
N_RESAMPLES = 9999  # scipy.stats.bootstrap's default
MIN_RELIABLE_SEEDS = 5  # below this, reports say that the intervals are wide and unreliable


class StatsError(SchedsimError, ValueError):
    """A bad statistics request: unknown interval method, level out of range, missing scheduler or column."""


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval.

    Attributes:
        point: the estimate (a mean, an IQM, a probability).
        lo, hi: interval bounds; NaN when it cannot be computed (fewer than 2 values).
        n: number of values it rests on (seeds, or runs over all worlds).
        method: ``"t"``, ``"bca"`` or ``"percentile"``.
        level: confidence level, e.g. 0.95.
    """

    point: float
    lo: float
    hi: float
    n: int
    method: str
    level: float = 0.95

    @property
    def width(self) -> float:
        """``hi − lo`` (NaN when the bounds are)."""
        return self.hi - self.lo

    def __str__(self) -> str:
        return f"{self.point:.3f} [{self.lo:.3f}, {self.hi:.3f}]"


def check_method(method: str, allowed: Sequence[str] = CI_METHODS) -> str:
    """Return ``method`` if it is one of ``allowed``, else raise StatsError naming the accepted ones."""
    if method not in allowed:
        raise StatsError(f"ci={method!r} is not an interval method here; accepted: {accepted(allowed)}")
    return method


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise StatsError(f"level={level!r} is out of range; accepted: a confidence level in (0, 1)")


def _bootstrap(
    samples: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    *,
    method: str,
    level: float,
    seed: int,
    n_resamples: int,
    paired: bool = False,
) -> Any:
    """:func:`scipy.stats.bootstrap`'s result (``confidence_interval``, ``bootstrap_distribution``), seeded.

    ``statistic(*samples, axis=-1)`` must be vectorised over leading axes. Several samples make a stratified
    bootstrap (each stratum resampled within itself, its size kept), or with ``paired`` one resample of items
    shared by all samples. NaN bounds when scipy cannot form them.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # BCa on (near-)degenerate resamples: NaN, reported as such
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            samples, statistic, n_resamples=n_resamples, vectorized=True, paired=paired, axis=-1,
            confidence_level=level, method=method, rng=make_rng(seed),
        )  # fmt: skip
    return result


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def mean_interval(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    method: str = "t",
    level: float = 0.95,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> Interval:
    """Mean over runs with a two-sided confidence interval; NaNs dropped.

    ``"t"``: mean ± t_{(1+level)/2, n-1} · s / √n (:meth:`scipy.stats.ttest_1samp` ``.confidence_interval``).
    ``"bca"``: bias-corrected and accelerated bootstrap of the mean (:func:`scipy.stats.bootstrap`, generator
    from ``seed``). Fewer than 2 values: NaN bounds. A constant sample: ``lo = hi = point`` (BCa is undefined).

    Args:
        values: ``(runs,)`` one value per seed.
        method: ``"t"`` or ``"bca"``.
        level: confidence level.
        seed: seeds the bootstrap (unused by ``"t"``).
        n_resamples: bootstrap resamples.

    Returns:
        The :class:`Interval`, with ``n`` the number of non-NaN values.
    """
    check_method(method)
    _check_level(level)
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    point = float(x.mean()) if x.size else np.nan
    if x.size < 2:
        return Interval(point, np.nan, np.nan, int(x.size), method, level)
    if np.ptp(x) == 0:
        return Interval(point, point, point, int(x.size), method, level)
    if method == "t":
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence_level=level)
        lo, hi = float(ci.low), float(ci.high)
    else:
        ci = _bootstrap((x,), _mean, method="BCa", level=level, seed=seed, n_resamples=n_resamples).confidence_interval
        lo, hi = float(ci.low), float(ci.high)
    return Interval(point, lo, hi, int(x.size), method, level)


def _ratio_of_means(num: np.ndarray, den: np.ndarray, axis: int = -1) -> np.ndarray:
    top, bottom = np.mean(num, axis=axis), np.mean(den, axis=axis)
    return np.divide(top, bottom, out=np.full(np.shape(top), np.nan), where=bottom > 0)


def ratio_interval(
    num: np.ndarray, den: np.ndarray, *, level: float = 0.95, seed: int = 0, n_resamples: int = 2000
) -> Interval:
    """``mean(num) / mean(den)`` over items with a percentile-bootstrap interval, items resampled as pairs.

    Used for a bin's SNR (signal and trace of the same prompts). Percentile, not BCa: the jackknife of a ratio
    over a handful of prompts is unstable. Resamples whose mean denominator is 0 (ratio undefined) are left out
    of the percentiles; NaN bounds if every resample is.

    Args:
        num: ``(items,)`` numerators (e.g. per-prompt ||E g||²).
        den: ``(items,)`` denominators (e.g. per-prompt tr Cov g), mean > 0.
        level, seed, n_resamples: the bootstrap's settings.
    """
    _check_level(level)
    x, y = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    point = float(_ratio_of_means(x, y))
    if x.size < 2:
        return Interval(point, np.nan, np.nan, int(x.size), "percentile", level)
    boot = _bootstrap(
        (x, y), _ratio_of_means, method="percentile", level=level, seed=seed, n_resamples=n_resamples, paired=True
    ).bootstrap_distribution  # (n_resamples,)
    if np.isnan(boot).all():
        return Interval(point, np.nan, np.nan, int(x.size), "percentile", level)
    lo, hi = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2])  # resamples with an undefined ratio left out
    return Interval(point, float(lo), float(hi), int(x.size), "percentile", level)


def _by_seed(units: pd.DataFrame, spec: str, metric: str) -> pd.Series:
    """``metric`` of ``spec`` indexed by seed; StatsError if the scheduler or column is missing."""
    if metric not in units.columns:
        raise StatsError(f"metric {metric!r} is not a column; accepted: {accepted(units.columns)}")
    sub = units[units["scheduler"] == spec]
    if sub.empty:
        raise StatsError(f"scheduler {spec!r} has no runs; accepted: {accepted(dict.fromkeys(units['scheduler']))}")
    if sub["seed"].duplicated().any():
        raise StatsError(f"scheduler {spec!r} has two runs with the same seed; accepted: one run per seed")
    return sub.set_index("seed")[metric].astype(float)


def paired_differences(units: pd.DataFrame, spec: str, baseline: str, *, metric: str = "final") -> pd.Series:
    """``spec − baseline`` per seed, over the seeds both ran (NaNs dropped); index: seed."""
    return (_by_seed(units, spec, metric) - _by_seed(units, baseline, metric)).dropna()


def paired_delta(
    units: pd.DataFrame,
    spec: str,
    baseline: str,
    *,
    metric: str = "final",
    method: str = "t",
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Mean paired difference ``spec − baseline`` over seeds, with its interval (:func:`mean_interval`).

    Args:
        units: tidy per-unit table, columns ``scheduler``, ``seed``, ``metric`` (one row per scheduler and seed).
        spec: the scheduler compared.
        baseline: the scheduler it is compared with; seed ``s`` of both ran in the same world.
        metric: the column compared.
        method, level, seed: as in :func:`mean_interval`.
    """
    return mean_interval(
        paired_differences(units, spec, baseline, metric=metric), method=method, level=level, seed=seed
    )


def wins(units: pd.DataFrame, spec: str, baseline: str, *, metric: str = "final") -> tuple[int, int]:
    """``(seeds where spec > baseline, paired seeds)``; a tie is not a win."""
    diff = paired_differences(units, spec, baseline, metric=metric)
    return int((diff > 0).sum()), int(diff.size)


@dataclass(frozen=True)
class CensoredMedian:
    """Kaplan–Meier median time to an event over runs, some censored.

    Attributes:
        median: smallest time at which the Kaplan–Meier survival S(t) ≤ 1/2; ``inf`` when it never gets there
            (fewer than half of the runs reached the target before being censored); NaN with no runs.
        reached: runs that reached the target.
        n: runs.
        horizon: the largest censoring time (the budget the runs consumed).
    """

    median: float
    reached: int
    n: int
    horizon: float

    def label(self) -> str:
        """``"150k (3/5)"``; ``">200k (2/5)"`` when the median is not reached within the budget."""
        if self.n == 0:
            return "n/a"
        if np.isinf(self.median):
            return f">{_rollouts(self.horizon)} ({self.reached}/{self.n})"
        return f"{_rollouts(self.median)} ({self.reached}/{self.n})"


def _rollouts(value: float) -> str:
    """``199680 -> "200k"``, ``640 -> "640"``."""
    return f"{value / 1000:.0f}k" if value >= 10_000 else f"{value:.0f}"


def censored_median(
    times: Sequence[float] | np.ndarray, horizon: float | Sequence[float] | np.ndarray
) -> CensoredMedian:
    """Kaplan–Meier median of rollouts-to-target, runs that never reached it censored at their budget.

    Args:
        times: ``(runs,)`` rollouts at which each run reached the target; NaN for a run that never did.
        horizon: scalar or ``(runs,)``: the rollouts each run consumed; a run with NaN ``times`` is right-censored
            there (it had not reached the target after that many rollouts).

    Returns:
        The :class:`CensoredMedian`. Averaging only the runs that reached the target would reward a scheduler
        for its failures; censoring counts them as "more than the budget".
    """
    t = np.asarray(times, dtype=np.float64).ravel()
    h = np.broadcast_to(np.asarray(horizon, dtype=np.float64), t.shape)
    hit = ~np.isnan(t)
    n, reached = int(t.size), int(hit.sum())
    if n == 0:
        return CensoredMedian(np.nan, 0, 0, np.nan)
    top = float(np.nanmax(np.where(hit, t, h)))
    if reached == 0:
        return CensoredMedian(np.inf, 0, n, top)
    survival = stats.ecdf(stats.CensoredData(uncensored=t[hit], right=h[~hit])).sf
    below = np.flatnonzero(survival.probabilities <= 0.5)
    median = float(survival.quantiles[below[0]]) if below.size else np.inf
    return CensoredMedian(median, reached, n, top)


# --- aggregates across worlds (rliable): tidy table with columns scheduler, world, seed, <metric> -------------


def strata(table: pd.DataFrame, spec: str, *, metric: str = "final") -> dict[str, np.ndarray]:
    """``{world: (seeds,) scores}`` of one scheduler, NaNs dropped, worlds sorted by name.

    Args:
        table: tidy table, columns ``scheduler``, ``world``, ``seed``, ``metric``.
        spec: the scheduler.
        metric: the score column.
    """
    if metric not in table.columns:
        raise StatsError(f"metric {metric!r} is not a column; accepted: {accepted(table.columns)}")
    sub = table[table["scheduler"] == spec]
    if sub.empty:
        raise StatsError(f"scheduler {spec!r} has no runs; accepted: {accepted(dict.fromkeys(table['scheduler']))}")
    groups = {str(w): g[metric].to_numpy(np.float64) for w, g in sub.groupby("world", sort=True)}
    return {w: x[~np.isnan(x)] for w, x in groups.items() if np.any(~np.isnan(x))}


def iqm(scores: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Interquartile mean: the mean of the middle 50 % of the scores (25 % cut from each end).

    Args:
        scores: any shape, e.g. ``(runs, worlds)``; all entries pooled when ``axis`` is None (rliable's IQM).
        axis: reduce along this axis instead.
    """
    return stats.trim_mean(np.asarray(scores, dtype=np.float64), 0.25, axis=axis)


def _iqm_of_strata(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    return iqm(np.concatenate(samples, axis=axis), axis=axis)


def _stratified_interval(
    samples: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    *,
    method: str,
    level: float,
    seed: int,
    n_resamples: int,
) -> tuple[float, float, float]:
    """``(point, lo, hi)`` of a statistic of strata, stratified bootstrap (:func:`_bootstrap`).

    A stratum needs 2 values to be resampled; with a single value in any stratum the bounds are NaN.
    """
    check_method(method, AGGREGATE_METHODS)
    _check_level(level)
    point = float(statistic(*samples, axis=-1))
    if min(s.size for s in samples) < 2:
        return point, np.nan, np.nan
    if all(np.ptp(s) == 0 for s in samples):  # every resample equals the data (BCa would be undefined)
        return point, point, point
    scipy_method = {"percentile": "percentile", "bca": "BCa"}[method]
    ci = _bootstrap(samples, statistic, method=scipy_method, level=level, seed=seed, n_resamples=n_resamples)
    lo, hi = float(ci.confidence_interval.low), float(ci.confidence_interval.high)
    return point, lo, hi


def iqm_interval(
    table: pd.DataFrame,
    spec: str,
    *,
    metric: str = "final",
    method: str = "percentile",
    level: float = 0.95,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> Interval:
    """IQM of one scheduler's scores over all worlds and seeds, stratified-bootstrap interval.

    Seeds are resampled with replacement within each world (each world keeps its number of seeds), as rliable's
    ``StratifiedBootstrap``; ``method`` is ``"percentile"`` (rliable's default) or ``"bca"``.

    Args:
        table: tidy table, columns ``scheduler``, ``world``, ``seed``, ``metric``.
        spec: the scheduler.
        metric, method, level, seed, n_resamples: the score column and the bootstrap's settings.
    """
    samples = tuple(strata(table, spec, metric=metric).values())
    point, lo, hi = _stratified_interval(
        samples, _iqm_of_strata, method=method, level=level, seed=seed, n_resamples=n_resamples
    )
    return Interval(point, lo, hi, sum(s.size for s in samples), method, level)


def mann_whitney_fraction(x: np.ndarray, y: np.ndarray) -> np.ndarray | float:
    """P(X > Y) + ½ P(X = Y) over all pairs of runs: the Mann–Whitney U statistic divided by ``n·m``.

    Args:
        x: ``(..., n)`` scores of one scheduler in one world.
        y: ``(..., m)`` scores of the other in the same world; leading axes broadcast.
    """
    diff = np.asarray(x)[..., :, None] - np.asarray(y)[..., None, :]  # (..., n, m)
    return np.mean((diff > 0) + 0.5 * (diff == 0), axis=(-2, -1))


def _improvement_of_strata(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean over worlds of the Mann–Whitney fraction; ``samples`` alternate x and y world by world."""
    del axis  # samples arrive with the run axis last
    return np.mean([mann_whitney_fraction(x, y) for x, y in zip(samples[0::2], samples[1::2], strict=True)], axis=0)


def improvement_probability(
    table: pd.DataFrame,
    spec: str,
    baseline: str,
    *,
    metric: str = "final",
    method: str = "percentile",
    level: float = 0.95,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> Interval:
    """rliable's probability of improvement P(spec > baseline), stratified-bootstrap interval.

    Per world, the probability that a run of ``spec`` scores above a run of ``baseline`` (ties count ½, i.e. the
    Mann–Whitney fraction over all pairs of runs), averaged over the worlds both ran. Each scheduler's seeds are
    resampled independently within each world, as in rliable (runs are treated as unpaired).

    Args:
        table: tidy table, columns ``scheduler``, ``world``, ``seed``, ``metric``.
        spec: the scheduler X.
        baseline: the scheduler Y.
        metric, method, level, seed, n_resamples: the score column and the bootstrap's settings.
    """
    xs, ys = strata(table, spec, metric=metric), strata(table, baseline, metric=metric)
    worlds = sorted(set(xs) & set(ys))
    if not worlds:
        raise StatsError(f"{spec!r} and {baseline!r} share no world; accepted: schedulers run in the same worlds")
    samples = tuple(s for w in worlds for s in (xs[w], ys[w]))
    point, lo, hi = _stratified_interval(
        samples, _improvement_of_strata, method=method, level=level, seed=seed, n_resamples=n_resamples
    )
    return Interval(point, lo, hi, sum(xs[w].size for w in worlds), method, level)


def performance_profile(
    table: pd.DataFrame, taus: Sequence[float] | np.ndarray, *, metric: str = "final"
) -> pd.DataFrame:
    """Run-score distribution: per scheduler, the fraction of runs with score > τ for each τ.

    The fraction is taken within each world and averaged over worlds (rliable's pooled fraction when every
    world has the same number of seeds; a world with more seeds does not weigh more).

    Args:
        table: tidy table, columns ``scheduler``, ``world``, ``seed``, ``metric``.
        taus: ``(T,)`` thresholds.
        metric: the score column.

    Returns:
        Long table with columns ``scheduler``, ``tau``, ``fraction`` (``len(schedulers) × T`` rows).
    """
    tau = np.asarray(taus, dtype=np.float64)
    rows = []
    for spec in dict.fromkeys(table["scheduler"]):
        per_world = [np.mean(x[:, None] > tau[None, :], axis=0) for x in strata(table, spec, metric=metric).values()]
        rows.append(pd.DataFrame({"scheduler": spec, "tau": tau, "fraction": np.mean(per_world, axis=0)}))
    return pd.concat(rows, ignore_index=True)


def aggregate_table(
    table: pd.DataFrame,
    order: Sequence[str],
    baseline: str,
    *,
    metric: str = "final",
    method: str = "percentile",
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per scheduler across worlds: IQM and P(improvement vs ``baseline``), each with its interval.

    Returns:
        One row per scheduler of ``order``: ``scheduler, worlds, runs, iqm, iqm_lo, iqm_hi, p_improve,
        p_improve_lo, p_improve_hi, method, level`` (the baseline's own P(improvement) is ½ by construction).
    """
    rows = []
    for spec in order:
        centre = iqm_interval(table, spec, metric=metric, method=method, level=level, seed=seed)
        better = improvement_probability(table, spec, baseline, metric=metric, method=method, level=level, seed=seed)
        rows.append(
            {
                "scheduler": spec,
                "worlds": len(strata(table, spec, metric=metric)),
                "runs": centre.n,
                "iqm": centre.point,
                "iqm_lo": centre.lo,
                "iqm_hi": centre.hi,
                "p_improve": better.point,
                "p_improve_lo": better.lo,
                "p_improve_hi": better.hi,
                "method": method,
                "level": level,
            }
        )
    return pd.DataFrame(rows)
