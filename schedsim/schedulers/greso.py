"""GRESO: skip, before rolling out, the prompts whose recent groups were all correct or all wrong."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from schedsim.core.errors import ParameterError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_range
from schedsim.core.pool import PromptPool
from schedsim.schedulers.filtering import ProbeSource, ProbingScheduler, mixed_groups


class GRESOScheduler(ProbingScheduler):
    """GRESO's pre-rollout skipping with adaptive skip probabilities and an adaptive rollout-round size.

    State per prompt: the number of trailing rollout rounds (dropped groups included) in which its group was easy
    (p̂ >= ``easy_at``) or hard (p̂ <= ``hard_at``). When the loader offers a prompt:

    - easy run of length e > 0: skipped with probability 1 - max(p_easy^e, ``min_keep``);
    - else hard run of length h > 0: skipped with probability 1 - max(p_hard^h, ``min_keep``);
    - otherwise (unseen prompts included) never skipped. A skipped prompt waits for the next epoch.

    A step: loader chunks of ``ceil(chunk x k)`` prompts are screened until at least S survive (S starts at
    ``ceil(presample x k)``); the survivors are rolled out (charged) and the groups with mixed rewards kept.
    While fewer than k are kept: S = clamp(int(missing_rollouts / (1 - zv) / G x ``margin``),
    ``ceil(presample_min x k)``, ``ceil(presample x k)``), with missing_rollouts = (k - kept) x G and zv the
    zero-variance share of the last round; when that estimate is at most ``ceil(presample x k)`` the next round is
    the last. The first k kept groups are trained on their probed rollouts; a short batch is padded with dropped
    (zero-variance, so zero-gradient) groups of the step [choice]. After each step, once the 0-based data epoch is
    past 0: p_easy -= ``p_step`` if the share of this step's rolled-out groups that were easy is >= target_zv/3,
    else += ``p_step``; p_hard likewise against 2 target_zv/3; both clipped to [``p_min``, ``p_max``].

    Args:
        pool: the prompt pool.
        seed: seed of the private generator (loader shuffles, skip draws).
        probe: the rollout source; settable later with :meth:`set_probe`; selecting without one raises.
        p_easy, p_hard: initial keep probabilities per trailing easy / hard round; 0.5 and 0.5 [code].
        target_zv: target zero-variance share τ_zv (easy target τ/3, hard 2τ/3); 0.25 [code].
        p_step, p_min, p_max: adaptation step and clip; 0.01, 0.05, 0.95 [code].
        min_keep: floor of the keep probability; 0.01 [code].
        easy_at, hard_at: p̂ thresholds of an easy / hard group; 1.0 and 0.0, i.e. all correct / all wrong with
            binary rewards [choice] (the code's 0.98 / 0.11 assume rewards 1 / 0.1 / 0).
        presample: first round size S and its cap, x k; 1.5 (the code's 384 for B = 256) [code, scaled to k].
        presample_min: floor of later rounds, x k; 0.25 (64 of 256) [code, scaled].
        chunk: loader chunk, x k; 0.125 (32 of 256) [code, scaled]. The code also trims each round to a multiple
            of 8 prompts for data-parallel ranks; not modelled [choice].
        margin: over-provisioning of the next-round estimate; 1.25 [code].
        probe_group: rollouts per group; 8 (the code's G; must equal the trainer's group size).

    References:
        GRESO, Zheng et al., arXiv 2506.02177; code: Infini-AI-Lab/GRESO (``verl/trainer/ttis/presampling_selector.py``,
        ``verl/trainer/ppo/ray_trainer.py``) [code]; docs/schedulers.md, section ``greso``.
    """

    name = "greso"
    summary = "GRESO: skip prompts whose recent groups were all-correct/all-wrong (adaptive p), rollouts charged"
    paper = "GRESO, arXiv 2506.02177"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        probe: ProbeSource | None = None,
        p_easy: float = 0.5,
        p_hard: float = 0.5,
        target_zv: float = 0.25,
        p_step: float = 0.01,
        p_min: float = 0.05,
        p_max: float = 0.95,
        min_keep: float = 0.01,
        easy_at: float = 1.0,
        hard_at: float = 0.0,
        presample: float = 1.5,
        presample_min: float = 0.25,
        chunk: float = 0.125,
        margin: float = 1.25,
        probe_group: int = 8,
    ) -> None:
        super().__init__(pool, seed=seed, probe=probe, probe_group=probe_group)
        self.p_easy = float(check_range("p_easy", p_easy, 0.0, 1.0))
        self.p_hard = float(check_range("p_hard", p_hard, 0.0, 1.0))
        self.target_zv = float(check_range("target_zv", target_zv, 0.0, 1.0))
        self.p_step = float(check_range("p_step", p_step, 0.0, 1.0))
        self.p_min = float(check_range("p_min", p_min, 0.0, 1.0))
        self.p_max = float(check_range("p_max", p_max, 0.0, 1.0))
        if self.p_min > self.p_max:
            raise ParameterError(f"p_min={p_min!r} > p_max={p_max!r}; accepted: p_min <= p_max")
        self.min_keep = float(check_range("min_keep", min_keep, 0.0, 1.0))
        self.easy_at = float(check_range("easy_at", easy_at, 0.0, 1.0))
        self.hard_at = float(check_range("hard_at", hard_at, 0.0, 1.0))
        if self.hard_at >= self.easy_at:
            raise ParameterError(f"hard_at={hard_at!r} >= easy_at={easy_at!r}; accepted: hard_at < easy_at")
        self.presample = float(check_range("presample", presample, 0.0, lo_open=True))
        self.presample_min = float(check_range("presample_min", presample_min, 0.0, self.presample, lo_open=True))
        self.chunk = float(check_range("chunk", chunk, 0.0, lo_open=True))
        self.margin = float(check_range("margin", margin, 0.0, lo_open=True))
        n = pool.n
        self.easy_run = np.zeros(n, dtype=np.int64)
        self.hard_run = np.zeros(n, dtype=np.int64)
        self._counts = np.zeros(3, dtype=np.int64)  # easy, hard, all groups rolled out since the last adaptation
        self._skipped = 0

    # -- the pieces, each testable by value ---------------------------------------------------------------
    def keep_probability(self, ids: np.ndarray) -> np.ndarray:
        """``float[m]``: the probability that each prompt survives the skip test now."""
        ids = self._check_ids(ids)
        e, h = self.easy_run[ids], self.hard_run[ids]
        keep = np.ones(ids.shape[0])
        easy, hard = e > 0, (e == 0) & (h > 0)
        keep[easy] = np.maximum(self.p_easy ** e[easy], self.min_keep)
        keep[hard] = np.maximum(self.p_hard ** h[hard], self.min_keep)
        return keep

    def record(self, fb: Feedback) -> None:
        """Add one rollout round to the prompts' traces and to the easy / hard counts of this step."""
        p_hat = fb.means()
        easy = p_hat >= self.easy_at  # NaN (no rollouts) is neither
        hard = p_hat <= self.hard_at
        for pid, is_easy, is_hard in zip(fb.prompt_ids.tolist(), easy.tolist(), hard.tolist(), strict=True):
            self.easy_run[pid] = self.easy_run[pid] + 1 if is_easy else 0
            self.hard_run[pid] = self.hard_run[pid] + 1 if is_hard else 0
        self._counts += (int(easy.sum()), int(hard.sum()), fb.m)

    def next_round_size(self, k: int, kept: int, zero_var: float) -> tuple[int, bool]:
        """(S of the next round, whether it is the last) after a round that left ``kept`` < k kept groups."""
        top = math.ceil(self.presample * k)
        floor = math.ceil(self.presample_min * k)
        if zero_var >= 1.0:  # nothing kept last round: the estimate is unbounded (the code would divide by 0)
            return top, False
        g = self.probe_group
        estimate = int((k - kept) * g / (1.0 - zero_var) / g * self.margin)
        return max(min(estimate, top), floor), estimate <= top

    def adapt(self) -> None:
        """After a step: move p_easy / p_hard toward the target shares (from the 2nd data epoch on)."""
        easy, hard, total = self._counts.tolist()
        if self.loader.epoch > 0 and total > 0:
            step_e = -self.p_step if easy / total >= self.target_zv / 3 else self.p_step
            step_h = -self.p_step if hard / total >= 2 * self.target_zv / 3 else self.p_step
            self.p_easy = min(max(self.p_easy + step_e, self.p_min), self.p_max)
            self.p_hard = min(max(self.p_hard + step_h, self.p_min), self.p_max)
        self._counts[:] = 0

    # -- the step -----------------------------------------------------------------------------------------
    def _choose(self, k: int, seen: np.ndarray) -> tuple[list[int], list[int], int]:
        kept: list[int] = []
        dropped: list[int] = []
        size, last, rounds, self._skipped = math.ceil(self.presample * k), False, 0, 0
        chunk = max(1, math.ceil(self.chunk * k))
        while True:
            survivors: list[int] = []
            exhausted = False
            while len(survivors) < size:
                ids = self.loader.take(chunk, seen, self._rng)
                if ids.size == 0:
                    exhausted = True
                    break
                survive = self._rng.random(ids.size) < self.keep_probability(ids)
                survivors += ids[survive].tolist()
                self._skipped += int((~survive).sum())
            if not survivors:
                break
            batch = np.array(survivors, dtype=np.int64)
            fb = self._roll(batch)
            rounds += 1
            self.record(fb)
            keep = mixed_groups(fb)
            kept += batch[keep].tolist()
            dropped += batch[~keep].tolist()
            if len(kept) >= k or last or exhausted:
                break
            size, last = self.next_round_size(k, len(kept), float((~keep).mean()))
        self.adapt()
        return kept, dropped, rounds

    def metrics(self) -> dict[str, Any]:
        return {
            **super().metrics(),
            "sched/p_easy": self.p_easy,
            "sched/p_hard": self.p_hard,
            "sched/skipped": float(self._skipped),
        }

    def _state(self) -> dict[str, Any]:
        return {
            **super()._state(),
            "easy_run": self.easy_run.copy(),
            "hard_run": self.hard_run.copy(),
            "p": [self.p_easy, self.p_hard],
            "counts": self._counts.copy(),
            "skipped": self._skipped,
        }

    def _load_state(self, body: dict[str, Any]) -> None:
        super()._load_state(body)
        self.easy_run = np.array(body["easy_run"], dtype=np.int64)
        self.hard_run = np.array(body["hard_run"], dtype=np.int64)
        self.p_easy, self.p_hard = (float(x) for x in body["p"])
        self._counts = np.array(body["counts"], dtype=np.int64)
        self._skipped = int(body["skipped"])
