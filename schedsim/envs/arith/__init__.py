"""Synthetic arithmetic with tiny transformers (torch): tasks, model, trainers, environment.

Importing this package does not import torch; ``schedsim.envs.arith.env`` does.
"""

from __future__ import annotations

from schedsim.envs.arith.config import PRESETS, ArithConfig, parse_arith_spec

__all__ = ["PRESETS", "ArithConfig", "parse_arith_spec"]
