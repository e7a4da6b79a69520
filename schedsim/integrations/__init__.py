"""Adapters that put schedsim schedulers inside RL trainers (optional extras; importing schedsim loads none)."""

from __future__ import annotations

import numpy as np

from schedsim.core.errors import SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.scheduler import Scheduler


def group_factors(scheduler: Scheduler, feedback: Feedback) -> np.ndarray:
    """Per-group advantage factor a trainer applies: ``scheduler.loss_weights(feedback)``, times ``m / m_mixed``
    when the scheduler asks for the ``mixed`` reduction (the loss then averages over the groups with signal).

    Call it before ``scheduler.observe(feedback)``, as schedsim's own loop orders them.
    """
    weights = np.asarray(scheduler.loss_weights(feedback), dtype=np.float64)
    if getattr(scheduler, "loss_reduction", None) == "mixed" and feedback.m:
        r = feedback.rewards
        mixed = np.nanmax(r, axis=1) != np.nanmin(r, axis=1)
        weights = weights * (feedback.m / max(int(mixed.sum()), 1))
    return weights


def refuse_replay(scheduler: Scheduler, trainer: str) -> None:
    """SchedsimError when ``scheduler`` replays earlier groups: the adapters train only on what the trainer generates."""
    if scheduler.replays:
        raise SchedsimError(
            f"scheduler {scheduler.name!r} trains on replayed groups, which the {trainer} adapter cannot (the "
            f"trainer trains only on the groups it generates); accepted: a scheduler without replay (dots: sigma=1)"
        )
