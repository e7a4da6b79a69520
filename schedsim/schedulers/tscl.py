"""Teacher-student curricula over categories: TSCL (Matiisen et al.) and Exp3.S (Graves et al.)."""

from __future__ import annotations

from typing import Any

import numpy as np

from schedsim.core.errors import ParameterError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler
from schedsim.estimators.progress import CategoryScores
from schedsim.rules.arms import ArmQueues, softmax

TEACHERS = ("sampling", "online", "window")
POLICIES = ("thompson", "egreedy", "boltzmann")


def window_slopes(times: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Least-squares slope of each column's (t, x) points (NaN = empty slot); 1 where fewer than 2 points."""
    out = np.ones(times.shape[1])
    for c in range(times.shape[1]):
        keep = ~np.isnan(times[:, c])
        if keep.sum() >= 2:
            t, x = times[keep, c], scores[keep, c]
            tc = t - t.mean()
            out[c] = float((tc * (x - x.mean())).sum() / (tc * tc).sum())
    return out


class TSCLScheduler(Scheduler):
    """Teacher-Student Curriculum Learning: a bandit over categories that samples where the score changes most.

    The score x_t(c) of category c is the mean reward of its rollouts in the latest batch that held it
    (:class:`~schedsim.estimators.progress.CategoryScores`; scores start at 0, absent categories keep theirs).
    Each teacher turns the scores into a value Q(c) per category:

    - ``online``: ``Q ← Q + alpha·(Δx − Q)`` every batch (Δx = 0 for absent categories);
    - ``window``: Q(c) = least-squares slope of c's last ``window`` (step, score) points, 1 with fewer than 2;
    - ``sampling``: a FIFO of the last ``window`` Δx vectors; Q(c) = one of c's stored Δx drawn at random
      (``policy=thompson``) or their mean; all ones while the FIFO is empty.

    Policy on |Q| (``absolute``) or Q: ``egreedy`` / ``thompson``: ``(1 − epsilon)`` on the argmax (ties broken at
    random) plus ``epsilon/C``; ``boltzmann``: ``softmax(Q/temperature)``. Each batch slot draws a category from
    the policy and pops the next prompt of its shuffled queue (as ``sec``: :class:`~schedsim.rules.arms.ArmQueues`).

    Args:
        pool: a pool with ``category`` (the tasks); PoolError without one.
        seed: seed of the private generator.
        teacher: ``sampling`` (code default), ``online`` or ``window``.
        policy: ``thompson`` (code default; ``sampling`` teacher only), ``egreedy`` or ``boltzmann``.
        alpha: online teacher's learning rate; 0.1 (code).
        window: K, the window / FIFO length; 10 (code).
        epsilon: exploration of ``egreedy`` / ``thompson``; 0.1 (code).
        temperature: Boltzmann temperature; 4e-4 (code).
        absolute: act on |Q| (True, the paper's setting); the code's flag defaults to off.

    References:
        Matiisen, Oliver, Cohen, Schulman, Teacher-Student Curriculum Learning, arXiv 1707.00183; code
        tambetm/TSCL (addition/addition_rnn_teacher.py). Carrying it to RLVR categories: docs/schedulers.md (tscl).
    """

    name = "tscl"
    summary = "bandit over categories on |learning progress| of the category's mean reward (sampling teacher)"
    paper = "TSCL, arXiv 1707.00183"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        teacher: str = "sampling",
        policy: str = "thompson",
        alpha: float = 0.1,
        window: int = 10,
        epsilon: float = 0.1,
        temperature: float = 4e-4,
        absolute: bool = True,
    ) -> None:
        super().__init__(pool, seed=seed)
        self.teacher = check_choice("teacher", teacher, TEACHERS)
        self.policy = check_choice("policy", policy, POLICIES)
        if policy == "thompson" and teacher != "sampling":
            raise ParameterError(
                f"policy='thompson' needs teacher='sampling', not {teacher!r}; accepted: "
                "teacher='sampling', or policy='egreedy' / 'boltzmann'"
            )
        self.alpha = check_range("alpha", alpha, 0.0, 1.0, lo_open=True)
        self.window = check_int("window", window, 1)
        self.epsilon = check_range("epsilon", epsilon, 0.0, 1.0)
        self.temperature = check_range("temperature", temperature, 0.0, None, lo_open=True)
        self.absolute = bool(absolute)
        self.scores = CategoryScores(pool, "tscl")
        self.queues = ArmQueues(pool)
        c = self.scores.n_arms
        self.q = np.zeros(c)  # online teacher
        self.win_t = np.full((self.window, c), np.nan)  # window teacher: last K (step, score) per category
        self.win_x = np.full((self.window, c), np.nan)
        self.dx = np.zeros((self.window, c))  # sampling teacher: last K Δx vectors, oldest first
        self.n_dx = 0
        self.t = 0
        self.last_prob = self._policy(self._values(None), None)

    def _values(self, rng: np.random.Generator | None) -> np.ndarray:
        """Q per category; ``rng`` None gives the expectation of the Thompson draw (the mean)."""
        if self.teacher == "online":
            q = self.q.copy()
        elif self.teacher == "window":
            q = window_slopes(self.win_t, self.win_x)
        elif self.n_dx == 0:
            q = np.ones(self.scores.n_arms)
        else:
            stored = self.dx[self.window - self.n_dx :]
            if self.policy == "thompson" and rng is not None:
                rows = rng.integers(0, self.n_dx, size=self.scores.n_arms)
                q = stored[rows, np.arange(self.scores.n_arms)]
            else:
                q = stored.mean(axis=0)
        return np.abs(q) if self.absolute else q

    def _policy(self, q: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Arm probabilities; ``rng`` None spreads the greedy mass over tied maxima (its expectation)."""
        if self.policy == "boltzmann":
            return softmax(q, self.temperature)
        best = np.flatnonzero(q == q.max())
        greedy = np.zeros(q.shape[0])
        if rng is None:
            greedy[best] = 1.0 / best.size
        else:
            greedy[rng.choice(best)] = 1.0
        return (1.0 - self.epsilon) * greedy + self.epsilon / q.shape[0]

    def arm_probabilities(self) -> np.ndarray:
        """The policy used for the latest batch (before any: its expectation)."""
        return self.last_prob.copy()

    def _select(self, k: int) -> np.ndarray:
        self.last_prob = self._policy(self._values(self._rng), self._rng)
        return self.queues.select(k, self.last_prob, self._rng)

    def _observe(self, feedback: Feedback) -> None:
        feedback.require_unit_rewards("tscl")
        dx, observed = self.scores.update(feedback)
        self.q += self.alpha * (dx - self.q)
        for c in np.flatnonzero(observed):
            self.win_t[:, c] = np.roll(self.win_t[:, c], -1)
            self.win_x[:, c] = np.roll(self.win_x[:, c], -1)
            self.win_t[-1, c], self.win_x[-1, c] = self.t, self.scores.x[c]
        self.dx = np.roll(self.dx, -1, axis=0)
        self.dx[-1] = dx
        self.n_dx = min(self.n_dx + 1, self.window)
        self.t += 1

    def distribution(self) -> np.ndarray:
        return self.queues.prompt_distribution(self.last_prob, self.scores.category)

    def metrics(self) -> dict[str, float]:
        out = super().metrics()
        for c, p in enumerate(self.last_prob):
            out[f"sched/arm_prob/{c}"] = float(p)
        return out

    def _state(self) -> dict[str, Any]:
        return {
            "scores": self.scores.state_dict(),
            "queues": self.queues.state_dict(),
            "arrays": {k: getattr(self, k).copy() for k in ("q", "win_t", "win_x", "dx", "last_prob")},
            "counters": [self.n_dx, self.t],
        }

    def _load_state(self, body: dict[str, Any]) -> None:
        self.scores.load_state_dict(body["scores"])
        self.queues.load_state_dict(body["queues"])
        for key, value in body["arrays"].items():
            setattr(self, key, np.array(value, dtype=np.float64))
        self.n_dx, self.t = (int(x) for x in body["counters"])


class Exp3SScheduler(Scheduler):
    """Exp3.S over categories rewarded by learning progress, as Graves et al. use it for automated curricula.

    Policy ``π = (1 − epsilon)·softmax(w) + epsilon/C``; each batch slot draws a category from π and pops the next
    prompt of its shuffled queue. After the batch, the raw reward of each category in it is its learning
    progress Δx (the change of its mean reward since it was last observed, scores starting at 0; see
    :class:`~schedsim.estimators.progress.CategoryScores`). Raw rewards enter a reservoir sample of size
    ``reservoir``; a reward maps to [−1, 1] linearly between the reservoir's 20th and 80th percentiles (clipped
    outside; the sign of r − q20 if the two coincide). With n_i of the k slots on category i, the importance-
    weighted reward is ``r̃_i = (r_i·n_i/k + beta)/π_i`` (n_i/k generalises the indicator 1[i = a] of one draw
    per round: its expectation is π_i), and

        w_i ← log[(1 − α_t)·e^(w_i + eta·r̃_i) + α_t/(C − 1)·Σ_{j≠i} e^(w_j + eta·r̃_j)],  α_t = 1/t,

    t the number of batches observed (computed stably; with one category, w ← w + eta·r̃).

    Args:
        pool: a pool with ``category`` (the arms); PoolError without one.
        seed: seed of the private generator.
        eta: step size; 0.01 [choice].
        epsilon: uniform exploration; 0.05 [choice] (0.05 or 0.2 in reimplementations).
        beta: reward offset; 0 (what a reimplementation calls the paper's setting).
        reservoir: reservoir size for the percentile map; 1000 [choice].

    References:
        Graves, Bellemare, Menick, Munos, Kavukcuoglu, Automated Curriculum Learning for Neural Networks,
        arXiv 1704.03003 (no official code; docs/schedulers.md (exp3s)).
    """

    name = "exp3s"
    summary = "Exp3.S bandit over categories, reward = learning progress mapped by reservoir percentiles"
    paper = "Graves et al. 2017, arXiv 1704.03003"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        eta: float = 0.01,
        epsilon: float = 0.05,
        beta: float = 0.0,
        reservoir: int = 1000,
    ) -> None:
        super().__init__(pool, seed=seed)
        self.eta = check_range("eta", eta, 0.0, None, lo_open=True)
        self.epsilon = check_range("epsilon", epsilon, 0.0, 1.0)
        self.beta = check_range("beta", beta, 0.0, None)
        self.reservoir = check_int("reservoir", reservoir, 1)
        self.scores = CategoryScores(pool, "exp3s")
        self.queues = ArmQueues(pool)
        self.w = np.zeros(self.scores.n_arms)
        self.sample = np.zeros(0)  # the reservoir of raw rewards
        self.n_rewards = 0  # raw rewards seen (reservoir sampling's count)
        self.t = 0

    def arm_probabilities(self) -> np.ndarray:
        return (1.0 - self.epsilon) * softmax(self.w, 1.0) + self.epsilon / self.w.shape[0]

    def _select(self, k: int) -> np.ndarray:
        return self.queues.select(k, self.arm_probabilities(), self._rng)

    def _remember(self, values: np.ndarray) -> None:
        """Reservoir sampling (Algorithm R) of raw rewards, from the scheduler's generator."""
        for v in values:
            if self.sample.size < self.reservoir:
                self.sample = np.append(self.sample, v)
            else:
                j = int(self._rng.integers(0, self.n_rewards + 1))
                if j < self.reservoir:
                    self.sample[j] = v
            self.n_rewards += 1

    def scaled(self, raw: np.ndarray) -> np.ndarray:
        """Raw rewards mapped to [−1, 1] between the reservoir's 20th and 80th percentiles."""
        lo, hi = np.percentile(self.sample, [20, 80])
        if hi > lo:
            return np.clip(2.0 * (raw - lo) / (hi - lo) - 1.0, -1.0, 1.0)
        return np.sign(raw - lo)

    def _observe(self, feedback: Feedback) -> None:
        feedback.require_unit_rewards("exp3s")
        dx, observed = self.scores.update(feedback)
        if not observed.any():
            return
        self._remember(dx[observed])
        reward = np.where(observed, self.scaled(dx), 0.0)
        counts = np.bincount(self.scores.category[feedback.prompt_ids], minlength=self.w.shape[0])
        share = counts / counts.sum()  # n_i / k: the batch's groups on each arm
        pi = self.arm_probabilities()
        r_tilde = (reward * share + self.beta) / pi
        self.t += 1
        v = self.w + self.eta * r_tilde
        n_arms = v.shape[0]
        if n_arms == 1:
            self.w = v
            return
        alpha = 1.0 / self.t
        top = v.max()
        e = np.exp(v - top)
        self.w = top + np.log((1.0 - alpha) * e + alpha / (n_arms - 1) * (e.sum() - e))

    def distribution(self) -> np.ndarray:
        return self.queues.prompt_distribution(self.arm_probabilities(), self.scores.category)

    def metrics(self) -> dict[str, float]:
        out = super().metrics()
        for c, p in enumerate(self.arm_probabilities()):
            out[f"sched/arm_prob/{c}"] = float(p)
        return out

    def _state(self) -> dict[str, Any]:
        return {
            "scores": self.scores.state_dict(),
            "queues": self.queues.state_dict(),
            "w": self.w.copy(),
            "sample": self.sample.copy(),
            "counters": [self.n_rewards, self.t],
        }

    def _load_state(self, body: dict[str, Any]) -> None:
        self.scores.load_state_dict(body["scores"])
        self.queues.load_state_dict(body["queues"])
        self.w = np.array(body["w"], dtype=np.float64)
        self.sample = np.array(body["sample"], dtype=np.float64)
        self.n_rewards, self.t = (int(x) for x in body["counters"])
