"""Plots of a comparison. Each function draws on ``ax`` (created if None) and returns the Axes; none saves."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # figures are written to files; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from schedsim.analysis.metrics import curve_band, paired_delta_band
from schedsim.runner.loop import P_BINS


def _axes(ax: Axes | None) -> Axes:
    return plt.subplots(figsize=(6, 4))[1] if ax is None else ax


def _kilo(ax: Axes) -> None:
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))


def plot_curves(
    table: pd.DataFrame, metric: str, *, ylabel: str, ax: Axes | None = None, skip_first: bool = False
) -> Axes:
    """Mean of ``metric`` vs rollouts per scheduler with a 95 % Student-t band over seeds."""
    ax = _axes(ax)
    band = curve_band(table, metric)
    for spec, b in band.groupby("scheduler", sort=False):
        b = b.iloc[1:] if skip_first else b
        line = ax.plot(b["rollouts"], b["mean"], label=spec)[0]
        ax.fill_between(b["rollouts"], b["lo"], b["hi"], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("rollouts consumed (all, selection included)")
    ax.set_ylabel(ylabel)
    _kilo(ax)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_paired_delta(table: pd.DataFrame, baseline: str, metric: str, *, ax: Axes | None = None) -> Axes:
    """Paired difference to the baseline (same seed = same world) vs rollouts, mean ± 95 % Student-t CI."""
    ax = _axes(ax)
    band = paired_delta_band(table, baseline, metric)
    order = list(dict.fromkeys(table["scheduler"]))
    colours = {spec: f"C{i}" for i, spec in enumerate(order)}
    for spec, b in band.groupby("scheduler", sort=False):
        ax.plot(b["rollouts"], b["mean"], color=colours[spec], label=spec)
        ax.fill_between(b["rollouts"], b["lo"], b["hi"], color=colours[spec], alpha=0.2)
    ax.axhline(0.0, color="grey", lw=1)
    ax.set_xlabel("rollouts consumed")
    ax.set_ylabel(f"Δ vs {baseline} (paired by seed)")
    _kilo(ax)
    if not band.empty:  # a run of the baseline alone has no difference to draw
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_selection(table: pd.DataFrame, spec: str, *, ax: Axes | None = None) -> Axes:
    """Heatmap: fraction of the selected prompts in each true-pass-rate bin, over training (one scheduler)."""
    ax = _axes(ax)
    sub = table[(table["scheduler"] == spec) & (table["rollouts"] > 0)]
    cols = [f"sel_p{b}" for b in range(P_BINS)]
    grid = sub.groupby("rollouts")[cols].mean()
    if grid.empty:
        ax.set_title(f"{spec}: no selections recorded")
        return ax
    extent = (grid.index.min(), grid.index.max(), 0.0, 1.0)
    ax.imshow(grid.to_numpy().T, origin="lower", aspect="auto", extent=extent, cmap="viridis", vmin=0)
    ax.set_title(spec, fontsize=9)
    ax.set_xlabel("rollouts")
    _kilo(ax)
    ax.set_ylabel("true pass rate of selected prompts")
    return ax


def selection_figure(table: pd.DataFrame, order: list[str], ncols: int = 4) -> plt.Figure:
    """One selection heatmap per scheduler, in rows of ``ncols``."""
    cols = min(ncols, len(order))
    rows = -(-len(order) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False, sharey=True)
    for ax, spec in zip(axes.flat, order, strict=False):
        plot_selection(table, spec, ax=ax)
    for ax in list(axes.flat)[len(order) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_snr(bins: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Empirical SNR per pass-rate bin with CIs, and the analytic curve, on log axes."""
    ax = _axes(ax)
    yerr = np.vstack([bins["snr"] - bins["snr_lo"], bins["snr_hi"] - bins["snr"]])
    ax.errorbar(bins["p"], bins["snr"], yerr=np.clip(yerr, 0, None), fmt="o", ms=3, label="empirical (95% CI)")
    if bins["snr_analytic"].notna().any():
        ax.plot(bins["p"], bins["snr_analytic"], "-", label="analytic")
    ax.set_xscale("logit")
    ax.set_yscale("log")
    ax.set_xlabel("pass rate p")
    ax.set_ylabel("SNR = ||E g||² / tr Cov g")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return ax


def plot_iqm(agg: pd.DataFrame, *, ax: Axes | None = None, xlabel: str = "IQM of final accuracy") -> Axes:
    """Horizontal bars: each scheduler's IQM across worlds with its interval (``aggregate_table`` rows)."""
    ax = _axes(ax)
    y = np.arange(len(agg))[::-1]
    err = np.vstack([agg["iqm"] - agg["iqm_lo"], agg["iqm_hi"] - agg["iqm"]])
    colours = [f"C{i}" for i in range(len(agg))]
    ax.barh(y, agg["iqm"], xerr=np.nan_to_num(err), color=colours, alpha=0.7, capsize=3)
    ax.set_yticks(y, agg["scheduler"])
    lo = float(np.nanmin(agg[["iqm", "iqm_lo"]].to_numpy()))
    ax.set_xlim(max(0.0, lo - 0.05), None)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3, axis="x")
    return ax


def plot_improvement(agg: pd.DataFrame, baseline: str, *, ax: Axes | None = None) -> Axes:
    """P(scheduler > baseline) across worlds with its interval, one point per scheduler; ½ = no difference."""
    ax = _axes(ax)
    rows = agg[agg["scheduler"] != baseline]
    y = np.arange(len(rows))[::-1]
    err = np.vstack([rows["p_improve"] - rows["p_improve_lo"], rows["p_improve_hi"] - rows["p_improve"]])
    ax.errorbar(rows["p_improve"], y, xerr=np.nan_to_num(err), fmt="o", capsize=3)
    ax.axvline(0.5, color="grey", ls=":", lw=1)
    ax.set_yticks(y, rows["scheduler"])
    ax.set_ylim(-0.5, len(rows) - 0.5)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(f"P(improvement over {baseline})")
    ax.grid(alpha=0.3, axis="x")
    return ax


def plot_profile(profile: pd.DataFrame, *, ax: Axes | None = None, xlabel: str = "final accuracy τ") -> Axes:
    """Performance profiles: fraction of runs with score > τ against τ, one line per scheduler."""
    ax = _axes(ax)
    for spec, p in profile.groupby("scheduler", sort=False):
        ax.plot(p["tau"], p["fraction"], label=spec)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax
