"""Gaussian curriculum sampling (FG-ExPO)."""

from __future__ import annotations

from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import ComposedScheduler
from schedsim.estimators import LogZSource, PassRateSource, build_estimator
from schedsim.rules.kernels import GaussianKernel
from schedsim.rules.sampling import KernelSampling


class GaussianScheduler(ComposedScheduler):
    """Sample prompts with probability ``∝ exp(-(p̃ - mu)^2 / (2 sigma^2))`` over the whole pool.

    p̃ is a per-prompt EMA of accuracy, ``p̃ <- 0.9 p̃ + 0.1 acc`` when sampled, starting at 0.5. With the
    defaults the smallest weight is 0.36 of the largest, so the curriculum is gentle (docs/theory.md §6 found it close
    to uniform); sharper settings are parameters, not defaults.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        mu: target accuracy; paper 0.5.
        sigma: kernel width; paper 0.35.
        ema_decay: EMA decay of the accuracy estimate; paper 0.9.
        init: starting estimate; paper 0.5.
        replace: [choice] sample the batch with replacement; default False (successive sampling).
        estimator: ``ema`` (paper) or a crossing: ``empirical``, ``logz``, ``oracle``
            (the environment's true pass rates: a diagnostic no trainer has, used by ``schedsim explain``).
        kl_coef: beta of the ``logz`` estimator (crossing only).
        log_z: log Z source for the ``logz`` estimator (crossing only).
        pass_rates: true pass-rate source for the ``oracle`` estimator (diagnostic crossing only).

    References:
        Lin et al., FG-ExPO, arXiv 2605.11403 (2026), Gaussian curriculum sampling.
    """

    name = "gaussian"
    summary = "sample ∝ exp(-(p̃-μ)²/2σ²) on an EMA of accuracy"
    paper = "FG-ExPO, arXiv 2605.11403"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        mu: float = 0.5,
        sigma: float = 0.35,
        ema_decay: float = 0.9,
        init: float = 0.5,
        replace: bool = False,
        estimator: str = "ema",
        kl_coef: float = 0.05,
        log_z: LogZSource | None = None,
        pass_rates: PassRateSource | None = None,
    ) -> None:
        est = build_estimator(
            estimator, pool, ema_decay=ema_decay, init=init, kl_coef=kl_coef, log_z=log_z, pass_rates=pass_rates
        )
        rule = KernelSampling(pool, GaussianKernel(mu, sigma), replace=replace)
        super().__init__(pool, est, rule, seed=seed)
