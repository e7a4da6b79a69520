"""Summary table, figures and a Markdown report from a run directory's stored tables.

Statistics come from :mod:`schedsim.analysis.stats` (through :func:`~schedsim.analysis.metrics.summarize`); the
table is rendered with ``rich`` for the terminal and as Markdown for ``report.md``, from the same cells.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from schedsim.analysis.metrics import paired_targets, per_unit, summarize
from schedsim.analysis.plots import accuracy_labels, plot_curves, plot_paired_delta, selection_figure
from schedsim.analysis.stats import MIN_RELIABLE_SEEDS, N_RESAMPLES, check_method
from schedsim.core.errors import ParameterError, SpecError, accepted
from schedsim.core.registry import canonical_spec
from schedsim.runner.store import RunStore

CI_NAMES = {"t": "Student-t", "bca": "BCa bootstrap"}


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` computed and wrote."""

    summary: pd.DataFrame
    target: float | dict[int, float]
    files: list[Path]
    baseline: str = "uniform"
    ci: str = "t"

    @property
    def warning(self) -> str | None:
        """A plain sentence when a scheduler has fewer than :data:`MIN_RELIABLE_SEEDS` seeds, else None."""
        return seeds_warning(self.summary)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def resolve_choices(
    store: RunStore, baseline: str | None, target: float | None, ci: str
) -> tuple[str, float | None, str]:
    """The stored configuration's baseline and target unless overridden, checked; ``ci`` checked."""
    config = store.read_config()
    check_method(ci)
    if baseline is None:
        baseline = config.baseline
    else:
        baseline = canonical_spec(baseline)
        if baseline not in config.schedulers:
            raise SpecError(
                f"baseline {baseline!r} is not among the run's schedulers; accepted: {accepted(config.schedulers)}"
            )
    if target is None:
        target = config.target
    elif not 0.0 <= target <= 1.0:
        raise ParameterError(f"target={target!r} is out of range; accepted: a number in [0, 1]")
    return baseline, target, ci


def write_report(
    store: RunStore, *, baseline: str | None = None, target: float | None = None, ci: str = "t", figures: bool = True
) -> Report:
    """(Re)generate ``summary.csv``, the PNG figures and ``report.md`` from the finished units; runs nothing.

    Args:
        store: the run directory.
        baseline: scheduler of the paired differences (default: the run's ``--baseline``).
        target: accuracy for rollouts-to-target (default: the run's ``--target``, else the baseline's final
            accuracy on each seed).
        ci: ``"t"`` or ``"bca"``, the interval over seeds of every number in the table.
        figures: also write the PNG figures.
    """
    baseline, fixed_target, ci = resolve_choices(store, baseline, target, ci)
    config = store.read_config()
    table = store.read_units()
    order = [s for s in config.schedulers if s in set(table["scheduler"])]
    goal = fixed_target if fixed_target is not None else paired_targets(table, baseline)
    summary = summarize(per_unit(table, goal), order, baseline, ci=ci)
    files = [store.root / "summary.csv"]
    summary.to_csv(files[0], index=False)
    if figures:
        files += _figures(store, table, order, baseline, goal)
    files.append(store.root / "report.md")
    result = Report(summary, goal, files, baseline, ci)
    files[-1].write_text(_markdown(store, result, sorted(int(s) for s in set(table["seed"]))))
    return result


def _figures(store: RunStore, table: pd.DataFrame, order: list[str], baseline: str, target: object) -> list[Path]:
    """Sample-efficiency curves with paired differences, zero-variance, selections, calibration."""
    seeds, env = table["seed"].nunique(), store.read_config().env
    fig, (ax, ax_delta) = plt.subplots(1, 2, figsize=(12, 4.5))
    plot_curves(table, "heldout_acc", ylabel=accuracy_labels(env)["heldout"], ax=ax)
    if not isinstance(target, dict):
        ax.axhline(target, color="grey", ls=":", lw=1)
    ax.set_title(f"{env}: sample efficiency, mean ± 95% t CI over {seeds} seeds", fontsize=9)
    plot_paired_delta(table, baseline, "heldout_acc", ax=ax_delta)
    ax_delta.set_title("paired difference to the baseline, mean ± 95% t CI", fontsize=9)
    files = [_save(fig, store.root / "sample_efficiency.png")]
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_curves(table, "zero_var_frac", ylabel="zero-variance groups (fraction)", ax=ax, skip_first=True)
    files.append(_save(fig, store.root / "zero_variance.png"))
    files.append(_save(selection_figure(table, order, env=env), store.root / "selections.png"))
    calibrated = [s for s in order if np.isfinite(table.loc[table["scheduler"] == s, "calib_abs_err"]).any()]
    if calibrated:
        fig, ax = plt.subplots(figsize=(7, 4))
        sub = table[table["scheduler"].isin(calibrated)]
        plot_curves(sub, "calib_abs_err", ylabel="mean |p̂ − p| over the pool", ax=ax)
        files.append(_save(fig, store.root / "calibration.png"))
    return files


def target_label(target: float | dict[int, float]) -> str:
    """``"0.750"`` for one target; ``"base final"`` for per-seed targets (the baseline's final accuracy)."""
    return "base final" if isinstance(target, dict) else f"{target:.3f}"


def _span(lo: float, hi: float, signed: bool = False) -> str:
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return "[n/a]" if np.isnan(lo) else f"[{fmt.format(lo)},{fmt.format(hi)}]"


def table_cells(
    summary: pd.DataFrame, target: float | dict[int, float], baseline: str
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary table as text cells, shared by the terminal and the Markdown."""
    level, ci = (summary["level"].iloc[0], summary["ci"].iloc[0]) if len(summary) else (0.95, "t")
    label = f"{level:.0%} {ci} CI"
    head = ["scheduler", f"final acc [{label}]", "AUC", f"Δ vs {baseline} [{label}]", "wins"]
    head += [f"rollouts→{target_label(target)} (KM median, reached)", "zero-var"]
    rows = []
    for _, r in summary.iterrows():
        rows.append(
            [
                str(r["scheduler"]),
                f"{r['final']:.3f} {_span(r['final_lo'], r['final_hi'])}",
                f"{r['auc']:.3f}",
                f"{r['final_vs_base']:+.3f} {_span(r['final_vs_base_lo'], r['final_vs_base_hi'], signed=True)}",
                str(r["wins_vs_base"]),
                str(r["to_target_label"]),
                f"{r['zero_var']:.3f}",
            ]
        )
    return head, rows


def rich_table(summary: pd.DataFrame, target: float | dict[int, float], baseline: str, *, boxed: bool = True) -> Table:
    """The summary as a ``rich`` table for the terminal (``boxed=False``: plain columns, one row per line)."""
    head, rows = table_cells(summary, target, baseline)
    table = Table(box=box.HEAVY_HEAD if boxed else None)
    for i, name in enumerate(head):
        table.add_column(Text(name), justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*map(Text, row))  # Text: "[n/a]" and "[0.1,0.2]" are cells, not markup
    return table


def markdown_table(summary: pd.DataFrame, target: float | dict[int, float], baseline: str) -> str:
    """The summary as a Markdown (GitHub) table."""
    head, rows = table_cells(summary, target, baseline)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join([":---"] + ["---:"] * (len(head) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def format_table(summary: pd.DataFrame, target: float | dict[int, float], baseline: str = "uniform") -> str:
    """The table as plain columns (no box, no colour) for scripts that print it: one scheduler per line."""
    console = Console(file=io.StringIO(), width=250, color_system=None)
    console.print(rich_table(summary, target, baseline, boxed=False))
    return console.file.getvalue().rstrip()


def seeds_warning(summary: pd.DataFrame) -> str | None:
    """A plain sentence when a scheduler has fewer than :data:`MIN_RELIABLE_SEEDS` seeds, else None."""
    few = int(summary["seeds"].min()) if len(summary) else 0
    if few >= MIN_RELIABLE_SEEDS:
        return None
    return (
        f"Only {few} seed(s) per scheduler: intervals over so few seeds are wide and unreliable "
        f"(use --seeds {MIN_RELIABLE_SEEDS} or more before drawing conclusions)."
    )


def print_report(result: Report, console: Console | None = None) -> None:
    """Print the summary table (and the few-seeds warning) to the terminal."""
    if console is None:
        console = Console()
        if not console.is_terminal:  # a pipe or a file: no terminal width to fit, do not squeeze the columns
            console.width = 200
    console.print(rich_table(result.summary, result.target, result.baseline))
    if result.warning:
        console.print(f"warning: {result.warning}", style="bold yellow", markup=False)


def package_versions() -> dict[str, str]:
    """Installed versions of schedsim and the numerical stack; torch only if installed (it is not imported)."""
    names = ["schedsim", "numpy", "scipy", "pandas"] + (["torch"] if importlib.util.find_spec("torch") else [])
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _method_text(ci: str, level: float) -> str:
    if ci == "t":
        return f"{level:.0%} Student-t intervals over seeds (mean ± t·s/√n, `--ci t`)"
    return f"{level:.0%} BCa bootstrap intervals over seeds (scipy.stats.bootstrap, {N_RESAMPLES} resamples, seed 0, `--ci bca`)"


def _markdown(store: RunStore, result: Report, seeds: list[int]) -> str:
    config = store.read_config()
    level = float(result.summary["level"].iloc[0]) if len(result.summary) else 0.95
    parts = [
        f"# schedsim compare: {config.env}",
        "",
        f"- Baseline for paired differences: `{result.baseline}` (seed s is the same world for every scheduler).",
        f"- Intervals: {_method_text(result.ci, level)}.",
        f"- Rollouts to target {target_label(result.target)} (per seed, when 'base final': the baseline's final "
        "accuracy on that seed): Kaplan–Meier median over seeds, a seed that never reaches the target censored "
        "at its budget; (k/n) = seeds that reached it; '>' = the median is beyond the budget.",
        f"- Seeds: {', '.join(map(str, seeds))}. All rollouts count in the budget.",
    ]
    if result.warning:
        parts += ["", f"**Warning:** {result.warning}"]
    parts += ["", markdown_table(result.summary, result.target, result.baseline), ""]
    parts += [f"![{f.name}]({f.name})" for f in result.files if f.suffix == ".png"]
    parts += ["", "## Configuration (config.json)", "", "```json", store.config_path.read_text().strip(), "```", ""]
    parts += ["## Versions", "", "| package | version |", "|:---|:---|"]
    parts += [f"| {name} | {version} |" for name, version in package_versions().items()]
    return "\n".join(parts) + "\n"


@dataclass(frozen=True)
class SweepReport:
    """What :func:`write_sweep_report` computed and wrote: one :class:`Report` per world and the stacked table."""

    worlds: list[tuple[str, Report]]
    summary: pd.DataFrame  # every world's summary, with an ``env`` column first
    files: list[Path]


def write_sweep_report(
    root: Path, *, baseline: str | None = None, target: float | None = None, ci: str = "t"
) -> SweepReport:
    """Each world's report (in its own run directory), then ``summary.csv`` and ``report.md`` for the whole sweep.

    A world with no finished unit yet is left out of the stacked table (and named in ``report.md``).
    """
    from schedsim.runner.store import StoreError
    from schedsim.runner.sweep import SweepStore

    sweep = SweepStore(root)
    worlds: list[tuple[str, Report]] = []
    missing: list[str] = []
    for env, store in sweep.worlds():
        try:
            worlds.append((env, write_report(store, baseline=baseline, target=target, ci=ci)))
        except StoreError:
            missing.append(env)
    if not worlds:
        raise StoreError(f"sweep directory {str(root)!r} has no finished unit yet")
    summary = pd.concat([r.summary.assign(env=env) for env, r in worlds], ignore_index=True)
    summary = summary[["env"] + [c for c in summary.columns if c != "env"]]
    files = [Path(root) / "summary.csv", Path(root) / "report.md"]
    summary.to_csv(files[0], index=False)
    parts = [f"# schedsim sweep: {len(worlds)} world(s)", ""]
    if missing:
        parts += [f"No finished unit yet in: {', '.join(f'`{m}`' for m in missing)}.", ""]
    for env, result in worlds:
        folder = result.files[-1].parent.relative_to(Path(root))
        parts += [f"## `{env}`", "", f"Full report: [{folder}/report.md]({folder}/report.md).", ""]
        if result.warning:
            parts += [f"**Warning:** {result.warning}", ""]
        parts += [markdown_table(result.summary, result.target, result.baseline), ""]
    files[1].write_text("\n".join(parts))
    return SweepReport(worlds, summary, files)


def print_sweep_report(result: SweepReport, console: Console | None = None) -> None:
    """One titled summary table per world."""
    console = console or Console()
    if not console.is_terminal:
        console.width = 200
    for env, report in result.worlds:
        console.print(Text(f"world {env}", style="bold"))
        print_report(report, console)
