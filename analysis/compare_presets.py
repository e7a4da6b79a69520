"""Every scheduler on every bandit preset: the standing comparison, with the controls.

    python analysis/compare_presets.py [--seeds 5] [--budget 200000] [--out analysis/out/presets]

Runs ``schedsim compare`` once per preset (resumable run directories under --out) and prints one table per
preset: final held-out accuracy, paired difference to uniform with its 95 % CI, wins, rollouts to uniform's final
level, zero-variance fraction. Copies the default preset's figures to analysis/figures/ for the README.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import matplotlib

from schedsim.analysis.report import format_table, write_report
from schedsim.envs.bandit import PRESETS
from schedsim.runner import RunConfig, RunStore, run_all

SCHEDULERS = (
    "uniform",
    "uniform-mixed",
    "paced",
    "paced:estimator=ema",
    "beta",
    "gaussian",
    "sec",
    "mopps",
    "spo",
    "plr",
)
FIGURES = Path(__file__).resolve().parent / "figures"


def main() -> None:
    matplotlib.use("Agg")  # writes files only: no display, even on a desktop
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--out", type=Path, default=Path("analysis/out/presets"))
    parser.add_argument("--no-figures", action="store_true", help="do not refresh analysis/figures/")
    args = parser.parse_args()
    for preset in args.presets.split(","):
        config = RunConfig(schedulers=SCHEDULERS, env=f"bandit:{preset}", seeds=args.seeds, budget=args.budget)
        store = RunStore(args.out / preset)
        run_all(config, store, workers=args.workers)
        report = write_report(store)
        print(f"\n## bandit:{preset} — {PRESETS[preset].description}")
        print(format_table(report.summary, report.target, report.baseline))
        if report.warning:
            print(f"warning: {report.warning}")
        if preset == "default" and not args.no_figures:
            FIGURES.mkdir(exist_ok=True)
            for name in ("sample_efficiency.png", "selections.png"):
                shutil.copy(store.root / name, FIGURES / name)


if __name__ == "__main__":
    main()
