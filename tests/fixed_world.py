"""A stub environment for the by-value tests of the schedulers that roll prompts out while choosing."""

from __future__ import annotations

import numpy as np

import schedsim


class FixedWorld:
    """An environment whose prompt i always gets ``successes[i]`` ones then zeros; records every rollout call."""

    def __init__(self, successes: list[int]) -> None:
        self.successes = np.array(successes)
        self.calls: list[list[int]] = []

    def rollout(self, ids: np.ndarray, group: int) -> schedsim.Feedback:
        self.calls.append(ids.tolist())
        rewards = (np.arange(group)[None, :] < self.successes[ids][:, None]).astype(float)
        return schedsim.Feedback(prompt_ids=ids, rewards=rewards)
