"""Environments: all present the same face to the runner (:class:`Environment`), built-in or registered.

Built-in: ``bandit``, ``arith``, ``llm``. Register your own with :func:`register_env` (or ship it as a plugin: an
entry point in the ``schedsim.envs`` group, see :mod:`schedsim.core.plugins`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from schedsim.core.errors import SpecError, accepted
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.envs.spec import Preset, parse_config


@runtime_checkable
class Environment(Protocol):
    """What the runner calls on an environment. Required:

    - ``pool``: the train :class:`~schedsim.PromptPool` (ids ``0..N-1``; categories give ``sec`` its arms);
    - ``rollout(ids, group) -> Feedback``: ``group`` rewards in [0, 1] per id, from the current policy;
    - ``learn(feedback, weights, reduction) -> dict``: one update on ``feedback``; ``weights`` (``float[m]`` or
      None) multiply each group's loss (``scheduler.loss_weights``), ``reduction`` is None, ``"all"`` or
      ``"mixed"`` (average over non-zero-variance groups); returns scalar diagnostics (may be empty);
    - ``evaluate() -> dict``: held-out measurements, at least ``"heldout_acc"`` (the accuracy every table reads);
    - ``reference_pass_rates() -> (ids, p)``: pass rates of some train prompts against which schedulers'
      estimates are calibrated (``calib_abs_err``): the truth where known, else a sampled accuracy.

    Optional: ``pass_rates(ids) -> float[len(ids)]`` (true pass rates: the selection histogram's pass rates, the
    diagnostic ``estimator=oracle`` and ``schedsim explain``); ``head`` (not None) with ``log_z(ids)`` (a learned
    partition function: ``paced``'s default estimator); ``gradient_samples(ids, group, samples)`` (``schedsim snr``);
    ``learns_replay = True`` when ``learn`` accepts groups the last ``rollout`` did not produce (needed by a
    scheduler that replays earlier groups, e.g. ``dots`` with ``sigma < 1``).
    """

    pool: PromptPool

    def rollout(self, ids: np.ndarray, group: int) -> Feedback: ...

    def learn(self, feedback: Feedback, weights: np.ndarray | None = None, reduction: str | None = None) -> dict: ...

    def evaluate(self) -> dict[str, float]: ...

    def reference_pass_rates(self) -> tuple[np.ndarray, np.ndarray]: ...


REQUIRED = ("pool", "rollout", "learn", "evaluate", "reference_pass_rates")
OPTIONAL = ("pass_rates", "log_z", "head", "gradient_samples")

ENVS = {
    "bandit": "numpy learner simulator: logistic skills, Bernoulli rollouts (seconds)",
    "arith": "tiny transformer on synthetic arithmetic, GRPO or trajectory balance (minutes on a CPU; torch)",
    "llm": "a local Hugging Face causal LM on a JSONL problem file (llm:model=DIR,data=FILE; transformers)",
}

#: environments that know their true pass rates (the ``pass_rates`` signal of the diagnostic ``estimator=oracle``)
ORACLE_ENVS = ["bandit"]

#: environments whose ``learn`` accepts groups its last ``rollout`` did not produce (a scheduler's ``replay``)
REPLAY_ENVS = ["bandit"]

#: run-size defaults of ``schedsim compare`` per environment (budget in rollouts)
RUN_DEFAULTS = {
    "bandit": {"budget": 200_000, "batch": 64, "group": 8, "eval_every": 10_000},
    "arith": {"budget": 102_400, "batch": 32, "group": 8, "eval_every": 12_800},
    "llm": {"budget": 4_096, "batch": 8, "group": 8, "eval_every": 512},
}


#: presets whose run size differs from their environment's (the arith smoke preset: a compare in seconds)
PRESET_RUN_DEFAULTS = {("arith", "tiny"): {"budget": 25_600, "eval_every": 6_400}}


#: run-size defaults of a registered environment that gives none
DEFAULT_RUN = {"budget": 20_000, "batch": 32, "group": 8, "eval_every": 2_000}


@dataclasses.dataclass(frozen=True)
class _Registered:
    factory: Callable[..., Any]
    config: type
    presets: dict[str, Preset]


_REGISTERED: dict[str, _Registered] = {}


def register_env(
    name: str,
    factory: Callable[..., Any],
    *,
    config: type,
    description: str,
    presets: dict[str, dict[str, Any]] | None = None,
    run_defaults: dict[str, int] | None = None,
) -> None:
    """Make an environment available to every command as ``name[:preset][,key=value...]``.

    Args:
        name: the spec name (letters, digits, ``_`` or ``-``; not a built-in).
        factory: ``factory(config, seed=seed) -> environment`` (usually the class); the result must have every
            member of :class:`Environment`'s required list (checked when built; for a class, also here).
        config: a frozen dataclass whose fields all have defaults; spec ``key=value`` pairs set its fields (values
            converted to the default's type; tuples written ``a/b/c``).
        description: one line for ``schedsim list``.
        presets: named field overrides, ``{"hard": {"noise": 0.3}}``; ``default`` (no override) is always there.
        run_defaults: ``budget``, ``batch``, ``group``, ``eval_every`` for ``compare`` (missing keys:
            :data:`DEFAULT_RUN`).
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", str(name)) or name in ("bandit", "arith", "llm"):
        raise SpecError(f"environment name {name!r}; accepted: letters, digits, '_' or '-', not a built-in name")
    if not dataclasses.is_dataclass(config) or not isinstance(config, type):
        raise SpecError(f"config={config!r}; accepted: a dataclass type whose fields all have defaults")
    try:
        config()
    except TypeError as exc:
        raise SpecError(
            f"config {config.__name__} cannot be built with its defaults ({exc}); accepted: defaults for every field"
        ) from None
    if isinstance(factory, type):
        missing = [m for m in REQUIRED if m != "pool" and not callable(getattr(factory, m, None))]
        if missing:
            raise SpecError(
                f"environment {name!r}: {factory.__name__} lacks {', '.join(missing)}; accepted: an environment with "
                f"{', '.join(REQUIRED)} (see schedsim.envs.Environment)"
            )
    run = dict(DEFAULT_RUN | (run_defaults or {}))
    unknown = set(run) - set(DEFAULT_RUN)
    if unknown:
        raise SpecError(f"run_defaults keys {sorted(unknown)}; accepted: {accepted(DEFAULT_RUN)}")
    table = {"default": Preset("default", "the config's defaults")}
    table |= {k: Preset(k, f"preset {k}", dict(v)) for k, v in (presets or {}).items()}
    _REGISTERED[name] = _Registered(factory, config, table)
    ENVS[name] = description
    RUN_DEFAULTS[name] = run
    if isinstance(factory, type) and callable(getattr(factory, "pass_rates", None)) and name not in ORACLE_ENVS:
        ORACLE_ENVS.append(name)
    if isinstance(factory, type) and getattr(factory, "learns_replay", False) and name not in REPLAY_ENVS:
        REPLAY_ENVS.append(name)


def check_environment(env: Any, name: str) -> Any:
    """``env`` if it has every required member of :class:`Environment`; SpecError naming what is missing."""
    missing = [m for m in REQUIRED if not hasattr(env, m)]
    if missing:
        raise SpecError(
            f"environment {name!r} ({type(env).__name__}) lacks {', '.join(missing)}; accepted: an environment "
            f"with {', '.join(REQUIRED)} (see schedsim.envs.Environment)"
        )
    if not isinstance(env.pool, PromptPool):
        raise SpecError(f"environment {name!r}: pool is {type(env.pool).__name__}; accepted: a schedsim.PromptPool")
    return env


def parse_env_spec(spec: str) -> tuple[str, str, Any]:
    """``"bandit[:preset][,key=value...]"`` -> (env name, preset, config)."""
    name, _, rest = spec.strip().partition(":")
    if name not in ENVS:
        from schedsim.core.plugins import load_plugins

        load_plugins()
    if name not in ENVS:
        raise SpecError(f"unknown environment {name!r}; accepted: {accepted(ENVS)}")
    if name in _REGISTERED:
        preset, config = parse_config(name, _REGISTERED[name].config, _REGISTERED[name].presets, rest)
    elif name == "arith":
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
    if name in _REGISTERED:
        return check_environment(_REGISTERED[name].factory(config, seed=seed), name)
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
