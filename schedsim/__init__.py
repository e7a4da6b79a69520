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
from schedsim.estimators import LogZTable
from schedsim.schedulers import AccuracyErrorReplay

__version__ = "0.1.0"

__all__ = [
    "AccuracyErrorReplay",
    "ComposedScheduler",
    "ConformanceError",
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
    "make_rng",
    "make_scheduler",
    "parse_spec",
    "register",
]
