"""Selection rules over per-prompt estimates: kernel-weighted sampling and greedy closest-to-target top-k."""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

from schedsim.core.params import check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, Rule


class Kernel(Protocol):
    def check_estimator(self, estimator: Estimator) -> None: ...

    def weights(self, estimator: Estimator, ids: np.ndarray | None = None) -> np.ndarray: ...


def normalise(weights: np.ndarray) -> np.ndarray:
    """Weights to probabilities; all-zero (or non-finite total) weights fall back to uniform."""
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(weights.shape, 1.0 / weights.shape[0])
    return weights / total


def sample_distinct(weights: np.ndarray, k: int, rng: np.random.Generator, max_rounds: int = 8) -> np.ndarray:
    """Successive sampling of ``k`` distinct ids with probability ``∝ weights`` (draw, remove, renormalise).

    Implemented exactly and in O(N + k log N) by drawing i.i.d. from the weights and discarding repeats (the
    first occurrences of an i.i.d. stream follow the successive-sampling law). If the mass is too concentrated
    for that to finish quickly, the remainder uses the Gumbel-top-k trick, which has the same law. When fewer
    than ``k`` ids have positive weight, all of them are taken and the rest are drawn uniformly among the others.
    ``weights`` need not be normalised; they must be finite, non-negative, with a positive sum.
    """
    n = weights.shape[0]
    cdf = np.cumsum(weights)
    total = cdf[-1]
    chosen = np.empty(0, dtype=np.int64)
    for _ in range(max_rounds):
        need = k - chosen.size
        if need == 0:
            return chosen
        u = rng.random(2 * need + 8) * total
        draws = np.minimum(np.searchsorted(cdf, u, side="right"), n - 1)
        stream = np.concatenate([chosen, draws])
        _, first = np.unique(stream, return_index=True)
        chosen = stream[np.sort(first)][:k]
    if chosen.size == k:
        return chosen
    positive = np.flatnonzero(weights > 0)
    if positive.size <= k:
        rest = np.flatnonzero(weights <= 0)
        return np.concatenate([rng.permutation(positive), rng.choice(rest, k - positive.size, replace=False)])
    keys = np.full(n, -np.inf)
    keys[positive] = np.log(weights[positive]) + rng.gumbel(size=positive.size)
    keys[chosen] = np.inf
    top = np.argpartition(-keys, k - 1)[:k]
    rest = top[~np.isin(top, chosen)]
    return np.concatenate([chosen, rest[np.argsort(-keys[rest])]])


def smallest_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the ``k`` smallest ``scores``, ties at the boundary broken uniformly at random; O(N)."""
    n = scores.shape[0]
    if k >= n:
        return rng.permutation(n)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    lowest = scores.min()
    at_min = np.flatnonzero(scores == lowest)
    if at_min.size >= k:  # common when many prompts share one estimate (e.g. never observed): skip the select
        return rng.choice(at_min, k, replace=False)
    kth = np.partition(scores, k - 1)[k - 1]
    below = np.flatnonzero(scores < kth)
    tied = np.flatnonzero(scores == kth)
    picked = np.concatenate([below, rng.choice(tied, k - below.size, replace=False)])
    return rng.permutation(picked)


class KernelSampling(Rule):
    """Sample prompts with probability proportional to ``kernel(p_hat)`` over the whole pool.

    Args:
        pool: the prompt pool.
        kernel: a weight kernel (:class:`~schedsim.rules.kernels.BetaKernel`, ``GaussianKernel``, ...).
        replace: [choice] draw the batch with replacement (i.i.d.) instead of successive sampling without
            replacement; default False.
    """

    name: ClassVar[str] = "kernel"

    def __init__(self, pool: PromptPool, kernel: Kernel, *, replace: bool = False) -> None:
        super().__init__(pool)
        self.kernel = kernel
        self.replace = bool(replace)
        self._cache: np.ndarray | None = None  # per-prompt weights, valid for estimator revision _cache_rev
        self._cache_rev = -1

    @property
    def distinct(self) -> bool:  # type: ignore[override]
        return not self.replace

    def weights(self, estimator: Estimator) -> np.ndarray:
        """Unnormalised weights over the pool; refreshed only where the estimator changed when it allows."""
        if not estimator.incremental:
            return self.kernel.weights(estimator)
        if self._cache is None or estimator.revision > self._cache_rev + 1 or estimator.revision < self._cache_rev:
            self._cache = self.kernel.weights(estimator)
        elif estimator.revision == self._cache_rev + 1 and estimator.touched.size:
            self._cache[estimator.touched] = self.kernel.weights(estimator, estimator.touched)
        self._cache_rev = estimator.revision
        return self._cache

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._cache, self._cache_rev = None, -1

    def distribution(self, estimator: Estimator) -> np.ndarray:
        return normalise(self.weights(estimator))

    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        weights = self.weights(estimator)
        total = weights.sum()
        if not np.isfinite(total) or total <= 0:
            weights = np.ones_like(weights)  # same fallback as normalise()
        if self.replace:
            return rng.choice(weights.shape[0], size=k, p=weights / weights.sum())
        return sample_distinct(weights, k, rng)


class TopKClosest(Rule):
    """Greedy: the ``k`` prompts whose p-hat is closest to a target ``tau`` (PACED-RL, PCL, MoPPS).

    Args:
        pool: the prompt pool.
        tau: target pass rate; PACED-RL uses 0.5.
        candidates: [choice] score only a fresh uniform random subset of this many prompts per call (None:
            the whole pool, PACED-RL's setting).
        explore: [choice] fraction of the batch drawn uniformly from the rest of the pool; default 0 (greedy).

    Ties (e.g. many prompts clipped to p-hat = 0) are broken uniformly at random.
    """

    name: ClassVar[str] = "topk"

    def __init__(
        self, pool: PromptPool, *, tau: float = 0.5, candidates: int | None = None, explore: float = 0.0
    ) -> None:
        super().__init__(pool)
        self.tau = check_range("tau", tau, 0.0, 1.0)
        self.candidates = None if candidates is None else check_int("candidates", candidates, 1)
        self.explore = check_range("explore", explore, 0.0, 1.0)

    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        n = self.pool.n
        n_explore = round(self.explore * k)
        n_greedy = k - n_explore
        if self.candidates is None or self.candidates >= n:
            dist = estimator.values() - self.tau
            greedy = smallest_k(np.abs(dist, out=dist), n_greedy, rng)
        else:
            cand = rng.choice(n, size=max(self.candidates, n_greedy), replace=False)
            greedy = cand[smallest_k(np.abs(estimator.estimate(cand) - self.tau), n_greedy, rng)]
        if n_explore == 0:
            return greedy
        mask = np.ones(n, dtype=bool)
        mask[greedy] = False
        explore = rng.choice(np.flatnonzero(mask), size=n_explore, replace=False)
        return np.concatenate([greedy, explore])
