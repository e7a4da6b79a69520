"""PCL's value model: V(x) regressed by squared error on the group means observed for the prompts trained on."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from schedsim.core.errors import PoolError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Estimator, readonly

VALUE_MODELS = ("auto", "linear", "table")


class ValueModelEstimator(Estimator):
    """V(x), a prediction of a prompt's pass rate that reads only the prompt, fitted to observed group means.

    Two models (``model``, a [choice]: PCL's value model is a language model with a scalar head, which a
    simulator has no text for):

    - ``"linear"``: ``V(x) = clip(w·φ(x) + b, 0, 1)`` on the pool's ``features`` φ. Each :meth:`observe` takes
      ``steps`` gradient steps of size ``lr`` on the batch's mean squared error
      ``(1/u) Σ_i (w·φ_i + b − ȳ_i)²/2`` (unclipped prediction; ȳ_i the prompt's mean reward in the batch,
      repeated ids pooled), starting from ``w = 0, b = init``. Every prompt's V moves with every batch.
    - ``"table"``: one value per prompt, ``V(x) ← V(x) + lr·(ȳ − V(x))`` for each observed prompt (the
      gradient step on that prompt's own squared error), starting at ``init``.
    - ``"auto"`` (default): ``linear`` when the pool carries ``features``, else ``table``. The bandit
      environment's pool carries none (its features stay inside the simulator), so there PCL runs on a table.

    The fit uses only the groups already rolled out for training (no extra rollouts), after they were
    generated: selection at step t reads V fitted on the batches up to t − 1, one step behind the policy, as in
    PCL.

    Args:
        pool: the prompt pool.
        model: ``auto``, ``linear`` or ``table`` (above).
        lr: step size; [choice] 0.5.
        steps: gradient steps per batch for ``linear``; [choice] 1.
        init: V of every prompt before any fit; [choice] 0.5.

    References:
        PCL, arXiv 2510.01135 (no public code; docs/schedulers.md (pcl)).
    """

    name: ClassVar[str] = "value"
    _state_keys = ("v", "w", "n_obs")

    def __init__(
        self, pool: PromptPool, *, model: str = "auto", lr: float = 0.5, steps: int = 1, init: float = 0.5
    ) -> None:
        super().__init__(pool)
        check_choice("model", model, VALUE_MODELS)
        if model == "linear" and pool.features is None:
            raise PoolError("value model 'linear' needs pool features; accepted: PromptPool(n, features=(n, d))")
        self.model = ("linear" if pool.features is not None else "table") if model == "auto" else model
        self.lr = check_range("lr", lr, 0.0, None, lo_open=True)
        self.steps = check_int("steps", steps, 1)
        self.init = check_range("init", init, 0.0, 1.0)
        self.incremental = self.model == "table"  # a linear model moves every prompt's V
        self.n_obs = np.zeros(pool.n, dtype=np.int64)
        if self.model == "table":
            self.v = np.full(pool.n, float(init))
            self.w = np.zeros(0)
        else:
            d = pool.features.shape[1]
            self.v = np.zeros(0)
            self.w = np.concatenate([np.zeros(d), [float(init)]])  # last entry: the bias b

    def _linear(self, ids: np.ndarray) -> np.ndarray:
        return self.pool.features[ids] @ self.w[:-1] + self.w[-1]

    def observe(self, feedback: Feedback) -> None:
        ids, sums, counts = feedback.per_prompt()
        if ids.size == 0:
            return
        y = sums / counts
        if self.model == "table":
            self.v[ids] += self.lr * (y - self.v[ids])
        else:
            x = self.pool.features[ids]
            for _ in range(self.steps):
                err = x @ self.w[:-1] + self.w[-1] - y
                self.w[:-1] -= self.lr * (x.T @ err) / ids.size
                self.w[-1] -= self.lr * float(err.mean())
        self.n_obs[ids] += 1
        self._touch(ids)

    def estimate(self, ids: np.ndarray | None = None) -> np.ndarray:
        if self.model == "table":
            return self.v.copy() if ids is None else self.v[ids]
        ids = np.arange(self.pool.n) if ids is None else np.asarray(ids)
        return np.clip(self._linear(ids), 0.0, 1.0)

    def values(self) -> np.ndarray:
        return readonly(self.v) if self.model == "table" else self.estimate()

    def metrics(self) -> dict[str, float]:
        return {"sched/est_seen_frac": float((self.n_obs > 0).mean())}
