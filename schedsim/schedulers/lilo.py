"""LILO: choose by learnability measured with fresh rollouts (every one of them charged to the budget)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from schedsim.core.errors import FeedbackError, MissingSignalError, ParameterError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_int
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler
from schedsim.rules.sampling import normalise, sample_distinct, smallest_k

ProbeSource = Callable[[np.ndarray, int], Feedback]


class LILOScheduler(Scheduler):
    """Probe a random pool of ``pool_factor x k`` prompts with ``probe_group`` fresh rollouts each; keep the k
    with the highest learnability p̂(1 − p̂) (or sample ∝ it). Stateless between batches.

    The rollouts come from a ``probe(ids, G) -> Feedback`` source the trainer provides (the runner counts them
    in the budget: choosing costs ``pool_factor x probe_group`` rollouts per selected prompt, 32 by default).
    As in the method, the chosen prompts are trained on the groups already probed (``train_on_probes=True``):
    the runner's probe meter keeps them, so they are charged once and not rolled out again.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        probe: the rollout source; settable later with :meth:`set_probe`; selecting without one raises.
        pool_factor: candidates = pool_factor x k; 4.
        probe_group: rollouts per candidate; 8.
        rule: ``topk`` (default) or ``proportional`` (sample ∝ p̂(1 − p̂), uniform when all are 0).
        train_on_probes: train the chosen prompts on their probed groups, as the method does
            (True, default; needs ``probe_group`` equal to the trainer's group size); False discards the probes
            and rolls the chosen prompts out again (40 rollouts per trained prompt at the defaults).

    References:
        LILO, arXiv 2502.12272 ([secondary] per docs/schedulers.md).
    """

    name = "lilo"
    summary = "probe 4k random prompts with 8 fresh rollouts each, keep top-k p̂(1−p̂) (rollouts charged)"
    paper = "LILO, arXiv 2502.12272"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        probe: ProbeSource | None = None,
        pool_factor: int = 4,
        probe_group: int = 8,
        rule: str = "topk",
        train_on_probes: bool = True,
    ) -> None:
        super().__init__(pool, seed=seed)
        self.pool_factor = check_int("pool_factor", pool_factor, 1)
        self.probe_group = check_int("probe_group", probe_group, 1)
        self.rule = check_choice("rule", rule, ("topk", "proportional"))
        self.train_on_probes = bool(train_on_probes)
        self.probe: ProbeSource | None = None
        self.set_probe(probe)
        self._chosen_learnability = float("nan")

    @property
    def trains_on_probes(self) -> bool:  # type: ignore[override]
        return self.train_on_probes

    def set_probe(self, probe: ProbeSource | None) -> None:
        """Attach the trainer's ``probe(ids, G) -> Feedback`` rollout source."""
        if probe is not None and not callable(probe):
            raise ParameterError(f"probe={probe!r} is not callable; accepted: a function probe(ids, G) -> Feedback")
        self.probe = probe

    def _select(self, k: int) -> np.ndarray:
        if self.probe is None:
            raise MissingSignalError(
                "lilo needs fresh rollouts to choose; pass make_scheduler('lilo', ..., probe=fn) with "
                "fn(ids, G) -> Feedback (the schedsim runner provides one and charges its rollouts)"
            )
        if k == 0:
            return np.empty(0, dtype=np.int64)
        n = self.pool.n
        size = min(n, max(k, self.pool_factor * k))
        cand = self._rng.choice(n, size=size, replace=False) if size < n else np.arange(n)
        fb = self.probe(cand, self.probe_group)
        if not isinstance(fb, Feedback) or fb.m != cand.shape[0] or not np.array_equal(fb.prompt_ids, cand):
            raise FeedbackError("probe returned feedback that does not match the probed ids; accepted: one row per id")
        p_hat = np.nan_to_num(fb.means(), nan=0.5)
        score = p_hat * (1.0 - p_hat)
        if self.rule == "topk":
            pick = smallest_k(-score, k, self._rng)
        else:
            pick = sample_distinct(normalise(score), k, self._rng)
        self._chosen_learnability = float(score[pick].mean())
        return cand[pick]

    def _observe(self, feedback: Feedback) -> None:
        del feedback  # stateless: every choice is made on fresh rollouts

    def metrics(self) -> dict[str, Any]:
        return {**super().metrics(), "sched/chosen_learnability": self._chosen_learnability}

    def _state(self) -> dict[str, Any]:
        return {"chosen": self._chosen_learnability}

    def _load_state(self, body: dict[str, Any]) -> None:
        self._chosen_learnability = float(body["chosen"])
