"""A buffer of recent trained groups for rollout replay (DOTS; the ``uniform-replay`` control)."""

from __future__ import annotations

from typing import Any

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.params import check_int


class GroupBuffer:
    """The newest ``capacity`` groups observed (prompt id and its rewards), oldest first.

    :meth:`sample` draws up to n of them uniformly without replacement among the eligible ones: the latest group
    of each prompt, kept only if its pass rate is strictly between 0 and 1 (an all-equal group has zero GRPO
    advantage) — DOTS's buffer (dedupe by prompt keeping the latest, drop p̂ ∈ {0, 1}, uniform draw).

    Args:
        capacity: groups kept; the oldest are dropped first.

    References:
        DOTS, arXiv 2506.05316; code ASTRAL-Group/data-efficient-llm-rl (``select_buffer``); docs/schedulers.md
        (dots, uniform-replay).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = check_int("buffer_size", capacity, 1)
        self.ids = np.empty(0, dtype=np.int64)
        self.rewards = np.empty((0, 0))

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def add(self, feedback: Feedback) -> None:
        """Append the feedback's groups (rows padded with NaN to the widest group) and keep the newest."""
        if feedback.m == 0:
            return
        width = max(feedback.group_size, self.rewards.shape[1])
        old = np.full((self.ids.size, width), np.nan)
        old[:, : self.rewards.shape[1]] = self.rewards
        new = np.full((feedback.m, width), np.nan)
        new[:, : feedback.group_size] = feedback.rewards
        self.ids = np.concatenate([self.ids, feedback.prompt_ids])[-self.capacity :]
        self.rewards = np.concatenate([old, new])[-self.capacity :]

    def sample(self, n: int, rng: np.random.Generator) -> Feedback | None:
        """Up to ``n`` eligible groups, uniformly without replacement, in buffer order; None if none."""
        if n <= 0 or self.ids.size == 0:
            return None
        _, last = np.unique(self.ids[::-1], return_index=True)
        latest = np.sort(self.ids.size - 1 - last)  # the newest group of each prompt
        with np.errstate(invalid="ignore"):
            p_hat = np.nanmean(self.rewards[latest], axis=1)
        eligible = latest[(p_hat > 0) & (p_hat < 1)]
        take = min(n, eligible.size)
        if take == 0:
            return None
        chosen = np.sort(rng.choice(eligible, size=take, replace=False))
        return Feedback(prompt_ids=self.ids[chosen], rewards=self.rewards[chosen])

    def replay(self, k: int, sigma: float, rng: np.random.Generator) -> Feedback | None:
        """For a step of ``k`` groups with fresh share ``sigma``: up to ``k − max(1, round(sigma·k))`` groups
        (:meth:`sample`), so that every step keeps at least one fresh group."""
        return self.sample(k - max(1, round(sigma * k)), rng)

    def state_dict(self) -> dict[str, Any]:
        return {"ids": self.ids.copy(), "rewards": self.rewards.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ids = np.array(state["ids"], dtype=np.int64)
        rewards = np.array(state["rewards"], dtype=float)
        self.rewards = rewards.reshape(self.ids.size, -1) if self.ids.size else np.empty((0, 0))
