"""Aggregate several ``compare`` run directories (one world each) into rliable-style summaries across worlds.

Each directory's environment spec (``config.json``'s ``env``) names its world; its per-seed final accuracies
are stacked into one tidy table (scheduler, world, seed, final, auc) and summarised by
:func:`schedsim.analysis.stats.aggregate_table` (IQM, probability of improvement, stratified bootstrap) and
:func:`schedsim.analysis.stats.performance_profile`.

References:
    Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021,
    arXiv 2108.13264.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from schedsim.analysis.metrics import per_unit
from schedsim.analysis.plots import plot_improvement, plot_iqm, plot_profile
from schedsim.analysis.stats import (
    AGGREGATE_METHODS,
    MIN_RELIABLE_SEEDS,
    N_RESAMPLES,
    aggregate_table,
    check_method,
    performance_profile,
)
from schedsim.core.errors import SchedsimError, accepted
from schedsim.core.registry import canonical_spec
from schedsim.runner.store import RunStore, StoreError


class AggregateError(SchedsimError):
    """Run directories that cannot be aggregated: the same world twice, no common scheduler, no baseline."""


@dataclass(frozen=True)
class Aggregate:
    """What :func:`write_aggregate` computed and wrote."""

    table: pd.DataFrame  # aggregate_table: one row per scheduler
    profile: pd.DataFrame  # performance_profile: scheduler, tau, fraction
    units: pd.DataFrame  # the tidy input: scheduler, world, seed, final, auc, ...
    baseline: str
    ci: str
    dropped: list[str]  # schedulers absent from some world, left out
    files: list[Path]


def load_worlds(run_dirs: Sequence[Path]) -> pd.DataFrame:
    """Stack the per-unit tables of several run directories, ``world`` = each directory's env spec.

    Raises:
        StoreError: a directory is not a run directory (no config.json) or has no finished unit.
        AggregateError: no directory, or two directories ran the same world.
    """
    if not run_dirs:
        raise AggregateError("no run directory given; accepted: one or more directories written by schedsim compare")
    from schedsim.runner.sweep import expand_run_dirs

    frames, seen = [], {}
    for path in expand_run_dirs(list(run_dirs)):  # a sweep directory stands for its worlds
        store = RunStore(path)
        world = store.read_config().env
        if world in seen:
            raise AggregateError(
                f"{str(path)!r} and {str(seen[world])!r} both ran world {world!r}; accepted: one directory per world"
            )
        seen[world] = path
        units = per_unit(store.read_units(), target=np.nan)  # aggregates use final accuracy and AUC only
        frames.append(units.assign(world=world))
    return pd.concat(frames, ignore_index=True)


def common_schedulers(units: pd.DataFrame, baseline: str) -> tuple[list[str], list[str]]:
    """``(schedulers every world ran, in first-seen order; the others)``; checks the baseline is common."""
    per_world = [set(g["scheduler"]) for _, g in units.groupby("world", sort=False)]
    common = set.intersection(*per_world)
    order = list(dict.fromkeys(units["scheduler"]))
    if not common:
        raise AggregateError(
            f"the run directories share no scheduler (disjoint: {[sorted(s) for s in per_world]}); "
            "accepted: directories that ran at least the baseline and one other scheduler"
        )
    if baseline not in common:
        raise AggregateError(
            f"baseline {baseline!r} was not run in every world; accepted: {accepted(s for s in order if s in common)}"
        )
    return [s for s in order if s in common], [s for s in order if s not in common]


def write_aggregate(
    run_dirs: Sequence[Path], out: Path, *, baseline: str = "uniform", ci: str = "percentile"
) -> Aggregate:
    """Aggregate run directories into ``aggregate.csv``, ``profile.csv``, ``aggregate.png`` and ``aggregate.md``.

    Args:
        run_dirs: directories written by ``schedsim compare``, one per world (environment), or by ``schedsim
            sweep`` (each stands for its worlds).
        out: output directory (created).
        baseline: scheduler that P(improvement) is measured against.
        ci: stratified bootstrap interval, ``"percentile"`` (rliable's default) or ``"bca"``.
    """
    check_method(ci, AGGREGATE_METHODS)
    baseline = canonical_spec(baseline)
    from schedsim.runner.sweep import expand_run_dirs

    run_dirs = expand_run_dirs(list(run_dirs))  # a sweep directory stands for its worlds
    units = load_worlds(run_dirs)
    order, dropped = common_schedulers(units, baseline)
    units = units[units["scheduler"].isin(order)]
    table = aggregate_table(units, order, baseline, method=ci)
    scores = units["final"].to_numpy()
    taus = np.linspace(max(0.0, np.nanmin(scores) - 0.02), min(1.0, np.nanmax(scores) + 0.02), 101)
    profile = performance_profile(units, taus)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write to {str(out)!r}: {exc.strerror}") from None
    files = [out / "aggregate.csv", out / "profile.csv", out / "aggregate.png", out / "aggregate.md"]
    table.to_csv(files[0], index=False)
    profile.to_csv(files[1], index=False)
    _figure(table, profile, baseline, ci).savefig(files[2], dpi=110, bbox_inches="tight")
    plt.close("all")
    result = Aggregate(table, profile, units, baseline, ci, dropped, files)
    files[3].write_text(_markdown(result, run_dirs))
    return result


def _figure(table: pd.DataFrame, profile: pd.DataFrame, baseline: str, ci: str) -> plt.Figure:
    fig, (a0, a1, a2) = plt.subplots(1, 3, figsize=(15, 0.5 * len(table) + 3))
    plot_iqm(table, ax=a0)
    a0.set_title(f"IQM across worlds, 95% stratified {ci} CI", fontsize=9)
    plot_improvement(table, baseline, ax=a1)
    a1.set_title(f"P(improvement over {baseline}), 95% stratified {ci} CI", fontsize=9)
    plot_profile(profile, ax=a2)
    a2.set_title("performance profile (run-score distribution)", fontsize=9)
    fig.tight_layout()
    return fig


def _cells(result: Aggregate) -> tuple[list[str], list[list[str]]]:
    label = f"95% stratified {result.ci} CI"
    head = ["scheduler", "worlds", "runs", f"IQM final acc [{label}]", f"P(> {result.baseline}) [{label}]"]
    rows = [
        [
            str(r["scheduler"]),
            str(r["worlds"]),
            str(r["runs"]),
            f"{r['iqm']:.3f} [{r['iqm_lo']:.3f}, {r['iqm_hi']:.3f}]",
            f"{r['p_improve']:.2f} [{r['p_improve_lo']:.2f}, {r['p_improve_hi']:.2f}]",
        ]
        for _, r in result.table.iterrows()
    ]
    return head, rows


def seeds_note(units: pd.DataFrame) -> str | None:
    """A plain sentence when some world has fewer than :data:`MIN_RELIABLE_SEEDS` seeds, else None."""
    few = int(units.groupby(["world", "scheduler"])["seed"].nunique().min())
    if few >= MIN_RELIABLE_SEEDS:
        return None
    return f"Only {few} seed(s) in some world: intervals over so few seeds are wide and unreliable."


def print_aggregate(result: Aggregate, console: Console | None = None) -> None:
    """Print the aggregate table, and the schedulers left out, to the terminal."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console.width = 200
    head, rows = _cells(result)
    table = Table()
    for name in head:
        table.add_column(Text(name))
    for row in rows:
        table.add_row(*map(Text, row))  # Text: "[n/a]" and "[0.1,0.2]" are cells, not markup
    console.print(table)
    if result.dropped:
        console.print(f"left out (not run in every world): {', '.join(result.dropped)}", markup=False)
    note = seeds_note(result.units)
    if note:
        console.print(f"warning: {note}", style="bold yellow", markup=False)


def _markdown(result: Aggregate, run_dirs: Sequence[Path]) -> str:
    head, rows = _cells(result)
    worlds = result.units.groupby("world", sort=False)["seed"].nunique()
    parts = ["# schedsim aggregate", "", "Worlds (one run directory each, seeds per scheduler):", ""]
    parts += [f"- `{w}`: {n} seeds ({d})" for (w, n), d in zip(worlds.items(), run_dirs, strict=True)]
    parts += [
        "",
        f"Scores: final held-out accuracy. IQM: mean of the middle 50 % of all runs. P(> {result.baseline}): per "
        "world the probability that a run beats a baseline run (ties ½), averaged over worlds. Intervals: 95 % "
        f"stratified bootstrap ({result.ci}, seeds resampled within each world, {N_RESAMPLES} resamples, seed 0). "
        "After Agarwal et al. 2021 (rliable, arXiv 2108.13264). P(improvement) compares runs unpaired, as rliable "
        "does; each run directory's report.md has the paired per-seed differences (same seed = same world).",
    ]
    note = seeds_note(result.units)
    parts += ["", f"**Warning:** {note}"] if note else []
    parts += ["", f"Left out (not run in every world): {', '.join(result.dropped)}"] if result.dropped else []
    parts += ["", "| " + " | ".join(head) + " |", "|:---|" + "---:|" * (len(head) - 1)]
    parts += ["| " + " | ".join(row) + " |" for row in rows]
    parts += ["", "![aggregate](aggregate.png)"]
    return "\n".join(parts) + "\n"
