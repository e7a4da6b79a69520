"""The one seeding helper (Gymnasium convention): every scheduler owns a private generator built here.

No code in schedsim touches numpy's global RNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from schedsim.core.errors import ParameterError, StateError


def make_rng(seed: int | Sequence[int] | None) -> np.random.Generator:
    """Build ``Generator(PCG64(SeedSequence(seed)))``; ``seed`` may be a sequence of non-negative integers (mixed
    into one entropy pool); ``None`` draws fresh OS entropy."""
    parts = list(seed) if isinstance(seed, (list, tuple)) else [seed]
    for part in parts:
        if part is not None and (isinstance(part, bool) or not isinstance(part, (int, np.integer)) or part < 0):
            raise ParameterError(
                f"seed={seed!r} is not accepted; accepted: a non-negative integer (or a list of them) or None"
            )
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """Return a deep, picklable copy of the generator's full state."""
    state = rng.bit_generator.state
    return {
        "bit_generator": state["bit_generator"],
        "state": dict(state["state"]),
        "has_uint32": state["has_uint32"],
        "uinteger": state["uinteger"],
    }


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore a state produced by :func:`rng_state`; raise StateError if it does not fit."""
    try:
        rng.bit_generator.state = {
            "bit_generator": state["bit_generator"],
            "state": dict(state["state"]),
            "has_uint32": state["has_uint32"],
            "uinteger": state["uinteger"],
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"corrupt RNG state in state dict: {exc}") from None
