"""Uniform: the usual dataloader, the baseline every scheduler is compared with."""

from __future__ import annotations

from typing import Any

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.params import check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler
from schedsim.rules.epoch import EpochShuffle
from schedsim.rules.replay import GroupBuffer


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


class UniformReplayScheduler(UniformScheduler):
    """Uniform selection plus DOTS's rollout replay: a control for replay's free gradient steps.

    After ``start`` steps of fresh prompts, each step of k groups is ``max(1, round(sigma·k))`` fresh prompts
    (epoch-shuffled, as ``uniform``) plus up to the rest replayed from a buffer of the newest ``buffer_size``
    trained groups (:class:`~schedsim.rules.replay.GroupBuffer`: latest group per prompt, 0 < p̂ < 1, uniform).
    Replayed groups cost no rollouts, so over a budget the learner takes more steps; if a replaying scheduler's
    gain over ``uniform`` vanishes against this control, the gain was replay, not its selection.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        sigma: fresh share of a step once replay starts; 0.5 (DOTS's code) [choice: matches ``dots``].
        buffer_size: groups kept for replay; 512 (DOTS's code) [choice: matches ``dots``].
        start: steps before replay starts; 2 (``dots``'s first round of mu = 2 steps) [choice].

    References:
        DOTS, arXiv 2506.05316 (the replay it controls for); docs/schedulers.md (uniform-replay).
    """

    name = "uniform-replay"
    summary = "control: uniform selection plus DOTS's rollout replay (half of each step replayed, free)"
    paper = "control for dots' replay"

    def __init__(
        self, pool: PromptPool, *, seed: int | None = None, sigma: float = 0.5, buffer_size: int = 512, start: int = 2
    ) -> None:
        super().__init__(pool, seed=seed)
        self.sigma = check_range("sigma", sigma, 0.0, 1.0, lo_open=True)
        self.buffer = GroupBuffer(buffer_size)
        self.buffer_size = self.buffer.capacity
        self.start = check_int("start", start, 0)
        self.replays = self.sigma < 1.0
        self._steps = 0
        self._replayed = 0

    def replay(self, k: int) -> Feedback | None:
        """Up to ``k − max(1, round(sigma·k))`` buffered groups, from the step after the first ``start``."""
        self._steps += 1
        self._replayed = 0
        if not self.replays or self._steps <= self.start:
            return None
        stale = self.buffer.replay(k, self.sigma, self._rng)
        self._replayed = 0 if stale is None else stale.m
        return stale

    def _observe(self, feedback: Feedback) -> None:
        if self.replays:
            self.buffer.add(feedback)

    def metrics(self) -> dict[str, float]:
        return {**super().metrics(), "sched/replayed": float(self._replayed), "sched/buffer": float(self.buffer.size)}

    def _state(self) -> dict[str, Any]:
        return {
            **super()._state(),
            "buffer": self.buffer.state_dict(),
            "steps": self._steps,
            "replayed": self._replayed,
        }

    def _load_state(self, body: dict[str, Any]) -> None:
        super()._load_state(body)
        self.buffer.load_state_dict(body["buffer"])
        self._steps = int(body["steps"])
        self._replayed = int(body["replayed"])
