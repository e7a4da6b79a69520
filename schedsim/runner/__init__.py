"""Experiment configuration, the run loop with budget accounting, execution, and the resumable result store."""

from __future__ import annotations

from schedsim.runner.config import RunConfig
from schedsim.runner.execute import run_all
from schedsim.runner.loop import run_unit
from schedsim.runner.store import RunStore, StoreError

__all__ = ["RunConfig", "RunStore", "StoreError", "run_all", "run_unit"]
