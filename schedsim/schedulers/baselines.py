"""Literature baselines that need no extra rollouts to choose: MoPPS, SPO sampling, PLR (docs/schedulers.md)."""

from __future__ import annotations

from schedsim.core.params import check_choice
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import ComposedScheduler, Estimator
from schedsim.estimators import OracleEstimator, PassRateSource, build_estimator
from schedsim.estimators.posterior import BetaPosteriorEstimator
from schedsim.rules.kernels import SqrtKernel
from schedsim.rules.priority import RankPrioritized, ThompsonTopK
from schedsim.rules.sampling import KernelSampling


class MoPPSScheduler(ComposedScheduler):
    """Thompson sampling from a per-prompt Beta posterior; the k candidates closest to tau, from a pool of 8k.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        tau: target pass rate; 0.5.
        pool_factor: candidate pool = pool_factor x k; 8.
        decay: lambda of the update toward the prior; paper {1, 0.5}, default 1 (no forgetting).
        prior_alpha, prior_beta: Beta prior; (1, 1).

    References:
        MoPPS, arXiv 2507.04632 ([code] per docs/schedulers.md).
    """

    name = "mopps"
    summary = "Thompson draw from a Beta posterior per prompt, top-k closest to τ in a random pool of 8k"
    paper = "MoPPS, arXiv 2507.04632"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        tau: float = 0.5,
        pool_factor: int = 8,
        decay: float = 1.0,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
    ) -> None:
        est = BetaPosteriorEstimator(pool, prior_alpha=prior_alpha, prior_beta=prior_beta, decay=decay, toward="prior")
        super().__init__(pool, est, ThompsonTopK(pool, tau=tau, pool_factor=pool_factor), seed=seed)


class SPOScheduler(ComposedScheduler):
    """Sample prompts ``∝ sqrt(p̂(1 − p̂)) + 0.05`` with p̂ from a discounted Beta tracker.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        decay: rho of the tracker ``alpha <- rho alpha + s``; the paper's range is 0.875–0.96, default 0.9 [choice].
        eps: additive floor; 0.05.
        prior_alpha, prior_beta: starting tracker counts [choice]; (1, 1).
        replace: [choice] sample with replacement; default False.
        estimator: ``tracker`` (the paper's discounted Beta tracker) or ``oracle`` (the environment's true pass
            rates: a diagnostic no trainer has, used by ``schedsim explain``).
        pass_rates: true pass-rate source for the ``oracle`` estimator (diagnostic only).

    References:
        SPO, arXiv 2509.13232 ([code] per docs/schedulers.md).
    """

    name = "spo"
    summary = "sample ∝ sqrt(p̂(1−p̂)) + 0.05 on a discounted Beta tracker"
    paper = "SPO, arXiv 2509.13232"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        decay: float = 0.9,
        eps: float = 0.05,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        replace: bool = False,
        estimator: str = "tracker",
        pass_rates: PassRateSource | None = None,
    ) -> None:
        check_choice("estimator", estimator, ("tracker", "oracle"))
        if estimator == "oracle":
            est: Estimator = OracleEstimator(pool, pass_rates=pass_rates)
        else:
            est = BetaPosteriorEstimator(
                pool, prior_alpha=prior_alpha, prior_beta=prior_beta, decay=decay, toward="zero"
            )
        super().__init__(pool, est, KernelSampling(pool, SqrtKernel(eps), replace=replace), seed=seed)


class PLRScheduler(ComposedScheduler):
    """Prioritized Level Replay: rank-based priority on learnability p̂(1 − p̂), mixed with staleness.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        temperature: beta of the rank transform ``(1/rank)^(1/beta)``; 0.1.
        staleness: rho, weight of the staleness distribution; 0.1.
        init: p̂ of never-observed prompts [choice]; 0.5, i.e. the highest score, so unseen prompts come first.
        batch: [choice] how a batch extends PLR's per-episode sampling: ``"distinct"`` (default; k distinct
            prompts by successive sampling, one group per prompt as RLVR trainers use) or ``"replace"`` (k i.i.d.
            draws, as PLR's code samples each actor's level independently). See
            :class:`~schedsim.rules.priority.RankPrioritized` for what each does to the mixture.
        estimator: ``empirical`` (the latest group's pass rate, default), a crossing ``ema``, or ``oracle`` (the
            environment's true pass rates: a diagnostic no trainer has, used by ``schedsim explain``).
        pass_rates: true pass-rate source for the ``oracle`` estimator (diagnostic only).

    Ranks are ordinal, ties broken at random by the scheduler's generator. ``metrics()`` adds
    ``sched/staleness_share``: the expected fraction of the last batch's draws made by the staleness term,
    the mean over drawn prompts of ``rho P_C(i) / P(i)`` (exactly rho in expectation under ``"replace"``).

    References:
        Jiang et al., Prioritized Level Replay, arXiv 2010.03934 (score p(1−p) per docs/schedulers.md).
    """

    name = "plr"
    summary = "rank^(1/β) priority on p̂(1−p̂) of the latest group, mixed with staleness ρ"
    paper = "PLR, arXiv 2010.03934"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        temperature: float = 0.1,
        staleness: float = 0.1,
        init: float = 0.5,
        batch: str = "distinct",
        estimator: str = "empirical",
        pass_rates: PassRateSource | None = None,
    ) -> None:
        check_choice("estimator", estimator, ("empirical", "ema", "oracle"))
        est = build_estimator(estimator, pool, init=init, pass_rates=pass_rates)
        rule = RankPrioritized(pool, temperature=temperature, staleness=staleness, batch=batch)
        super().__init__(pool, est, rule, seed=seed)

    def metrics(self) -> dict[str, float]:
        return super().metrics() | {"sched/staleness_share": self.rule.staleness_share}
