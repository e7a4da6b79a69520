"""Rules from the literature baselines: Thompson top-k (MoPPS) and rank prioritisation with staleness (PLR)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.stats import rankdata

from schedsim.core.feedback import Feedback
from schedsim.core.params import check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, Rule
from schedsim.rules.sampling import sample_distinct, smallest_k


class ThompsonTopK(Rule):
    """Draw r ~ Beta(alpha, beta) for a random candidate pool, take the k with the smallest (r - tau)^2 (MoPPS).

    Args:
        pool: the prompt pool.
        tau: target pass rate; MoPPS uses 0.5.
        pool_factor: candidates = pool_factor x k drawn uniformly per call; MoPPS uses 8.

    References:
        MoPPS, arXiv 2507.04632.
    """

    name: ClassVar[str] = "thompson-topk"

    def __init__(self, pool: PromptPool, *, tau: float = 0.5, pool_factor: int = 8) -> None:
        super().__init__(pool)
        self.tau = check_range("tau", tau, 0.0, 1.0)
        self.pool_factor = check_int("pool_factor", pool_factor, 1)

    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        n = self.pool.n
        size = min(n, max(k, self.pool_factor * k))
        cand = rng.choice(n, size=size, replace=False) if size < n else np.arange(n)
        alpha, beta = estimator.posterior()
        draws = rng.beta(alpha[cand], beta[cand])
        return cand[smallest_k((draws - self.tau) ** 2, k, rng)]


class RankPrioritized(Rule):
    """PLR: ``P = (1 - rho) P_S + rho P_C``; ``P_S ∝ (1/rank(score))^(1/temperature)``, ``P_C ∝ staleness``.

    The score of a prompt is the estimator's learnability ``p(1 - p)`` of its latest estimate; staleness is the
    number of selections made since the prompt was last selected.

    Args:
        pool: the prompt pool.
        temperature: beta of the rank transform; PLR uses 0.1.
        staleness: rho, the weight of the staleness distribution; PLR uses 0.1.

    References:
        Jiang et al., Prioritized Level Replay, arXiv 2010.03934.
    """

    name: ClassVar[str] = "rank-prioritized"
    _state_keys = ("last", "clock")

    def __init__(self, pool: PromptPool, *, temperature: float = 0.1, staleness: float = 0.1) -> None:
        super().__init__(pool)
        self.temperature = check_range("temperature", temperature, 0.0, None, lo_open=True)
        self.staleness = check_range("staleness", staleness, 0.0, 1.0)
        self.last = np.zeros(pool.n)
        self.clock = 0.0

    def distribution(self, estimator: Estimator) -> np.ndarray:
        p = estimator.values()
        score = p * (1.0 - p)
        rank = rankdata(-score, method="average")  # tied prompts share a rank, hence a probability
        p_score = (1.0 / rank) ** (1.0 / self.temperature)
        p_score /= p_score.sum()
        stale = self.clock - self.last
        p_stale = stale / stale.sum() if stale.sum() > 0 else np.full(stale.shape[0], 1.0 / stale.shape[0])
        return (1 - self.staleness) * p_score + self.staleness * p_stale

    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        ids = sample_distinct(self.distribution(estimator), k, rng)
        self.clock += k
        self.last[ids] = self.clock
        return ids

    def observe(self, feedback: Feedback) -> None:
        del feedback
