"""Pass-rate estimators that track observed accuracy: an EMA and the latest group's empirical rate."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.params import check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, readonly


class TableEstimator(Estimator):
    """Base of estimators that keep p-hat in one per-prompt array ``self.p`` updated in :meth:`observe`."""

    p: np.ndarray

    def estimate(self, ids: np.ndarray | None = None) -> np.ndarray:
        return self.p.copy() if ids is None else self.p[ids]

    def values(self) -> np.ndarray:
        return readonly(self.p)

    def seen(self) -> np.ndarray:
        """``bool[N]``: prompts observed at least once."""
        raise NotImplementedError

    def metrics(self) -> dict[str, float]:
        return {"sched/est_mean": float(self.p.mean()), "sched/est_seen_frac": float(self.seen().mean())}


class EMAEstimator(TableEstimator):
    """Per-prompt exponential moving average of observed accuracy, updated only when a prompt is observed.

    ``p <- decay * p + (1 - decay) * acc`` where ``acc`` is the prompt's mean reward in the batch (repeated
    groups of one prompt in a batch are pooled into one observation).

    Args:
        pool: the prompt pool.
        decay: EMA decay; FG-ExPO uses 0.9.
        init: starting estimate for every prompt; FG-ExPO uses 0.5.

    References:
        Lin et al., FG-ExPO, arXiv 2605.11403 (Gaussian curriculum sampling).
    """

    name: ClassVar[str] = "ema"
    _state_keys = ("p", "n_obs")

    def __init__(self, pool: PromptPool, *, decay: float = 0.9, init: float = 0.5) -> None:
        super().__init__(pool)
        self.decay = check_range("decay", decay, 0.0, 1.0, hi_open=True)
        self.init = check_range("init", init, 0.0, 1.0)
        self.p = np.full(pool.n, float(init))
        self.n_obs = np.zeros(pool.n, dtype=np.int64)

    def observe(self, feedback: Feedback) -> None:
        ids, sums, counts = feedback.per_prompt()
        self.p[ids] = self.decay * self.p[ids] + (1.0 - self.decay) * (sums / counts)
        self.n_obs[ids] += 1  # ids are unique here
        self._touch(ids)

    def seen(self) -> np.ndarray:
        return self.n_obs > 0


class EmpiricalEstimator(TableEstimator):
    """The latest empirical pass rate of each prompt: ``s / K`` from its most recent batch.

    Keeps the success count ``s`` and rollout count ``K`` so that kernels can apply the finite-K unbiased
    correction (see :class:`schedsim.rules.kernels.BetaKernel`).

    Args:
        pool: the prompt pool.
        init: estimate for prompts never observed [choice]; default 0.5.

    References:
        Xu et al., PACED: Distillation at the Frontier of Student Competence, arXiv 2603.11178 (p-hat from K
        student rollouts per problem).
    """

    name: ClassVar[str] = "empirical"
    _state_keys = ("succ", "count", "p")

    def __init__(self, pool: PromptPool, *, init: float = 0.5) -> None:
        super().__init__(pool)
        self.init = check_range("init", init, 0.0, 1.0)
        self.succ = np.zeros(pool.n)
        self.count = np.zeros(pool.n)
        self.p = np.full(pool.n, float(init))  # succ / count where count > 0, kept in step

    def observe(self, feedback: Feedback) -> None:
        ids, sums, counts = feedback.per_prompt()
        self.succ[ids] = sums
        self.count[ids] = counts
        self.p[ids] = sums / counts
        self._touch(ids)

    def seen(self) -> np.ndarray:
        return self.count > 0
