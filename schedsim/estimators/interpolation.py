"""BOTS's pass-rate estimator: a per-task Beta posterior with pseudo-counts interpolated from offline anchors."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from schedsim.core.errors import ParameterError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import readonly
from schedsim.estimators.tracking import TableEstimator


class InterpolatedBetaEstimator(TableEstimator):
    """Beta(α, β) per task from (1, 1), every task updated after every batch (Trinity-RFT's BOTS estimator).

    With observed pass rates p_o (the batch's mean rewards, repeated ids pooled) and a pseudo-count pass rate p̃:

        α ← (1 − λ)·α + λ + (1 − ρ)·m·p_o·1[observed] + ρ·m·p̃,   β likewise with 1 − p_o and 1 − p̃.

    With offline ``anchors`` (f0, f1: two reference models' pass rates per task), the policy's capability
    c_est = (mean p_o − mean f0)/(mean f1 − mean f0 + 1e-6) over the observed tasks; c = c_est on the first
    batch, then c ← d·c + (1 − d)·c_est (d = ``cap_discount``); p̃ = clip(f0 + c·(f1 − f0), 0, 1), replaced by
    p_o where observed. With ``adaptive_rho``, ρ halves whenever mean |p̃ − p_o| over the observed tasks is
    ≥ 0.25 (before the replacement). Without anchors [choice] there is no interpolation: p̃ = p_o where observed
    and unobserved tasks get no pseudo-counts (α ← (1 − λ)α + λ: they relax toward the Beta(1, 1) prior).

    p̂ = α/(α + β).

    Args:
        pool: the prompt pool.
        m: rollouts per task that a pass rate stands for; 16.
        lamb: λ, discount of the history; 0.1 (BOTS example; the code's default 0.2).
        rho: ρ, weight of the pseudo-counts; 0.1 (BOTS example; code 0.2).
        adaptive_rho: halve ρ on a poor interpolation; False.
        cap_discount: d of the capability average; 0.9.
        anchors: ``float[2, N]`` offline pass rates (f0, f1), or None.

    References:
        BOTS, arXiv 2510.26374; Trinity-RFT (modelscope/Trinity-RFT), trinity/buffer/selector/
        (difficulty_estimator.py); docs/schedulers.md (bots).
    """

    name: ClassVar[str] = "bots-beta"
    incremental: ClassVar[bool] = False
    _state_keys = ("alpha", "beta", "p", "n_obs", "cap", "rho")

    def __init__(
        self,
        pool: PromptPool,
        *,
        m: int = 16,
        lamb: float = 0.1,
        rho: float = 0.1,
        adaptive_rho: bool = False,
        cap_discount: float = 0.9,
        anchors: np.ndarray | None = None,
    ) -> None:
        super().__init__(pool)
        self.m = check_int("m", m, 1)
        self.lamb = check_range("lamb", lamb, 0.0, 1.0)
        self.rho = check_range("rho", rho, 0.0, 1.0)
        self.adaptive_rho = bool(adaptive_rho)
        self.cap_discount = check_range("cap_discount", cap_discount, 0.0, 1.0)
        if anchors is not None:
            anchors = np.array(anchors, dtype=np.float64)
            if anchors.shape != (2, pool.n) or not np.isfinite(anchors).all():
                raise ParameterError(
                    f"anchors has shape {anchors.shape}; accepted: finite pass rates of shape (2, {pool.n})"
                )
            anchors.setflags(write=False)
        self.anchors = anchors
        self.alpha = np.ones(pool.n)
        self.beta = np.ones(pool.n)
        self._p = np.full(pool.n, 0.5)  # p̂ = alpha / (alpha + beta), recomputed lazily when read (property p)
        self._p_rev = self.revision
        self.n_obs = np.zeros(pool.n, dtype=np.int64)
        self.cap = float("nan")  # capability c; NaN before the first batch
        self._all_ids = np.arange(pool.n)  # every task changes at every batch
        self._all_ids.setflags(write=False)

    def observe(self, feedback: Feedback) -> None:
        ids, sums, counts = feedback.per_prompt()
        if ids.size == 0:
            return
        p_obs = sums / counts
        keep = 1.0 - self.lamb
        if self.anchors is None:
            for a in (self.alpha, self.beta):
                np.multiply(a, keep, out=a)
                np.add(a, self.lamb, out=a)
            self.alpha[ids] += self.m * p_obs
            self.beta[ids] += self.m * (1.0 - p_obs)
        else:
            f0, f1 = self.anchors
            estimate = (p_obs.mean() - f0[ids].mean()) / (f1[ids].mean() - f0[ids].mean() + 1e-6)
            self.cap = (
                estimate if np.isnan(self.cap) else self.cap_discount * self.cap + (1 - self.cap_discount) * estimate
            )
            p_tilde = np.clip(f0 + self.cap * (f1 - f0), 0.0, 1.0)
            if self.adaptive_rho and np.abs(p_tilde[ids] - p_obs).mean() >= 0.25:
                self.rho *= 0.5
            p_tilde[ids] = p_obs
            s_bar = np.zeros(self.pool.n)
            s_bar[ids] = self.m * p_obs
            f_bar = np.zeros(self.pool.n)
            f_bar[ids] = self.m * (1.0 - p_obs)
            self.alpha = keep * self.alpha + self.lamb + (1 - self.rho) * s_bar + self.rho * self.m * p_tilde
            self.beta = keep * self.beta + self.lamb + (1 - self.rho) * f_bar + self.rho * self.m * (1.0 - p_tilde)
        self.n_obs[ids] += 1
        self._touch(self._all_ids)

    @property
    def p(self) -> np.ndarray:
        """p̂ = alpha / (alpha + beta) per task (computed on first read after a change: Thompson draws skip it)."""
        if self._p_rev != self.revision:
            np.add(self.alpha, self.beta, out=self._p)
            np.divide(self.alpha, self._p, out=self._p)
            self._p_rev = self.revision
        return self._p

    @p.setter
    def p(self, value: np.ndarray) -> None:
        self._p = np.array(value, dtype=np.float64)
        self._p_rev = self.revision

    def seen(self) -> np.ndarray:
        return self.n_obs > 0

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Read-only views of the ``(alpha, beta)`` arrays."""
        return readonly(self.alpha), readonly(self.beta)
