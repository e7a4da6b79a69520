"""Environments: all present the same face to the runner.

``pool`` (the train PromptPool), ``rollout(ids, G) -> Feedback``, ``learn(feedback, weights, reduction)``,
``evaluate() -> dict`` on held-out prompts, ``pass_rates(ids)`` where the truth is known, ``log_z(ids)`` when the
trainer has a partition-function head, and ``gradient_samples`` for SNR probes.
"""

from __future__ import annotations

from typing import Any

from schedsim.core.errors import SpecError, accepted

ENVS = {"bandit": "numpy learner simulator: logistic skills, Bernoulli rollouts (seconds)"}


def parse_env_spec(spec: str) -> tuple[str, str, Any]:
    """``"bandit[:preset][,key=value...]"`` -> (env name, preset, config)."""
    name, _, rest = spec.strip().partition(":")
    if name not in ENVS:
        raise SpecError(f"unknown environment {name!r}; accepted: {accepted(ENVS)}")
    from schedsim.envs.bandit import parse_bandit_spec

    preset, config = parse_bandit_spec(rest)
    return name, preset, config


def make_env(spec: str, *, seed: int) -> Any:
    """Build an environment from its spec and a seed."""
    _, _, config = parse_env_spec(spec)
    from schedsim.envs.bandit import BanditEnv

    return BanditEnv(config, seed=seed)
