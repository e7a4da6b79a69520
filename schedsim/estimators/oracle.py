"""The oracle estimator: the environment's true pass rates, a diagnostic no trainer has.

``estimator=oracle`` crosses any estimator-based scheduler's *rule* with perfect information, so that
``schedsim explain`` can split a scheduler's result into what its allocation rule could achieve and what its
estimator loses. It reads the ``pass_rates(ids)`` signal of an environment that knows them (the bandit
simulator computes them exactly; no rollouts are spent and none are charged to the budget). Every run that uses
it is marked as a diagnostic in its outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

from schedsim.core.errors import MissingSignalError, ParameterError, SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, readonly

PassRateSource = Callable[[np.ndarray], np.ndarray]


class OracleEstimator(Estimator):
    """``p_hat = pass_rates(ids)``: the true pass rates under the current policy, read from the environment.

    Args:
        pool: the prompt pool.
        pass_rates: callable ``pass_rates(ids int64[m]) -> float[m]`` in [0, 1]; settable later with
            :meth:`set_source`. Estimating without one raises :class:`MissingSignalError`.

    A diagnostic: it uses information no trainer has. It learns nothing from feedback.
    """

    name: ClassVar[str] = "oracle"
    incremental: ClassVar[bool] = False  # the truth moves with every policy update
    _state_keys = ()

    def __init__(self, pool: PromptPool, *, pass_rates: PassRateSource | None = None) -> None:
        super().__init__(pool)
        self.pass_rates: PassRateSource | None = None
        self._all_ids = readonly(np.arange(pool.n))
        self.set_source(pass_rates)

    def set_source(self, pass_rates: PassRateSource | None) -> None:
        """Attach (or replace) the environment's ``pass_rates(ids)`` source."""
        if pass_rates is not None and not callable(pass_rates):
            raise ParameterError(f"pass_rates={pass_rates!r} is not callable; accepted: a function pass_rates(ids)")
        self.pass_rates = pass_rates

    def validate(self, feedback: Feedback) -> None:
        del feedback  # learns nothing from rewards, so any reward scale is fine

    def observe(self, feedback: Feedback) -> None:
        del feedback

    def estimate(self, ids: np.ndarray | None = None) -> np.ndarray:
        if self.pass_rates is None:
            raise MissingSignalError(
                "the 'oracle' estimator has no pass-rate source; it is a diagnostic for environments that know "
                "true pass rates (schedsim's runner passes the bandit's); accepted: make_scheduler(..., "
                "pass_rates=fn) with fn(ids) -> true pass rates"
            )
        ids = self._all_ids if ids is None else np.asarray(ids, dtype=np.int64)
        p = np.asarray(self.pass_rates(ids), dtype=np.float64)
        if p.shape != ids.shape or not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
            raise SchedsimError(
                f"pass_rates source returned shape {p.shape} for {ids.shape[0]} ids; accepted: that many finite "
                "values in [0, 1]"
            )
        return p
