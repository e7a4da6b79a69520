"""Epoch-shuffled sampling without replacement: the usual dataloader order."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, Rule


class EpochShuffle(Rule):
    """Shuffle the pool once per epoch and hand out the next ``k`` ids.

    A batch that crosses an epoch boundary takes the rest of the old epoch and continues in a fresh
    permutation in which the ids it already took are moved to the end, so a batch never repeats an id and
    every epoch still visits each prompt exactly once.
    """

    name: ClassVar[str] = "epoch"
    _state_keys = ("order", "pos", "epoch")

    def __init__(self, pool: PromptPool) -> None:
        super().__init__(pool)
        self.order = np.arange(pool.n, dtype=np.int64)
        self.pos = pool.n  # first select starts a fresh epoch
        self.epoch = -1

    def select(self, k: int, estimator: Estimator | None, rng: np.random.Generator) -> np.ndarray:
        del estimator
        n = self.pool.n
        taken = self.order[self.pos : self.pos + k]
        self.pos += taken.size
        while taken.size < k:
            order = rng.permutation(n)
            late = np.isin(order, taken)
            self.order = np.concatenate([order[~late], order[late]])
            self.epoch += 1
            more = self.order[: k - taken.size]
            self.pos = more.size
            taken = np.concatenate([taken, more])
        return taken

    def distribution(self, estimator: Estimator | None) -> np.ndarray:
        del estimator
        return np.full(self.pool.n, 1.0 / self.pool.n)
