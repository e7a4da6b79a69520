"""schedsim: simulate, compare and understand difficulty schedulers for RL fine-tuning with verifiable rewards.

Importing schedsim never imports torch.
"""

from __future__ import annotations

from schedsim.core.errors import (
    ConformanceError,
    FeedbackError,
    MissingSignalError,
    ParameterError,
    PoolError,
    SchedsimError,
    SpecError,
    StateError,
)
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.registry import available, make_scheduler, parse_spec, register
from schedsim.core.scheduler import ComposedScheduler, Estimator, Rule, Scheduler
from schedsim.core.seeding import make_rng
from schedsim.envs import Environment, register_env
from schedsim.estimators import LogZTable
from schedsim.schedulers import AccuracyErrorReplay


def compare(*args, **kwargs):
    """Run and summarise a comparison; see :func:`schedsim.api.compare`."""
    from schedsim.api import compare as _compare

    return _compare(*args, **kwargs)


__version__ = "0.1.0"

__all__ = [
    "AccuracyErrorReplay",
    "CompareResult",
    "ComposedScheduler",
    "ConformanceError",
    "Environment",
    "Estimator",
    "Feedback",
    "FeedbackError",
    "LogZTable",
    "MissingSignalError",
    "ParameterError",
    "PoolError",
    "PromptPool",
    "Rule",
    "SchedsimError",
    "Scheduler",
    "SpecError",
    "StateError",
    "available",
    "compare",
    "make_rng",
    "make_scheduler",
    "parse_spec",
    "register",
    "register_env",
]
