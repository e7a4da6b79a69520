"""The run loop of one unit (scheduler spec, seed): select, roll out, learn, observe, evaluate."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from schedsim.core.errors import ParameterError, SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.registry import make_scheduler, parse_spec, signals
from schedsim.envs import make_env
from schedsim.runner.config import RunConfig

P_BINS = 10  # histogram of the true pass rates of selected prompts


class Tally:
    """What happened between two evaluations: groups, zero-variance groups, rollouts, selections, time."""

    def __init__(self) -> None:
        self.groups = self.zero_var = self.rollouts = self.mixed_rollouts = 0
        self.selected = np.zeros(P_BINS)
        self.sched_time = self.total_time = 0.0

    def add(self, rewards: np.ndarray, p_selected: np.ndarray) -> None:
        valid = ~np.isnan(rewards)
        lo = np.where(valid, rewards, np.inf).min(axis=1)
        hi = np.where(valid, rewards, -np.inf).max(axis=1)
        mixed = lo < hi
        self.groups += rewards.shape[0]
        self.zero_var += int((~mixed).sum())
        self.rollouts += int(valid.sum())
        self.mixed_rollouts += int(valid[mixed].sum())
        bins = np.minimum((p_selected * P_BINS).astype(int), P_BINS - 1)
        self.selected += np.bincount(bins, minlength=P_BINS)

    def row(self) -> dict[str, float]:
        out = {
            "zero_var_frac": self.zero_var / self.groups if self.groups else np.nan,
            "effective_ratio": self.mixed_rollouts / self.rollouts if self.rollouts else np.nan,
            "time_sched_share": self.sched_time / self.total_time if self.total_time else np.nan,
        }
        total = self.selected.sum()
        out.update({f"sel_p{b}": (self.selected[b] / total if total else np.nan) for b in range(P_BINS)})
        return out


class BudgetExhausted(Exception):
    """Raised by the probe meter when a scheduler's probe would exceed the budget: the run ends there."""


class ProbeMeter:
    """The ``probe`` signal: fresh rollouts a scheduler spends to choose prompts, every one counted.

    The meter keeps the groups probed during the current ``select`` so that a scheduler that trains on its
    probes (``trains_on_probes``, e.g. LILO) has its chosen prompts trained on those groups: charged once, never
    rolled out again.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.spent = 0
        self.remaining: float = np.inf  # budget left for this step's probes; the runner sets it
        self.kept: list[Feedback] = []

    def __call__(self, ids: np.ndarray, group: int) -> Any:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size * group > self.remaining:
            raise BudgetExhausted(f"a probe of {ids.size * group} rollouts exceeds the {self.remaining} left")
        fb = self.env.rollout(ids, group)
        self.spent += int(fb.counts().sum())
        self.remaining -= int(fb.counts().sum())
        self.kept.append(fb)
        return fb

    def match(self, ids: np.ndarray, group: int) -> list[tuple[Feedback, int] | None]:
        """For each id, a kept probed group of width ``group`` (feedback, row), each used at most once, or None."""
        available: dict[int, list[tuple[Feedback, int]]] = {}
        for fb in self.kept:
            if fb.group_size == group:
                for row, pid in enumerate(fb.prompt_ids.tolist()):
                    available.setdefault(pid, []).append((fb, row))
        return [available[pid].pop(0) if available.get(pid) else None for pid in ids.tolist()]


def build_scheduler(spec: str, env: Any, seed: int) -> tuple[Any, ProbeMeter]:
    """The scheduler for a unit, wired to the trainer-side signals it accepts, and the meter of its probes.

    Signals: ``log_z`` (the environment's partition-function head), ``probe`` (fresh rollouts, charged) and
    ``pass_rates`` (true pass rates, read by the diagnostic ``estimator=oracle``; an environment without them
    makes an oracle crossing fail with a one-line error).
    """
    name, spec_kwargs = parse_spec(spec)
    kwargs: dict[str, Any] = {}
    meter = ProbeMeter(env)
    if "log_z" in signals(name) and getattr(env, "head", None) is not None:
        kwargs["log_z"] = env.log_z
    if "probe" in signals(name):
        kwargs["probe"] = meter
    if spec_kwargs.get("estimator") == "oracle":
        if not hasattr(env, "pass_rates"):
            raise ParameterError(
                f"{spec!r} uses estimator=oracle, but environment {env.name!r} has no true pass rates; "
                "accepted: an environment with pass_rates(ids) (bandit)"
            )
        kwargs["pass_rates"] = env.pass_rates
    return make_scheduler(spec, pool=env.pool, seed=10_000 + seed, **kwargs), meter


def assemble(env: Any, ids: np.ndarray, kept: list[tuple[Feedback, int] | None], group: int) -> Feedback:
    """The groups to train on for ``ids``, in order: kept probed groups where given, fresh rollouts elsewhere."""
    fresh_ids = np.array([pid for pid, k in zip(ids.tolist(), kept, strict=True) if k is None], dtype=np.int64)
    if fresh_ids.size == ids.size:
        return env.rollout(ids, group)
    fresh = env.rollout(fresh_ids, group) if fresh_ids.size else None
    rewards, log_z, j = np.empty((ids.size, group)), np.empty(ids.size), 0
    for i, k in enumerate(kept):
        if k is None:
            rewards[i], log_z[i], j = fresh.rewards[j], np.nan if fresh.log_z is None else fresh.log_z[j], j + 1
        else:
            fb, row = k
            rewards[i], log_z[i] = fb.rewards[row], np.nan if fb.log_z is None else fb.log_z[row]
    return Feedback(prompt_ids=ids, rewards=rewards, log_z=None if np.isnan(log_z).any() else log_z)


def stack_groups(first: Feedback, second: Feedback) -> Feedback:
    """The groups of ``first`` then ``second`` as one Feedback (rows padded with NaN to the wider group)."""
    width = max(first.group_size, second.group_size)
    rewards = np.full((first.m + second.m, width), np.nan)
    rewards[: first.m, : first.group_size] = first.rewards
    rewards[first.m :, : second.group_size] = second.rewards
    return Feedback(prompt_ids=np.concatenate([first.prompt_ids, second.prompt_ids]), rewards=rewards)


def run_unit(config: RunConfig, spec: str, seed: int) -> pd.DataFrame:
    """Run one (scheduler, seed) unit to its budget and return one row per evaluation.

    The loop: ``stale = replay(B)`` (m earlier groups, when the scheduler replays) -> ``ids = select(B - m)``
    (probes charged) -> the groups to train on (probed groups reused when the scheduler trains on its probes,
    fresh rollouts otherwise, plus the replayed groups) -> ``w = loss_weights(groups)`` from the groups being
    trained on -> ``learn(groups, w, reduction)`` -> ``observe(fresh feedback)``.

    Every rollout counts against ``config.budget``: training rollouts and those a scheduler spends choosing
    (the ``probe`` signal); a step or a probe that would exceed the budget is not taken, so a unit never spends
    more than its budget.
    Evaluation rollouts (held-out accuracy, calibration) are measurement and do not count; nor does the
    diagnostic ``estimator=oracle``, which reads true pass rates (column ``oracle``).
    The environment is built from ``seed`` alone, so all schedulers of a seed face the same world.
    """
    env = make_env(config.env, seed=seed)
    sched, meter = build_scheduler(spec, env, seed)
    oracle = parse_spec(spec)[1].get("estimator") == "oracle"
    rows: list[dict[str, Any]] = []
    tally, used, step, next_eval = Tally(), 0, 0, config.eval_every
    per_step = config.batch * config.group

    def record() -> None:
        evaluation = env.evaluate()  # first: environments that sample their yardstick refresh it here
        est = sched.estimates() if hasattr(sched, "estimates") else None
        calib = np.nan
        if est is not None:
            ref_ids, ref_p = env.reference_pass_rates()
            calib = float(np.mean(np.abs(est[ref_ids] - ref_p)))
        rows.append(
            {
                "scheduler": spec,
                "seed": seed,
                "step": step,
                "rollouts": used,
                "selection_rollouts": meter.spent,
                "oracle": oracle,
                **evaluation,
                "calib_abs_err": calib,
                **tally.row(),
                **{k: float(v) for k, v in sched.metrics().items()},  # the scheduler's own, keys sched/...
            }
        )

    record()
    while used + per_step <= config.budget:
        t0 = time.perf_counter()
        probed, meter.kept, meter.remaining = meter.spent, [], config.budget - used
        stale = sched.replay(config.batch) if sched.replays else None  # earlier groups, trained on for free
        n_stale = 0 if stale is None else stale.m
        if n_stale >= config.batch:  # a step with no fresh rollout would never spend the budget
            raise SchedsimError(
                f"{spec!r} replayed {n_stale} groups for a batch of {config.batch}; accepted: at most "
                f"{config.batch - 1} (every step trains on at least one fresh group)"
            )
        try:
            ids = sched.select(config.batch - n_stale)
        except BudgetExhausted:
            used += meter.spent - probed  # earlier probes of this step (multi-round filters) were spent: counted
            break  # a probe that would overspend is never rolled out
        t1 = time.perf_counter()
        used += meter.spent - probed  # rollouts spent choosing count like any other
        kept = meter.match(ids, config.group) if sched.trains_on_probes else [None] * ids.size
        fresh_needed = config.group * sum(k is None for k in kept)
        if used + fresh_needed > config.budget:
            break
        known = hasattr(env, "pass_rates")
        p_selected = env.pass_rates(ids) if known else None  # true pass rate at selection time, when known
        fb = assemble(env, ids, kept, config.group)
        if p_selected is None:
            p_selected = np.nan_to_num(fb.means())  # else the group's empirical accuracy
        used += fresh_needed
        t2 = time.perf_counter()
        train = fb if not n_stale else stack_groups(fb, stale)
        weights = sched.loss_weights(train)  # from the groups being trained on (e.g. beta:mode=weight)
        t3 = time.perf_counter()
        env.learn(train, weights, getattr(sched, "loss_reduction", None))
        t4 = time.perf_counter()
        sched.observe(fb)
        t5 = time.perf_counter()
        tally.add(fb.rewards, p_selected)
        tally.sched_time += (t1 - t0) + (t3 - t2) + (t5 - t4)
        tally.total_time += t5 - t0
        step += 1
        if used >= next_eval:
            record()
            tally = Tally()
            while next_eval <= used:
                next_eval += config.eval_every
    if rows[-1]["rollouts"] != used:
        record()
    return pd.DataFrame(rows)
