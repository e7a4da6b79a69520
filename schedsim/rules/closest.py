"""BOTS's selection: score −|target − p̂| (p̂ a posterior mean or a Beta draw), top-k or softmax without replacement."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from schedsim.core.params import check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, Rule
from schedsim.rules.sampling import sample_distinct, smallest_k


class ClosestToTarget(Rule):
    """Score every prompt ``−|target − p̂|``; ``tau = 0``: the k highest (ties random); else k distinct draws from
    ``softmax(score/tau)`` by successive sampling. ``do_sample``: p̂ is a draw from the estimator's Beta posterior.

    Args:
        pool: the prompt pool.
        target: target pass rate.
        tau: softmax temperature; 0 selects greedily.
        do_sample: Thompson-style draw from ``estimator.posterior()`` instead of the posterior mean.

    References:
        BOTS, arXiv 2510.26374; Trinity-RFT's ``difficulty_based`` selector.
    """

    name: ClassVar[str] = "closest"

    def __init__(self, pool: PromptPool, *, target: float = 0.5, tau: float = 0.0, do_sample: bool = True) -> None:
        super().__init__(pool)
        self.target = check_range("target", target, 0.0, 1.0)
        self.tau = check_range("tau", tau, 0.0, None)
        self.do_sample = bool(do_sample)

    def _scores(self, estimator: Estimator, rng: np.random.Generator | None) -> np.ndarray:
        if self.do_sample and rng is not None:
            alpha, beta = estimator.posterior()
            p = rng.beta(alpha, beta)
        else:
            p = estimator.values()
        return -np.abs(self.target - p)

    def distribution(self, estimator: Estimator) -> np.ndarray | None:
        if self.tau == 0 or self.do_sample:
            return None  # greedy, or random scores
        z = self._scores(estimator, None) / self.tau
        z = np.exp(z - z.max())
        return z / z.sum()

    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        score = self._scores(estimator, rng)
        if self.tau == 0:
            return smallest_k(-score, k, rng)
        z = score / self.tau
        return sample_distinct(np.exp(z - z.max()), k, rng)
