"""The bandit-style RLVR simulator: prompts with skills and difficulty, a logistic learner, Bernoulli rollouts.

Pass rate of prompt i: ``p_i = sigmoid(phi_i . theta - b_i)``. Training on one prompt moves theta along its
features, so related prompts (same category) improve together. See :mod:`schedsim.envs.bandit.learner` for the
gradient model and :mod:`schedsim.envs.bandit.logz` for the partition-function head that ``paced`` reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from schedsim.core.errors import ParameterError
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.seeding import make_rng
from schedsim.envs.bandit.config import BanditConfig
from schedsim.envs.bandit.learner import Optimiser, gradient_terms
from schedsim.envs.bandit.logz import MLPHead, TableHead, bernoulli_kl, tb_targets
from schedsim.schedulers.paced import AccuracyErrorReplay


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


class Prompts:
    """One pool of prompts: categories, features (``None`` for one-hot: prompt i owns skill i), offsets."""

    def __init__(
        self, category: np.ndarray, features: np.ndarray | None, offsets: np.ndarray, hidden: np.ndarray
    ) -> None:
        self.category, self.features, self.offsets = category, features, offsets
        self.hidden = hidden  # standardised within-category offset of each prompt

    @property
    def n(self) -> int:
        return int(self.category.shape[0])

    def logits(self, theta: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        ids = np.arange(self.n) if ids is None else ids
        skill = theta[ids] if self.features is None else self.features[ids] @ theta
        return skill - self.offsets[ids]


def build_prompts(cfg: BanditConfig, n: int, directions: np.ndarray, rng: np.random.Generator) -> Prompts:
    """Draw ``n`` prompts: categories round-robin, unit features around their category direction, offsets."""
    category = np.arange(n) % cfg.n_categories
    levels = np.resize(np.asarray(cfg.level_offsets, dtype=float), cfg.n_categories)
    hidden = rng.standard_normal(n)
    offsets = levels[category] + cfg.offset_spread * hidden
    if cfg.features == "onehot":
        return Prompts(category, None, offsets, hidden)
    own = rng.standard_normal((n, cfg.dim))
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    share = cfg.category_share
    feats = share * directions[category] + np.sqrt(1 - share**2) * own
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)  # unit norm: one analytic SNR curve for all
    return Prompts(category, feats, offsets, hidden)


class BanditEnv:
    """Vectorised numpy simulator with the environment face the runner expects.

    Args:
        config: a :class:`BanditConfig`.
        seed: seeds the pools, the learner's start and every rollout; same seed, same world.

    Attributes:
        pool: the train :class:`~schedsim.PromptPool` the scheduler chooses from.
    """

    name = "bandit"
    #: learn() needs only ids and rewards, so it trains on replayed groups as on fresh ones
    learns_replay = True

    def __init__(self, config: BanditConfig | None = None, *, seed: int = 0) -> None:
        self.config = cfg = config or BanditConfig()
        world_rng = make_rng(seed)
        self.rng = make_rng(seed + 1_000_003)
        directions = world_rng.standard_normal((cfg.n_categories, cfg.dim))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        self.train = build_prompts(cfg, cfg.n_train, directions, world_rng)
        self.test = self.train if cfg.features == "onehot" else build_prompts(cfg, cfg.n_test, directions, world_rng)
        dim = cfg.n_train if cfg.features == "onehot" else cfg.dim
        self.theta0 = np.zeros(dim)
        self.theta = self.theta0.copy()
        self.opt = Optimiser(dim, cfg.optimizer, cfg.lr, cfg.clip)
        self.embedding = self._embedding(world_rng)
        # the pool carries the embedding, so amortised schedulers (pcl, dots, ads) see what the log Z head sees
        self.pool = PromptPool(n=cfg.n_train, category=self.train.category, features=self.embedding)
        self.head = self._build_head(world_rng)
        self.replay = AccuracyErrorReplay(seed=seed + 7) if cfg.replay else None
        self.kl_last = 0.0

    def _embedding(self, rng: np.random.Generator) -> np.ndarray:
        """The train prompts' "embedding", the pool's features: skill features (none in one-hot worlds, where a
        prompt's skill only names it), category one-hot, and a noisy view of the hidden difficulty (correlation
        ``embed_visibility``), as a real prompt embedding might carry. ``float[n_train, d + n_categories + 1]``."""
        cfg = self.config
        onehot_cat = np.eye(cfg.n_categories)[self.train.category]
        vis = cfg.embed_visibility
        clue = vis * self.train.hidden + np.sqrt(1 - vis**2) * rng.standard_normal(cfg.n_train)
        parts = [onehot_cat, clue[:, None]]
        return np.hstack(parts if self.train.features is None else [self.train.features, *parts])

    def _build_head(self, rng: np.random.Generator) -> TableHead | MLPHead | None:
        cfg = self.config
        if cfg.head == "none":
            return None
        if cfg.head == "table":
            return TableHead(cfg.n_train, cfg.table_lr, init=cfg.head_init, output=cfg.head_output)
        # the head's inputs: the embedding, plus the identity in one-hot worlds (a per-prompt input)
        inputs = self.embedding if self.train.features is not None else np.hstack([np.eye(cfg.n_train), self.embedding])
        return MLPHead(
            inputs,
            cfg.head_hidden,
            cfg.head_lr,
            rng,
            init=cfg.head_init,
            output=cfg.head_output,
            weight_decay=cfg.head_weight_decay,
        )

    # -- the environment face ------------------------------------------------------------------------------
    def pass_rates(self, ids: np.ndarray | None = None, *, pool: str = "train") -> np.ndarray:
        """True pass rates under the current policy (known in simulation)."""
        prompts = self.train if pool == "train" else self.test
        return sigmoid(prompts.logits(self.theta, ids))

    def reference_pass_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """(all train ids, their true pass rates): the yardstick for estimator calibration."""
        return np.arange(self.config.n_train), self.pass_rates()

    def log_z(self, ids: np.ndarray) -> np.ndarray:
        """The head's log Z_phi(x) = u(x) / beta for any train prompt ids (the ``paced`` source)."""
        if self.head is None:
            raise ParameterError("this bandit env has head='none'; accepted: head='mlp' or head='table' for log Z")
        return self.head.predict(np.asarray(ids, dtype=np.int64)) / self.config.kl_coef

    def rollout(self, ids: np.ndarray, group: int) -> Feedback:
        """``group`` Bernoulli(p_i) rewards for each id; the head's log Z rides along when there is one."""
        ids = np.asarray(ids, dtype=np.int64)
        p = self.pass_rates(ids)
        rewards = (self.rng.random((ids.shape[0], group)) < p[:, None]).astype(np.float64)  # (m, G)
        log_z = None if self.head is None else self.log_z(ids)
        return Feedback(prompt_ids=ids, rewards=rewards, log_z=log_z)

    def learn(
        self, feedback: Feedback, weights: np.ndarray | None = None, reduction: str | None = None
    ) -> dict[str, float]:
        """One optimiser step on the batch; also fits the log Z head (and the replay buffer if enabled)."""
        cfg = self.config
        ids, rewards = feedback.prompt_ids, feedback.rewards
        w = np.ones(ids.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
        p_old = self.pass_rates(ids)
        a, scale = gradient_terms(rewards, cfg.advantage)
        signal_coef, noise_var = w * a, (w * cfg.score_noise * scale) ** 2
        mixed = rewards.min(axis=1) != rewards.max(axis=1)
        replayed = self._replay(feedback, p_old) if self.replay is not None else None
        if replayed is not None:
            r_ids, r_coef = replayed
            ids_all, coef_all = np.concatenate([ids, r_ids]), np.concatenate([signal_coef, r_coef])
        else:
            ids_all, coef_all = ids, signal_coef
        direction = self._accumulate(ids_all, coef_all) + np.sqrt(noise_var.sum()) * self.rng.standard_normal(
            self.theta.shape[0]
        )
        groups = mixed.sum() if (reduction or cfg.reduction) == "mixed" else ids_all.shape[0]
        step, norm = self.opt.step(direction / max(int(groups), 1))
        self.theta += step
        if cfg.forget:
            self.theta = self.theta0 + (1 - cfg.forget) * (self.theta - self.theta0)
        if cfg.drift:
            self.theta += cfg.drift * self.rng.standard_normal(self.theta.shape[0])
        self._fit_head(ids, rewards, p_old, replayed)
        return {"train/grad_norm": norm, "train/mixed_frac": float(mixed.mean())}

    def _accumulate(self, ids: np.ndarray, coef: np.ndarray) -> np.ndarray:
        if self.train.features is None:
            return np.bincount(ids, weights=coef, minlength=self.theta.shape[0])  # repeated ids add up
        return coef @ self.train.features[ids]

    def _replay(self, feedback: Feedback, p_old: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Offer fresh successes to the buffer; return replayed (ids, update coefficients)."""
        p_hat = np.clip(self.head.predict(feedback.prompt_ids), 0, 1) if self.head is not None else p_old
        self.replay.add(feedback.prompt_ids, feedback.rewards, p_hat)
        items = self.replay.sample()
        r_ids = np.array([it.prompt_id for it in items], dtype=np.int64)
        if r_ids.size == 0:
            return r_ids, np.zeros(0)
        p_hat_r = np.clip(self.head.predict(r_ids), 0, 1) if self.head is not None else self.pass_rates(r_ids)
        p_r = self.pass_rates(r_ids)
        weight = np.array([it.weight for it in items])
        # a replayed success: score of y = 1 is (1 - p) phi, advantage against the estimate is 1 - p_hat
        return r_ids, self.config.replay_weight * weight * (1 - p_hat_r) * (1 - p_r)

    def _fit_head(self, ids: np.ndarray, rewards: np.ndarray, p_old: np.ndarray, replayed: Any) -> None:
        if self.head is None:
            return
        p_new = self.pass_rates(ids)
        self.kl_last = float(bernoulli_kl(p_old, p_new).mean())
        targets = tb_targets(rewards, p_new, p_old, self.config.kl_coef)  # optimum of u = beta log Z
        if replayed is not None and replayed[0].size:
            ids = np.concatenate([ids, replayed[0]])
            targets = np.concatenate([targets, np.ones(replayed[0].size)])  # r = 1, logratio ~ 0
        self.head.fit(ids, targets)

    def evaluate(self) -> dict[str, float]:
        """True mean pass rates: held-out pool (overall and per category) and train pool."""
        p_test = self.pass_rates(pool="test")
        out = {"heldout_acc": float(p_test.mean()), "train_acc": float(self.pass_rates().mean())}
        per_cat = np.bincount(self.test.category, weights=p_test) / np.bincount(self.test.category)
        out.update({f"heldout_acc_c{c}": float(v) for c, v in enumerate(per_cat)})
        out["train/kl"] = self.kl_last
        out.update(self._head_metrics())
        return out

    def _head_metrics(self) -> dict[str, float]:
        """Calibration of beta log Z against the true pass rate: over the pool, and on replayed prompts."""
        if self.head is None:
            return {}
        ids = np.arange(self.config.n_train)
        err = np.clip(self.head.predict(ids), 0, 1) - self.pass_rates(ids)
        out = {"head/calib_abs_err": float(np.abs(err).mean()), "head/bias": float(err.mean())}
        if self.replay is not None and len(self.replay):
            buffered = np.unique(self.replay.state_dict()["ids"])
            out["head/replay_bias"] = float(err[buffered].mean())  # [derived] success-only replay biases upward
        return out

    def gradient_samples(self, ids: np.ndarray, group: int, n_samples: int) -> np.ndarray:
        """``(len(ids), n_samples, d)`` independent group-gradient estimates at the current theta (no update)."""
        ids = np.asarray(ids, dtype=np.int64)
        p = self.pass_rates(ids)
        m, dim = ids.shape[0], self.theta.shape[0]
        rewards = (self.rng.random((m * n_samples, group)) < np.repeat(p, n_samples)[:, None]).astype(float)
        a, scale = gradient_terms(rewards, self.config.advantage)
        if self.train.features is None:
            phi = np.zeros((m, dim))
            phi[np.arange(m), ids] = 1.0
        else:
            phi = self.train.features[ids]
        signal = a.reshape(m, n_samples, 1) * phi[:, None, :]
        noise = (self.config.score_noise * scale).reshape(m, n_samples, 1) * self.rng.standard_normal(
            (m, n_samples, dim)
        )
        return signal + noise
