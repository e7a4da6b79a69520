"""PACED-RL's free difficulty signal: the GFlowNet partition function.

A trajectory-balance trainer anchored at the behaviour policy learns log Z_phi(x) per prompt. With a raw
binary reward scaled by 1/beta, the optimum satisfies ``p_old(x) = beta * log Z*(x) - beta * KL(pi_old||pi_theta)``,
so ``p_hat(x) = beta * log Z_phi(x)`` estimates the prompt's accuracy with no extra rollouts.

References:
    Kim et al., Beyond Normalization: Rethinking the Partition Function as a Difficulty Scheduler for RLVR,
    arXiv 2602.12642 (2026).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

from schedsim.core.errors import MissingSignalError, ParameterError, SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, readonly

LogZSource = Callable[[np.ndarray], np.ndarray]


class LogZTable:
    """A per-prompt table of log Z values usable as a ``log_z`` source (the per-prompt ablation of PACED-RL).

    Callable as ``table(ids) -> float[len(ids)]``; trainers write with :meth:`update`. Picklable.

    Args:
        n: number of prompts.
        init: starting log Z for every prompt.
    """

    def __init__(self, n: int, init: float = 0.0) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"LogZTable: n={n!r} is not accepted; accepted: a positive integer (the pool size)")
        check_range("init", init)
        self.values = np.full(int(n), float(init))

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        return self.values[np.asarray(ids, dtype=np.int64)]

    def update(self, ids: np.ndarray, values: np.ndarray) -> None:
        """Set log Z for ``ids`` (last write wins for repeated ids)."""
        self.values[np.asarray(ids, dtype=np.int64)] = np.asarray(values, dtype=np.float64)


class LogZEstimator(Estimator):
    """``p_hat = clip(kl_coef * log_z(ids), 0, 1)`` read from a trainer-provided partition-function source.

    Args:
        pool: the prompt pool.
        log_z: callable ``log_z(ids int64[m]) -> float[m]`` (the trainer's log Z_phi head, or a
            :class:`LogZTable`). May be None at construction and set later with :meth:`set_source`; estimating
            without a source raises :class:`MissingSignalError`.
        kl_coef: beta, the KL coefficient the reward was divided by in the trajectory-balance loss; PACED-RL
            uses 0.05. (Not FlowRL's ``reward_scale``.)
        clip: clip p_hat to [0, 1] [choice]; default True.

    The estimator learns nothing from feedback itself: the trainer's head does.
    """

    name: ClassVar[str] = "logz"
    incremental: ClassVar[bool] = False  # the trainer's head changes log Z between observations
    _state_keys = ()

    def __init__(
        self, pool: PromptPool, *, log_z: LogZSource | None = None, kl_coef: float = 0.05, clip: bool = True
    ) -> None:
        super().__init__(pool)
        self.kl_coef = check_range("kl_coef", kl_coef, 0.0, None, lo_open=True)
        self.clip = bool(clip)
        self.log_z: LogZSource | None = None
        self._all_ids: np.ndarray | None = None
        self.set_source(log_z)

    def set_source(self, log_z: LogZSource | None) -> None:
        """Attach (or replace) the ``log_z(ids)`` source, e.g. once the trainer has built its head."""
        if log_z is not None and not callable(log_z):
            raise ParameterError(f"log_z={log_z!r} is not callable; accepted: a function log_z(ids) -> float array")
        self.log_z = log_z

    def observe(self, feedback: Feedback) -> None:
        del feedback  # the trainer's head learns; this estimator only reads it

    def estimate(self, ids: np.ndarray | None = None) -> np.ndarray:
        if self.log_z is None:
            raise MissingSignalError(
                "the 'logz' estimator has no log Z source; pass make_scheduler(..., log_z=fn) with "
                "fn(ids) -> log Z values, or call scheduler.set_log_z(fn) once the trainer has built its head"
            )
        if ids is None:
            if self._all_ids is None:
                self._all_ids = readonly(np.arange(self.pool.n))
            ids = self._all_ids
        else:
            ids = np.asarray(ids, dtype=np.int64)
        p_hat = np.multiply(self.log_z(ids), self.kl_coef, dtype=np.float64)
        if p_hat.shape != ids.shape or not np.isfinite(p_hat.sum()):  # one cheap pass finds any NaN/inf
            raise SchedsimError(
                f"log_z source returned shape {p_hat.shape} with finite={bool(np.isfinite(p_hat).all())} "
                f"for {ids.shape[0]} ids; accepted: {ids.shape[0]} finite values"
            )
        return np.clip(p_hat, 0.0, 1.0, out=p_hat) if self.clip else p_hat
