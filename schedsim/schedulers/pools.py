"""prime-rl's DifficultyPoolSampler: draw tasks by the difficulty pool of their latest mean reward."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from schedsim.core.advantages import ADV_STD, group_advantages
from schedsim.core.errors import FeedbackError, MissingSignalError, ParameterError, StateError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler
from schedsim.rules.sampling import sample_distinct

ProbeSource = Callable[[np.ndarray, int], Feedback]


class DifficultyPoolScheduler(Scheduler):
    """Weight each prompt by the pool its latest mean reward falls in; draw the batch with replacement.

    State: the latest mean reward of each prompt (overwritten, no averaging; NaN until observed). A seen
    prompt with score s is in the first pool, by ascending threshold, with ``s <= threshold``: hard
    (``s <= hard_max``), normal (``s <= normal_max``), else easy; its weight is that pool's weight, an unseen
    prompt's is ``unseen_weight``. Each of the k draws picks a prompt with probability ∝ weight, with
    replacement (one draw per group).

    Optional admission gate (``gate=True``, prime-rl's AdvRangeGate): a probed group is rejected iff every
    advantage of its rollouts lies in ``[reject_min, reject_max]`` (the default [0, 0] rejects all-equal
    groups; a group without rollouts is admitted), and prompts are drawn again until k groups are admitted.
    Every probed group updates the scores first (prime-rl observes before gating) and its rollouts are charged
    to the budget (the ``probe`` signal); the admitted groups are the ones trained on. Within one batch the gate
    draws distinct prompts (successive sampling ∝ the weights, so each trained group is the one admitted)
    [choice]; after ``max_rounds`` rounds the batch is filled with the last round's rejected groups [choice]
    (prime-rl keeps drawing).

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        hard_max, normal_max: pool thresholds; 0.25 and 0.75 (the easy pool's is 1.0).
        hard_weight, normal_weight, easy_weight: pool weights; 0.2, 1.0, 0.2.
        unseen_weight: weight of a never-observed prompt; 1.0.
        gate: apply the AdvRangeGate; False (prime-rl's config has no gate by default).
        reject_min, reject_max: the gate's range; 0.0, 0.0.
        probe: the rollout source the gate draws from (the runner provides one); needed only with ``gate``.
        probe_group: rollouts per probed group; 8 (must equal the trainer's group size).
        max_rounds: gate rounds per batch before filling with rejected groups; 16 [choice].
        adv_std: advantage normalisation the gate reads when the feedback carries none; ``none``
            (mean-centred) [choice] (it matters only for a range other than [0, 0]).

    References:
        PrimeIntellect-ai/prime-rl, src/prime_rl/orchestrator/curriculum/ (samplers/pool.py, gates/adv.py);
        docs/schedulers.md (pools).
    """

    name = "pools"
    summary = "latest mean reward per prompt → pools ≤0.25/≤0.75/≤1 weighted 0.2/1/0.2 (unseen 1), with replacement"
    paper = "prime-rl DifficultyPoolSampler (code)"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        hard_max: float = 0.25,
        normal_max: float = 0.75,
        hard_weight: float = 0.2,
        normal_weight: float = 1.0,
        easy_weight: float = 0.2,
        unseen_weight: float = 1.0,
        gate: bool = False,
        reject_min: float = 0.0,
        reject_max: float = 0.0,
        probe: ProbeSource | None = None,
        probe_group: int = 8,
        max_rounds: int = 16,
        adv_std: str = "none",
    ) -> None:
        super().__init__(pool, seed=seed)
        self.hard_max = check_range("hard_max", hard_max, 0.0, 1.0)
        self.normal_max = check_range("normal_max", normal_max, hard_max, 1.0)
        self.pool_weights = np.array(
            [
                check_range(name, value, 0.0, None)
                for name, value in (
                    ("hard_weight", hard_weight),
                    ("normal_weight", normal_weight),
                    ("easy_weight", easy_weight),
                )
            ]
        )
        self.unseen_weight = check_range("unseen_weight", unseen_weight, 0.0, None)
        if max(self.pool_weights.max(), self.unseen_weight) <= 0:
            raise ParameterError("every pool weight is 0; accepted: at least one positive weight")
        self.gate = bool(gate)
        self.reject_min = check_range("reject_min", reject_min)
        self.reject_max = check_range("reject_max", reject_max, reject_min)
        self.probe_group = check_int("probe_group", probe_group, 1)
        self.max_rounds = check_int("max_rounds", max_rounds, 1)
        self.adv_std = check_choice("adv_std", adv_std, ADV_STD)
        if probe is not None and not callable(probe):
            raise ParameterError(f"probe={probe!r} is not callable; accepted: a function probe(ids, G) -> Feedback")
        self.probe = probe
        self.score = np.full(pool.n, np.nan)
        self.weights = np.full(pool.n, self.unseen_weight)  # cache of weights(score)
        self.rejected = 0.0  # groups the gate rejected in the latest batch

    @property
    def distinct(self) -> bool:  # type: ignore[override]
        return self.gate

    @property
    def trains_on_probes(self) -> bool:  # type: ignore[override]
        return self.gate

    def set_probe(self, probe: ProbeSource | None) -> None:
        """Attach the trainer's ``probe(ids, G) -> Feedback`` rollout source (used by the gate)."""
        self.probe = probe

    def weight_of(self, score: np.ndarray) -> np.ndarray:
        """Pool weight of each score (NaN: unseen)."""
        which = np.where(score <= self.hard_max, 0, np.where(score <= self.normal_max, 1, 2))
        return np.where(np.isnan(score), self.unseen_weight, self.pool_weights[which])

    def distribution(self) -> np.ndarray:
        total = self.weights.sum()
        return self.weights / total if total > 0 else np.full(self.pool.n, 1.0 / self.pool.n)

    def estimates(self) -> np.ndarray:
        return np.nan_to_num(self.score, nan=0.5)

    def _record(self, feedback: Feedback) -> None:
        ids, sums, counts = feedback.per_prompt()
        self.score[ids] = sums / counts
        self.weights[ids] = self.weight_of(self.score[ids])

    def _draw(self, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
        weights = self.weights
        if exclude is not None and exclude.size:
            weights = weights.copy()
            weights[exclude] = 0.0
        if weights.sum() <= 0:  # every weight zero (e.g. every remaining prompt in a zero-weight pool): uniform
            weights = np.ones(self.pool.n)
            if exclude is not None:
                weights[exclude] = 0.0
        if self.gate:
            return sample_distinct(weights, k, self._rng)
        cdf = np.cumsum(weights)
        return np.minimum(np.searchsorted(cdf, self._rng.random(k) * cdf[-1], side="right"), self.pool.n - 1)

    def admit(self, feedback: Feedback) -> np.ndarray:
        """AdvRangeGate: ``bool[m]``, False where every advantage of the group lies in [reject_min, reject_max]."""
        adv = feedback.advantages
        if adv is None:
            adv = group_advantages(feedback.rewards, std=self.adv_std)
        real = ~np.isnan(adv)
        inside = (adv >= self.reject_min) & (adv <= self.reject_max)
        return ~(np.all(inside | ~real, axis=1) & real.any(axis=1))

    def _select(self, k: int) -> np.ndarray:
        if not self.gate:
            return self._draw(k)
        if self.probe is None:
            raise MissingSignalError(
                "pools:gate=true probes groups to admit them; pass make_scheduler('pools:gate=true', ..., "
                "probe=fn) with fn(ids, G) -> Feedback (the schedsim runner provides one and charges its rollouts)"
            )
        admitted: list[np.ndarray] = []
        probed = np.empty(0, dtype=np.int64)
        rejected = np.empty(0, dtype=np.int64)
        need = k
        for _ in range(self.max_rounds):
            if need == 0 or probed.size >= self.pool.n:
                break
            ids = self._draw(min(need, self.pool.n - probed.size), exclude=probed)
            fb = self.probe(ids, self.probe_group)
            if not isinstance(fb, Feedback) or fb.m != ids.shape[0] or not np.array_equal(fb.prompt_ids, ids):
                raise FeedbackError(
                    "probe returned feedback that does not match the probed ids; accepted: one row per id"
                )
            self._record(fb)
            ok = self.admit(fb)
            admitted.append(ids[ok])
            rejected = ids[~ok]
            probed = np.concatenate([probed, ids])
            need -= int(ok.sum())
        out = np.concatenate([*admitted, rejected[:need]]) if admitted else np.empty(0, dtype=np.int64)
        if out.size < k:  # the pool ran out of unprobed prompts: fill with distinct unprobed-first draws
            out = np.concatenate([out, self._draw(k - out.size, exclude=out)])
        self.rejected = float(probed.size - min(k, probed.size))
        return out[:k]

    def _observe(self, feedback: Feedback) -> None:
        feedback.require_unit_rewards("pools")
        self._record(feedback)

    def metrics(self) -> dict[str, float]:
        out = super().metrics()
        seen = ~np.isnan(self.score)
        out["sched/est_seen_frac"] = float(seen.mean())
        if self.gate:
            out["sched/gate_rejected"] = self.rejected
        return out

    def _state(self) -> dict[str, Any]:
        return {"score": self.score.copy(), "rejected": self.rejected}

    def _load_state(self, body: dict[str, Any]) -> None:
        score = np.asarray(body["score"], dtype=np.float64)
        if score.shape != (self.pool.n,):
            raise StateError(f"pools state has {score.shape} scores; accepted: ({self.pool.n},)")
        self.score = score.copy()
        self.weights = self.weight_of(self.score)
        self.rejected = float(body["rejected"])
