"""Candidate top-k: score a fresh uniform candidate set of ``pool_factor x k`` prompts, keep the k closest to tau."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from schedsim.core.params import check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, Rule
from schedsim.rules.sampling import smallest_k


class CandidateTopK(Rule):
    """Draw ``min(N, pool_factor·k)`` distinct candidates uniformly, take the k with the smallest |p̂ − tau|.

    Only the candidates are scored (``estimator.estimate(cand)``), so a model-based estimator is evaluated on
    ``pool_factor·k`` prompts per step, not on the pool. Ties are broken uniformly at random.

    Args:
        pool: the prompt pool.
        tau: target pass rate.
        pool_factor: candidates per batch slot (PCL's k).

    References:
        PCL, arXiv 2510.01135 (k·m candidates, the m closest to tau).
    """

    name: ClassVar[str] = "candidate-topk"

    def __init__(self, pool: PromptPool, *, tau: float = 0.5, pool_factor: int = 4) -> None:
        super().__init__(pool)
        self.tau = check_range("tau", tau, 0.0, 1.0)
        self.pool_factor = check_int("pool_factor", pool_factor, 1)

    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        n = self.pool.n
        size = min(n, self.pool_factor * k)
        cand = rng.choice(n, size=size, replace=False) if size < n else np.arange(n)
        return cand[smallest_k(np.abs(estimator.estimate(cand) - self.tau), k, rng)]
