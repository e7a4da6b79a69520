"""Beta-posterior pass-rate trackers (MoPPS, SPO): per-prompt Beta(alpha, beta) updated by successes and failures."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import readonly
from schedsim.estimators.tracking import TableEstimator


class BetaPosteriorEstimator(TableEstimator):
    """Per-prompt ``Beta(alpha, beta)`` over the pass rate; p-hat is the posterior mean.

    On observing s successes in n rollouts of a prompt (rewards in [0, 1] count fractionally):

    - ``toward="prior"`` (MoPPS): ``alpha <- decay * alpha + (1 - decay) * alpha0 + s``, same for beta with n - s;
    - ``toward="zero"`` (SPO's discounted tracker): ``alpha <- decay * alpha + s``.

    ``decay = 1`` keeps the full posterior (MoPPS lambda = 1).

    Args:
        pool: the prompt pool.
        prior_alpha, prior_beta: the prior Beta(alpha0, beta0); MoPPS uses (1, 1).
        decay: lambda (MoPPS, {1, 0.5} in the paper) or rho (SPO, 0.875-0.96).
        toward: where the decay pulls: ``"prior"`` or ``"zero"``.

    References:
        MoPPS, arXiv 2507.04632; SPO, arXiv 2509.13232 (both [code] in docs/schedulers.md).
    """

    name: ClassVar[str] = "beta-posterior"
    _state_keys = ("alpha", "beta", "p", "n_obs")

    def __init__(
        self,
        pool: PromptPool,
        *,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        decay: float = 1.0,
        toward: str = "prior",
    ) -> None:
        super().__init__(pool)
        self.prior_alpha = check_range("prior_alpha", prior_alpha, 0.0, None, lo_open=True)
        self.prior_beta = check_range("prior_beta", prior_beta, 0.0, None, lo_open=True)
        self.decay = check_range("decay", decay, 0.0, 1.0, lo_open=True)
        self.toward = check_choice("toward", toward, ("prior", "zero"))
        self.alpha = np.full(pool.n, float(prior_alpha))
        self.beta = np.full(pool.n, float(prior_beta))
        self.p = self.alpha / (self.alpha + self.beta)
        self.n_obs = np.zeros(pool.n, dtype=np.int64)

    def observe(self, feedback: Feedback) -> None:
        ids, sums, counts = feedback.per_prompt()
        keep_a = (1 - self.decay) * self.prior_alpha if self.toward == "prior" else 0.0
        keep_b = (1 - self.decay) * self.prior_beta if self.toward == "prior" else 0.0
        self.alpha[ids] = self.decay * self.alpha[ids] + keep_a + sums
        self.beta[ids] = self.decay * self.beta[ids] + keep_b + (counts - sums)
        self.p[ids] = self.alpha[ids] / (self.alpha[ids] + self.beta[ids])
        self.n_obs[ids] += 1
        self._touch(ids)

    def seen(self) -> np.ndarray:
        return self.n_obs > 0

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Read-only views of the ``(alpha, beta)`` arrays."""
        return readonly(self.alpha), readonly(self.beta)
