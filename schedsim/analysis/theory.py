"""The toolkit's theory, as functions: optimal weights, efficiency, misspecification, finite-K, PACED-RL, Bae.

Everything here is docs/theory.md made computable; [derived] results are the toolkit's own algebra, stated
as such. Notebooks and analysis scripts call these functions and define no library code.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import binom

from schedsim.core.seeding import make_rng
from schedsim.rules.kernels import beta_kernel, gaussian_kernel

# -- §2: optimal weights and efficiency ----------------------------------------------------------------------


def efficiency(w: np.ndarray, mu: np.ndarray, sigma2: np.ndarray, counts: np.ndarray | None = None) -> float:
    """``Eff(w) = (Σ w μ)² / (Σ w² σ² · Σ μ²/σ²)`` in (0, 1]; 1 iff w ∝ w* = μ/σ² [derived].

    ``counts`` weights each entry by how many prompts it stands for (a pass-rate grid with a pool density).
    """
    w, mu, sigma2 = (np.asarray(x, dtype=float) for x in (w, mu, sigma2))
    d = np.ones_like(w) if counts is None else np.asarray(counts, dtype=float)
    return float((d @ (w * mu)) ** 2 / ((d @ (w**2 * sigma2)) * (d @ (mu**2 / sigma2))))


def optimal_weights(mu: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    """``w* = μ / σ²``: maximises the aggregate SNR (Σ w μ)² / Σ w² σ² and the one-step progress."""
    return np.asarray(mu, dtype=float) / np.asarray(sigma2, dtype=float)


def one_step_progress(w: np.ndarray, mu: np.ndarray, sigma2: np.ndarray) -> float:
    """``Q(w) = 2 Σ w μ − Σ w² σ²``, maximised at w*, where it equals Σ μ²/σ²."""
    return float(2 * np.sum(w * mu) - np.sum(w**2 * sigma2))


def fit_beta_kernel(p: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Best ``c · p^α (1−p)^β`` to positive weights ``w`` in log space: returns (α, β, c)."""
    p, w = np.asarray(p, dtype=float), np.asarray(w, dtype=float)
    ok = (p > 0) & (p < 1) & (w > 0)
    x = np.column_stack([np.log(p[ok]), np.log1p(-p[ok]), np.ones(ok.sum())])
    coef, *_ = np.linalg.lstsq(x, np.log(w[ok]), rcond=None)
    return float(coef[0]), float(coef[1]), float(np.exp(coef[2]))


def worst_case_loss(delta: np.ndarray, *, band: str = "linear") -> np.ndarray:
    """Worst ``1 − Eff`` over weights ``w* (1+ε)``, |ε| ≤ δ (``linear``: δ², Kantorovich) or ``w* e^η``, |η| ≤ δ
    (``log``: tanh² δ) [derived]."""
    delta = np.asarray(delta, dtype=float)
    return delta**2 if band == "linear" else np.tanh(delta) ** 2


def misspecification_cloud(
    delta: float, mu: np.ndarray, sigma2: np.ndarray, *, draws: int = 200, seed: int = 0
) -> np.ndarray:
    """Monte-Carlo ``1 − Eff`` for random weights ``w*(1+ε)``: ε uniform in [−δ, δ] or random ±δ signs."""
    rng = make_rng(seed)
    w_star = optimal_weights(mu, sigma2)
    out = np.empty(draws)
    for i in range(draws):  # loop over Monte-Carlo draws, not prompts
        eps = rng.uniform(-delta, delta, mu.shape[0]) if i % 2 else delta * rng.choice([-1.0, 1.0], mu.shape[0])
        out[i] = 1.0 - efficiency(w_star * (1 + eps), mu, sigma2)
    return out


# -- §5 figure 3: the weights schedulers put on pass rate --------------------------------------------------


def weight_shapes(p: np.ndarray, group: int = 8) -> dict[str, np.ndarray]:
    """Each scheduler's weight as a function of the true pass rate, normalised to peak 1.

    DAPO's filter keeps a group with probability ``1 − p^G − (1−p)^G``; GRPO's implicit weight is the expected
    mean |A| with population-std normalisation, ``E[2 sqrt(p̂(1−p̂))]``.
    """
    p = np.asarray(p, dtype=float)
    s = np.arange(group + 1)
    pmf = binom.pmf(s[None, :], group, p[:, None])
    rbar = s / group
    shapes = {f"beta({a:g},{b:g})": beta_kernel(p, a, b) for a, b in ((1, 1), (0.5, 0.5), (2, 2), (1, 2), (2, 1))}
    shapes["gaussian(0.5,0.35)"] = gaussian_kernel(p, 0.5, 0.35)
    shapes[f"DAPO keep prob (G={group})"] = 1 - p**group - (1 - p) ** group
    shapes["filter band 0.2–0.8"] = ((p >= 0.2) & (p <= 0.8)).astype(float)
    shapes[f"GRPO mean|A| (G={group})"] = pmf @ (2 * np.sqrt(rbar * (1 - rbar)))
    shapes["SPO sqrt(p(1-p))+0.05"] = np.sqrt(p * (1 - p)) + 0.05
    return {k: v / v.max() for k, v in shapes.items()}


def pool_efficiencies(
    weights: dict[str, np.ndarray], p: np.ndarray, mu: np.ndarray, sigma2: np.ndarray, pools: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Efficiency of each weight shape for pools whose pass rates are distributed as ``pools[name]`` (density
    over the grid ``p``): ``{pool: {weight: Eff}}``. Each grid point stands for the prompts at that pass rate."""
    out = {}
    for pool_name, density in pools.items():
        d = density / density.sum()
        out[pool_name] = {name: efficiency(w, mu, sigma2, d) for name, w in weights.items()}
    return out


# -- §5 figure 7: finite-K effects -----------------------------------------------------------------------------


def expected_plugin_weight(p: np.ndarray, k: int, alpha: float = 1.0, beta: float = 1.0) -> np.ndarray:
    """``E[w(p̂)]`` with p̂ = s/K, s ~ Binomial(K, p), for the Beta kernel (exact enumeration)."""
    s = np.arange(k + 1)
    pmf = binom.pmf(s[None, :], k, np.asarray(p, dtype=float)[:, None])
    return pmf @ beta_kernel(s / k, alpha, beta)


def zero_weight_probability(p: np.ndarray, k: int) -> np.ndarray:
    """``P(p̂ ∈ {0, 1}) = p^K + (1−p)^K``: the chance the bare kernel gives a prompt weight 0."""
    p = np.asarray(p, dtype=float)
    return p**k + (1 - p) ** k


# -- §3: the PACED-RL identity ----------------------------------------------------------------------------------


def tb_identity(
    pi_old: np.ndarray, pi_theta: np.ndarray, reward: np.ndarray, beta: float
) -> tuple[float, float, float]:
    """Exact ``(β log Z*, p_old, KL(π_old‖π_θ))`` for a policy over finitely many outcomes.

    The squared trajectory-balance loss anchored at π_old, with θ fixed, is minimised by
    ``log Z* = E_old[r/β − log π_θ + log π_old]``, hence ``β log Z* = p_old + β KL(π_old‖π_θ)`` [derived].
    """
    pi_old, pi_theta, reward = (np.asarray(x, dtype=float) for x in (pi_old, pi_theta, reward))
    p_old = float(pi_old @ reward)
    kl = float(pi_old @ (np.log(pi_old) - np.log(pi_theta)))
    log_z = float(pi_old @ (reward / beta - np.log(pi_theta) + np.log(pi_old)))
    return beta * log_z, p_old, kl


def tb_intercept_fit(
    pi_old: np.ndarray, pi_theta: np.ndarray, reward: np.ndarray, beta: float, n: int, *, seed: int = 0
) -> tuple[float, float]:
    """Fit the free intercept log Z by least squares on ``n`` on-policy samples; returns (β log Z, its std error)."""
    rng = make_rng(seed)
    y = rng.choice(pi_old.shape[0], size=n, p=pi_old)
    target = reward[y] / beta - np.log(pi_theta[y]) + np.log(pi_old[y])  # residual target of the intercept
    fit = least_squares(lambda c: c[0] - target, x0=[0.0])
    return float(beta * fit.x[0]), float(beta * target.std(ddof=1) / np.sqrt(n))


# -- §4: Bae et al. KL-regularised target -------------------------------------------------------------------------


def tilted_kl(p: np.ndarray, beta: float) -> np.ndarray:
    """``KL(π*‖π_init)`` for π* ∝ π_init exp(r/β) with binary r: exact, with q = p e^c / (1 − p + p e^c)."""
    p = np.asarray(p, dtype=float)
    c = 1.0 / beta
    q = p * np.exp(c) / (1 - p + p * np.exp(c))
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = q * np.log(q / p) + (1 - q) * np.log((1 - q) / (1 - p))
    return np.nan_to_num(kl)


def tilted_kl_approx(p: np.ndarray, beta: float) -> np.ndarray:
    """Leading order ``p(1−p) / (2β²)`` of :func:`tilted_kl` for large β (Bae et al., arXiv 2504.03380)."""
    p = np.asarray(p, dtype=float)
    return p * (1 - p) / (2 * beta**2)
