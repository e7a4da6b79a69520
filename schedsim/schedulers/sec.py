"""SEC: Self-Evolving Curriculum, a non-stationary bandit over problem categories."""

from __future__ import annotations

from typing import Any

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.params import check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler
from schedsim.estimators.category import CategoryQ
from schedsim.rules.arms import ArmQueues, softmax


class SECScheduler(Scheduler):
    """Boltzmann bandit over categories, each arm rewarded by the mean |advantage| of its rollouts.

    ``Q(c) <- (1 - alpha) Q(c) + alpha r_t(c)`` with ``r_t(c)`` the mean |A_i| over category c's rollouts in the
    batch (GRPO-normalised advantages, zero-advantage groups included); policy ``softmax(Q / tau)`` with Q
    starting at 0 (uniform first batch). Each batch slot draws an arm, then pops the next prompt of that arm's
    shuffled queue.

    Args:
        pool: a pool with ``category`` (the arms); raises PoolError without one.
        seed: seed of the private generator.
        alpha: Q learning rate; paper 0.5.
        tau: softmax temperature; paper 1.0 (Countdown), 0.4 (math), 0.2 (2-D arms). Default 1.0.
        update_unseen: True (official code): arms absent from a batch are updated with r = 0 and decay; False:
            observed arms only (PipelineRL).
        adv_std: advantage normalisation if feedback carries none: ``unbiased`` (GRPO in verl, default),
            ``population``, ``none``.

    References:
        Chen et al., Self-Evolving Curriculum for LLM Reasoning, arXiv 2505.14970 (2025); ServiceNow code.
    """

    name = "sec"
    summary = "softmax(Q/τ) bandit over categories, Q = EMA of mean |advantage|"
    paper = "SEC, arXiv 2505.14970"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        alpha: float = 0.5,
        tau: float = 1.0,
        update_unseen: bool = True,
        adv_std: str = "unbiased",
    ) -> None:
        super().__init__(pool, seed=seed)
        self.values = CategoryQ(pool, alpha=alpha, update_unseen=update_unseen, adv_std=adv_std)
        self.tau = check_range("tau", tau, 0.0, None, lo_open=True)
        self.queues = ArmQueues(pool)

    def arm_probabilities(self) -> np.ndarray:
        """``softmax(Q / tau)`` over all categories (empty categories included, never drawn)."""
        return softmax(self.values.q, self.tau)

    def _select(self, k: int) -> np.ndarray:
        return self.queues.select(k, self.arm_probabilities(), self._rng)

    def _observe(self, feedback: Feedback) -> None:
        self.values.observe(feedback)

    def distribution(self) -> np.ndarray:
        return self.queues.prompt_distribution(self.arm_probabilities(), self.values.category)

    def metrics(self) -> dict[str, float]:
        out = super().metrics()
        for c, (q, p) in enumerate(zip(self.values.q, self.arm_probabilities(), strict=True)):
            out[f"sched/q/{c}"] = float(q)
            out[f"sched/arm_prob/{c}"] = float(p)
        return out

    def _state(self) -> dict[str, Any]:
        return {"values": self.values.state_dict(), "queues": self.queues.state_dict()}

    def _load_state(self, body: dict[str, Any]) -> None:
        self.values.load_state_dict(body["values"])
        self.queues.load_state_dict(body["queues"])
