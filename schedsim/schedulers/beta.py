"""The Beta kernel of PACED distillation, as a sampler or as per-prompt loss weights."""

from __future__ import annotations

import numpy as np

from schedsim.core.errors import FeedbackError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import ComposedScheduler
from schedsim.estimators import LogZSource, PassRateSource, build_estimator
from schedsim.rules.epoch import EpochShuffle
from schedsim.rules.kernels import BetaKernel, beta_kernel, unbiased_beta_kernel
from schedsim.rules.sampling import KernelSampling

MODES = ("sample", "weight")
WEIGHT_NORMS = ("mean", "none")
WEIGHT_SOURCES = ("group", "estimate")


class BetaScheduler(ComposedScheduler):
    """Beta-kernel weights ``w(p̂) = p̂^alpha (1 - p̂)^beta``, zero at both pass-rate extremes.

    PACED weights each problem's loss by ``w(p̂)`` with p̂ from the K student rollouts of that problem
    (``mode="weight"``: batches are epoch-shuffled and :meth:`loss_weights` weights each group by the pass rate
    of its *own* rollouts, the ones being trained on); as a scheduler it can also sample prompts ``∝ w(p̂)``
    (``mode="sample"``, [choice], the default here).

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        alpha: exponent on p; paper default 1 ("no hyperparameters").
        beta: exponent on 1 - p; paper default 1.
        floor: [choice] weight floor as a fraction of the kernel peak, so p̂ ∈ {0, 1} prompts are not starved
            forever; default 0.05. Set 0 for the bare kernel.
        unbiased: [choice] use the unbiased finite-K estimate of ``p^alpha (1-p)^beta`` (integer exponents,
            ``empirical`` estimator); default False (plug-in, as the paper).
        mode: ``"sample"`` or ``"weight"``.
        weight_norm: [choice] in weight mode, divide a batch's weights by their mean (``"mean"``, default) so
            the step size is comparable with unweighted training, or return them raw (``"none"``).
        weight_source: in weight mode, where p̂ comes from: ``"group"`` (default, as the paper: the group's own
            rollouts, the unbiased U-statistic of them when ``unbiased=True``) or ``"estimate"`` ([choice], the
            estimator's p̂ from the prompt's *previous* observation, one epoch old under epoch shuffling).
        replace: [choice] sample with replacement; default False.
        estimator: ``empirical`` (paper: the latest K rollouts) or a crossing: ``ema``, ``logz``, ``oracle``
            (the environment's true pass rates: a diagnostic no trainer has, used by ``schedsim explain``).
        init: estimate for never-observed prompts [choice]; default 0.5.
        ema_decay: decay of the ``ema`` estimator (crossing only).
        kl_coef: beta of the ``logz`` estimator (crossing only).
        log_z: log Z source for the ``logz`` estimator (crossing only).
        pass_rates: true pass-rate source for the ``oracle`` estimator (diagnostic crossing only).

    References:
        Xu et al., PACED: Distillation at the Frontier of Student Competence, arXiv 2603.11178 (2026).
    """

    name = "beta"
    summary = "Beta kernel p̂^α(1-p̂)^β on the latest pass rate: sample ∝ w, or loss weights"
    paper = "PACED distillation, arXiv 2603.11178"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        alpha: float = 1.0,
        beta: float = 1.0,
        floor: float = 0.05,
        unbiased: bool = False,
        mode: str = "sample",
        weight_norm: str = "mean",
        weight_source: str = "group",
        replace: bool = False,
        estimator: str = "empirical",
        init: float = 0.5,
        ema_decay: float = 0.9,
        kl_coef: float = 0.05,
        log_z: LogZSource | None = None,
        pass_rates: PassRateSource | None = None,
    ) -> None:
        self.mode = check_choice("mode", mode, MODES)
        self.weight_norm = check_choice("weight_norm", weight_norm, WEIGHT_NORMS)
        self.weight_source = check_choice("weight_source", weight_source, WEIGHT_SOURCES)
        self.kernel = BetaKernel(alpha, beta, floor=floor, unbiased=unbiased)
        est = build_estimator(
            estimator, pool, ema_decay=ema_decay, init=init, kl_coef=kl_coef, log_z=log_z, pass_rates=pass_rates
        )
        self.kernel.check_estimator(est)
        rule = KernelSampling(pool, self.kernel, replace=replace) if mode == "sample" else EpochShuffle(pool)
        super().__init__(pool, est, rule, seed=seed)

    def _observe(self, feedback: Feedback) -> None:
        if self.kernel.unbiased:  # the U-statistic counts successes: rewards must be pass/fail
            feedback.require_binary_rewards("beta (unbiased=True)")
        super()._observe(feedback)

    def loss_weights(self, groups: Feedback | np.ndarray) -> np.ndarray:
        """Weights ``w(p̂)`` for the groups about to be trained on (weight mode); ones in sample mode.

        Args:
            groups: the :class:`Feedback` being trained on. With ``weight_source="group"`` each group is
                weighted by the pass rate of its own rollouts; with ``"estimate"`` by the estimator's current
                p̂ of its prompt (bare ids are accepted then).

        Returns:
            ``float[m]``, divided by their mean when ``weight_norm="mean"`` (all-zero weights stay ones).
        """
        ids = self._group_ids(groups)
        if self.mode == "sample" or ids.size == 0:
            return np.ones(ids.shape[0])
        if self.weight_source == "estimate":
            w = self.kernel.weights(self.estimator, ids)
        elif isinstance(groups, Feedback):
            w = self._group_weights(groups)
        else:
            raise FeedbackError(
                "beta weight_source='group' weights each group by its own rollouts, so it needs the Feedback "
                "being trained on; accepted: loss_weights(feedback), or weight_source='estimate' for ids"
            )
        if self.weight_norm == "mean":
            mean = w.mean()
            return w / mean if mean > 0 else np.ones_like(w)
        return w

    def _group_weights(self, feedback: Feedback) -> np.ndarray:
        """``w(p̂_g) + floor`` with p̂_g the group's own pass rate (U-statistic when unbiased; 0.5 if empty)."""
        feedback.require_unit_rewards("beta (mode=weight)")
        counts, sums = feedback.counts(), feedback.sums()
        p_hat = np.nan_to_num(feedback.means(), nan=0.5)
        if not self.kernel.unbiased:
            return self.kernel(p_hat)
        feedback.require_binary_rewards("beta (unbiased=True)")
        u = unbiased_beta_kernel(sums, counts, int(self.kernel.alpha), int(self.kernel.beta))
        plug_in = beta_kernel(p_hat, self.kernel.alpha, self.kernel.beta)  # groups with K < alpha + beta
        return np.where(np.isnan(u), plug_in, np.maximum(u, 0.0)) + self.kernel.floor * self.kernel.peak
