"""BOTS: Trinity-RFT's ``difficulty_based`` task selector (Beta posterior with interpolated pseudo-counts)."""

from __future__ import annotations

import numpy as np

from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import ComposedScheduler
from schedsim.estimators.interpolation import InterpolatedBetaEstimator
from schedsim.rules.closest import ClosestToTarget


class BOTSScheduler(ComposedScheduler):
    """Per-task Beta posterior updated every batch; choose the tasks whose p̂ is closest to ``target``.

    Estimator: :class:`~schedsim.estimators.interpolation.InterpolatedBetaEstimator` (offline ``anchors``
    interpolate pseudo-counts for unobserved tasks when given; otherwise unobserved tasks relax toward the
    Beta(1, 1) prior). Rule: :class:`~schedsim.rules.closest.ClosestToTarget`: score −|target − p̂| with p̂ a Beta
    draw (``do_sample``) or the posterior mean; ``tau = 0`` takes the top k, else softmax(score/tau) without
    replacement.

    Defaults are the BOTS example configuration (m = 16, λ = ρ = 0.1, target 0.5, tau 0, do_sample on). The
    code's own defaults differ: target 1.0 (the easiest tasks first), tau 1.0, do_sample off, λ = ρ = 0.2.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        target: target pass rate; 0.5 (example; code 1.0).
        tau: softmax temperature, 0 = top-k; 0.0 (example; code 1.0).
        do_sample: Thompson draw from the posterior; True (example; code False).
        m: rollouts per task that an observed pass rate stands for; 16.
        lamb: λ, history discount; 0.1 (example; code 0.2).
        rho: ρ, pseudo-count weight; 0.1 (example; code 0.2).
        adaptive_rho: halve ρ when the interpolation misses by ≥ 0.25 on average; False.
        cap_discount: discount of the capability average; 0.9.
        anchors: ``float[2, N]`` pass rates of two reference models (Python only; None: no anchors).

    References:
        BOTS, arXiv 2510.26374; code: modelscope/Trinity-RFT, trinity/buffer/selector/ (selector.py,
        difficulty_estimator.py), examples/bots/bots.yaml; docs/schedulers.md (bots).
    """

    name = "bots"
    summary = (
        "Beta posterior per task (pseudo-counts from offline anchors when given), Thompson draw, top-k closest to τ"
    )
    paper = "BOTS, arXiv 2510.26374"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        target: float = 0.5,
        tau: float = 0.0,
        do_sample: bool = True,
        m: int = 16,
        lamb: float = 0.1,
        rho: float = 0.1,
        adaptive_rho: bool = False,
        cap_discount: float = 0.9,
        anchors: np.ndarray | None = None,
    ) -> None:
        est = InterpolatedBetaEstimator(
            pool, m=m, lamb=lamb, rho=rho, adaptive_rho=adaptive_rho, cap_discount=cap_discount, anchors=anchors
        )
        super().__init__(pool, est, ClosestToTarget(pool, target=target, tau=tau, do_sample=do_sample), seed=seed)
