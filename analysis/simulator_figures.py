"""Regenerate the simulator figures of docs/theory.md §5 (1, 8, 9, 10, 12) into --out.

    python analysis/simulator_figures.py [--out analysis/out/figures] [--seeds 5] [--budget 200000] [--quick]

1: measured SNR vs pass rate against the exact curve; 8: the log Z head's calibration over training, with and
without replay; 9, 10, 12: zero-variance groups, sample efficiency and selections of a compare run (run
directories are kept under --out/runs and resume).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

from schedsim.analysis import figures
from schedsim.analysis.figures import save_figure as save
from schedsim.analysis.plots import plot_snr
from schedsim.analysis.report import format_table, write_report
from schedsim.analysis.snr import fit_boundary_exponents, snr_table
from schedsim.envs import make_env
from schedsim.runner import RunConfig, RunStore, run_all


def main() -> None:
    matplotlib.use("Agg")  # writes files only: no display, even on a desktop
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("analysis/out/figures"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    small = ",n_train=200,n_test=100" if args.quick else ""
    seeds, budget = (2, 3000) if args.quick else (args.seeds, args.budget)
    sizes = {"batch": 16, "group": 4, "eval_every": 1000} if args.quick else {}

    table = snr_table(
        make_env(f"bandit:default{small}", seed=0),
        group=8,
        n_prompts=100 if args.quick else 400,
        n_samples=100 if args.quick else 1000,
    )
    low, high = fit_boundary_exponents(table)
    ax = plot_snr(table)
    ax.set_title(f"bandit: boundary exponents {low:.2f} / {high:.2f}", fontsize=9)
    save(ax.figure, args.out, "fig1_snr_empirical.png")

    tables = {}
    for label, env in (("no replay", f"bandit:default{small}"), ("replay", f"bandit:default,replay=true{small}")):
        config = RunConfig(schedulers=("paced",), env=env, seeds=seeds, budget=budget, **sizes)
        store = RunStore(args.out / "runs" / label.replace(" ", "-"))
        run_all(config, store, workers=args.workers)
        tables[label] = store.read_units()
    save(figures.head_calibration_figure(tables), args.out, "fig8_head_calibration.png")

    config = RunConfig(
        schedulers=("paced", "sec", "beta", "gaussian", "uniform", "uniform-mixed"),
        env=f"bandit:default{small}",
        seeds=seeds,
        budget=budget,
        **sizes,
    )
    store = RunStore(args.out / "runs" / "compare")
    run_all(config, store, workers=args.workers)
    report = write_report(store)
    print(format_table(report.summary, report.target, report.baseline))
    if report.warning:
        print(f"warning: {report.warning}")
    for src, dst in (
        ("zero_variance.png", "fig9_zero_variance.png"),
        ("sample_efficiency.png", "fig10_sample_efficiency.png"),
        ("selections.png", "fig12_selections.png"),
    ):
        (args.out / dst).write_bytes((store.root / src).read_bytes())
        print(f"wrote {args.out / dst}")


if __name__ == "__main__":
    main()
