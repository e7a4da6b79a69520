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


def sample_distinct(prob: np.ndarray, k: int, rng: np.random.Generator, max_rounds: int = 8) -> np.ndarray:
    """Successive sampling of ``k`` distinct ids from ``prob`` (draw, remove, renormalise, repeat).

    Implemented exactly and in O(N + k log N) by drawing i.i.d. from ``prob`` and discarding repeats (the first
    occurrences of an i.i.d. stream follow the successive-sampling law). If mass is too concentrated for that
    to finish quickly, the remainder uses the Gumbel-top-k trick, which has the same law. When fewer than ``k``
    ids have positive probability, all of them are taken and the rest are drawn uniformly among the others.
    """
    n = prob.shape[0]
    positive = int(np.count_nonzero(prob > 0))
    if positive <= k:
        chosen = np.flatnonzero(prob > 0)
        rest = np.flatnonzero(prob <= 0)
        return np.concatenate([rng.permutation(chosen), rng.choice(rest, k - positive, replace=False)])
    cdf = np.cumsum(prob)
    cdf /= cdf[-1]
    chosen = np.empty(0, dtype=np.int64)
    for _ in range(max_rounds):
        need = k - chosen.size
        draws = np.minimum(np.searchsorted(cdf, rng.random(2 * need + 8), side="right"), n - 1)
        stream = np.concatenate([chosen, draws])
        _, first = np.unique(stream, return_index=True)
        chosen = stream[np.sort(first)][:k]
        if chosen.size == k:
            return chosen
    gumbel = np.log(prob, where=prob > 0, out=np.full(n, -np.inf)) + rng.gumbel(size=n)
    gumbel[chosen] = np.inf
    top = np.argpartition(-gumbel, k - 1)[:k]
    rest = top[~np.isin(top, chosen)]
    return np.concatenate([chosen, rest[np.argsort(-gumbel[rest])]])


def smallest_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the ``k`` smallest ``scores``, ties at the boundary broken uniformly at random; O(N)."""
    n = scores.shape[0]
    if k >= n:
        return rng.permutation(n)
    if k == 0:
        return np.empty(0, dtype=np.int64)
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

    @property
    def distinct(self) -> bool:  # type: ignore[override]
        return not self.replace

    def distribution(self, estimator: Estimator) -> np.ndarray:
        return normalise(self.kernel.weights(estimator))

    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        prob = self.distribution(estimator)
        if self.replace:
            return rng.choice(prob.shape[0], size=k, p=prob)
        return sample_distinct(prob, k, rng)


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
        n_explore = int(round(self.explore * k))
        n_greedy = k - n_explore
        if self.candidates is None or self.candidates >= n:
            cand = np.arange(n)
        else:
            cand = rng.choice(n, size=max(self.candidates, n_greedy), replace=False)
        greedy = cand[smallest_k(np.abs(estimator.estimate(cand) - self.tau), n_greedy, rng)]
        if n_explore == 0:
            return greedy
        mask = np.ones(n, dtype=bool)
        mask[greedy] = False
        explore = rng.choice(np.flatnonzero(mask), size=n_explore, replace=False)
        return np.concatenate([greedy, explore])
