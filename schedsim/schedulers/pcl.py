"""PCL: Prompt Curriculum Learning, a value model choosing the prompts closest to an intermediate difficulty."""

from __future__ import annotations

from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import ComposedScheduler
from schedsim.estimators.value import ValueModelEstimator
from schedsim.rules.candidates import CandidateTopK


class PCLScheduler(ComposedScheduler):
    """Sample ``pool_factor·k`` candidates uniformly, keep the k whose value V(x) is closest to ``tau``.

    V(x) predicts the pass rate from the prompt alone and is regressed (squared error) on the group means of
    the prompts trained on, after each step: no extra rollouts, and V lags the policy by one step. See
    :class:`~schedsim.estimators.value.ValueModelEstimator`: a linear model on the pool's ``features`` when
    the pool has them (every environment's pool carries its prompt embedding), else a per-prompt table.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        tau: target pass rate; 0.5 [secondary].
        pool_factor: candidates per selected prompt (PCL's k); 4 [secondary].
        model: value model ``auto`` (default), ``linear`` or ``table`` [choice].
        lr: step size of the value model's fit; 0.5 [choice].
        steps: gradient steps per batch for the linear model; 1 [choice].
        init: V before any fit; 0.5 [choice].

    Candidates are drawn without replacement [choice]. The paper's m = 512 prompts and n = 16 responses per
    prompt are the trainer's batch and group size here.

    References:
        Prompt Curriculum Learning (PCL), arXiv 2510.01135; no public code found (docs/schedulers.md (pcl)).
    """

    name = "pcl"
    summary = "value model V(x) fitted to group means; of 4k random candidates, the k with V closest to τ"
    paper = "PCL, arXiv 2510.01135"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        tau: float = 0.5,
        pool_factor: int = 4,
        model: str = "auto",
        lr: float = 0.5,
        steps: int = 1,
        init: float = 0.5,
    ) -> None:
        est = ValueModelEstimator(pool, model=model, lr=lr, steps=steps, init=init)
        super().__init__(pool, est, CandidateTopK(pool, tau=tau, pool_factor=pool_factor), seed=seed)
