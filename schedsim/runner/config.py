"""The resolved configuration of a ``compare`` run: what it ran, exactly, as JSON."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from schedsim.core.errors import ParameterError, SchedsimError, SpecError, accepted
from schedsim.core.params import check_group, check_int
from schedsim.core.pool import PromptPool
from schedsim.core.registry import canonical_spec, make_scheduler
from schedsim.envs import PRESET_RUN_DEFAULTS, REPLAY_ENVS, RUN_DEFAULTS, parse_env_spec


@dataclass(frozen=True)
class RunConfig:
    """One comparison: every scheduler spec x every seed on the same environment and budget.

    Args:
        schedulers: scheduler specs (canonicalised, duplicates rejected).
        env: environment spec, e.g. ``"bandit"`` or ``"bandit:hard-tail,optimizer=sgd"``.
        seeds: number of seeds; seed s builds the same environment for every scheduler (paired comparison).
        budget: rollouts per unit, all of them (selection included).
        batch: prompts per step (B); group: rollouts per prompt (G).
        eval_every: rollouts between evaluations on the held-out pool.
        (None for any of these four: the environment's default in :data:`schedsim.envs.RUN_DEFAULTS`.)
        target: held-out accuracy for the rollouts-to-target metric; None: the baseline's mean final accuracy.
        baseline: scheduler spec the paired differences are taken against (default: ``uniform`` if present,
            else the first).
    """

    schedulers: tuple[str, ...]
    env: str = "bandit"
    seeds: int = 5
    budget: int | None = None
    batch: int | None = None
    group: int | None = None
    eval_every: int | None = None
    target: float | None = None
    baseline: str | None = None

    def __post_init__(self) -> None:
        specs = tuple(canonical_spec(s) for s in self.schedulers)
        if not specs:
            raise SpecError("no scheduler given; accepted: one or more scheduler specs")
        first: dict[str, str] = {}
        for given, spec in zip(self.schedulers, specs, strict=True):
            if spec in first:
                raise SpecError(
                    f"a scheduler is listed twice: {first[spec]!r} and {given!r} are both {spec!r} (parameters at "
                    "their defaults dropped); accepted: each scheduler once"
                )
            first[spec] = given
        object.__setattr__(self, "schedulers", specs)
        probe = PromptPool(n=2, category=[0, 1])
        built = [make_scheduler(spec, pool=probe, seed=0) for spec in specs]  # bad values fail before any unit
        env_name, preset, _ = parse_env_spec(self.env)
        for key, value in (RUN_DEFAULTS[env_name] | PRESET_RUN_DEFAULTS.get((env_name, preset), {})).items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        check_int("seeds", self.seeds, 1)
        check_int("batch", self.batch, 1)
        check_group(self.group)
        check_int("budget", self.budget, 1)
        check_int("eval_every", self.eval_every, 1)
        for spec, sched in zip(specs, built, strict=True):
            if sched.replays and env_name not in REPLAY_ENVS:
                raise ParameterError(
                    f"{spec!r} trains on replayed groups, which environment {env_name!r} cannot (its learn() takes "
                    f"only its last rollout); accepted: environments {accepted(REPLAY_ENVS)}, or no replay "
                    "(dots: sigma=1)"
                )
            width = getattr(sched, "probe_group", self.group)
            if sched.trains_on_probes and width != self.group:
                raise ParameterError(
                    f"{spec!r} trains on its probed groups of {width} rollouts, but group={self.group}; "
                    f"accepted: probe_group={self.group}, or train_on_probes=false"
                )
        if self.budget < self.batch * self.group:
            raise ParameterError(
                f"budget={self.budget} is smaller than one batch (batch x group = {self.batch * self.group} "
                f"rollouts); accepted: budget >= {self.batch * self.group}"
            )
        _check_fits(self.env, self.batch)
        if self.target is not None and not 0.0 <= self.target <= 1.0:
            raise ParameterError(f"target={self.target!r} is out of range; accepted: a number in [0, 1] or None")
        baseline = self.baseline or ("uniform" if "uniform" in specs else specs[0])
        baseline = canonical_spec(baseline)
        if baseline not in specs:
            raise SpecError(f"baseline {baseline!r} is not among the schedulers; accepted: {list(specs)}")
        object.__setattr__(self, "baseline", baseline)

    def units(self) -> list[tuple[str, int]]:
        """Every (scheduler spec, seed) unit, in a stable order."""
        return [(spec, seed) for seed in range(self.seeds) for spec in self.schedulers]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["schedulers"] = list(self.schedulers)
        _, preset, env_config = parse_env_spec(self.env)
        resolved = env_config.to_dict() if hasattr(env_config, "to_dict") else dataclasses.asdict(env_config)
        out["env_resolved"] = {"preset": preset, **resolved}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        keys = ("schedulers", "env", "seeds", "budget", "batch", "group", "eval_every", "target", "baseline")
        if not isinstance(data, dict) or not isinstance(data.get("schedulers"), list):
            raise SpecError(
                f"not a run configuration: {type(data).__name__} without a 'schedulers' list; "
                "accepted: a JSON object with a list of scheduler specs under 'schedulers'"
            )
        try:
            return cls(**{k: data[k] for k in keys if k in data} | {"schedulers": tuple(data["schedulers"])})
        except SchedsimError:
            raise
        except (TypeError, AttributeError, ValueError) as exc:  # e.g. a number where a spec string belongs
            raise SpecError(f"not a run configuration: {type(exc).__name__}: {exc}") from None

    def digest(self) -> str:
        """Short hash naming this configuration (the default run directory)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]


def _check_fits(env: str, batch: int) -> None:
    """Checks that need the environment's configuration, done before anything is written or run.

    The batch against the bandit's pool; the llm environment's model and data paths; a CUDA device that exists.
    """
    name, _, cfg = parse_env_spec(env)
    if name == "bandit" and batch > cfg.n_train:
        raise ParameterError(
            f"batch={batch} exceeds the pool of {cfg.n_train} train prompts; accepted: batch <= {cfg.n_train}"
        )
    if name == "llm":
        from schedsim.envs.llm.rgym import check_rgym_spec, is_rgym

        for key in ("model", "data"):
            value = getattr(cfg, key)
            if value is None:
                raise ParameterError(f"--env llm needs --{key}; accepted: a local path")
            if key == "data" and is_rgym(value):
                check_rgym_spec(value)
            elif not Path(value).exists():
                raise ParameterError(f"--{key} {value!r} does not exist; accepted: an existing local path")
    device = getattr(cfg, "device", "cpu")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ParameterError(f"device={device!r} but no CUDA device is available; accepted: cpu or auto")
