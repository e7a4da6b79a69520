"""Gradient signal-to-noise ratio vs pass rate: measured from gradient samples, and the exact model curve.

SNR = ||E g||^2 / tr Cov g per prompt (docs/theory.md §1). For the simulator's gradient model the exact
value follows by enumerating the number of successes s ~ Binomial(G, p): a group's estimate is
``a(s) phi + c(s) sigma_s z`` with a(s) = (1/G) sum_j A_j r_j and c(s)^2 = sum_j A_j^2 / G^2, so

    SNR(p) = E[a]^2 ||phi||^2 / (Var[a] ||phi||^2 + d sigma_s^2 E[c^2]).

With mean-centred advantages this is docs/theory.md §6's formula [p(1-p)(1-1/G)]^2 / (Var[r̄(1-r̄)] ||phi||^2 +
d sigma_s^2 p(1-p)(1-1/G)/G).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from schedsim.analysis.stats import ratio_interval
from schedsim.core.seeding import make_rng
from schedsim.envs.bandit.learner import gradient_terms


def analytic_moments(
    p: np.ndarray, *, group: int, dim: int, score_noise: float, advantage: str, phi_norm2: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``(||E g||^2, tr Cov g)`` of one group's gradient estimate at pass rates ``p`` (vectorised)."""
    p = np.atleast_1d(np.asarray(p, dtype=float))
    s = np.arange(group + 1)
    rewards = (np.arange(group)[None, :] < s[:, None]).astype(float)  # one representative group per s
    a, c = gradient_terms(rewards, advantage)  # (G+1,)
    pmf = binom.pmf(s[None, :], group, p[:, None])  # (P, G+1)
    mean_a = pmf @ a
    var_a = np.maximum(pmf @ a**2 - mean_a**2, 0.0)
    return mean_a**2 * phi_norm2, var_a * phi_norm2 + dim * score_noise**2 * (pmf @ c**2)


def analytic_snr(
    p: np.ndarray, *, group: int, dim: int, score_noise: float, advantage: str, phi_norm2: float = 1.0
) -> np.ndarray:
    """Exact SNR of one group's gradient estimate at pass rates ``p``; 0 where there is no signal."""
    signal, trace = analytic_moments(
        p, group=group, dim=dim, score_noise=score_noise, advantage=advantage, phi_norm2=phi_norm2
    )
    return np.divide(signal, trace, out=np.zeros_like(signal), where=trace > 0)


def gradient_moments(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per prompt from ``(m, n, d)`` samples: unbiased ||E g||^2 and tr Cov g.

    ``||mean||^2`` overestimates ``||E g||^2`` by ``tr Cov / n``; that bias is removed.
    """
    n = samples.shape[1]
    trace = samples.var(axis=1, ddof=1).sum(axis=1)
    signal = (samples.mean(axis=1) ** 2).sum(axis=1) - trace / n
    return signal, trace


def ratio_ci(signal: np.ndarray, trace: np.ndarray, *, seed: int, n_boot: int = 2000) -> tuple[float, float, float]:
    """SNR of a bin as mean(signal) / mean(trace), with a 95 % percentile-bootstrap CI over its prompts.

    The resampling is :func:`schedsim.analysis.stats.ratio_interval` (scipy.stats.bootstrap, prompts resampled
    with their own signal and trace).
    """
    iv = ratio_interval(signal, trace, seed=seed, n_resamples=n_boot)
    return iv.point, iv.lo, iv.hi


def fit_boundary_exponents(bins: pd.DataFrame, edge: float = 0.15) -> tuple[float, float]:
    """Slopes of log SNR vs log p for p < edge and vs log(1 - p) for p > 1 - edge (NaN if too few bins)."""

    def slope(x: np.ndarray, y: np.ndarray) -> float:
        ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
        return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0]) if ok.sum() >= 2 else np.nan

    lo, hi = bins[bins["p"] < edge], bins[bins["p"] > 1 - edge]
    return slope(lo["p"].to_numpy(), lo["snr"].to_numpy()), slope(1 - hi["p"].to_numpy(), hi["snr"].to_numpy())


def snr_table(
    env,
    *,
    group: int,
    n_prompts: int = 400,
    n_samples: int = 1000,
    n_bins: int = 20,
    seed: int = 0,
    rate_samples: int = 32,
) -> pd.DataFrame:
    """Measure SNR on prompts spread over pass rates and bin by p; columns p, snr (+CI), snr_analytic, n.

    Prompts come from the environment's train pool, evenly over its sorted pass rates (true ones in the
    simulator; for a real network, estimated from ``rate_samples`` samples each, over a candidate set 4x as
    large). Each prompt gets ``n_samples`` independent group-gradient estimates at the current parameters.
    ``snr_analytic`` is the simulator's exact model curve (NaN for a real network).
    """
    simulated = hasattr(env, "pass_rates")
    if simulated:
        candidates, p_all = np.arange(env.pool.n), env.pass_rates()
    else:
        rng = make_rng(seed)
        candidates = np.sort(rng.choice(env.pool.n, size=min(4 * n_prompts, env.pool.n), replace=False))
        p_all = env.estimate_pass_rates(candidates, rate_samples)
    order = np.argsort(p_all, kind="stable")
    pick = order[np.linspace(0, order.size - 1, min(n_prompts, order.size)).astype(int)]
    ids, p = candidates[pick], p_all[pick]
    if hasattr(env, "gradient_moments"):
        signal, trace = env.gradient_moments(ids, group, n_samples)
    else:
        signal, trace = np.empty(ids.size), np.empty(ids.size)
        for start in range(0, ids.size, 32):  # chunks bound memory: 32 x n_samples x d floats
            chunk = slice(start, start + 32)
            signal[chunk], trace[chunk] = gradient_moments(env.gradient_samples(ids[chunk], group, n_samples))
    which = np.clip(np.digitize(p, np.linspace(0, 1, n_bins + 1)) - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = which == b
        if mask.sum() < 2 or trace[mask].mean() <= 0:
            continue
        point, lo, hi = ratio_ci(signal[mask], trace[mask], seed=seed + b)
        exact = np.nan
        if simulated:
            cfg, dim = env.config, env.theta.shape[0]
            sig, tr = analytic_moments(
                p[mask], group=group, dim=dim, score_noise=cfg.score_noise, advantage=cfg.advantage
            )
            exact = float(sig.mean() / tr.mean())  # same estimator form as the measurement: ratio of bin means
        rows.append(
            {
                "p": float(p[mask].mean()),
                "snr": point,
                "snr_lo": lo,
                "snr_hi": hi,
                "snr_analytic": exact,
                "n": int(mask.sum()),
            }
        )
    return pd.DataFrame(rows)
