"""SEC's arm values: an exponential recency-weighted average of mean |advantage| per category."""

from __future__ import annotations

import numpy as np

from schedsim.core.advantages import ADV_STD, group_advantages
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Stateful


class CategoryQ(Stateful):
    """Per-category value ``Q(c) <- (1 - alpha) Q(c) + alpha r_t(c)``, ``r_t(c)`` = mean |A| over its rollouts.

    Args:
        pool: a pool with ``category``.
        alpha: learning rate of the update; SEC uses 0.5.
        update_unseen: True (official SEC code): every arm is updated each batch, arms without rollouts with
            r = 0, so they decay; False (PipelineRL): only observed arms.
        adv_std: advantage normalisation when the feedback carries no advantages (see
            :func:`schedsim.core.advantages.group_advantages`); SEC uses GRPO's normalised advantages.

    Zero-advantage (all-equal) groups count in the mean, as in the official code.

    References:
        Chen et al., Self-Evolving Curriculum for LLM Reasoning, arXiv 2505.14970; ServiceNow's verl-based code.
    """

    _state_keys = ("q", "last_reward")

    def __init__(
        self, pool: PromptPool, *, alpha: float = 0.5, update_unseen: bool = True, adv_std: str = "unbiased"
    ) -> None:
        self.category = pool.require_categories("SEC")
        self.alpha = check_range("alpha", alpha, 0.0, 1.0, lo_open=True)
        self.update_unseen = bool(update_unseen)
        self.adv_std = check_choice("adv_std", adv_std, ADV_STD)
        self.q = np.zeros(pool.n_categories)
        self.last_reward = np.full(pool.n_categories, np.nan)

    def arm_rewards(self, feedback: Feedback) -> tuple[np.ndarray, np.ndarray]:
        """``(reward float[C], observed bool[C])``: mean |A| over each category's rollouts in this batch."""
        adv = feedback.advantages
        if adv is None:
            adv = group_advantages(feedback.rewards, std=self.adv_std)
        valid = ~np.isnan(adv)
        cat = self.category[feedback.prompt_ids]
        n_c = self.q.shape[0]
        total = np.bincount(cat, weights=np.where(valid, np.abs(adv), 0.0).sum(axis=1), minlength=n_c)
        count = np.bincount(cat, weights=valid.sum(axis=1), minlength=n_c)
        reward = np.divide(total, count, out=np.zeros(n_c), where=count > 0)
        return reward, count > 0

    def observe(self, feedback: Feedback) -> None:
        reward, observed = self.arm_rewards(feedback)
        update = np.ones_like(observed) if self.update_unseen else observed
        self.q = np.where(update, (1.0 - self.alpha) * self.q + self.alpha * reward, self.q)
        self.last_reward = np.where(observed, reward, np.nan)
