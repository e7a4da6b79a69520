"""Group-relative advantages (GRPO and its mean-centred variant), NaN-aware for ragged groups."""

from __future__ import annotations

import numpy as np

from schedsim.core.params import check_choice

ADV_STD = ("unbiased", "population", "none")


def group_advantages(rewards: np.ndarray, *, std: str = "unbiased", eps: float = 1e-6) -> np.ndarray:
    """``A_i = (r_i - mean) / (std + eps)`` per group (row); NaN rollouts stay NaN.

    Args:
        rewards: ``float[m, G]``, NaN for missing rollouts.
        std: ``"unbiased"`` (torch.std, as verl's GRPO), ``"population"``, or ``"none"`` for mean-centred
            advantages (Dr.GRPO / RLOO-style, no division).
        eps: added to the std, as in verl (1e-6).

    A group with a single rollout gets mean 0 and std 1 (verl's convention), so ``A = r``. All-equal groups
    give A = 0.
    """
    check_choice("std", std, ADV_STD)
    rewards = np.asarray(rewards, dtype=np.float64)
    g = rewards.shape[1] if rewards.ndim == 2 else 0
    if g > 1 and not np.isnan(rewards).any():  # fast path: full groups
        centred = rewards - rewards.mean(axis=1, keepdims=True)
        if std == "none":
            return centred
        sd = rewards.std(axis=1, ddof=1 if std == "unbiased" else 0, keepdims=True)
        return centred / (sd + eps)
    valid = ~np.isnan(rewards)
    count = valid.sum(axis=1, keepdims=True)
    filled = np.where(valid, rewards, 0.0)
    mean = np.divide(filled.sum(axis=1, keepdims=True), count, out=np.zeros_like(count, dtype=float), where=count > 0)
    single = count <= 1
    mean = np.where(single, 0.0, mean)
    centred = np.where(valid, rewards - mean, np.nan)
    if std == "none":
        return centred
    sq = np.where(valid, centred, 0.0) ** 2
    dof = count - 1 if std == "unbiased" else count
    var = np.divide(sq.sum(axis=1, keepdims=True), dof, out=np.ones_like(sq[:, :1]), where=dof > 0)
    sd = np.where(single, 1.0, np.sqrt(var))
    return centred / (sd + eps)
