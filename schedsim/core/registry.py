"""Scheduler registry and spec strings: ``"name"`` or ``"name:key=value,key=value"``.

Constructor keyword arguments *are* the hyperparameters (scikit-learn convention): the registry reads names,
defaults and types from each class's signature, so ``schedsim list`` and spec parsing never drift from the code.
Trainer-side signals (e.g. ``log_z``) are objects, not spec values; they are passed as keyword arguments.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Any

from schedsim.core.errors import ParameterError, SpecError, accepted
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler

SIGNALS = ("log_z", "probe", "pass_rates")
_REGISTRY: dict[str, type[Scheduler]] = {}
_BUILTIN_MODULE = "schedsim.schedulers"


def register(cls: type[Scheduler]) -> type[Scheduler]:
    """Class decorator: make a Scheduler subclass buildable by its ``name``.

    Checked here, so a mistake surfaces at registration: the class is a :class:`Scheduler` subclass with its own
    ``name`` (letters, digits, ``_`` or ``-``), and its constructor is ``__init__(self, pool, *, seed=None,
    <hyperparameters>...)``: every hyperparameter keyword-only (after ``*``) with a default, since spec strings
    set them by name.
    """
    if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
        raise SpecError(f"{cls!r} is not a Scheduler subclass; accepted: subclasses of schedsim.Scheduler")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", cls.name or "") or cls.name == Scheduler.name:
        raise SpecError(
            f"{cls.__name__}.name is {cls.name!r}; accepted: a class attribute name = 'my-scheduler' (letters, "
            "digits, '_' or '-')"
        )
    positional = [
        p.name
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        if p.name != "pool" and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if positional:
        raise SpecError(
            f"{cls.__name__}.__init__ takes {', '.join(map(repr, positional))} by position; accepted: "
            "__init__(self, pool, *, seed=None, name=default, ...): hyperparameters keyword-only, after '*'"
        )
    missing = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty and p.name not in SIGNALS
    ]
    if missing:
        raise SpecError(
            f"{cls.__name__}.__init__ has no default for {', '.join(map(repr, missing))}; accepted: every "
            "hyperparameter with a default (spec strings may omit it)"
        )
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Sorted names of every registered scheduler (built-ins, installed plugins, imported modules)."""
    importlib.import_module(_BUILTIN_MODULE)
    from schedsim.core.plugins import load_plugins

    load_plugins()
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
        Param(p.name, p.default, annotation_text(p.annotation, p.default))
        for p in sig.parameters.values()
        if p.name not in skip and p.kind is inspect.Parameter.KEYWORD_ONLY
    ]


def annotation_text(annotation: Any, default: Any = None) -> str:
    """An annotation as ``"float"`` / ``"int | None"`` whether it was written with or without
    ``from __future__ import annotations`` (a string, a class, ``Optional[...]`` or ``X | Y``); no annotation:
    the default's type."""
    if annotation is inspect.Parameter.empty:
        return "None" if default is None else type(default).__name__
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    text = re.sub(r"\btyping\.", "", text)
    optional = re.fullmatch(r"Optional\[(.*)\]", text)
    if optional:
        text = f"{optional.group(1)} | None"
    union = re.fullmatch(r"Union\[(.*)\]", text)
    if union:
        text = " | ".join(t.strip() for t in union.group(1).split(","))
    return text


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
