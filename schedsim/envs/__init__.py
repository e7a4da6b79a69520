"""Environments: all present the same face to the runner.

``pool`` (the train PromptPool), ``rollout(ids, G) -> Feedback``, ``learn(feedback, weights, reduction)``,
``evaluate() -> dict`` on held-out prompts, ``pass_rates(ids)`` where the truth is known, ``log_z(ids)`` when the
trainer has a partition-function head, and ``gradient_samples`` for SNR probes.
"""

from __future__ import annotations

from typing import Any

from schedsim.core.errors import SpecError, accepted

ENVS = {
    "bandit": "numpy learner simulator: logistic skills, Bernoulli rollouts (seconds)",
    "arith": "tiny transformer on synthetic arithmetic, GRPO or trajectory balance (minutes on a CPU; torch)",
    "llm": "a local Hugging Face causal LM on a JSONL problem file (llm:model=DIR,data=FILE; transformers)",
}

#: environments that know their true pass rates (the ``pass_rates`` signal of the diagnostic ``estimator=oracle``)
ORACLE_ENVS = ("bandit",)

#: run-size defaults of ``schedsim compare`` per environment (budget in rollouts)
RUN_DEFAULTS = {
    "bandit": {"budget": 200_000, "batch": 64, "group": 8, "eval_every": 10_000},
    "arith": {"budget": 102_400, "batch": 32, "group": 8, "eval_every": 12_800},
    "llm": {"budget": 4_096, "batch": 8, "group": 8, "eval_every": 512},
}


#: presets whose run size differs from their environment's (the arith smoke preset: a compare in seconds)
PRESET_RUN_DEFAULTS = {("arith", "tiny"): {"budget": 25_600, "eval_every": 6_400}}


def parse_env_spec(spec: str) -> tuple[str, str, Any]:
    """``"bandit[:preset][,key=value...]"`` -> (env name, preset, config)."""
    name, _, rest = spec.strip().partition(":")
    if name not in ENVS:
        raise SpecError(f"unknown environment {name!r}; accepted: {accepted(ENVS)}")
    if name == "arith":
        from schedsim.envs.arith.config import parse_arith_spec

        preset, config = parse_arith_spec(rest)
    elif name == "llm":
        from schedsim.envs.llm.config import parse_llm_spec

        preset, config = parse_llm_spec(rest)
    else:
        from schedsim.envs.bandit import parse_bandit_spec

        preset, config = parse_bandit_spec(rest)
    return name, preset, config


def make_env(spec: str, *, seed: int) -> Any:
    """Build an environment from its spec and a seed."""
    name, _, config = parse_env_spec(spec)
    if name == "arith":
        try:
            from schedsim.envs.arith.env import ArithEnv
        except ImportError as exc:  # torch is an optional extra
            raise SpecError(
                f"the arith environment needs torch ({exc}); install it with: pip install torch==2.13.0"
            ) from None
        return ArithEnv(config, seed=seed)
    if name == "llm":
        try:
            from schedsim.envs.llm.env import LLMEnv
        except ImportError as exc:
            raise SpecError(
                f"the llm environment needs torch and transformers ({exc}); pip install 'schedsim[trl]'"
            ) from None
        return LLMEnv(config, seed=seed)
    from schedsim.envs.bandit import BanditEnv

    return BanditEnv(config, seed=seed)
