"""Summary table, figures and a short Markdown report from a run directory's stored tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from schedsim.analysis.metrics import paired_targets, per_unit, summarize
from schedsim.analysis.plots import plot_curves, plot_paired_delta, selection_figure
from schedsim.runner.store import RunStore


@dataclass(frozen=True)
class Report:
    summary: pd.DataFrame
    target: float | dict[int, float]
    files: list[Path]


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_report(store: RunStore) -> Report:
    """(Re)generate ``summary.csv``, the PNG figures and ``report.md`` from the finished units."""
    config = store.read_config()
    table = store.read_units()
    order = [s for s in config.schedulers if s in set(table["scheduler"])]
    target = config.target if config.target is not None else paired_targets(table, config.baseline)
    summary = summarize(per_unit(table, target), order, config.baseline)
    files = [store.root / "summary.csv"]
    summary.to_csv(files[0], index=False)

    fig, (ax, ax_delta) = plt.subplots(1, 2, figsize=(12, 4.5))
    plot_curves(table, "heldout_acc", ylabel="held-out accuracy (mean true pass rate)", ax=ax)
    if not isinstance(target, dict):
        ax.axhline(target, color="grey", ls=":", lw=1)
    ax.set_title(f"{config.env}: sample efficiency, mean ± 95% CI over {config.seeds} seeds", fontsize=9)
    plot_paired_delta(table, config.baseline, "heldout_acc", ax=ax_delta)
    ax_delta.set_title("paired difference to the baseline, mean ± 95% CI", fontsize=9)
    files.append(_save(fig, store.root / "sample_efficiency.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    plot_curves(table, "zero_var_frac", ylabel="zero-variance groups (fraction)", ax=ax, skip_first=True)
    files.append(_save(fig, store.root / "zero_variance.png"))

    files.append(_save(selection_figure(table, order), store.root / "selections.png"))

    calibrated = [s for s in order if np.isfinite(table.loc[table["scheduler"] == s, "calib_abs_err"]).any()]
    if calibrated:
        fig, ax = plt.subplots(figsize=(7, 4))
        plot_curves(
            table[table["scheduler"].isin(calibrated)], "calib_abs_err", ylabel="mean |p̂ − p| over the pool", ax=ax
        )
        files.append(_save(fig, store.root / "calibration.png"))

    files.append(store.root / "report.md")
    files[-1].write_text(_markdown(config.env, target, config.baseline, summary, [f.name for f in files[1:-1]]))
    return Report(summary, target, files)


def target_label(target: float | dict[int, float]) -> str:
    return "base final" if isinstance(target, dict) else f"{target:.3f}"


def format_table(summary: pd.DataFrame, target: float | dict[int, float]) -> str:
    """The short fixed-width table printed at the end of ``compare`` and ``report``."""
    goal = f"rollouts→{target_label(target)}"
    head = f"{'scheduler':28s} {'final acc [95% CI]':>22s} {'AUC':>6s} {'Δ vs base [95% CI]':>24s} {'wins':>5s} {goal:>17s} {'zero-var':>8s}"
    lines = [head]
    for _, r in summary.iterrows():
        to_t = "never" if np.isnan(r["to_target"]) else f"{r['to_target'] / 1000:.0f}k ({r['reached']:.0%})"
        lines.append(
            f"{r['scheduler']:28s} {r['final']:7.3f} [{r['final_lo']:.3f},{r['final_hi']:.3f}] {r['auc']:6.3f} "
            f"{r['final_vs_base']:+8.3f} [{r['final_vs_base_lo']:+.3f},{r['final_vs_base_hi']:+.3f}] "
            f"{r['wins_vs_base']:>5s} {to_t:>17s} {r['zero_var']:8.3f}"
        )
    return "\n".join(lines)


def _markdown(
    env: str, target: float | dict[int, float], baseline: str, summary: pd.DataFrame, figures: list[str]
) -> str:
    parts = [
        f"# schedsim compare: {env}",
        "",
        f"Baseline for paired differences: `{baseline}`. Target for rollouts-to-target: {target_label(target)}"
        " (per seed, when 'base final': the baseline's final accuracy on that seed).",
        "Intervals are 95 % percentile-bootstrap CIs over seeds; all rollouts count in the budget.",
        "",
        "```",
        format_table(summary, target),
        "```",
        "",
    ]
    parts += [f"![{name}]({name})" for name in figures]
    return "\n".join(parts) + "\n"
