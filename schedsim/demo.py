"""A tiny built-in loop: what each scheduler picks from a pool of prompts with fixed, known pass rates.

No learning happens (the policy is frozen), so this isolates the *selection* half of each scheduler: after a
few batches of feedback, does it concentrate on prompts with informative groups (0 < p̂ < 1)? The ``paced``
scheduler reads a per-prompt log Z table fitted the way a trajectory-balance head would be with pi_theta = pi_old
(KL = 0): ``log Z = mean reward / kl_coef``, a running mean over the rollouts seen so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.registry import make_scheduler, signals
from schedsim.core.seeding import make_rng
from schedsim.estimators import LogZTable


@dataclass(frozen=True)
class DemoResult:
    """Per-scheduler averages over all batches after the first."""

    spec: str
    mean_p: float
    learnability: float
    zero_variance: float
    distinct_prompts: int


def frozen_pool(n: int = 1000, levels: int = 5, seed: int = 0) -> tuple[PromptPool, np.ndarray]:
    """A pool with ``levels`` categories; level l pass rates ~ Beta around 1 - (l + 0.5) / levels."""
    rng = make_rng(seed)
    category = np.arange(n) % levels
    centre = 1.0 - (category + 0.5) / levels
    p = rng.beta(4 * centre + 0.2, 4 * (1 - centre) + 0.2)
    return PromptPool(n=n, category=category), p


def run_demo(specs: list[str], *, steps: int = 30, batch: int = 64, group: int = 8, seed: int = 0) -> list[DemoResult]:
    """Run every scheduler for ``steps`` batches on the same frozen pool; return selection statistics."""
    pool, p = frozen_pool(seed=seed)
    results = []
    for spec in specs:
        name = spec.partition(":")[0]
        rng = make_rng(seed + 1)
        table, sums, counts = LogZTable(pool.n), np.zeros(pool.n), np.zeros(pool.n)
        kwargs: dict = {"log_z": table} if "log_z" in signals(name) else {}
        if "probe" in signals(name):  # fresh rollouts on the frozen pool (the demo does not budget them)
            kwargs["probe"] = lambda ids, g, rng=rng: Feedback(
                prompt_ids=ids, rewards=(rng.random((len(ids), g)) < p[ids, None]).astype(float)
            )
        sched = make_scheduler(spec, pool=pool, seed=seed, **kwargs)
        kl_coef = getattr(getattr(sched, "estimator", None), "kl_coef", 0.05)
        stats, seen = [], np.zeros(pool.n, dtype=bool)
        for step in range(steps):
            ids = sched.select(batch)
            rewards = (rng.random((batch, group)) < p[ids, None]).astype(float)
            sched.observe(Feedback(prompt_ids=ids, rewards=rewards, step=step))
            np.add.at(sums, ids, rewards.mean(axis=1))
            np.add.at(counts, ids, 1.0)
            table.update(ids, sums[ids] / counts[ids] / kl_coef)
            seen[ids] = True
            mean = rewards.mean(axis=1)
            if step > 0:
                zero_var = float(((mean == 0) | (mean == 1)).mean())
                stats.append((p[ids].mean(), (p[ids] * (1 - p[ids])).mean(), zero_var))
        m = np.mean(stats, axis=0)
        results.append(DemoResult(spec, float(m[0]), float(m[1]), float(m[2]), int(seen.sum())))
    return results
