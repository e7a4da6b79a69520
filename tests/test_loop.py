"""The run loop's pieces by value: the tally of a hand-made batch, the probe meter, training on probed groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import schedsim
from schedsim.runner.loop import BudgetExhausted, ProbeMeter, Tally, assemble


class Recorder:
    """An environment that returns fixed rewards per prompt id and records every rollout call."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], int]] = []

    def rollout(self, ids: np.ndarray, group: int) -> schedsim.Feedback:
        self.calls.append((ids.tolist(), group))
        rewards = (np.arange(group)[None, :] < (ids[:, None] % (group + 1))).astype(float)  # id % (G+1) successes
        return schedsim.Feedback(prompt_ids=ids, rewards=rewards, log_z=ids.astype(float))


def test_tally_of_a_hand_made_batch() -> None:
    tally = Tally()
    rewards = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 0, np.nan, np.nan], [0, 1, 1, 0], [np.nan] * 4])
    tally.add(rewards, np.array([0.95, 0.0, 0.31, 0.5, 0.99]))
    row = tally.row()
    # zero-variance: the all-1, the all-0 and the empty group (3 of 5); mixed rollouts 2 + 4 of 14 real ones
    assert row["zero_var_frac"] == pytest.approx(3 / 5) and row["effective_ratio"] == pytest.approx(6 / 14)
    expected = np.zeros(10)
    np.add.at(expected, [9, 0, 3, 5, 9], 1)  # bins [b/10, (b+1)/10); p = 0.95 and 0.99 in the last
    np.testing.assert_allclose([row[f"sel_p{b}"] for b in range(10)], expected / 5)
    assert np.isnan(row["time_sched_share"])  # no time recorded yet
    assert np.isnan(Tally().row()["zero_var_frac"])


def test_probe_meter_counts_refuses_overspending_and_matches_each_group_once() -> None:
    env = Recorder()
    meter = ProbeMeter(env)
    meter.remaining = 20
    meter(np.array([3, 4, 3]), 4)  # 12 rollouts
    assert meter.spent == 12 and meter.remaining == 8
    with pytest.raises(BudgetExhausted, match="a probe of 12 rollouts exceeds the 8 left"):
        meter(np.array([1, 2, 5]), 4)  # 12 > 8 left: never rolled out
    assert len(env.calls) == 1 and meter.spent == 12
    kept = meter.match(np.array([3, 3, 3, 4, 9]), 4)
    assert [None if k is None else k[1] for k in kept] == [0, 2, None, 1, None]  # id 3 was probed twice
    assert meter.match(np.array([3]), 8) == [None]  # another width is never reused


def test_assemble_trains_on_kept_groups_in_selection_order_and_rolls_out_the_rest() -> None:
    env = Recorder()
    meter = ProbeMeter(env)
    probe = meter(np.array([7, 2]), 4)
    ids = np.array([2, 5, 7, 1])
    fb = assemble(env, ids, meter.match(ids, 4), 4)
    assert env.calls[-1] == ([5, 1], 4)  # only the ids without a probed group
    np.testing.assert_array_equal(fb.prompt_ids, ids)
    np.testing.assert_array_equal(fb.rewards[0], probe.rewards[1])
    np.testing.assert_array_equal(fb.rewards[2], probe.rewards[0])
    np.testing.assert_array_equal(fb.rewards.sum(axis=1), [2, 0, 2, 1])  # id % 5 successes, capped at G = 4
    np.testing.assert_array_equal(fb.log_z, ids.astype(float))


class Scripted:
    """A deterministic world for run_unit: prompt i passes the first ``i % (G + 1)`` of its G rollouts; its true
    pass rate is ``0.05 + 0.1 i`` (bin i of the selection histogram); every call is recorded."""

    name = "scripted"
    head = None

    def __init__(self, n: int = 10) -> None:
        self.pool = schedsim.PromptPool(n=n)
        self.truth = 0.05 + 0.1 * np.arange(n)
        self.calls: list[list[int]] = []
        self.learned: list[tuple[list[int], list[float], object]] = []

    def rollout(self, ids: np.ndarray, group: int) -> schedsim.Feedback:
        self.calls.append(ids.tolist())
        rewards = (np.arange(group)[None, :] < (ids[:, None] % (group + 1))).astype(float)
        return schedsim.Feedback(prompt_ids=ids, rewards=rewards)

    def learn(self, fb: schedsim.Feedback, weights: np.ndarray, reduction: object) -> None:
        self.learned.append((fb.prompt_ids.tolist(), np.asarray(weights).tolist(), reduction))

    def evaluate(self) -> dict[str, float]:
        return {"heldout_acc": 0.125 * len(self.learned), "learned": float(len(self.learned))}

    def reference_pass_rates(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([1, 3, 6]), np.array([0.2, 0.9, 0.4])


class Known(Scripted):
    def pass_rates(self, ids: np.ndarray | None = None) -> np.ndarray:
        return self.truth if ids is None else self.truth[ids]


class Clock:
    """A fake ``time`` module: the six readings of a step are 0, 1, 3, 7, 15, 31 (+ 100 per step), so the
    scheduler's share (select, loss_weights, observe: 1 + 4 + 16) of the step's 31 is 21/31."""

    def __init__(self) -> None:
        self.calls = 0

    def perf_counter(self) -> float:
        step, k = divmod(self.calls, 6)
        self.calls += 1
        return 100.0 * step + 2**k - 1


def scripted_run(monkeypatch, spec: str, env: Scripted, **over) -> pd.DataFrame:
    from schedsim.runner import RunConfig, loop

    monkeypatch.setattr(loop, "make_env", lambda name, seed: env)
    monkeypatch.setattr(loop, "time", Clock())
    settings = dict(env="bandit:n_train=10,n_test=10", seeds=1, budget=100, batch=5, group=4, eval_every=40)
    return loop.run_unit(RunConfig(schedulers=(spec,), **(settings | over)), spec, 3)


def test_run_unit_rows_by_value_on_a_scripted_world(monkeypatch) -> None:
    env = Known()
    table = scripted_run(monkeypatch, "uniform", env)
    # 20 rollouts a step, 5 steps; evaluations at 0, at 40 and 80 (every 40), and at the end (100)
    assert table["step"].tolist() == [0, 2, 4, 5] and table["rollouts"].tolist() == [0, 40, 80, 100]
    assert table["learned"].tolist() == [0, 2, 4, 5]  # each evaluation comes after the step's learning
    assert table["heldout_acc"].tolist() == [0.0, 0.25, 0.5, 0.625]
    assert (table["scheduler"] == "uniform").all() and (table["seed"] == 3).all()
    assert table["oracle"].tolist() == [False] * 4
    assert (table["selection_rollouts"] == 0).all() and table["calib_abs_err"].isna().all()  # no estimates
    assert table["calib_abs_err"].dtype == np.float64  # NaN, a number, so tables of any schedulers concatenate
    assert table["sched/selected"].tolist() == [0.0, 10.0, 20.0, 25.0]  # the scheduler's own metrics, as floats
    # the scheduler is seeded 10_000 + seed
    twin = schedsim.make_scheduler("uniform", pool=env.pool, seed=10_003)
    assert env.calls[:2] == [twin.select(5).tolist(), twin.select(5).tolist()]
    assert [ids for ids, _, _ in env.learned] == env.calls  # trained on exactly what was rolled out
    assert all(w == [1.0] * 5 and red is None for _, w, red in env.learned)
    # steps 1-2 and 3-4 each cover the 10 prompts once (epoch shuffle); step 5 takes 5 of them
    np.testing.assert_allclose(table.loc[1, [f"sel_p{b}" for b in range(10)]].to_numpy(float), 0.1)
    last = np.bincount(env.calls[4], minlength=10) / 5  # true pass rate 0.05 + 0.1 i sits in bin i
    np.testing.assert_allclose(table.loc[3, [f"sel_p{b}" for b in range(10)]].to_numpy(float), last)
    # ids 0, 4, 5, 9 pass 0 or 4 of 4: zero-variance; 6 mixed groups of 4 out of 40 rollouts
    assert table.loc[1, "zero_var_frac"] == pytest.approx(0.4) and table.loc[1, "effective_ratio"] == 0.6
    assert np.isnan(table.loc[0, "zero_var_frac"])
    np.testing.assert_allclose(table["time_sched_share"].iloc[1:], 21 / 31)


def test_run_unit_without_true_pass_rates_bins_the_groups_accuracy(monkeypatch) -> None:
    env = Scripted()
    table = scripted_run(monkeypatch, "uniform-mixed", env)
    # empirical accuracy (i % 5) / 4: ids 0, 5 -> bin 0; 1, 6 -> bin 2; 2, 7 -> 5; 3, 8 -> 7; 4, 9 (1.0) -> 9
    expected = np.zeros(10)
    expected[[0, 2, 5, 7, 9]] = 0.2
    np.testing.assert_allclose(table.loc[1, [f"sel_p{b}" for b in range(10)]].to_numpy(float), expected)
    assert all(red == "mixed" for _, _, red in env.learned)  # the scheduler's loss reduction reaches learn


def test_run_unit_weights_and_calibration(monkeypatch) -> None:
    env = Known()
    spec = "beta:mode=weight,alpha=2,beta=1,floor=0,weight_norm=none"
    table = scripted_run(monkeypatch, spec, env)
    # before any observation every estimate is the init 0.5: |0.5 - 0.2|, |0.5 - 0.9|, |0.5 - 0.4| -> 0.8 / 3
    assert table.loc[0, "calib_abs_err"] == pytest.approx(0.8 / 3)
    for ids, w, _ in env.learned:
        p = (np.array(ids) % 5) / 4
        np.testing.assert_allclose(w, p**2 * (1 - p))  # w(p̂) of each group's own rollouts
    oracle = scripted_run(monkeypatch, "beta:estimator=oracle", Known())
    assert oracle["oracle"].tolist() == [True] * 4
    # oracle estimates are the true pass rates 0.15, 0.35, 0.65 at the reference ids 1, 3, 6
    assert oracle.loc[0, "calib_abs_err"] == pytest.approx((0.05 + 0.55 + 0.25) / 3)
    with pytest.raises(schedsim.ParameterError, match="environment 'scripted' has no true pass rates"):
        scripted_run(monkeypatch, "beta:estimator=oracle", Scripted())


def test_run_unit_charges_probes_and_trains_on_them(monkeypatch) -> None:
    env = Known()
    table = scripted_run(monkeypatch, "lilo:probe_group=4", env)
    # each step probes all 10 prompts (4 x 5 > 10) at 4 rollouts: 40, and trains on 5 probed groups; the third
    # probe (40 > 20 left) is never rolled out
    assert table["rollouts"].tolist() == table["selection_rollouts"].tolist() == [0, 40, 80]
    assert table["step"].tolist() == [0, 1, 2] and env.calls == [list(range(10))] * 2
    for ids, _, _ in env.learned:
        assert {2, 7} <= set(ids) and not set(ids) & {0, 4, 5, 9}  # learnability 1/4 first, never 0
    env = Known()
    spec = "lilo:probe_group=4,train_on_probes=False"
    table = scripted_run(monkeypatch, spec, env)
    # 40 + 20 a step: the second probe fits (40 of 40 left) and is charged, its training (20 more) does not
    assert table["rollouts"].tolist() == [0, 60, 100] and table["selection_rollouts"].tolist() == [0, 40, 80]
    assert table["step"].tolist() == [0, 1, 1] and len(env.calls) == 3 and len(env.learned) == 1


def test_build_scheduler_wires_log_z_only_from_a_head() -> None:
    from schedsim.runner.loop import build_scheduler

    env = Known()
    sched, meter = build_scheduler("paced", env, 0)
    with pytest.raises(schedsim.MissingSignalError):
        sched.select(2)  # no head: no log Z signal
    assert meter.env is env and meter.spent == 0 and meter.kept == [] and meter.remaining == np.inf
    env.head = object()
    env.log_z = lambda ids: np.full(len(ids), 0.5)
    sched, _ = build_scheduler("paced", env, 0)
    assert sched.select(2).shape == (2,)
    lilo, meter = build_scheduler("lilo", env, 0)
    assert lilo.probe is meter


def test_probe_meter_hands_the_environment_integer_ids() -> None:
    env = Recorder()
    meter = ProbeMeter(env)
    fb = meter(np.array([3.0, 4.0]), 2)  # cast before the rollout: Feedback accepts integer ids only
    assert env.calls == [([3, 4], 2)] and fb.prompt_ids.dtype == np.int64 and meter.spent == 4


def test_run_unit_stops_before_a_step_that_does_not_fit(monkeypatch) -> None:
    # budget 110: five steps of 20; a sixth (120) is not even selected, and the last evaluation is at 100
    table = scripted_run(monkeypatch, "uniform", Known(), budget=110)
    assert table["rollouts"].tolist() == [0, 40, 80, 100] and table["sched/selected"].tolist()[-1] == 25.0


class NoLogZ(Recorder):
    """The Recorder without a log Z head: its feedback carries no log Z."""

    def rollout(self, ids: np.ndarray, group: int) -> schedsim.Feedback:
        fb = super().rollout(ids, group)
        return schedsim.Feedback(prompt_ids=fb.prompt_ids, rewards=fb.rewards)


def test_assemble_keeps_the_order_of_three_fresh_groups_and_drops_a_partial_log_z() -> None:
    env = NoLogZ()
    meter = ProbeMeter(env)
    meter(np.array([7]), 4)
    ids = np.array([6, 7, 3, 2])
    fb = assemble(env, ids, meter.match(ids, 4), 4)
    assert env.calls[-1] == ([6, 3, 2], 4)
    np.testing.assert_array_equal(fb.rewards.sum(axis=1), [1, 2, 3, 2])  # id % 5 successes, capped at G = 4
    assert fb.log_z is None
    probed = Recorder()  # kept groups with log Z, fresh ones without: no log Z for the batch
    meter = ProbeMeter(probed)
    meter(np.array([7]), 4)
    fb = assemble(env, ids, meter.match(ids, 4), 4)
    assert fb.log_z is None and fb.rewards[1].sum() == 2


def test_build_scheduler_without_a_head_attribute_and_the_oracle_message() -> None:
    from schedsim.runner.loop import build_scheduler

    class Bare:
        name = "bare"
        pool = schedsim.PromptPool(n=4)

    sched, _ = build_scheduler("paced", Bare(), 0)  # no head attribute at all: no log Z, no error yet
    with pytest.raises(schedsim.MissingSignalError):
        sched.select(1)
    with pytest.raises(
        schedsim.ParameterError,
        match=r"'beta:estimator=oracle' uses estimator=oracle, but environment 'bare' has no true pass rates; "
        r"accepted: an environment with pass_rates\(ids\) \(bandit\)",
    ):
        build_scheduler("beta:estimator=oracle", Bare(), 0)


def test_an_empty_tally_row_warns_nothing() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = Tally().row()
    assert np.isnan(row["sel_p0"]) and np.isnan(row["effective_ratio"])
