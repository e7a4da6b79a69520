"""The comparison as a Python call: ``schedsim.compare(...)``; the ``schedsim compare`` command is a thin layer over it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedsim.core.errors import ParameterError

if TYPE_CHECKING:  # pandas is imported when a comparison runs, not with schedsim
    import pandas as pd


@dataclass(frozen=True)
class CompareResult:
    """What :func:`compare` ran and measured.

    Attributes:
        summary: one row per scheduler (``summary.csv``; columns in docs/output.md).
        units: every evaluation row of every unit (the unit tables, concatenated).
        root: the run directory.
        ran: units run by this call (the others were resumed from ``root``).
        files: files written (``summary.csv``, ``report.md``, the figures when asked for).
        warning: a sentence when there are too few seeds for the intervals to be trusted, else None.
        report: the :class:`schedsim.analysis.report.Report` (summary, target, baseline, interval method).
    """

    summary: pd.DataFrame
    units: pd.DataFrame
    root: Path
    ran: int
    files: list[Path]
    warning: str | None
    report: Any


def compare(
    schedulers: Sequence[str] | str,
    env: str = "bandit",
    *,
    seeds: int = 5,
    budget: int | None = None,
    batch: int | None = None,
    group: int | None = None,
    eval_every: int | None = None,
    target: float | None = None,
    baseline: str | None = None,
    out: str | Path | None = None,
    workers: int = 1,
    backend: str = "process",
    address: str | None = None,
    ci: str = "t",
    figures: bool = False,
    progress: Callable[[str, int, str], None] | None = None,
) -> CompareResult:
    """Run every scheduler x seed on the same budget (resuming from ``out``) and summarise it.

    Args:
        schedulers: scheduler specs (a list, or one comma-separated string as on the command line).
        env: environment spec, e.g. ``"bandit:hard-tail"``.
        seeds, budget, batch, group, eval_every, target, baseline: as ``schedsim compare`` (None: the
            environment's defaults).
        out: run directory (default ``runs/compare-<config hash>``, as the command).
        workers, backend, address: execution (``"process"`` or ``"ray"``; see :func:`schedsim.runner.run_many`).
        ci: interval over seeds, ``"t"`` or ``"bca"``.
        figures: also write the PNG figures.
        progress: ``progress(spec, seed, status)`` after each unit.

    Returns:
        A :class:`CompareResult`; ``result.summary`` is the table the command prints.

    Example::

        result = schedsim.compare(["paced", "sec", "uniform"], seeds=5)
        print(result.summary[["scheduler", "final", "final_vs_base", "final_vs_base_lo", "final_vs_base_hi"]])
    """
    from schedsim.analysis.report import write_report
    from schedsim.analysis.stats import check_method
    from schedsim.runner import RunConfig, RunStore, run_many
    from schedsim.runner.execute import BACKENDS

    if isinstance(schedulers, str):
        from schedsim.cli import _specs

        schedulers = _specs(schedulers)
    config = RunConfig(
        schedulers=tuple(schedulers),
        env=env,
        seeds=seeds,
        budget=budget,
        batch=batch,
        group=group,
        eval_every=eval_every,
        target=target,
        baseline=baseline,
    )
    check_method(ci)  # every check before anything is written
    if backend not in BACKENDS:
        raise ParameterError(f"backend={backend!r} is not accepted; accepted: {', '.join(map(repr, BACKENDS))}")
    store = RunStore(out if out is not None else Path("runs") / f"compare-{config.digest()}")
    ran = run_many([(config, store)], workers=workers, progress=progress, backend=backend, address=address)
    report = write_report(store, ci=ci, figures=figures)
    return CompareResult(report.summary, store.read_units(), store.root, ran, report.files, report.warning, report)
