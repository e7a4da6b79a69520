"""The run loop of one unit (scheduler spec, seed): select, roll out, learn, observe, evaluate."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

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
            "sched_time_share": self.sched_time / self.total_time if self.total_time else np.nan,
        }
        total = self.selected.sum()
        out.update({f"sel_p{b}": (self.selected[b] / total if total else np.nan) for b in range(P_BINS)})
        return out


class ProbeMeter:
    """The ``probe`` signal: fresh rollouts a scheduler spends to choose prompts, every one counted."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.spent = 0

    def __call__(self, ids: np.ndarray, group: int) -> Any:
        fb = self.env.rollout(np.asarray(ids, dtype=np.int64), group)
        self.spent += int(fb.counts().sum())
        return fb


def build_scheduler(spec: str, env: Any, seed: int) -> tuple[Any, ProbeMeter]:
    """The scheduler for a unit, wired to the trainer-side signals it accepts, and the meter of its probes."""
    name, _ = parse_spec(spec)
    kwargs: dict[str, Any] = {}
    meter = ProbeMeter(env)
    if "log_z" in signals(name) and getattr(env, "head", None) is not None:
        kwargs["log_z"] = env.log_z
    if "probe" in signals(name):
        kwargs["probe"] = meter
    return make_scheduler(spec, pool=env.pool, seed=10_000 + seed, **kwargs), meter


def run_unit(config: RunConfig, spec: str, seed: int) -> pd.DataFrame:
    """Run one (scheduler, seed) unit to its budget and return one row per evaluation.

    Every rollout counts against ``config.budget``: training rollouts and those a scheduler spends choosing
    (the ``probe`` signal); a step that would exceed the budget is not taken (probes already spent stay counted).
    Evaluation rollouts (held-out accuracy, calibration probes) are measurement and do not count.
    The environment is built from ``seed`` alone, so all schedulers of a seed face the same world.
    """
    env = make_env(config.env, seed=seed)
    sched, meter = build_scheduler(spec, env, seed)
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
                **evaluation,
                "calib_abs_err": calib,
                **tally.row(),
            }
        )

    record()
    while used + per_step <= config.budget:
        t0 = time.perf_counter()
        probed = meter.spent
        ids = sched.select(config.batch)
        t1 = time.perf_counter()
        used += meter.spent - probed  # rollouts spent choosing count like any other
        if used + per_step > config.budget:
            break
        known = hasattr(env, "pass_rates")
        p_selected = env.pass_rates(ids) if known else None  # true pass rate at selection time, when known
        fb = env.rollout(ids, config.group)
        if p_selected is None:
            p_selected = np.nan_to_num(fb.means())  # else the group's empirical accuracy
        used += int(fb.counts().sum())
        env.learn(fb, sched.loss_weights(ids), getattr(sched, "loss_reduction", None))
        t2 = time.perf_counter()
        sched.observe(fb)
        t3 = time.perf_counter()
        tally.add(fb.rewards, p_selected)
        tally.sched_time += (t1 - t0) + (t3 - t2)
        tally.total_time += t3 - t0
        step += 1
        if used >= next_eval:
            record()
            tally = Tally()
            while next_eval <= used:
                next_eval += config.eval_every
    if rows[-1]["rollouts"] != used:
        record()
    return pd.DataFrame(rows)
