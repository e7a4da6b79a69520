"""Figure builders for the theory figures of docs/theory.md §5; each returns a matplotlib Figure.

Used by the notebooks and by the analysis/ scripts, so both draw the same thing from the same library code.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from schedsim.analysis import theory
from schedsim.analysis.plots import legend, plot_curves, scheduler_styles
from schedsim.analysis.snr import analytic_moments

Figure = plt.Figure


def save_figure(fig: Figure, out: Path, name: str) -> Path:
    """Write ``fig`` to ``out/name`` (PNG, 110 dpi), close it, and say so on stdout."""
    path = out / name
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path}")
    return path


def snr_components(group: int = 8, dim: int = 16, score_noise: float = 1.0, advantage: str = "mean") -> Figure:
    """Figure 2: μ(p), σ²(p) and SNR(p) on log–log axes near each boundary; the slopes are the exponents."""
    p = np.logspace(-3, np.log10(0.5), 60)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, side in zip(axes, ("p → 0", "p → 1"), strict=True):
        x = p if side == "p → 0" else 1 - p
        signal, trace = analytic_moments(x, group=group, dim=dim, score_noise=score_noise, advantage=advantage)
        for y, label in ((np.sqrt(signal), "μ(p) = ‖E g‖"), (trace, "σ²(p) = tr Cov g"), (signal / trace, "SNR")):
            slope = np.polyfit(np.log(p[:15]), np.log(y[:15]), 1)[0]
            ax.loglog(p, y, label=f"{label}  (slope {slope:.2f})")
        ax.set_xlabel("p" if side == "p → 0" else "1 − p")
        ax.set_title(f"{side}, G={group}, d={dim}, σ_s={score_noise}, {advantage} advantages", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return fig


def weight_shapes_figure(group: int = 8) -> Figure:
    """Figure 3: the weight every scheduler puts on a prompt of pass rate p, normalised to peak 1."""
    p = np.linspace(0.0, 1.0, 401)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    shapes = theory.weight_shapes(p, group)
    styles = scheduler_styles(list(shapes))
    for name, w in shapes.items():
        ax.plot(p, w, label=name, **styles[name])
    ax.set_xlabel("pass rate p")
    ax.set_ylabel("weight (peak = 1)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig


def optimal_vs_beta(group: int = 8, dim: int = 16, score_noise: float = 1.0) -> tuple[Figure, dict[str, float]]:
    """Figure 4: w* = μ/σ² against its best Beta fit, the ratio h(p) and the implied δ."""
    p = np.linspace(0.01, 0.99, 99)
    signal, trace = analytic_moments(p, group=group, dim=dim, score_noise=score_noise, advantage="mean")
    w_star = theory.optimal_weights(np.sqrt(signal), trace)
    alpha, beta, c = theory.fit_beta_kernel(p, w_star)
    fit = c * p**alpha * (1 - p) ** beta
    h = w_star / fit
    delta = float(np.max(np.abs(h / np.exp(np.mean(np.log(h))) - 1)))
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 4))
    a0.plot(p, w_star / w_star.max(), label="w* = μ/σ²")
    a0.plot(p, fit / w_star.max(), "--", label=f"best Beta fit α={alpha:.2f}, β={beta:.2f}")
    a0.set_xlabel("p")
    a0.legend(fontsize=8)
    a1.plot(p, h / np.exp(np.mean(np.log(h))))
    a1.set_xlabel("p")
    a1.set_ylabel("h(p) = w* / fit (geometric-mean normalised)")
    a1.set_title(f"implied δ = {delta:.3f}  ⇒ efficiency loss ≤ δ² = {delta**2:.4f}", fontsize=9)
    for ax in (a0, a1):
        ax.grid(alpha=0.3)
    return fig, {"alpha": alpha, "beta": beta, "delta": delta}


def misspecification_figure(
    seed: int = 0, points: dict[str, tuple[float, float]] | None = None
) -> tuple[Figure, float]:
    """Figure 5: efficiency loss vs δ: δ² bound, tanh² δ, pointwise ε², Monte-Carlo cloud; returns its log–log slope.

    ``points`` adds labelled markers ``{label: (δ, 1 − Eff)}``, e.g. the best Beta fits of :func:`optimal_vs_beta`.
    """
    p = np.linspace(0.02, 0.98, 49)
    signal, trace = analytic_moments(p, group=8, dim=16, score_noise=1.0, advantage="mean")
    mu = np.sqrt(signal)
    deltas = np.logspace(-2, np.log10(0.8), 12)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    worst = []
    for i, delta in enumerate(deltas):
        cloud = theory.misspecification_cloud(delta, mu, trace, draws=60, seed=seed + i)
        ax.scatter(
            np.full(cloud.size, delta), cloud, s=4, color="grey", alpha=0.4, label="Monte-Carlo" if i == 0 else None
        )
        worst.append(cloud.max())
    ax.loglog(deltas, theory.worst_case_loss(deltas), label="δ² (worst case, linear band)")
    ax.loglog(deltas, theory.worst_case_loss(deltas, band="log"), "--", label="tanh² δ (log band)")
    ax.loglog(deltas, deltas**2, ":", color="k", label="pointwise ε² (one-step progress)")
    slope = float(np.polyfit(np.log(deltas), np.log(worst), 1)[0])
    for (label, (delta, loss)), marker in zip((points or {}).items(), "*Pdv^", strict=False):
        ax.scatter([delta], [loss], marker=marker, s=110, zorder=3, label=label)
    ax.set_title(f"log–log slope of the Monte-Carlo worst case: {slope:.2f}", fontsize=9)
    ax.set_xlabel("misspecification δ")
    ax.set_ylabel("1 − Eff(w)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig, slope


POOLS = {
    "uniform p": lambda p: np.ones_like(p),
    "easy pool Beta(5,1.5)": lambda p: p**4 * (1 - p) ** 0.5,
    "hard pool Beta(1.5,5)": lambda p: p**0.5 * (1 - p) ** 4,
    "U-shaped Beta(0.5,0.5)": lambda p: 1 / np.sqrt(p * (1 - p)),
}


def pool_efficiency_table(group: int = 8, score_noise: float = 1.0) -> pd.DataFrame:
    """Figure 6 data: efficiency of each weight shape (and uniform) for pools of different pass-rate profiles."""
    p = np.linspace(0.01, 0.99, 99)
    signal, trace = analytic_moments(p, group=group, dim=16, score_noise=score_noise, advantage="mean")
    weights = {"uniform": np.ones_like(p), **theory.weight_shapes(p, group)}
    effs = theory.pool_efficiencies(weights, p, np.sqrt(signal), trace, {k: f(p) for k, f in POOLS.items()})
    return pd.DataFrame(effs)


def pool_efficiency_figure(table: pd.DataFrame) -> Figure:
    """Figure 6: grouped bars of :func:`pool_efficiency_table`."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    styles = scheduler_styles([str(c) for c in table.columns])
    table.plot.bar(ax=ax, rot=30, color=[styles[str(c)]["color"] for c in table.columns])
    ax.set_ylabel("efficiency Eff(w) (1 = optimal w*)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def finite_k_figure() -> Figure:
    """Figure 7: E[w(p̂)] vs p for K ∈ {4, 8, 16} (plug-in Beta(1,1)), and the zero-weight probability."""
    p = np.linspace(0, 1, 201)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 4))
    a0.plot(p, p * (1 - p), "k", label="w(p) = p(1−p)")
    for k in (4, 8, 16):
        a0.plot(p, theory.expected_plugin_weight(p, k), label=f"E[w(p̂)], K={k}  (= (1−1/K) p(1−p))")
        a1.plot(p, theory.zero_weight_probability(p, k), label=f"K={k}")
    a0.set_xlabel("p")
    a0.legend(fontsize=8)
    a1.set_xlabel("p")
    a1.set_ylabel("P(p̂ ∈ {0,1}) = p^K + (1−p)^K")
    a1.legend(fontsize=8)
    for ax in (a0, a1):
        ax.grid(alpha=0.3)
    return fig


def bae_figure() -> Figure:
    """Figure 11: KL(π*‖π_init) vs p for β ∈ {0.5, 1, 2, 5}, exact and the p(1−p)/(2β²) approximation."""
    p = np.linspace(0.001, 0.999, 300)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, beta in enumerate((0.5, 1.0, 2.0, 5.0)):
        ax.plot(p, theory.tilted_kl(p, beta), color=f"C{i}", label=f"β={beta:g} exact")
        ax.plot(p, theory.tilted_kl_approx(p, beta), color=f"C{i}", ls=":", label=f"β={beta:g} p(1−p)/(2β²)")
    ax.set_yscale("log")
    ax.set_xlabel("p")
    ax.set_ylabel("KL(π* ‖ π_init)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, which="both")
    return fig


def head_calibration_figure(tables: dict[str, pd.DataFrame], kl_coef: float = 0.05) -> Figure:
    """Figure 8: the log Z head's |β log Z − p|, signed bias, bias on replayed prompts, and β·KL over training.

    ``tables`` maps a label (e.g. "no replay", "replay") to unit tables of ``schedsim compare`` runs;
    ``kl_coef`` is the β those runs used (the environments' default 0.05).
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    cols = (("head/calib_abs_err", "mean |β log Z − p| over the pool"), ("head/bias", "mean (β log Z − p)"))
    labelled = {label: table.assign(scheduler=table["scheduler"] + f" ({label})") for label, table in tables.items()}
    replayed = {
        label: t.dropna(subset=["head/replay_bias"]).assign(scheduler=t["scheduler"] + ", replayed prompts")
        for label, t in labelled.items()
        if "head/replay_bias" in t and t["head/replay_bias"].notna().any()
    }
    names = [s for t in (*labelled.values(), *replayed.values()) for s in dict.fromkeys(t["scheduler"])]
    styles = scheduler_styles(names)
    for label, t in labelled.items():
        for ax, (col, ylabel) in zip(axes[:2], cols, strict=True):
            plot_curves(t, col, ylabel=ylabel, ax=ax, skip_first=True, styles=styles)
        if label in replayed:
            plot_curves(replayed[label], "head/replay_bias", ylabel=cols[1][1], ax=axes[1], styles=styles)
        kl = t.assign(beta_kl=t["train/kl"] * kl_coef)
        plot_curves(kl, "beta_kl", ylabel="β · KL(π_old ‖ π_θ) per step", ax=axes[2], skip_first=True, styles=styles)
    fig.tight_layout()
    return fig


def logz_scatter_figure(p_true: np.ndarray, beta_log_z: np.ndarray, title: str = "") -> Figure:
    """β log Z_φ(x) of every prompt against its true pass rate p(x), with the identity line β log Z = p."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(p_true, beta_log_z, s=6, alpha=0.5, label="prompts")
    ax.plot([0, 1], [0, 1], color="k", lw=1, ls="--", label="β log Z = p")
    ax.set_xlabel("true pass rate p(x)")
    ax.set_ylabel("β log Z_φ(x)  (head output)")
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    legend(ax)
    return fig
