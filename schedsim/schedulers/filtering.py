"""Shared pieces of the schedulers that filter freshly rolled-out groups (``dapo``, ``band``, ``greso``).

These schedulers choose by rolling candidates out through the ``probe(ids, G) -> Feedback`` signal (every rollout
charged to the budget by the runner) and train on the groups they keep (``trains_on_probes``). They draw
candidates from an epoch-shuffled data loader, as the verl trainers they come from do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from schedsim.core.errors import FeedbackError, MissingSignalError, ParameterError
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler

ProbeSource = Callable[[np.ndarray, int], Feedback]


class EpochLoader:
    """An epoch-shuffled data loader over the pool: a fresh permutation each epoch, consumed in order.

    ``take(m, seen)`` returns up to ``m`` ids not yet in ``seen`` (the ids offered during the current step) and
    marks them; an id met again within the same step, after the epoch wrapped, is passed over for that epoch, so a
    step never rolls out one prompt twice [choice]. ``epoch`` is 0-based (-1 before the first draw).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.order = np.empty(0, dtype=np.int64)
        self.pos = 0
        self.epoch = -1

    def take(self, m: int, seen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out: list[int] = []
        while len(out) < m and not seen.all():
            if self.pos >= self.order.size:
                self.order = rng.permutation(self.n).astype(np.int64)
                self.pos = 0
                self.epoch += 1
            pid = int(self.order[self.pos])
            self.pos += 1
            if not seen[pid]:
                seen[pid] = True
                out.append(pid)
        return np.array(out, dtype=np.int64)

    def state(self) -> dict[str, Any]:
        return {"order": self.order.copy(), "pos": self.pos, "epoch": self.epoch}

    def load(self, state: dict[str, Any]) -> None:
        self.order = np.array(state["order"], dtype=np.int64)
        self.pos, self.epoch = int(state["pos"]), int(state["epoch"])


def mixed_groups(fb: Feedback) -> np.ndarray:
    """``bool[m]``: the groups DAPO keeps: rewards not all equal, or a single rollout (no group to compare)."""
    counts = fb.counts()
    r = fb.rewards
    lo = np.where(np.isnan(r), np.inf, r).min(axis=1)
    hi = np.where(np.isnan(r), -np.inf, r).max(axis=1)
    return (counts == 1) | ((counts > 1) & (lo < hi))


class ProbingScheduler(Scheduler):
    """Base of the filtering schedulers: the probe signal, the loader, and padding a short batch.

    Subclasses implement :meth:`_choose`, which returns the kept ids (in the order they were rolled out) and the
    ids probed but not kept; :meth:`_select` trims to ``k`` and pads, and the chosen prompts are trained on their
    probed groups (``trains_on_probes``: the runner's probe meter holds them, charged once).
    """

    trains_on_probes: ClassVar[bool] = True

    def __init__(self, pool: PromptPool, *, seed: int | None, probe: ProbeSource | None, probe_group: int) -> None:
        super().__init__(pool, seed=seed)
        if isinstance(probe_group, bool) or not isinstance(probe_group, int) or probe_group < 1:
            raise ParameterError(f"probe_group={probe_group!r} is out of range; accepted: an integer >= 1")
        self.probe_group = probe_group
        self.probe: ProbeSource | None = None
        self.set_probe(probe)
        self.loader = EpochLoader(pool.n)
        self._last = {"rounds": 0.0, "probed": 0.0, "kept": 0.0, "padded": 0.0}

    def set_probe(self, probe: ProbeSource | None) -> None:
        """Attach the trainer's ``probe(ids, G) -> Feedback`` rollout source."""
        if probe is not None and not callable(probe):
            raise ParameterError(f"probe={probe!r} is not callable; accepted: a function probe(ids, G) -> Feedback")
        self.probe = probe

    def _roll(self, ids: np.ndarray) -> Feedback:
        """Roll ``ids`` out through the probe (charged by the caller's meter) and check the answer."""
        fb = self.probe(ids, self.probe_group)  # type: ignore[misc]
        if not isinstance(fb, Feedback) or fb.m != ids.shape[0] or not np.array_equal(fb.prompt_ids, ids):
            raise FeedbackError("probe returned feedback that does not match the probed ids; accepted: one row per id")
        return fb

    def _choose(self, k: int, seen: np.ndarray) -> tuple[list[int], list[int], int]:
        """Return (kept ids in rollout order, probed-but-dropped ids in rollout order, rollout rounds)."""
        raise NotImplementedError

    def _on_short(self, k: int, kept: int) -> None:
        """Called when fewer than ``k`` groups were kept (default: pad)."""

    def _select(self, k: int) -> np.ndarray:
        if self.probe is None:
            raise MissingSignalError(
                f"{self.name} needs fresh rollouts to choose; pass make_scheduler({self.name!r}, ..., probe=fn) with "
                "fn(ids, G) -> Feedback (the schedsim runner provides one and charges its rollouts)"
            )
        if k == 0:
            return np.empty(0, dtype=np.int64)
        seen = np.zeros(self.pool.n, dtype=bool)
        kept, dropped, rounds = self._choose(k, seen)
        chosen = kept[:k]  # the first k kept, as the recipes truncate; the surplus is discarded (still charged)
        if len(chosen) < k:
            self._on_short(k, len(chosen))
        padded = dropped[: k - len(chosen)]  # already probed and charged; zero-variance groups carry no gradient
        chosen = chosen + padded
        if len(chosen) < k:  # the pool ran out (or was skipped) before k were probed: unprobed ids, rolled out fresh
            taken = np.zeros(self.pool.n, dtype=bool)
            taken[chosen] = True
            rest = np.flatnonzero(~taken)
            chosen += self._rng.choice(rest, size=k - len(chosen), replace=False).tolist()
        self._last = {
            "rounds": float(rounds),
            "probed": float(len(kept) + len(dropped)),
            "kept": float(min(len(kept), k)),
            "padded": float(len(padded)),
        }
        return np.array(chosen, dtype=np.int64)

    def _observe(self, feedback: Feedback) -> None:
        del feedback  # the probed groups were seen while choosing

    def metrics(self) -> dict[str, Any]:
        return {
            **super().metrics(),
            "sched/filter_rounds": self._last["rounds"],
            "sched/probed_groups": self._last["probed"],
            "sched/kept_groups": self._last["kept"],
            "sched/padded_groups": self._last["padded"],
        }

    def _state(self) -> dict[str, Any]:
        return {"loader": self.loader.state(), "last": dict(self._last)}

    def _load_state(self, body: dict[str, Any]) -> None:
        self.loader.load(body["loader"])
        self._last = {key: float(value) for key, value in body["last"].items()}
