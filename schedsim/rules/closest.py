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

    Greedy Thompson selection (``tau = 0``, ``do_sample``) draws only for prompts whose posterior is not the
    Beta(1, 1) prior: the prompts still at exactly (1, 1) (never observed, in BOTS without anchors) are i.i.d.
    U(0, 1) draws, so only the k smallest of their distances ``|target − U|`` can enter the top k. Those are drawn
    exactly as uniform order statistics (k exponential spacings and one Gamma for the rest) mapped through the
    inverse of ``P(|target − U| <= t)``, and the block members that get them are a uniform random subset. The law
    of the selected set is the same as drawing all N; the cost is O(k + observed) draws instead of N.

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
        if self.tau == 0 and self.do_sample:
            return self._thompson_top_k(k, estimator, rng)
        score = self._scores(estimator, rng)
        if self.tau == 0:
            return smallest_k(-score, k, rng)
        z = score / self.tau
        return sample_distinct(np.exp(z - z.max()), k, rng)

    def _thompson_top_k(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        """The k prompts whose posterior draw is closest to ``target``; prior-only prompts drawn as a block."""
        alpha, beta = estimator.posterior()
        flat = (alpha == 1.0) & (beta == 1.0)
        other = np.flatnonzero(np.logical_not(flat, out=flat))
        np.logical_not(flat, out=flat)
        dist_other = np.abs(self.target - rng.beta(alpha[other], beta[other]))
        m = alpha.shape[0] - other.size
        k_block = min(k, m)
        # the k_block smallest of m i.i.d. U(0, 1): partial sums of exponential spacings over the total of m + 1
        spacings = np.cumsum(rng.exponential(size=k_block))
        total = (spacings[-1] if k_block else 0.0) + rng.gamma(m + 1 - k_block)
        u = spacings / total
        a = min(self.target, 1.0 - self.target)  # P(|target - U| <= t) = 2t for t <= a, t + a above
        dist_block = np.where(u <= 2 * a, u / 2, u - a)
        picked = smallest_k(np.concatenate([dist_other, dist_block]), k, rng)
        from_block = int(np.count_nonzero(picked >= other.size))
        block_ids = rng.choice(np.flatnonzero(flat), from_block, replace=False) if from_block else picked[:0]
        return np.concatenate([other[picked[picked < other.size]], block_ids])
