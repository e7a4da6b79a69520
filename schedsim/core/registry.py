"""Scheduler registry and spec strings: ``"name"`` or ``"name:key=value,key=value"``.

Constructor keyword arguments *are* the hyperparameters (scikit-learn convention): the registry reads names,
defaults and types from each class's signature, so ``schedsim list`` and spec parsing never drift from the code.
Trainer-side signals (e.g. ``log_z``) are objects, not spec values; they are passed as keyword arguments.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from schedsim.core.errors import ParameterError, SpecError, accepted
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler

SIGNALS = ("log_z", "probe", "pass_rates")
_REGISTRY: dict[str, type[Scheduler]] = {}
_BUILTIN_MODULE = "schedsim.schedulers"


def register(cls: type[Scheduler]) -> type[Scheduler]:
    """Class decorator: make a Scheduler subclass buildable by its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
        raise SpecError(f"{cls!r} is not a Scheduler subclass; accepted: subclasses of schedsim.Scheduler")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Sorted names of every registered scheduler."""
    importlib.import_module(_BUILTIN_MODULE)
    return sorted(_REGISTRY)


def get(name: str) -> type[Scheduler]:
    """The class registered as ``name``; SpecError listing the accepted names otherwise."""
    names = available()
    if name not in _REGISTRY:
        raise SpecError(f"unknown scheduler {name!r}; accepted: {accepted(names)}")
    return _REGISTRY[name]


@dataclass(frozen=True)
class Param:
    """One hyperparameter of a scheduler: name, default and annotation (as written in the signature)."""

    name: str
    default: Any
    annotation: str


def params(name: str) -> list[Param]:
    """Hyperparameters of scheduler ``name`` (constructor keywords except ``pool``, ``seed`` and signals)."""
    sig = inspect.signature(get(name).__init__)
    skip = {"self", "pool", "seed", *SIGNALS}
    return [
        Param(p.name, p.default, str(p.annotation))
        for p in sig.parameters.values()
        if p.name not in skip and p.kind is inspect.Parameter.KEYWORD_ONLY
    ]


def signals(name: str) -> list[str]:
    """Trainer-side signals scheduler ``name`` accepts (e.g. ``["log_z"]``)."""
    sig = inspect.signature(get(name).__init__)
    return [s for s in SIGNALS if s in sig.parameters]


def _coerce(scheduler: str, param: Param, raw: str) -> Any:
    text = raw.strip()
    kinds = [k.strip() for k in param.annotation.split("|")]
    if "None" in kinds and text.lower() == "none":
        return None
    for kind, convert in (("bool", _to_bool), ("int", int), ("float", float), ("str", str)):
        if kind in kinds:
            try:
                return convert(text)
            except ValueError:
                continue
    raise SpecError(f"{scheduler}: {param.name}={raw!r} is not accepted; accepted: a value of type {param.annotation}")


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value,..."`` into the name and typed keyword arguments; SpecError on bad input."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError(f"scheduler spec {spec!r} is empty; accepted: 'name' or 'name:key=value,...'")
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    table = {p.name: p for p in params(name)}
    kwargs: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq:
            raise SpecError(f"{name}: {item!r} is not key=value; accepted: 'name:key=value,key=value'")
        if key not in table:
            raise SpecError(f"unknown parameter {key!r} for scheduler {name!r}; accepted: {accepted(table)}")
        if key in kwargs:
            raise SpecError(f"{name}: parameter {key!r} given twice")
        kwargs[key] = _coerce(name, table[key], value)
    return name, kwargs


def make_scheduler(spec: str, *, pool: PromptPool, seed: int | None = None, **kwargs: Any) -> Scheduler:
    """Build a registered scheduler from a spec string.

    Args:
        spec: ``"name"`` or ``"name:key=value,key=value"``, e.g. ``"paced:tau=0.4"``.
        pool: the prompt pool.
        seed: seed of the scheduler's private generator.
        **kwargs: hyperparameters (override nothing in ``spec``: giving one twice is an error) and trainer-side
            signals such as ``log_z``.

    Returns:
        The scheduler.
    """
    name, spec_kwargs = parse_spec(spec)
    if not isinstance(pool, PromptPool):  # before the constructor, whose estimator would read pool.n first
        raise ParameterError(f"{name}: pool is {type(pool).__name__}; accepted: a schedsim.PromptPool")
    table = {p.name for p in params(name)} | set(signals(name))
    for key in kwargs:
        if key not in table:
            raise SpecError(f"unknown parameter {key!r} for scheduler {name!r}; accepted: {accepted(sorted(table))}")
        if key in spec_kwargs:
            raise SpecError(f"{name}: parameter {key!r} given both in the spec and as a keyword")
    try:
        return get(name)(pool, seed=seed, **spec_kwargs, **kwargs)
    except ParameterError as exc:
        raise ParameterError(f"{name}: {exc}") from None


def canonical_spec(spec: str) -> str:
    """The spec with keys sorted, values normalised and parameters equal to their default dropped.

    So equal configurations get equal names: ``"paced:tau=0.5"`` (0.5 is paced's default) is ``"paced"``.
    """
    name, kwargs = parse_spec(spec)
    defaults = {p.name: p.default for p in params(name)}
    kwargs = {k: v for k, v in kwargs.items() if not _same(v, defaults[k])}
    if not kwargs:
        return name
    return name + ":" + ",".join(f"{k}={kwargs[k]}" for k in sorted(kwargs))


def _same(value: Any, default: Any) -> bool:
    """True when a parsed spec value equals the parameter's default (True is not 1, 1.0 is 1)."""
    if isinstance(value, bool) != isinstance(default, bool) or (value is None) != (default is None):
        return False
    try:
        return bool(value == default)
    except Exception:  # an exotic default whose comparison fails or is ambiguous: keep the value
        return False
