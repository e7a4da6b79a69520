"""Uniform: the usual dataloader, the baseline every scheduler is compared with."""

from __future__ import annotations

from typing import Any

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler
from schedsim.rules.epoch import EpochShuffle


class UniformScheduler(Scheduler):
    """Shuffle the pool each epoch and take the next ``k`` prompts, without replacement.

    Feedback is validated and counted but does not change the order. Pair it with a trainer that averages the
    loss over mixed (non-zero-variance) groups only to get the "effective step size" control of docs/theory.md §6.

    References:
        The standard epoch-shuffled dataloader; docs/schedulers.md (uniform) [choice].
    """

    name = "uniform"
    summary = "epoch-shuffled, without replacement (the usual dataloader)"
    paper = "baseline"

    def __init__(self, pool: PromptPool, *, seed: int | None = None) -> None:
        super().__init__(pool, seed=seed)
        self.rule = EpochShuffle(pool)

    def _select(self, k: int) -> np.ndarray:
        return self.rule.select(k, None, self._rng)

    def _observe(self, feedback: Feedback) -> None:
        del feedback

    def distribution(self) -> np.ndarray:
        return self.rule.distribution(None)

    def metrics(self) -> dict[str, float]:
        return {**super().metrics(), "sched/epoch": float(max(self.rule.epoch, 0))}

    def _state(self) -> dict[str, Any]:
        return {"rule": self.rule.state_dict()}

    def _load_state(self, body: dict[str, Any]) -> None:
        self.rule.load_state_dict(body["rule"])


class UniformMixedScheduler(UniformScheduler):
    """Uniform selection, with the loss averaged over mixed (non-zero-variance) groups only: a control.

    Under plain SGD with a loss averaged over all rollouts, all-pass/all-fail groups add zeros and shrink the
    step, so a frontier scheduler can win merely by taking bigger steps. This control removes that effect
    without changing which prompts are trained on; if a scheduler's gain over ``uniform`` vanishes against
    ``uniform-mixed``, the gain was the effective step size, not better selection (docs/theory.md §6).

    References:
        docs/theory.md §6 (the toolkit's own prototype finding).
    """

    name = "uniform-mixed"
    summary = "control: uniform selection, loss averaged over mixed groups only (effective-step-size control)"
    paper = "control, docs/theory.md §6"
    loss_reduction = "mixed"
