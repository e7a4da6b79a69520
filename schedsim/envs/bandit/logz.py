"""Simulated partition-function heads trained by the trajectory-balance residual (PACED-RL).

Trajectory balance anchored at the behaviour policy: (log Z(x) + log pi_theta(y|x) - log pi_old(y|x) - r/beta)^2.
Writing log Z = u / beta, the squared-loss optimum of u for a prompt is E_old[r - beta * logratio], i.e.
``beta log Z* = p_old + beta KL(pi_old || pi_theta)`` (docs/schedulers.md (paced)). The simulator's policy acts on
outcomes, so ``logratio = y log(p_new/p_old) + (1-y) log((1-p_new)/(1-p_old))`` for y in {0, 1}.

Since ``p_old >= 0`` and ``KL >= 0``, u is never negative; the heads bound their output accordingly and start
from a prior ``init`` for every prompt instead of u = 0, which reads as p_hat = 0 everywhere, the farthest point
from tau for every unseen prompt (named [choice]s, :mod:`schedsim.envs.heads`).

References:
    Kim et al., arXiv 2602.12642 (2026).
"""

from __future__ import annotations

import numpy as np

from schedsim.envs.heads import output_bounds, output_offset


def bernoulli_logratio(y: np.ndarray, p_new: np.ndarray, p_old: np.ndarray) -> np.ndarray:
    """``log pi_new(y) - log pi_old(y)`` for outcome policies Bernoulli(p); p arrays broadcast against y."""
    eps = 1e-12
    return y * np.log((p_new + eps) / (p_old + eps)) + (1 - y) * np.log((1 - p_new + eps) / (1 - p_old + eps))


def bernoulli_kl(p_old: np.ndarray, p_new: np.ndarray) -> np.ndarray:
    """``KL(Bernoulli(p_old) || Bernoulli(p_new))``."""
    return bernoulli_logratio(np.ones_like(p_old), p_old, p_new) * p_old + bernoulli_logratio(
        np.zeros_like(p_old), p_old, p_new
    ) * (1 - p_old)


def apply_output(output: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(f(z), f'(z))`` of an output map."""
    if output == "sigmoid":
        u = 0.5 * (1.0 + np.tanh(0.5 * z))
        return u, u * (1.0 - u)
    if output == "softplus":
        return np.logaddexp(0.0, z), 0.5 * (1.0 + np.tanh(0.5 * z))
    return z, np.ones_like(z)


def tb_targets(rewards: np.ndarray, p_new: np.ndarray, p_old: np.ndarray, kl_coef: float) -> np.ndarray:
    """Per-group regression target of u: ``mean_j (r_j - beta logratio_j)``, whose optimum is p_old + beta KL.

    Args:
        rewards: ``(m, G)`` binary rewards sampled from pi_old.
        p_new, p_old: ``(m,)`` pass rates of pi_theta (after the update) and pi_old (before it).
        kl_coef: beta.
    """
    logratio = bernoulli_logratio(rewards, p_new[:, None], p_old[:, None])  # (m, G)
    return (rewards - kl_coef * logratio).mean(axis=1)


class TableHead:
    """Per-prompt u = beta log Z by SGD on the squared TB residual, projected onto the output's bounds.

    ``u <- clip(u + lr (target - u), lo, hi)`` with ``(lo, hi)`` = [0, 1] (``sigmoid``), [0, inf) (``softplus``)
    or unbounded (``linear``): the table's version of a bounded output.

    Args:
        n: number of prompts.
        lr: SGD step (1 = jump to the latest batch's mean target).
        init: u of every prompt before any fit (the head's start).
        output: ``sigmoid``, ``softplus`` or ``linear`` (:mod:`schedsim.envs.heads`).
    """

    def __init__(self, n: int, lr: float, init: float = 0.5, output: str = "sigmoid") -> None:
        self.u = np.full(n, float(init))
        self.lr = lr
        self.lo, self.hi = output_bounds(output)

    def predict(self, ids: np.ndarray) -> np.ndarray:
        return self.u[ids]

    def fit(self, ids: np.ndarray, targets: np.ndarray) -> None:
        """One step on groups ``ids`` with mean targets ``targets`` (repeated ids averaged)."""
        uniq, inverse = np.unique(ids, return_inverse=True)
        mean = np.bincount(inverse, weights=targets) / np.bincount(inverse)
        self.u[uniq] = np.clip(self.u[uniq] + self.lr * (mean - self.u[uniq]), self.lo, self.hi)


class MLPHead:
    """Amortised u(x) = beta log Z_phi(x) = f(offset + MLP(x)): a 3-layer tanh MLP trained with AdamW.

    PACED-RL uses a 3-layer MLP over frozen prompt embeddings, trained with AdamW (weight decay 0.1); here the
    inputs are the simulator's features and the one-hot category (what an embedding of the problem would carry).
    Unseen prompts get scores too. The last layer starts at zero, so a fresh head predicts ``f(offset) = init``
    for every prompt, and weight decay shrinks the MLP toward that prior. ``f`` bounds u (:data:`OUTPUTS`).

    Args:
        inputs: ``(N, d_in)`` per-prompt inputs.
        hidden: width of the two hidden layers.
        lr: AdamW learning rate (betas 0.9, 0.999, eps 1e-8).
        rng: generator for the first two layers' initial weights.
        init: u of every prompt before any fit.
        output: ``sigmoid`` (u in (0, 1)), ``softplus`` (u > 0) or ``linear`` (unbounded).
        weight_decay: decoupled weight decay (AdamW, Loshchilov & Hutter) on every parameter.

    References:
        Kim et al., arXiv 2602.12642 (2026): AdamW, weight decay 0.1.
    """

    def __init__(
        self,
        inputs: np.ndarray,
        hidden: int,
        lr: float,
        rng: np.random.Generator,
        *,
        init: float = 0.5,
        output: str = "sigmoid",
        weight_decay: float = 0.1,
    ) -> None:
        self.x = inputs  # (N, d_in)
        d_in = inputs.shape[1]
        self.params = [
            rng.normal(0, 1 / np.sqrt(d_in), (d_in, hidden)),
            np.zeros(hidden),
            rng.normal(0, 1 / np.sqrt(hidden), (hidden, hidden)),
            np.zeros(hidden),
            np.zeros((hidden, 1)),  # zero last layer: the fresh head outputs the prior everywhere
            np.zeros(1),
        ]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.lr = lr
        self.output = output
        self.offset = output_offset(output, init)
        self.weight_decay = weight_decay

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = np.tanh(x @ w1 + b1)  # (m, H)
        h2 = np.tanh(h1 @ w2 + b2)  # (m, H)
        u, du_dz = apply_output(self.output, self.offset + (h2 @ w3 + b3)[:, 0])  # (m,)
        return h1, h2, u, du_dz

    def predict(self, ids: np.ndarray) -> np.ndarray:
        return self._forward(self.x[ids])[2]

    def fit(self, ids: np.ndarray, targets: np.ndarray) -> None:
        """One AdamW step on the mean squared residual ``(u(x) - target)^2`` over the given groups."""
        x = self.x[ids]
        h1, h2, u, du_dz = self._forward(x)
        w2, w3 = self.params[2], self.params[4]
        d_z = 2.0 * (u - targets) * du_dz / ids.shape[0]  # (m,)
        g_w3 = h2.T @ d_z[:, None]
        g_b3 = d_z.sum(keepdims=True)
        d_h2 = d_z[:, None] @ w3.T * (1 - h2**2)  # (m, H)
        g_w2, g_b2 = h1.T @ d_h2, d_h2.sum(axis=0)
        d_h1 = d_h2 @ w2.T * (1 - h1**2)
        g_w1, g_b1 = x.T @ d_h1, d_h1.sum(axis=0)
        self.step((g_w1, g_b1, g_w2, g_b2, g_w3, g_b3))

    def step(self, grads: tuple[np.ndarray, ...]) -> None:
        """AdamW: ``p <- p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps)`` (decoupled decay, as torch.optim.AdamW)."""
        self.t += 1
        for i, g in enumerate(grads):
            self.m[i] = 0.9 * self.m[i] + 0.1 * g
            self.v[i] = 0.999 * self.v[i] + 0.001 * g**2
            m_hat = self.m[i] / (1 - 0.9**self.t)
            v_hat = self.v[i] / (1 - 0.999**self.t)
            decayed = self.params[i] * (1.0 - self.lr * self.weight_decay)
            self.params[i] = decayed - self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
