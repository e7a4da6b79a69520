"""PACED-RL: the GFlowNet partition function as a difficulty scheduler, and its error-prioritized replay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from schedsim.core.errors import FeedbackError, StateError
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import ComposedScheduler
from schedsim.core.seeding import make_rng, rng_state, set_rng_state
from schedsim.estimators import LogZSource, PassRateSource, build_estimator
from schedsim.rules.sampling import TopKClosest, sample_distinct


class PacedScheduler(ComposedScheduler):
    """Greedy top-k prompts whose ``p̂ = clip(beta * log Z_phi(x), 0, 1)`` is closest to ``tau``.

    The trainer's trajectory-balance head already learns log Z_phi(x); scaled by the KL coefficient it estimates
    the prompt's accuracy under the behaviour policy (docs/schedulers.md (paced)), so selection costs no
    rollouts. The source is a callable ``log_z(ids) -> float[len(ids)]`` given as ``log_z=`` or attached later
    with :meth:`set_log_z`; selecting without one raises :class:`~schedsim.core.errors.MissingSignalError`.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator (tie-breaks, candidate subsets, exploration).
        log_z: the partition-function source.
        pass_rates: true pass-rate source for the ``oracle`` estimator (diagnostic crossing only).
        kl_coef: beta, the KL coefficient of the TB loss; paper 0.05.
        tau: target accuracy; paper 0.5.
        candidates: [choice] score a random subset of this many prompts per batch; default None (whole pool).
        explore: [choice] fraction of the batch drawn uniformly at random; default 0 (greedy, as the paper).
        estimator: ``logz`` (paper) or a crossing: ``ema``, ``empirical`` (no log Z needed), ``oracle``
            (the environment's true pass rates: a diagnostic no trainer has, used by ``schedsim explain``).
        ema_decay: decay of the ``ema`` estimator (crossing only).
        init: starting estimate of the ``ema`` / ``empirical`` estimators (crossing only).

    References:
        Kim et al., Beyond Normalization: Rethinking the Partition Function as a Difficulty Scheduler for RLVR,
        arXiv 2602.12642 (2026).
    """

    name = "paced"
    summary = "greedy top-k |β·log Z_φ(x) − τ| from the GFlowNet partition function"
    paper = "PACED-RL, arXiv 2602.12642"
    extras: ClassVar[dict[str, Any]] = {"explore": 0.0, "candidates": None}

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        log_z: LogZSource | None = None,
        pass_rates: PassRateSource | None = None,
        kl_coef: float = 0.05,
        tau: float = 0.5,
        candidates: int | None = None,
        explore: float = 0.0,
        estimator: str = "logz",
        ema_decay: float = 0.9,
        init: float = 0.5,
    ) -> None:
        est = build_estimator(
            estimator, pool, ema_decay=ema_decay, init=init, kl_coef=kl_coef, log_z=log_z, pass_rates=pass_rates
        )
        rule = TopKClosest(pool, tau=tau, candidates=candidates, explore=explore)
        super().__init__(pool, est, rule, seed=seed)


@dataclass(frozen=True)
class ReplayItem:
    """One replayed trajectory: its prompt, the trainer's payload, its priority and importance weight."""

    prompt_id: int
    payload: Any
    priority: float
    weight: float


class AccuracyErrorReplay:
    """PACED-RL's accuracy-estimate-error prioritized replay buffer, for trainers.

    Each step, the priority of a prompt is ``|p_emp(x) - p̂(x)|`` (fresh empirical accuracy of its G rollouts vs
    the scheduler's estimate); only correct (r = 1) trajectories are eligible, and the ``add_per_step`` with the
    largest priority enter the buffer (capacity ``capacity``). Note [derived]: replaying only successes biases
    log Z_phi, hence p̂, upward for those prompts; measure it.

    Args:
        capacity: buffer size; paper 128.
        add_per_step: correct trajectories added per step; paper 64.
        replay_per_step: [choice] items returned by :meth:`sample` when ``n`` is not given; default 16.
        eviction: [choice] when full, drop the ``"priority"`` lowest (default) or the oldest (``"fifo"``).
        sampling: [choice] replay ``"priority"``-proportional (default) or ``"uniform"``, without replacement.
        is_exponent: [choice] importance-weight exponent b: weights ``(size * P(i))^-b / max``; default 0 (all 1).
        remove_on_replay: [choice] drop items once replayed; default False.
        seed: seed of the buffer's private generator.

    References:
        Kim et al., arXiv 2602.12642 (2026), component 2.
    """

    def __init__(
        self,
        *,
        capacity: int = 128,
        add_per_step: int = 64,
        replay_per_step: int = 16,
        eviction: str = "priority",
        sampling: str = "priority",
        is_exponent: float = 0.0,
        remove_on_replay: bool = False,
        seed: int | None = None,
    ) -> None:
        self.capacity = check_int("capacity", capacity, 1)
        self.add_per_step = check_int("add_per_step", add_per_step, 0)
        self.replay_per_step = check_int("replay_per_step", replay_per_step, 0)
        self.eviction = check_choice("eviction", eviction, ("priority", "fifo"))
        self.sampling = check_choice("sampling", sampling, ("priority", "uniform"))
        self.is_exponent = check_range("is_exponent", is_exponent, 0.0, 1.0)
        self.remove_on_replay = bool(remove_on_replay)
        self._rng = make_rng(seed)
        self._ids: list[int] = []
        self._payloads: list[Any] = []
        self._priority: list[float] = []
        self._age: list[int] = []
        self._clock = 0

    def __len__(self) -> int:
        return len(self._ids)

    def add(
        self,
        prompt_ids: np.ndarray,
        rewards: np.ndarray,
        p_hat: np.ndarray,
        trajectories: Sequence[Sequence[Any]] | None = None,
    ) -> int:
        """Offer one step's groups; returns how many correct trajectories entered the buffer.

        Args:
            prompt_ids: ``int[m]``.
            rewards: ``float[m, G]`` binary rewards (NaN = missing).
            p_hat: ``float[m]`` the scheduler's accuracy estimate for each group's prompt.
            trajectories: optional ``[m][G]`` payloads to store (token ids, log-probs, ...); default
                ``(group, rollout)`` index pairs.
        """
        ids = np.asarray(prompt_ids, dtype=np.int64)
        r = np.asarray(rewards, dtype=np.float64)
        p = np.asarray(p_hat, dtype=np.float64)
        if r.ndim != 2 or r.shape[0] != ids.shape[0] or p.shape != ids.shape:
            raise FeedbackError(
                f"shapes ids {ids.shape}, rewards {r.shape}, p_hat {p.shape}; accepted: (m,), (m, G), (m,)"
            )
        finite = r[~np.isnan(r)]
        if ((finite != 0) & (finite != 1)).any() or not np.isfinite(p).all():
            raise FeedbackError("replay needs binary rewards (NaN = missing) and finite p_hat")
        p_emp = np.nanmean(np.where(np.isnan(r).all(axis=1, keepdims=True), 0.0, r), axis=1)
        priority = np.abs(p_emp - p)
        group, rollout = np.nonzero(r == 1)
        if group.size == 0 or self.add_per_step == 0:
            return 0
        jitter = self._rng.random(group.size)  # random tie-break among equal priorities
        order = np.lexsort((jitter, -priority[group]))[: self.add_per_step]
        for g, j in zip(group[order], rollout[order], strict=True):
            payload = (int(g), int(j)) if trajectories is None else trajectories[g][j]
            self._ids.append(int(ids[g]))
            self._payloads.append(payload)
            self._priority.append(float(priority[g]))
            self._age.append(self._clock)
            self._clock += 1
        self._evict()
        return int(order.size)

    def _evict(self) -> None:
        excess = len(self._ids) - self.capacity
        if excess <= 0:
            return
        age = np.asarray(self._age)
        if self.eviction == "fifo":
            drop = np.argsort(age)[:excess]
        else:
            drop = np.lexsort((age, np.asarray(self._priority)))[:excess]
        self._keep(np.setdiff1d(np.arange(len(self._ids)), drop))

    def _keep(self, keep: np.ndarray) -> None:
        self._ids = [self._ids[i] for i in keep]
        self._payloads = [self._payloads[i] for i in keep]
        self._priority = [self._priority[i] for i in keep]
        self._age = [self._age[i] for i in keep]

    def sample(self, n: int | None = None) -> list[ReplayItem]:
        """Draw up to ``n`` (default ``replay_per_step``) distinct items."""
        n = self.replay_per_step if n is None else check_int("n", n, 0)
        size = len(self._ids)
        n = min(n, size)
        if n == 0:
            return []
        if self.sampling == "uniform":
            prob = np.full(size, 1.0 / size)
        else:
            pr = np.asarray(self._priority) + 1e-6  # keep zero-error items reachable
            prob = pr / pr.sum()
        picked = sample_distinct(prob, n, self._rng)
        weight = (size * prob[picked]) ** (-self.is_exponent)
        weight = weight / weight.max()
        items = [
            ReplayItem(self._ids[i], self._payloads[i], self._priority[i], float(w))
            for i, w in zip(picked, weight, strict=True)
        ]
        if self.remove_on_replay:
            self._keep(np.setdiff1d(np.arange(size), picked))
        return items

    def state_dict(self) -> dict[str, Any]:
        return {
            "ids": list(self._ids),
            "payloads": list(self._payloads),
            "priority": list(self._priority),
            "age": list(self._age),
            "clock": self._clock,
            "rng": rng_state(self._rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        keys = ("ids", "payloads", "priority", "age", "clock", "rng")
        if not isinstance(state, dict) or any(k not in state for k in keys):
            raise StateError(f"corrupt replay state; accepted keys: {list(keys)}")
        lengths = {len(state[k]) for k in keys[:4]}
        if len(lengths) != 1:
            raise StateError("corrupt replay state: ids/payloads/priority/age lengths differ")
        self._ids, self._payloads = list(state["ids"]), list(state["payloads"])
        self._priority, self._age = list(state["priority"]), list(state["age"])
        self._clock = int(state["clock"])
        set_rng_state(self._rng, state["rng"])
