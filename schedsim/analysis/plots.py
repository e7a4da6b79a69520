"""Plots of a comparison. Each function draws on ``ax`` (created if None) and returns the Axes; none saves.

No backend is chosen here: a notebook keeps its inline backend, and a script or the CLI that only writes files
works on whatever non-interactive backend matplotlib picks (Agg when there is no display).

Colours: :func:`scheduler_styles` gives every scheduler the same colour in every figure, keyed by its base name
(``"beta:alpha=2"``, ``"beta (replay)"`` and ``"beta(2,2)"`` are variants of ``beta``); a variant gets a shade of
its base colour and a dashed or dotted line (a slot of :data:`VARIANT_SLOTS` picked by a stable hash of the label,
the next free one if another variant of the chart holds it), and no two labels of one chart share a colour.
"""

from __future__ import annotations

import re
import zlib

import matplotlib.colors
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from schedsim.analysis.metrics import curve_band, paired_delta_band
from schedsim.runner.loop import P_BINS

# one colour per registered scheduler (matplotlib's tab10, in a fixed order); never reassigned
SCHEDULER_COLOURS = {
    "paced": "#1f77b4",
    "sec": "#ff7f0e",
    "beta": "#2ca02c",
    "gaussian": "#d62728",
    "mopps": "#9467bd",
    "uniform-mixed": "#8c564b",
    "spo": "#e377c2",
    "uniform": "#7f7f7f",
    "plr": "#bcbd22",
    "lilo": "#17becf",
}
# colours for any other name (a weight shape, a new scheduler): picked by a stable hash of the base name
# (chosen far from the ten above: black, navy, maroon, mustard, teal, magenta, dark olive)
EXTRA_COLOURS = ("#000000", "#000080", "#800000", "#e6ab02", "#008080", "#c51b7d", "#5c4d00")
# a variant's slot: a shade of its base colour (mix factor with white > 0, with black < 0) and a line style
VARIANT_SLOTS = (
    (-0.4, "--"),
    (0.45, ":"),
    (-0.15, "-."),
    (0.25, (0, (5, 1))),
    (-0.6, (0, (3, 1, 1, 1, 1, 1))),
    (0.6, "--"),
    (0.1, ":"),
    (-0.3, (0, (1, 1))),
)

# environments whose pass rates are known exactly (the simulator); elsewhere they are sampled
KNOWN_PASS_RATES = frozenset({"bandit"})


def base_name(label: str) -> str:
    """The scheduler a label belongs to: ``"beta:alpha=2"``, ``"beta (replay)"``, ``"beta(2,2)"`` -> ``"beta"``."""
    return re.split(r"[:( ]", label.strip(), maxsplit=1)[0].lower()


def _shade(colour: str, factor: float) -> str:
    rgb = np.array(matplotlib.colors.to_rgb(colour))
    target = np.ones(3) if factor > 0 else np.zeros(3)
    return matplotlib.colors.to_hex(rgb + abs(factor) * (target - rgb))


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


def scheduler_styles(labels: list[str]) -> dict[str, dict[str, object]]:
    """``{label: {"color": hex, "linestyle": ...}}`` for the labels of one chart.

    A registered scheduler always gets its colour of :data:`SCHEDULER_COLOURS`; another base name gets one of
    :data:`EXTRA_COLOURS` by a stable hash (the next free one if taken in this chart). The label equal to its base
    name is drawn solid in the base colour; a variant gets a shade (stable hash of the label) and a dashed style.
    Colours are distinct within the chart.
    """
    labels = list(dict.fromkeys(labels))
    base_colour: dict[str, str] = {}
    bases = list(dict.fromkeys(base_name(label) for label in labels))
    taken = {SCHEDULER_COLOURS[b] for b in bases if b in SCHEDULER_COLOURS}
    for b in bases:
        if b in SCHEDULER_COLOURS:
            base_colour[b] = SCHEDULER_COLOURS[b]
            continue
        start = _stable(b) % len(EXTRA_COLOURS)
        free = [EXTRA_COLOURS[(start + k) % len(EXTRA_COLOURS)] for k in range(len(EXTRA_COLOURS))]
        pick = next((c for c in free if c not in taken), None)
        k = 0
        while pick is None or pick in taken:  # more unknown names than colours: darker shades of the palette
            pick = _shade(free[k % len(free)], -0.3 - 0.1 * (k // len(free)))
            k += 1
        base_colour[b] = pick
        taken.add(pick)
    used = set(base_colour.values())
    slots: dict[str, set[int]] = {}  # the slots each base's variants hold in this chart
    out: dict[str, dict[str, object]] = {}
    for label in labels:
        b = base_name(label)
        if label.strip().lower() == b:
            out[label] = {"color": base_colour[b], "linestyle": "-"}
            continue
        start, held = _stable(label), slots.setdefault(b, set())
        for k in range(4 * len(VARIANT_SLOTS)):
            slot = (start + k) % len(VARIANT_SLOTS)
            factor, style = VARIANT_SLOTS[slot]
            colour = _shade(base_colour[b], factor * (1 - 0.1 * (k // len(VARIANT_SLOTS))))
            if (slot not in held or k >= len(VARIANT_SLOTS)) and colour not in used:
                break
        held.add(slot)
        used.add(colour)
        out[label] = {"color": colour, "linestyle": style}
    return out


def accuracy_labels(env: str | None) -> dict[str, str]:
    """Axis labels for an environment spec (``"bandit"``, ``"arith:tiny"``, None = unknown).

    Keys ``heldout`` (the ``heldout_acc`` curves) and ``selected`` (the selection heatmap): a true pass rate in
    the simulator, a sampled accuracy where pass rates must be estimated (arith, llm).
    """
    name = None if env is None else env.partition(":")[0].strip()
    if name in KNOWN_PASS_RATES:
        return {"heldout": "held-out accuracy (mean true pass rate)", "selected": "true pass rate of selected prompts"}
    if name is None:
        return {
            "heldout": "held-out accuracy",
            "selected": "pass rate of selected prompts\n(true if known, else group accuracy)",
        }
    return {
        "heldout": "held-out accuracy (sampled)",
        "selected": "group accuracy of selected prompts\n(sampled: the true pass rate is unknown)",
    }


def _axes(ax: Axes | None) -> Axes:
    return plt.subplots(figsize=(6, 4))[1] if ax is None else ax


def _kilo(ax: Axes) -> None:
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))


def legend(ax: Axes, **kwargs: object) -> None:
    """A legend with one entry per label (the first handle drawn with it), in drawing order."""
    unique: dict[str, object] = {}
    for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
        unique.setdefault(label, handle)
    if unique:
        ax.legend(list(unique.values()), list(unique.keys()), **({"fontsize": 8} | kwargs))


def plot_curves(
    table: pd.DataFrame,
    metric: str,
    *,
    ylabel: str,
    ax: Axes | None = None,
    skip_first: bool = False,
    band: bool = True,
    styles: dict[str, dict[str, object]] | None = None,
) -> Axes:
    """Mean of ``metric`` vs rollouts per scheduler with a light 95 % Student-t band over seeds (``band``)."""
    ax = _axes(ax)
    curves = curve_band(table, metric)
    styles = styles or scheduler_styles(list(dict.fromkeys(table["scheduler"])))
    for spec, b in curves.groupby("scheduler", sort=False):
        b = b.iloc[1:] if skip_first else b
        ax.plot(b["rollouts"], b["mean"], label=spec, **styles[spec])
        if band:
            ax.fill_between(b["rollouts"], b["lo"], b["hi"], color=styles[spec]["color"], alpha=0.08, lw=0)
    ax.set_xlabel("rollouts consumed (all, selection included)")
    ax.set_ylabel(ylabel)
    _kilo(ax)
    legend(ax)
    ax.grid(alpha=0.3)
    return ax


def plot_paired_delta(table: pd.DataFrame, baseline: str, metric: str, *, ax: Axes | None = None) -> Axes:
    """Paired difference to the baseline (same seed = same world) vs rollouts, mean ± 95 % Student-t CI."""
    ax = _axes(ax)
    band = paired_delta_band(table, baseline, metric)
    styles = scheduler_styles(list(dict.fromkeys(table["scheduler"])))
    for spec, b in band.groupby("scheduler", sort=False):
        ax.plot(b["rollouts"], b["mean"], label=spec, **styles[spec])
        ax.fill_between(b["rollouts"], b["lo"], b["hi"], color=styles[spec]["color"], alpha=0.15, lw=0)
    ax.axhline(0.0, color="grey", lw=1)
    ax.set_xlabel("rollouts consumed")
    ax.set_ylabel(f"Δ vs {baseline} (paired by seed)")
    _kilo(ax)
    legend(ax)  # a run of the baseline alone has no difference to draw, and no legend
    ax.grid(alpha=0.3)
    return ax


def _selection_grid(table: pd.DataFrame, spec: str) -> pd.DataFrame:
    sub = table[(table["scheduler"] == spec) & (table["rollouts"] > 0)]
    return sub.groupby("rollouts")[[f"sel_p{b}" for b in range(P_BINS)]].mean()


def plot_selection(
    table: pd.DataFrame,
    spec: str,
    *,
    ax: Axes | None = None,
    env: str | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Axes:
    """Heatmap: fraction of the selected prompts in each pass-rate bin, over training (one scheduler).

    The bins are of the true pass rate where the environment knows it (``env`` = bandit), else of the group's
    sampled accuracy; ``colorbar`` adds one to the figure (``selection_figure`` draws one for all panels).
    """
    ax = _axes(ax)
    grid = _selection_grid(table, spec)
    if grid.empty:
        ax.set_title(f"{spec}: no selections recorded")
        return ax
    extent = (grid.index.min(), grid.index.max(), 0.0, 1.0)
    image = ax.imshow(
        grid.to_numpy().T, origin="lower", aspect="auto", extent=extent, cmap="viridis", vmin=0, vmax=vmax
    )
    ax.set_title(spec, fontsize=9)
    ax.set_xlabel("rollouts")
    _kilo(ax)
    ax.set_ylabel(accuracy_labels(env)["selected"])
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="fraction of selected prompts")
    return ax


def selection_figure(table: pd.DataFrame, order: list[str], ncols: int = 4, *, env: str | None = None) -> plt.Figure:
    """One selection heatmap per scheduler, in rows of ``ncols``, on one colour scale with one colorbar."""
    cols = min(ncols, len(order))
    rows = -(-len(order) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.4 * cols + 1.0, 3.0 * rows), squeeze=False, sharey=True, layout="constrained"
    )
    grids = [_selection_grid(table, spec) for spec in order]
    vmax = max(
        (float(np.nanmax(g.to_numpy())) for g in grids if not g.empty and np.isfinite(g.to_numpy()).any()), default=1.0
    )
    for ax, spec in zip(axes.flat, order, strict=False):
        plot_selection(table, spec, ax=ax, env=env, vmax=vmax, colorbar=False)
    for ax in list(axes.flat)[len(order) :]:
        ax.axis("off")
    for ax in axes[:, 1:].flat:
        ax.set_ylabel("")
    mappable = plt.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, vmax), cmap="viridis")
    fig.colorbar(mappable, ax=axes, label="fraction of selected prompts", shrink=0.9)
    return fig


def category_figure(table: pd.DataFrame, *, env: str | None = None, ncols: int = 5, band: bool = False) -> plt.Figure:
    """Held-out accuracy per category (columns ``heldout_acc_c0``, ``heldout_acc_c1``, ...): one panel each."""
    cats = sorted(
        (c for c in table.columns if re.fullmatch(r"heldout_acc_c\d+", c)), key=lambda c: int(c.rpartition("c")[2])
    )
    if not cats:
        raise ValueError("the table has no heldout_acc_c<k> columns (per-category held-out accuracy)")
    cols = min(ncols, len(cats))
    rows = -(-len(cats) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False, sharex=True)
    styles = scheduler_styles(list(dict.fromkeys(table["scheduler"])))
    label = accuracy_labels(env)["heldout"]
    for ax, col in zip(axes.flat, cats, strict=False):
        plot_curves(table, col, ylabel=label, ax=ax, band=band, styles=styles)
        ax.set_title(f"category {col.rpartition('c')[2]}", fontsize=9)
        ax.set_xlabel("rollouts")
        if ax not in axes[:, 0]:
            ax.set_ylabel("")
        if ax.get_legend() is not None and ax is not axes.flat[0]:
            ax.get_legend().remove()
    for ax in list(axes.flat)[len(cats) :]:
        fig.delaxes(ax)
    fig.tight_layout()
    return fig


def plot_snr(bins: pd.DataFrame, *, ax: Axes | None = None, label: str = "empirical (95% CI)", **style: object) -> Axes:
    """Empirical SNR per pass-rate bin with CIs, and the analytic curve (when known), on log axes."""
    ax = _axes(ax)
    yerr = np.vstack([bins["snr"] - bins["snr_lo"], bins["snr_hi"] - bins["snr"]])
    ax.errorbar(bins["p"], bins["snr"], yerr=np.clip(yerr, 0, None), fmt="o", ms=3, capsize=2, label=label, **style)
    if bins["snr_analytic"].notna().any():
        ax.plot(bins["p"], bins["snr_analytic"], "-", label="analytic")
    ax.set_xscale("logit")
    ax.set_yscale("log")
    ax.set_xlabel("pass rate p")
    ax.set_ylabel("SNR = ||E g||² / tr Cov g")
    legend(ax)
    ax.grid(alpha=0.3, which="both")
    return ax


def plot_iqm(agg: pd.DataFrame, *, ax: Axes | None = None, xlabel: str = "IQM of final accuracy") -> Axes:
    """Horizontal bars: each scheduler's IQM across worlds with its interval (``aggregate_table`` rows)."""
    ax = _axes(ax)
    y = np.arange(len(agg))[::-1]
    err = np.vstack([agg["iqm"] - agg["iqm_lo"], agg["iqm_hi"] - agg["iqm"]])
    styles = scheduler_styles(list(agg["scheduler"]))
    colours = [styles[s]["color"] for s in agg["scheduler"]]
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
    styles = scheduler_styles(list(agg["scheduler"]))
    for yi, (spec, x, e) in zip(
        y, zip(rows["scheduler"], rows["p_improve"], np.nan_to_num(err).T, strict=True), strict=True
    ):
        ax.errorbar([x], [yi], xerr=e[:, None], fmt="o", capsize=3, color=styles[spec]["color"])
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
    styles = scheduler_styles(list(dict.fromkeys(profile["scheduler"])))
    for spec, p in profile.groupby("scheduler", sort=False):
        ax.plot(p["tau"], p["fraction"], label=spec, **styles[spec])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_ylim(-0.02, 1.02)
    legend(ax)
    ax.grid(alpha=0.3)
    return ax
