"""Per-category scores and learning progress for teacher-student curricula (TSCL, Exp3.S)."""

from __future__ import annotations

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Stateful


class CategoryScores(Stateful):
    """The score x_t(c) of each category: the mean reward of its rollouts in the latest batch that held it.

    ``update(feedback)`` returns ``(dx float[C], observed bool[C])`` with ``dx = x_t − x_{t−1}``: a category
    absent from the batch keeps its previous score (dx = 0). Scores start at 0, as TSCL's code starts its
    previous scores at 0, so a category's first observation has progress equal to its score. This is the
    [choice] that carries TSCL's per-task score (the addition task scores every task each step) to RLVR, where
    a trainer sees only the categories it sampled, without extra rollouts.

    Args:
        pool: a pool with ``category``.
    """

    _state_keys = ("x",)

    def __init__(self, pool: PromptPool, who: str) -> None:
        self.category = pool.require_categories(who)
        self.n_arms = pool.n_categories
        self.x = np.zeros(self.n_arms)

    def batch_scores(self, feedback: Feedback) -> tuple[np.ndarray, np.ndarray]:
        """``(mean reward float[C], observed bool[C])`` over the batch's real rollouts per category."""
        cat = self.category[feedback.prompt_ids]
        total = np.bincount(cat, weights=feedback.sums(), minlength=self.n_arms)
        count = np.bincount(cat, weights=feedback.counts(), minlength=self.n_arms)
        observed = count > 0
        return np.divide(total, count, out=np.zeros(self.n_arms), where=observed), observed

    def update(self, feedback: Feedback) -> tuple[np.ndarray, np.ndarray]:
        score, observed = self.batch_scores(feedback)
        new = np.where(observed, score, self.x)
        dx = new - self.x
        self.x = new
        return dx, observed
