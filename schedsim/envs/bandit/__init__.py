"""Bandit-style learner simulators (numpy, vectorised)."""

from __future__ import annotations

from schedsim.envs.bandit.config import PRESETS, BanditConfig, parse_bandit_spec
from schedsim.envs.bandit.env import BanditEnv

__all__ = ["PRESETS", "BanditConfig", "BanditEnv", "parse_bandit_spec"]
