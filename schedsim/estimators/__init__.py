"""Pass-rate and value estimators: the "how hard is each prompt" half of a scheduler."""

from __future__ import annotations

from schedsim.core.params import check_choice
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator
from schedsim.estimators.category import CategoryQ
from schedsim.estimators.oracle import OracleEstimator, PassRateSource
from schedsim.estimators.partition import LogZEstimator, LogZSource, LogZTable
from schedsim.estimators.tracking import EMAEstimator, EmpiricalEstimator

ESTIMATORS = ("ema", "empirical", "logz", "oracle")

__all__ = [
    "ESTIMATORS",
    "CategoryQ",
    "EMAEstimator",
    "EmpiricalEstimator",
    "LogZEstimator",
    "LogZSource",
    "LogZTable",
    "OracleEstimator",
    "PassRateSource",
    "build_estimator",
]


def build_estimator(
    kind: str,
    pool: PromptPool,
    *,
    ema_decay: float = 0.9,
    init: float = 0.5,
    kl_coef: float = 0.05,
    log_z: LogZSource | None = None,
    pass_rates: PassRateSource | None = None,
) -> Estimator:
    """Build a per-prompt estimator by name, for presets and crossings.

    ``ema``, ``empirical``, ``logz`` (reads ``log_z``) or ``oracle`` (reads the environment's true
    ``pass_rates``: a diagnostic, see :class:`OracleEstimator`).
    """
    check_choice("estimator", kind, ESTIMATORS)
    if kind == "ema":
        return EMAEstimator(pool, decay=ema_decay, init=init)
    if kind == "empirical":
        return EmpiricalEstimator(pool, init=init)
    if kind == "oracle":
        return OracleEstimator(pool, pass_rates=pass_rates)
    return LogZEstimator(pool, log_z=log_z, kl_coef=kl_coef)
