"""One exception hierarchy for schedsim.

Every error a user can cause derives from :class:`SchedsimError`; messages name the bad value and what would
have been accepted. The CLI turns these into a one-line message and a non-zero exit code.
"""

from __future__ import annotations

from collections.abc import Iterable


class SchedsimError(Exception):
    """Base class of every error schedsim raises on bad input."""


class SpecError(SchedsimError):
    """Unknown scheduler name, unknown parameter key, or unparsable spec string."""


class ParameterError(SchedsimError, ValueError):
    """A parameter value outside its accepted range or set."""


class FeedbackError(SchedsimError, ValueError):
    """Malformed feedback: wrong shapes, ids out of range, infinite or non-binary rewards."""


class PoolError(SchedsimError, ValueError):
    """A malformed prompt pool, or a pool that lacks what a scheduler needs (e.g. categories)."""


class MissingSignalError(SchedsimError):
    """A scheduler needs a trainer-side signal (e.g. log Z) that was not provided."""


class StateError(SchedsimError):
    """A state dict that does not match the scheduler it is loaded into."""


class ConformanceError(SchedsimError, AssertionError):
    """A scheduler failed a named conformance check (see :mod:`schedsim.checks`)."""


def accepted(values: Iterable[object]) -> str:
    """Format a set of accepted values for an error message: ``'a', 'b', 'c'``."""
    return ", ".join(repr(v) for v in values)
