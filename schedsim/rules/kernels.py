"""Weight kernels over pass rate: the Beta kernel (PACED) and the Gaussian curriculum weight (FG-ExPO).

A kernel maps an estimator's p-hat to non-negative weights. :class:`~schedsim.rules.sampling.KernelSampling`
samples prompts proportionally to them; trainers can also use them as per-prompt loss weights.
"""

from __future__ import annotations

import math

import numpy as np

from schedsim.core.errors import ParameterError
from schedsim.core.params import check_range
from schedsim.core.scheduler import Estimator


def beta_kernel(p: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """``w(p) = p^alpha (1-p)^beta`` with p clipped to [0, 1]; peak at ``alpha / (alpha + beta)``.

    References:
        Xu et al., PACED: Distillation at the Frontier of Student Competence, arXiv 2603.11178.
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    q = 1.0 - p
    if alpha != 1:
        p = p**alpha
    if beta != 1:
        q **= beta
    return p * q


def beta_kernel_peak(alpha: float, beta: float) -> float:
    """Maximum of :func:`beta_kernel` over [0, 1]."""
    mode = alpha / (alpha + beta)
    return float(mode**alpha * (1.0 - mode) ** beta)


def falling_factorial(x: np.ndarray, n: int) -> np.ndarray:
    """``x (x-1) ... (x-n+1)`` elementwise (1 for n = 0)."""
    out = np.ones_like(x, dtype=np.float64)
    for j in range(n):  # loop over the exponent, not over prompts
        out *= x - j
    return out


def unbiased_beta_kernel(succ: np.ndarray, count: np.ndarray, alpha: int, beta: int) -> np.ndarray:
    """Unbiased estimate of ``p^alpha (1-p)^beta`` from ``succ`` successes in ``count`` Bernoulli(p) draws.

    The U-statistic ``(s)_alpha (K-s)_beta / (K)_(alpha+beta)`` with falling factorials; for alpha = beta = 1 it
    is ``K/(K-1) * p_hat (1 - p_hat)``, correcting ``E[p_hat(1-p_hat)] = p(1-p)(1-1/K)``. Defined only where
    ``count >= alpha + beta``; other entries are NaN.
    """
    succ = np.asarray(succ, dtype=np.float64)
    count = np.asarray(count, dtype=np.float64)
    num = falling_factorial(succ, alpha) * falling_factorial(count - succ, beta)
    den = falling_factorial(count, alpha + beta)
    out = np.full(succ.shape, np.nan)
    np.divide(num, den, out=out, where=count >= alpha + beta)
    return out


def gaussian_kernel(p: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """``w(p) = exp(-(p - mu)^2 / (2 sigma^2))`` (FG-ExPO Gaussian curriculum sampling, arXiv 2605.11403)."""
    d = np.asarray(p, dtype=np.float64) - mu
    d *= d
    d *= -1.0 / (2.0 * sigma**2)
    return np.exp(d, out=d)


class BetaKernel:
    """Beta-kernel weights with a floor and an optional finite-K unbiased correction.

    Args:
        alpha: exponent on p; PACED default 1.
        beta: exponent on (1 - p); PACED default 1.
        floor: [choice] weight added to every prompt, as a fraction of the kernel's peak, so that prompts with
            p-hat in {0, 1} are not starved forever (the bare kernel gives them weight 0); default 0.05.
        unbiased: [choice] replace the plug-in ``w(p_hat)`` by its unbiased finite-K estimate; needs integer
            alpha, beta and an estimator that keeps counts (``empirical``); default False.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, *, floor: float = 0.05, unbiased: bool = False) -> None:
        self.alpha = check_range("alpha", alpha, 0.0, None, lo_open=True)
        self.beta = check_range("beta", beta, 0.0, None, lo_open=True)
        self.floor = check_range("floor", floor, 0.0, None)
        self.unbiased = bool(unbiased)
        if self.unbiased and not (float(alpha).is_integer() and float(beta).is_integer()):
            raise ParameterError(
                f"unbiased=True needs integer exponents, got alpha={alpha!r}, beta={beta!r}; "
                "accepted: integer alpha and beta, or unbiased=False"
            )
        self.peak = beta_kernel_peak(self.alpha, self.beta)

    def check_estimator(self, estimator: Estimator) -> None:
        """Raise ParameterError if the unbiased correction is asked of an estimator without counts."""
        if self.unbiased and not hasattr(estimator, "count"):
            raise ParameterError(
                f"unbiased=True needs success counts, but estimator {estimator.name!r} keeps none; "
                "accepted: estimator='empirical', or unbiased=False"
            )

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """Plug-in weights ``w(p) + floor * peak``."""
        w = beta_kernel(p, self.alpha, self.beta)
        if self.floor:
            w += self.floor * self.peak
        return w

    def weights(self, estimator: Estimator, ids: np.ndarray | None = None) -> np.ndarray:
        """Weights for ``ids`` (or the whole pool) from the estimator's current state."""
        p_hat = estimator.values() if ids is None else estimator.estimate(ids)
        if not self.unbiased:
            return self(p_hat)
        succ = estimator.succ if ids is None else estimator.succ[ids]
        count = estimator.count if ids is None else estimator.count[ids]
        w = unbiased_beta_kernel(succ, count, int(self.alpha), int(self.beta))
        plug_in = beta_kernel(p_hat, self.alpha, self.beta)  # where K < alpha + beta or never observed
        return np.where(np.isnan(w), plug_in, np.maximum(w, 0.0)) + self.floor * self.peak


class GaussianKernel:
    """Gaussian curriculum weights ``exp(-(p - mu)^2 / (2 sigma^2))``; FG-ExPO uses mu = 0.5, sigma = 0.35.

    No floor: with sigma = 0.35 the smallest weight on [0, 1] is ``exp(-0.25/0.245) = 0.36`` of the largest.
    """

    def __init__(self, mu: float = 0.5, sigma: float = 0.35) -> None:
        self.mu = check_range("mu", mu, 0.0, 1.0)
        self.sigma = check_range("sigma", sigma, 0.0, None, lo_open=True)
        two_var = 2.0 * float(sigma) ** 2  # underflows to 0 for sigma below ~1e-162: 1 / two_var would raise
        if two_var == 0.0 or not math.isfinite(1.0 / two_var):
            raise ParameterError(f"sigma={sigma!r} is too small; accepted: sigma > 1e-150")

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return gaussian_kernel(p, self.mu, self.sigma)

    def check_estimator(self, estimator: Estimator) -> None:
        del estimator

    def weights(self, estimator: Estimator, ids: np.ndarray | None = None) -> np.ndarray:
        return self(estimator.values() if ids is None else estimator.estimate(ids))


class SqrtKernel:
    """SPO's sampling weight ``sqrt(p (1 - p)) + eps`` (the std of a Bernoulli reward, floored), eps = 0.05.

    References:
        SPO, arXiv 2509.13232 (docs/schedulers.md).
    """

    def __init__(self, eps: float = 0.05) -> None:
        self.eps = check_range("eps", eps, 0.0, None)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        return np.sqrt(p * (1.0 - p)) + self.eps

    def check_estimator(self, estimator: Estimator) -> None:
        del estimator

    def weights(self, estimator: Estimator, ids: np.ndarray | None = None) -> np.ndarray:
        return self(estimator.values() if ids is None else estimator.estimate(ids))
