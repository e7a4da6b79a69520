"""Experiment configuration, the run loop with budget accounting, execution, and the resumable result store."""

from __future__ import annotations

from schedsim.runner.config import RunConfig
from schedsim.runner.execute import run_all, run_many
from schedsim.runner.loop import run_unit
from schedsim.runner.store import RunStore, StoreError, result_columns
from schedsim.runner.sweep import SweepConfig, SweepStore, expand_alternatives

__all__ = [
    "RunConfig",
    "RunStore",
    "StoreError",
    "SweepConfig",
    "SweepStore",
    "expand_alternatives",
    "result_columns",
    "run_all",
    "run_many",
    "run_unit",
]
