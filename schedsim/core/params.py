"""Validation helpers for constructor hyperparameters.

Library code validates with these instead of ``assert`` (which ``python -O`` removes); each raises
:class:`~schedsim.core.errors.ParameterError` naming the parameter, the bad value and the accepted range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from schedsim.core.errors import ParameterError, accepted


def check_range(
    name: str,
    value: float,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` if it is a finite number inside the given interval, else raise ParameterError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if not ok:
        left = "(" if lo_open or lo is None else "["  # an unbounded side is open: inf itself is refused above
        right = ")" if hi_open or hi is None else "]"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise ParameterError(f"{name}={value!r} is out of range; accepted: a number in {left}{lo_s}, {hi_s}{right}")
    return value


def check_int(name: str, value: int, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` if it is an integer in ``[lo, hi]``, else raise ParameterError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name}={value!r} is not an integer; accepted: an integer")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        left, lo_s = ("(", "-inf") if lo is None else ("[", str(lo))
        right, hi_s = (")", "inf") if hi is None else ("]", str(hi))
        raise ParameterError(f"{name}={value!r} is out of range; accepted: an integer in {left}{lo_s}, {hi_s}{right}")
    return value


def check_choice(name: str, value: object, choices: Sequence[object]) -> object:
    """Return ``value`` if it is one of ``choices``, else raise ParameterError listing them."""
    if value not in choices:
        raise ParameterError(f"{name}={value!r} is not accepted; accepted: {accepted(choices)}")
    return value


def check_group(value: int, name: str = "group") -> int:
    """Return ``value`` if it is an integer group size >= 2, else raise ParameterError saying why."""
    check_int(name, value)
    if value < 2:
        raise ParameterError(
            f"{name}={value!r} gives no group-relative signal: a group of fewer than 2 rollouts has zero "
            "variance, so every GRPO advantage is 0; accepted: an integer >= 2"
        )
    return value
