"""Simulated partition-function heads trained by the trajectory-balance residual (PACED-RL).

Trajectory balance anchored at the behaviour policy: (log Z(x) + log pi_theta(y|x) - log pi_old(y|x) - r/beta)^2.
Writing log Z = u / beta, the squared-loss optimum of u for a prompt is E_old[r - beta * logratio], i.e.
``beta log Z* = p_old + beta KL(pi_old || pi_theta)`` (reference/schedulers.md §1). The simulator's policy acts on
outcomes, so ``logratio = y log(p_new/p_old) + (1-y) log((1-p_new)/(1-p_old))`` for y in {0, 1}.

References:
    Kim et al., arXiv 2602.12642 (2026).
"""

from __future__ import annotations

import numpy as np


def bernoulli_logratio(y: np.ndarray, p_new: np.ndarray, p_old: np.ndarray) -> np.ndarray:
    """``log pi_new(y) - log pi_old(y)`` for outcome policies Bernoulli(p); p arrays broadcast against y."""
    eps = 1e-12
    return y * np.log((p_new + eps) / (p_old + eps)) + (1 - y) * np.log((1 - p_new + eps) / (1 - p_old + eps))


def bernoulli_kl(p_old: np.ndarray, p_new: np.ndarray) -> np.ndarray:
    """``KL(Bernoulli(p_old) || Bernoulli(p_new))``."""
    return bernoulli_logratio(np.ones_like(p_old), p_old, p_new) * p_old + bernoulli_logratio(
        np.zeros_like(p_old), p_old, p_new
    ) * (1 - p_old)


class TableHead:
    """Per-prompt u = beta log Z, updated by SGD on the squared TB residual: ``u <- u + lr (target - u)``."""

    def __init__(self, n: int, lr: float) -> None:
        self.u = np.zeros(n)
        self.lr = lr

    def predict(self, ids: np.ndarray) -> np.ndarray:
        return self.u[ids]

    def fit(self, ids: np.ndarray, targets: np.ndarray) -> None:
        """One step on groups ``ids`` with mean targets ``targets`` (repeated ids averaged)."""
        uniq, inverse = np.unique(ids, return_inverse=True)
        mean = np.bincount(inverse, weights=targets) / np.bincount(inverse)
        self.u[uniq] += self.lr * (mean - self.u[uniq])


class MLPHead:
    """Amortised u(x) = beta log Z_phi(x): a 3-layer tanh MLP over prompt inputs, trained with Adam.

    PACED-RL uses a 3-layer MLP over frozen prompt embeddings; here the inputs are the simulator's features and
    the one-hot category (what an embedding of the problem would carry). Unseen prompts get scores too.
    """

    def __init__(self, inputs: np.ndarray, hidden: int, lr: float, rng: np.random.Generator) -> None:
        self.x = inputs  # (N, d_in)
        d_in = inputs.shape[1]
        self.params = [
            rng.normal(0, 1 / np.sqrt(d_in), (d_in, hidden)),
            np.zeros(hidden),
            rng.normal(0, 1 / np.sqrt(hidden), (hidden, hidden)),
            np.zeros(hidden),
            rng.normal(0, 1 / np.sqrt(hidden), (hidden, 1)) * 0.1,
            np.zeros(1),
        ]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.lr = lr

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = np.tanh(x @ w1 + b1)  # (m, H)
        h2 = np.tanh(h1 @ w2 + b2)  # (m, H)
        return h1, h2, (h2 @ w3 + b3)[:, 0]  # (m,)

    def predict(self, ids: np.ndarray) -> np.ndarray:
        return self._forward(self.x[ids])[2]

    def fit(self, ids: np.ndarray, targets: np.ndarray) -> None:
        """One Adam step on the mean squared residual ``(u(x) - target)^2`` over the given groups."""
        x = self.x[ids]
        h1, h2, u = self._forward(x)
        w2, w3 = self.params[2], self.params[4]
        d_u = 2.0 * (u - targets) / ids.shape[0]  # (m,)
        g_w3 = h2.T @ d_u[:, None]
        g_b3 = d_u.sum(keepdims=True)
        d_h2 = d_u[:, None] @ w3.T * (1 - h2**2)  # (m, H)
        g_w2, g_b2 = h1.T @ d_h2, d_h2.sum(axis=0)
        d_h1 = d_h2 @ w2.T * (1 - h1**2)
        g_w1, g_b1 = x.T @ d_h1, d_h1.sum(axis=0)
        self.t += 1
        for i, g in enumerate((g_w1, g_b1, g_w2, g_b2, g_w3, g_b3)):
            self.m[i] = 0.9 * self.m[i] + 0.1 * g
            self.v[i] = 0.999 * self.v[i] + 0.001 * g**2
            m_hat = self.m[i] / (1 - 0.9**self.t)
            v_hat = self.v[i] / (1 - 0.999**self.t)
            self.params[i] = self.params[i] - self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
