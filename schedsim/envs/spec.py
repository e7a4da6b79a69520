"""Environment spec strings: ``name[:preset][,key=value...]`` over a frozen config dataclass with presets."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from schedsim.core.errors import SpecError, accepted

C = TypeVar("C")


@dataclass(frozen=True)
class Preset:
    """A named configuration with the one-line reason it exists."""

    name: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)


def _coerce(env: str, key: str, raw: str, default: Any) -> Any:
    text = raw.strip()
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            kind = type(default[0]) if default else str
            return tuple(kind(x) for x in text.split("/"))
        if default is None:
            return None if text.lower() == "none" else text
    except ValueError:
        raise SpecError(f"{env}: {key}={raw!r} is not accepted; accepted: a {type(default).__name__}") from None
    return text


def parse_config(env: str, cls: type[C], presets: dict[str, Preset], rest: str) -> tuple[str, C]:
    """Parse ``"[preset][,key=value...]"`` into a preset name and a config; tuple values use ``/``."""
    items = [s.strip() for s in rest.split(",") if s.strip()]
    preset = "default"
    if items and "=" not in items[0]:
        preset = items.pop(0)
    if preset not in presets:
        raise SpecError(f"unknown {env} preset {preset!r}; accepted: {accepted(presets)}")
    base = replace(cls(), **presets[preset].overrides)
    names = {f.name for f in fields(cls)}
    overrides: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in names:
            raise SpecError(f"unknown {env} parameter {item!r}; accepted: {accepted(sorted(names))}")
        overrides[key] = _coerce(env, key, value, getattr(base, key))
    return preset, replace(base, **overrides)
