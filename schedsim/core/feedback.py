"""Feedback: the neutral record of what a batch of rollouts returned.

One row per prompt group. Rewards are raw per-completion values, NaN-padded for ragged groups (NaN means "no
rollout here"), never pre-aggregated: each estimator derives what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schedsim.core.errors import FeedbackError


def _array(name: str, value: object, dtype: type, ndim: int, rows: int | None) -> np.ndarray:
    accepted = "booleans or 0/1" if dtype is bool else "numbers"
    try:
        raw = np.asarray(value)
        if raw.size and raw.dtype.kind not in "biufO":  # strings, complex, dates: never silently converted
            raise FeedbackError(f"{name} has dtype {raw.dtype}; accepted: an array of {accepted}")
        if dtype is bool and raw.dtype.kind in "iuf" and not np.isin(raw, (0, 1)).all():
            bad = raw[~np.isin(raw, (0, 1))].flat[0]
            raise FeedbackError(f"{name} contains {bad.item()!r}; accepted: {accepted}")
        array = np.array(raw, dtype=dtype, copy=True)
    except FeedbackError:
        raise
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects that are not numbers
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FeedbackError(
            f"{name} is not an array of {accepted} ({reason}); accepted: a rectangular array (NaN pads ragged groups)"
        ) from None
    if array.ndim != ndim or (rows is not None and array.shape[0] != rows):
        want = "(m,)" if ndim == 1 else "(m, G)"
        raise FeedbackError(f"{name} has shape {array.shape}; accepted: {want} with m={rows}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Feedback:
    """Rewards for a batch of prompt groups.

    Args:
        prompt_ids: ``int[m]`` pool ids, one per group; repeats allowed.
        rewards: ``float[m, G]`` per-completion rewards; NaN marks a missing rollout.
        advantages: optional ``float[m, G]`` advantages the trainer computed (e.g. token-masked means).
        step: optional training step the feedback belongs to.
        filtered: optional ``bool[m]``: groups the trainer dropped from the update (still valid observations).
        log_z: optional ``float[m]`` log Z_phi(x) the trainer's partition-function head gave these prompts.

    All arrays are copied and frozen, so the caller's arrays are never aliased or mutated.
    """

    prompt_ids: np.ndarray
    rewards: np.ndarray
    advantages: np.ndarray | None = None
    step: int | None = None
    filtered: np.ndarray | None = None
    log_z: np.ndarray | None = None

    def __post_init__(self) -> None:
        ids = np.asarray(self.prompt_ids)
        if ids.ndim != 1:
            raise FeedbackError(f"prompt_ids has shape {ids.shape}; accepted: (m,)")
        if ids.size and ids.dtype.kind not in "iu":
            raise FeedbackError(f"prompt_ids has dtype {ids.dtype}; accepted: an integer dtype")
        m = ids.shape[0]
        set_ = object.__setattr__
        set_(self, "prompt_ids", _array("prompt_ids", ids, np.int64, 1, m))
        rewards = _array("rewards", self.rewards, np.float64, 2, m)
        if np.isinf(rewards).any():
            raise FeedbackError("rewards contains +-inf; accepted: finite values, or NaN for a missing rollout")
        set_(self, "rewards", rewards)
        if self.advantages is not None:
            adv = _array("advantages", self.advantages, np.float64, 2, m)
            if adv.shape != rewards.shape:
                raise FeedbackError(f"advantages has shape {adv.shape}; accepted: {rewards.shape} like rewards")
            if np.isinf(adv).any():
                raise FeedbackError("advantages contains +-inf; accepted: finite values or NaN")
            set_(self, "advantages", adv)
        if self.filtered is not None:
            set_(self, "filtered", _array("filtered", self.filtered, bool, 1, m))
        if self.log_z is not None:
            log_z = _array("log_z", self.log_z, np.float64, 1, m)
            if not np.isfinite(log_z).all():
                bad = float(log_z[~np.isfinite(log_z)][0])
                raise FeedbackError(f"log_z contains {bad!r}; accepted: finite values (one log Z per group)")
            set_(self, "log_z", log_z)

    @property
    def m(self) -> int:
        """Number of groups."""
        return int(self.prompt_ids.shape[0])

    @property
    def group_size(self) -> int:
        """Padded group width G."""
        return int(self.rewards.shape[1])

    def counts(self) -> np.ndarray:
        """``int[m]`` number of real (non-NaN) rollouts per group."""
        return (~np.isnan(self.rewards)).sum(axis=1)

    def sums(self) -> np.ndarray:
        """``float[m]`` reward sum per group (NaN ignored)."""
        return np.nansum(self.rewards, axis=1)

    def means(self) -> np.ndarray:
        """``float[m]`` mean reward per group; NaN for a group with no rollouts."""
        counts = self.counts()
        out = np.full(self.m, np.nan)
        np.divide(self.sums(), counts, out=out, where=counts > 0)
        return out

    def validate_ids(self, n: int) -> None:
        """Raise FeedbackError unless every id is in ``[0, n)``."""
        bad = (self.prompt_ids < 0) | (self.prompt_ids >= n)
        if bad.any():
            raise FeedbackError(
                f"prompt_ids contains {int(self.prompt_ids[bad][0])}, out of range; accepted: ids in [0, {n})"
            )

    def require_unit_rewards(self, who: str) -> None:
        """Raise FeedbackError unless every reward lies in [0, 1] (pass-rate estimators need this)."""
        r = self.rewards[~np.isnan(self.rewards)]
        if r.size and ((r < 0).any() or (r > 1).any()):
            bad = float(r[(r < 0) | (r > 1)][0])
            raise FeedbackError(f"{who} needs rewards in [0, 1] (pass/fail); got {bad!r}")

    def require_binary_rewards(self, who: str) -> None:
        """Raise FeedbackError unless every reward is exactly 0 or 1."""
        r = self.rewards[~np.isnan(self.rewards)]
        bad = r[(r != 0) & (r != 1)]
        if bad.size:
            raise FeedbackError(f"{who} needs binary rewards; got {float(bad[0])!r}; accepted: 0 or 1 (NaN = missing)")

    def per_prompt(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pool the batch by prompt: ``(ids int[u], sums float[u], counts float[u])`` over unique ids.

        Repeated ids are pooled with ``np.bincount`` (never dropped); groups without rollouts are skipped.
        Cost is O(m log m), independent of the pool size.
        """
        keep = self.counts() > 0
        ids, inverse = np.unique(self.prompt_ids[keep], return_inverse=True)
        sums = np.bincount(inverse, weights=self.sums()[keep], minlength=ids.size)
        counts = np.bincount(inverse, weights=self.counts()[keep], minlength=ids.size)
        return ids, sums, counts
