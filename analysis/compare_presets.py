"""Every scheduler on every bandit preset: the standing comparison, with the controls.

    python analysis/compare_presets.py [--seeds 5] [--budget 200000] [--out analysis/out/presets] [--markdown FILE]

Runs one sweep (every scheduler x every preset x seeds; resumable, one run directory per preset under --out, on
the process backend) and prints one table per preset: final held-out accuracy, paired difference to uniform with
its 95 % CI, wins, rollouts to uniform's final level, zero-variance fraction. Then one matrix (the README's): per
scheduler and preset the paired Δ final accuracy vs uniform with its 95 % Student-t interval and wins, plus the share
of the budget spent choosing (selection rollouts) and the share of wall time inside the scheduler, averaged over
presets and seeds. Copies the default preset's figures to analysis/figures/ for the README.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from schedsim.analysis.report import format_table, write_report
from schedsim.envs.bandit import PRESETS
from schedsim.runner import SweepConfig, SweepStore, run_many

SCHEDULERS = (
    "uniform",
    "uniform-mixed",
    "uniform-replay",
    "paced",
    "paced:estimator=ema",
    "beta",
    "gaussian",
    "sec",
    "mopps",
    "spo",
    "plr",
    "pcl",
    "tscl",
    "exp3s",
    "pools",
    "bots",
    "dapo",
    "band",
    "greso",
    "dots",
    "dots:sigma=1",
    "ads",
)
FIGURES = Path(__file__).resolve().parent / "figures"


def matrix(reports: dict[str, object], units: dict[str, pd.DataFrame]) -> str:
    """The Markdown matrix: scheduler x preset paired Δ vs uniform [95 % CI] (wins), selection and time shares."""
    presets = list(reports)
    head = ["scheduler", *presets, "selection rollouts", "time in scheduler"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join([":---"] + ["---:"] * (len(head) - 1)) + "|"]
    first = reports[presets[0]].summary
    for spec in first["scheduler"]:
        cells = [f"`{spec}`"]
        for preset in presets:
            row = reports[preset].summary.set_index("scheduler").loc[spec]
            span = (
                "[n/a]"
                if np.isnan(row["final_vs_base_lo"])
                else f"[{row['final_vs_base_lo']:+.3f}, {row['final_vs_base_hi']:+.3f}]"
            )
            cells.append(
                f"{row['final_vs_base']:+.3f} {span} {row['wins_vs_base']}" if spec != "uniform" else "(baseline)"
            )
        last = pd.concat(
            [u[u["scheduler"] == spec].sort_values("rollouts").groupby("seed").tail(1) for u in units.values()]
        )
        sel = float((last["selection_rollouts"] / last["rollouts"]).mean())
        share = float(
            np.nanmean([reports[p].summary.set_index("scheduler").loc[spec, "time_sched_share"] for p in presets])
        )
        cells += [f"{sel:.0%}", f"{share:.1%}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    matplotlib.use("Agg")  # writes files only: no display, even on a desktop
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--out", type=Path, default=Path("analysis/out/presets"))
    parser.add_argument("--markdown", type=Path, default=None, help="also write the matrix to this file")
    parser.add_argument("--no-figures", action="store_true", help="do not refresh analysis/figures/")
    args = parser.parse_args()
    presets = args.presets.split(",")
    config = SweepConfig(
        schedulers=SCHEDULERS, envs=("bandit:" + "|".join(presets),), seeds=args.seeds, budget=args.budget
    )
    sweep = SweepStore(args.out)
    runs = sweep.plan(config)
    run_many(runs, workers=args.workers)
    sweep.write_manifest(config)
    reports, units = {}, {}
    for preset, (run, store) in zip(presets, runs, strict=True):
        report = write_report(store, figures=preset == "default" and not args.no_figures)
        reports[preset], units[preset] = report, store.read_units(run)
        print(f"\n## bandit:{preset} — {PRESETS[preset].description}")
        print(format_table(report.summary, report.target, report.baseline))
        if report.warning:
            print(f"warning: {report.warning}")
        if preset == "default" and not args.no_figures:
            FIGURES.mkdir(exist_ok=True)
            for name in ("sample_efficiency.png", "selections.png"):
                shutil.copy(store.root / name, FIGURES / name)
    table = matrix(reports, units)
    print(f"\n## Paired Δ final accuracy vs uniform, {args.seeds} seeds, budget {args.budget} rollouts\n")
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
