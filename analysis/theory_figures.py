"""Regenerate the theory figures of docs/theory.md §5 (2–7, 11) from the library, into --out.

    python analysis/theory_figures.py [--out analysis/out/figures]

Prints the numbers each figure rests on (fitted exponents, implied δ, the Monte-Carlo slope, efficiencies).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

from schedsim.analysis import figures
from schedsim.analysis.figures import save_figure as save


def main() -> None:
    matplotlib.use("Agg")  # writes files only: no display, even on a desktop
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("analysis/out/figures"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    for sigma in (1.0, 0.0):
        save(figures.snr_components(score_noise=sigma), args.out, f"fig2_snr_components_sigma{sigma:g}.png")
    save(figures.weight_shapes_figure(), args.out, "fig3_weight_shapes.png")
    for sigma in (1.0, 0.0):
        fig, info = figures.optimal_vs_beta(score_noise=sigma)
        print(
            f"  sigma_s={sigma:g}: best Beta fit to w* alpha={info['alpha']:.3f} beta={info['beta']:.3f}, implied delta={info['delta']:.3f}"
        )
        save(fig, args.out, f"fig4_optimal_vs_beta_sigma{sigma:g}.png")
    fig, slope = figures.misspecification_figure()
    print(f"  misspecification: log-log slope of the Monte-Carlo worst case = {slope:.3f}")
    save(fig, args.out, "fig5_misspecification.png")
    for sigma in (1.0, 0.0):
        table = figures.pool_efficiency_table(score_noise=sigma)
        print(f"  efficiency by pool, sigma_s={sigma:g}:\n{table.round(3).to_string()}")
        save(figures.pool_efficiency_figure(table.T), args.out, f"fig6_pool_efficiency_sigma{sigma:g}.png")
    save(figures.finite_k_figure(), args.out, "fig7_finite_k.png")
    save(figures.bae_figure(), args.out, "fig11_bae_kl.png")


if __name__ == "__main__":
    main()
