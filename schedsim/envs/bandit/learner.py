"""The simulated learner: group policy-gradient estimates with score-function noise, and the optimiser.

For a prompt with features phi and pass rate p = sigmoid(phi . theta - b), a group of G Bernoulli(p) rewards with
advantages A_j and per-rollout scores s_j = (r_j - p) phi + xi_j (xi_j ~ N(0, sigma_s^2 I), independent of the
reward) gives the per-rollout-averaged estimate

    g = (1/G) sum_j A_j s_j = a phi + (sigma_s sqrt(sum_j A_j^2) / G) z,   a = (1/G) sum_j A_j r_j,  z ~ N(0, I)

(the -p phi term cancels because advantages sum to zero). With mean-centred advantages a = r̄(1 - r̄), so
E g = p(1-p)(1-1/G) phi; with leave-one-out (RLOO) advantages E g = p(1-p) phi, the true gradient of p.
Signal ∝ p(1-p) and noise ∝ sqrt(p(1-p)): SNR vanishes at both ends (docs/theory.md §1, §6).
"""

from __future__ import annotations

import numpy as np

from schedsim.core.advantages import group_advantages


def advantages(rewards: np.ndarray, kind: str) -> np.ndarray:
    """``float[m, G]`` advantages: ``grpo`` (normalised, unbiased std), ``mean`` (centred), ``rloo``."""
    if kind == "grpo":
        return group_advantages(rewards, std="unbiased")
    centred = group_advantages(rewards, std="none")
    if kind == "mean":
        return centred
    g = rewards.shape[1]
    return centred * (g / (g - 1)) if g > 1 else centred  # r_j - mean of the others


def gradient_terms(rewards: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the reward coefficient ``a`` and the noise scale ``sqrt(sum A^2) / G`` (before sigma_s)."""
    adv = advantages(rewards, kind)
    g = rewards.shape[1]
    a = (adv * rewards).sum(axis=1) / g
    scale = np.sqrt((adv**2).sum(axis=1)) / g
    return a, scale


class Optimiser:
    """Gradient *ascent* on expected reward with SGD or Adam (betas 0.9/0.99), after norm clipping."""

    def __init__(self, dim: int, kind: str, lr: float, clip: float) -> None:
        self.kind, self.lr, self.clip = kind, lr, clip
        self.m = np.zeros(dim)
        self.v = np.zeros(dim)
        self.t = 0

    def step(self, direction: np.ndarray) -> tuple[np.ndarray, float]:
        """Return the parameter change for an ascent direction, and the direction's norm before clipping."""
        norm = float(np.linalg.norm(direction))
        if self.clip > 0 and norm > self.clip:
            direction = direction * (self.clip / norm)
        if self.kind == "sgd":
            return self.lr * direction, norm
        self.t += 1
        self.m = 0.9 * self.m + 0.1 * direction
        self.v = 0.99 * self.v + 0.01 * direction**2
        m_hat = self.m / (1 - 0.9**self.t)
        v_hat = self.v / (1 - 0.99**self.t)
        return self.lr * m_hat / (np.sqrt(v_hat) + 1e-8), norm
