"""Rules from the literature baselines: Thompson top-k (MoPPS) and rank prioritisation with staleness (PLR)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_int, check_range
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


BATCHES = ("distinct", "replace")


def ordinal_ranks(score: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Ranks 1..N by descending ``score``; ties ordered by ascending ``keys``, then by index. ``int64[N]``."""
    order = np.lexsort((keys, -score))  # last key is primary; lexsort is stable
    rank = np.empty(score.shape[0], dtype=np.int64)
    rank[order] = np.arange(1, score.shape[0] + 1)
    return rank


class RankPrioritized(Rule):
    """PLR: ``P = (1 - rho) P_S + rho P_C``; ``P_S ∝ (1/rank(score))^(1/temperature)``, ``P_C ∝ staleness``.

    The score of a prompt is the estimator's learnability ``p(1 - p)`` of its latest estimate; staleness is the
    number of selections made since the prompt was last selected. Ranks are ordinal (1, 2, 3, ... as in PLR's
    ``argsort``-based rank transform), ties broken by keys drawn from the scheduler's generator at every
    selection (reproducible; before the first selection ties fall back to index order). Averaged ranks would
    give each of m tied prompts rank ~m/2 and spread nothing: e.g. 2,000 never-seen prompts at p = 0.5 would
    all sit at rank ~1,000, with P_S on the few observed prompts instead.

    A batch extends PLR's per-episode sampling in one of two ways (``batch``, a [choice]):

    - ``"distinct"`` (default): k distinct prompts by successive sampling (draw, remove, renormalise), the
      batch RLVR trainers use (one group per prompt). With temperature 0.1, P_S sits on a handful of prompts
      (rank 2 has 2^-10 of rank 1's weight), so once those are drawn the remaining mass is almost all
      staleness: most of the batch is then filled by the staleness term (``staleness_share``), which makes
      the rule behave much like staleness sampling.
    - ``"replace"``: k i.i.d. draws from P, as PLR's code samples each actor's level independently with
      replacement; the staleness term makes a fraction rho of the draws in expectation, but the batch repeats
      the top-ranked prompts (about (1 - rho) k groups on the rank-1 prompt at temperature 0.1).

    After each :meth:`select`, ``staleness_share`` holds the expected fraction of the batch's draws made by the
    staleness term: the mean over the drawn prompts of ``rho P_C(i) / P(i)``, the staleness term's share of
    each drawn prompt's probability when it was drawn (successive sampling renormalises both terms by the same
    remaining mass, so this ratio holds at every draw). Under ``"replace"`` its expectation is exactly rho.

    Args:
        pool: the prompt pool.
        temperature: beta of the rank transform; PLR uses 0.1.
        staleness: rho, the weight of the staleness distribution; PLR uses 0.1.
        batch: ``"distinct"`` (default) or ``"replace"``, see above.

    References:
        Jiang et al., Prioritized Level Replay, arXiv 2010.03934.
    """

    name: ClassVar[str] = "rank-prioritized"
    _state_keys = ("last", "clock", "tiebreak", "staleness_share")

    def __init__(
        self, pool: PromptPool, *, temperature: float = 0.1, staleness: float = 0.1, batch: str = "distinct"
    ) -> None:
        super().__init__(pool)
        self.temperature = check_range("temperature", temperature, 0.0, None, lo_open=True)
        self.staleness = check_range("staleness", staleness, 0.0, 1.0)
        self.batch = check_choice("batch", batch, BATCHES)
        self.last = np.zeros(pool.n)
        self.clock = 0.0
        self.tiebreak = np.zeros(pool.n)  # tie-break keys of the latest selection
        self.staleness_share = float("nan")

    @property
    def distinct(self) -> bool:  # type: ignore[override]
        return self.batch == "distinct"

    def components(self, estimator: Estimator) -> tuple[np.ndarray, np.ndarray]:
        """``(P_S, P_C)``: the rank distribution of the scores and the staleness distribution, each ``float[N]``."""
        p = estimator.values()
        rank = ordinal_ranks(p * (1.0 - p), self.tiebreak)
        p_score = rank.astype(np.float64) ** (-1.0 / self.temperature)
        p_score /= p_score.sum()
        stale = self.clock - self.last
        total = stale.sum()
        p_stale = stale / total if total > 0 else np.full(stale.shape[0], 1.0 / stale.shape[0])
        return p_score, p_stale

    def distribution(self, estimator: Estimator) -> np.ndarray:
        p_score, p_stale = self.components(estimator)
        return (1 - self.staleness) * p_score + self.staleness * p_stale

    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        self.tiebreak = rng.random(self.pool.n)
        p_score, p_stale = self.components(estimator)
        dist = (1 - self.staleness) * p_score + self.staleness * p_stale
        if self.batch == "replace":
            cdf = np.cumsum(dist)
            ids = np.minimum(np.searchsorted(cdf, rng.random(k) * cdf[-1], side="right"), self.pool.n - 1)
        else:
            ids = sample_distinct(dist, k, rng)
        if k:
            mass = dist[ids]
            share = np.divide(self.staleness * p_stale[ids], mass, out=np.zeros(k), where=mass > 0)
            self.staleness_share = float(share.mean())
        self.clock += k
        self.last[ids] = self.clock
        return ids.astype(np.int64)

    def observe(self, feedback: Feedback) -> None:
        del feedback
