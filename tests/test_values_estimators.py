"""Estimators by value: EMA, empirical, Beta posterior, SEC's category Q, log Z, after known feedback sequences."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import schedsim
from schedsim.estimators import CategoryQ, EMAEstimator, EmpiricalEstimator, LogZEstimator, build_estimator
from schedsim.estimators.posterior import BetaPosteriorEstimator


def fb(ids: list[int], rewards: list[list[float]]) -> schedsim.Feedback:
    return schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array(rewards, dtype=float))


POOL = schedsim.PromptPool(n=4, category=[0, 1, 1, 2])


# -- EMA ---------------------------------------------------------------------------------------------------------------
def test_ema_decay_and_init_off_their_defaults() -> None:
    est = EMAEstimator(POOL, decay=0.6, init=0.2)
    est.observe(fb([0], [[1, 1, 1, 0]]))
    est.observe(fb([0, 2], [[0, 0, 0, 0], [1, 0, np.nan, np.nan]]))
    # prompt 0: 0.6*0.2 + 0.4*0.75 = 0.42 -> 0.6*0.42 = 0.252; prompt 2: 0.6*0.2 + 0.4*0.5 = 0.32
    np.testing.assert_allclose(est.values(), [0.252, 0.2, 0.32, 0.2])
    np.testing.assert_array_equal(est.n_obs, [2, 0, 1, 0])
    np.testing.assert_allclose(est.estimate(np.array([2, 0])), [0.32, 0.252])
    assert est.metrics() == pytest.approx(
        {"sched/est_mean": (0.252 + 0.2 + 0.32 + 0.2) / 4, "sched/est_seen_frac": 0.5}
    )


def test_ema_pools_repeated_groups_into_one_observation() -> None:
    est = EMAEstimator(POOL, decay=0.5, init=0.0)
    est.observe(fb([1, 1], [[1, 1], [0, 1]]))  # one observation of accuracy 3/4, not two
    assert est.values()[1] == pytest.approx(0.375) and est.n_obs[1] == 1


# -- empirical ---------------------------------------------------------------------------------------------------------
def test_empirical_keeps_the_latest_group_only() -> None:
    est = EmpiricalEstimator(POOL, init=0.3)
    est.observe(fb([1], [[1, 1, 0, 0]]))
    est.observe(fb([1, 3], [[1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]]))
    # prompt 1: the second batch alone, 1/6 (cumulative would be 3/10); prompt 3: 5/6; unseen: 0.3
    np.testing.assert_allclose(est.values(), [0.3, 1 / 6, 0.3, 5 / 6])
    np.testing.assert_array_equal(est.succ, [0, 1, 0, 5])
    np.testing.assert_array_equal(est.count, [0, 6, 0, 6])
    np.testing.assert_array_equal(est.seen(), [False, True, False, True])


def test_empirical_pools_repeats_and_ragged_groups_within_a_batch() -> None:
    est = EmpiricalEstimator(POOL)
    est.observe(fb([2, 2], [[1, 0, np.nan], [1, 1, 1]]))  # 4 successes in 5 real rollouts
    assert (est.succ[2], est.count[2], est.values()[2]) == (4.0, 5.0, 0.8)


# -- Beta posterior (MoPPS, SPO) -----------------------------------------------------------------------------------------
def test_beta_posterior_prior_and_zero_decay_by_hand() -> None:
    mopps = BetaPosteriorEstimator(POOL, prior_alpha=2, prior_beta=3, decay=0.7, toward="prior")
    spo = BetaPosteriorEstimator(POOL, prior_alpha=2, prior_beta=3, decay=0.7, toward="zero")
    for est in (mopps, spo):
        est.observe(fb([0], [[1, 1, 1, 0]]))
        est.observe(fb([0], [[1, 0, np.nan, 0]]))  # 1 success of 3
    # prior: alpha 0.7*2 + 0.6 + 3 = 5 -> 3.5 + 0.6 + 1 = 5.1; beta 2.1 + 0.9 + 1 = 4 -> 2.8 + 0.9 + 2 = 5.7
    np.testing.assert_allclose([mopps.alpha[0], mopps.beta[0]], [5.1, 5.7])
    # zero: alpha 1.4 + 3 = 4.4 -> 3.08 + 1 = 4.08; beta 2.1 + 1 = 3.1 -> 2.17 + 2 = 4.17
    np.testing.assert_allclose([spo.alpha[0], spo.beta[0]], [4.08, 4.17])
    np.testing.assert_allclose(mopps.values(), [5.1 / 10.8, 0.4, 0.4, 0.4])
    np.testing.assert_array_equal(mopps.n_obs, [2, 0, 0, 0])
    alpha, beta = mopps.posterior()
    assert alpha[0] == 5.1 and beta[1] == 3.0 and not alpha.flags.writeable


# -- SEC's category Q --------------------------------------------------------------------------------------------------
def test_category_q_observed_only_and_alpha_by_hand() -> None:
    q = CategoryQ(POOL, alpha=0.25, update_unseen=False, adv_std="none")
    q.observe(fb([0, 3], [[1, 0, 0, 0], [1, 1, 0, 0]]))  # mean-centred |A|: (3/4, 1/4 x3) -> 3/8; 1/2 each -> 1/2
    q.observe(fb([1], [[1, 1, 0, 0]]))
    np.testing.assert_allclose(q.q, [0.25 * 0.375, 0.25 * 0.5, 0.25 * 0.5])  # arm 0 and 2 kept, arm 1 first seen
    np.testing.assert_allclose(q.last_reward, [np.nan, 0.5, np.nan])
    official = CategoryQ(POOL, alpha=0.25, adv_std="none")
    official.observe(fb([0, 3], [[1, 0, 0, 0], [1, 1, 0, 0]]))
    official.observe(fb([1], [[1, 1, 0, 0]]))
    np.testing.assert_allclose(official.q, [0.75 * 0.25 * 0.375, 0.25 * 0.5, 0.75 * 0.25 * 0.5])


def test_category_q_pools_rollouts_not_groups() -> None:
    q = CategoryQ(POOL, alpha=1.0, adv_std="none")
    q.observe(fb([1, 2], [[1, 0, np.nan, np.nan], [1, 1, 1, 1]]))  # category 1: |A| = 1/2, 1/2, 0, 0, 0, 0
    assert q.q[1] == pytest.approx(1 / 6)  # mean over 6 rollouts (per-group mean of means would be 1/4)


# -- log Z ------------------------------------------------------------------------------------------------------------
def test_logz_estimator_scales_by_kl_coef_and_clips() -> None:
    table = schedsim.LogZTable(4)
    table.update(np.array([0, 1, 2, 3]), np.array([-5.0, 10.0, 20.0, 50.0]))
    est = LogZEstimator(POOL, log_z=table, kl_coef=0.03)
    np.testing.assert_allclose(est.values(), [0.0, 0.3, 0.6, 1.0])
    np.testing.assert_allclose(est.estimate(np.array([3, 1])), [1.0, 0.3])
    raw = LogZEstimator(POOL, log_z=table, kl_coef=0.03, clip=False)
    np.testing.assert_allclose(raw.values(), [-0.15, 0.3, 0.6, 1.5])
    with pytest.raises(schedsim.SchedsimError, match="finite=False"):
        LogZEstimator(POOL, log_z=lambda ids: np.full(len(ids), np.inf)).values()


def test_log_z_table_last_write_wins() -> None:
    table = schedsim.LogZTable(3, init=1.5)
    table.update(np.array([2, 2]), np.array([4.0, 7.0]))
    np.testing.assert_array_equal(table(np.array([0, 2])), [1.5, 7.0])


def test_build_estimator_passes_its_parameters() -> None:
    ema = build_estimator("ema", POOL, ema_decay=0.3, init=0.1)
    assert (ema.decay, ema.init) == (0.3, 0.1) and ema.values()[0] == 0.1
    emp = build_estimator("empirical", POOL, init=0.7)
    assert emp.values()[0] == 0.7
    table = schedsim.LogZTable(4, init=10.0)
    lz = build_estimator("logz", POOL, kl_coef=0.02, log_z=table)
    np.testing.assert_allclose(lz.values(), 0.2)


# -- properties: any feedback sequence, against a plain loop ------------------------------------------------------------
@st.composite
def sequences(draw: st.DrawFn) -> list[schedsim.Feedback]:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        m, g = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        ids = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
        rows = draw(
            st.lists(st.lists(st.sampled_from([0.0, 1.0, 0.5, np.nan]), min_size=g, max_size=g), min_size=m, max_size=m)
        )
        out.append(fb(ids, rows))
    return out


@given(sequences(), st.floats(0.0, 0.99), st.floats(0.0, 1.0))
def test_ema_equals_a_loop_over_prompts(batches: list[schedsim.Feedback], decay: float, init: float) -> None:
    est = EMAEstimator(POOL, decay=decay, init=init)
    want = np.full(4, init)
    for b in batches:
        est.observe(b)
        for i in set(b.prompt_ids.tolist()):
            r = b.rewards[b.prompt_ids == i]
            if (~np.isnan(r)).any():
                want[i] = decay * want[i] + (1 - decay) * np.nanmean(r)
    np.testing.assert_allclose(est.values(), want, rtol=1e-12, atol=1e-15)


@given(sequences(), st.floats(0.05, 1.0), st.floats(0.1, 3.0), st.floats(0.1, 3.0))
def test_beta_posterior_equals_a_loop(batches: list[schedsim.Feedback], decay: float, a0: float, b0: float) -> None:
    est = BetaPosteriorEstimator(POOL, prior_alpha=a0, prior_beta=b0, decay=decay, toward="prior")
    alpha, beta = np.full(4, a0), np.full(4, b0)
    for b in batches:
        est.observe(b)
        for i in set(b.prompt_ids.tolist()):
            r = b.rewards[b.prompt_ids == i]
            if (~np.isnan(r)).any():
                s, n = np.nansum(r), (~np.isnan(r)).sum()
                alpha[i] = decay * alpha[i] + (1 - decay) * a0 + s
                beta[i] = decay * beta[i] + (1 - decay) * b0 + n - s
    np.testing.assert_allclose(est.alpha, alpha, rtol=1e-12)
    np.testing.assert_allclose(est.values(), alpha / (alpha + beta), rtol=1e-12)


@given(sequences(), st.floats(0.01, 1.0))
def test_category_q_equals_a_loop_over_arms(batches: list[schedsim.Feedback], alpha: float) -> None:
    from schedsim.core.advantages import group_advantages

    est = CategoryQ(POOL, alpha=alpha)
    q = np.zeros(3)
    for b in batches:
        est.observe(b)
        adv = group_advantages(b.rewards)
        for c in range(3):
            rows = POOL.category[b.prompt_ids] == c
            vals = np.abs(adv[rows])[~np.isnan(adv[rows])]
            q[c] = (1 - alpha) * q[c] + alpha * (vals.mean() if vals.size else 0.0)
    np.testing.assert_allclose(est.q, q, rtol=1e-12, atol=1e-15)


def test_value_model_defaults_bounds_and_bookkeeping() -> None:
    from schedsim.estimators.value import ValueModelEstimator

    bare = schedsim.PromptPool(n=3)
    est = ValueModelEstimator(bare)
    assert (est.model, est.lr, est.steps, est.init, est.incremental) == ("table", 0.5, 1, 0.5, True)
    state = est.state_dict()
    assert state["w"].shape == (0,) and state["n_obs"].dtype == np.int64
    np.testing.assert_array_equal(est.values(), [0.5, 0.5, 0.5])
    assert not est.values().flags.writeable  # the table itself, read-only
    # a batch of one prompt, seen twice: V <- V + 0.5 (y - V): 0.5 -> 0.75 -> 0.625 (y = 1, then 0.5)
    est.observe(fb([1], [[1.0, 1.0]]))
    assert est.touched.tolist() == [1] and est.revision == 1
    assert est.metrics() == {"sched/est_seen_frac": pytest.approx(1 / 3)}  # seen after one observation
    est.observe(fb([1], [[1.0, 0.0]]))
    np.testing.assert_allclose(est.estimate(), [0.5, 0.625, 0.5])
    assert est.n_obs.tolist() == [0, 2, 0] and est.metrics() == {"sched/est_seen_frac": pytest.approx(1 / 3)}
    featured = schedsim.PromptPool(n=3, features=np.array([[1.0], [2.0], [-3.0]]))
    table = ValueModelEstimator(featured, model="table")  # asked for, though the pool has features
    assert table.model == "table" and table.v.shape == (3,)
    linear = ValueModelEstimator(featured, lr=0.1, init=0.6)
    assert (linear.model, linear.incremental, linear.state_dict()["v"].shape) == ("linear", False, (0,))
    # one step on y = (1, 0) at x = (1, 2): err = (0.6 - 1, 0.6 - 0) = (-0.4, 0.6); w -= 0.1 (x.err)/2 = -0.04,
    # b -= 0.1 mean(err) = 0.01: w = -0.04, b = 0.59; V = 0.55, 0.51, 0.71
    linear.observe(fb([0, 1], [[1.0], [0.0]]))
    np.testing.assert_allclose(linear.w, [-0.04, 0.59])
    np.testing.assert_allclose(linear.values(), [0.55, 0.51, 0.71])
    linear.w = np.array([0.5, 0.2])  # V = 0.7, 1.2, -1.3: clipped to [0, 1]
    np.testing.assert_allclose(linear.estimate(), [0.7, 1.0, 0.0])
    for kwargs, message in [
        ({"model": "mlp"}, "model='mlp' is not accepted; accepted: 'auto', 'linear', 'table'"),
        ({"lr": 0.0}, "lr=0.0 is out of range; accepted: a number in (0, inf)"),
        ({"lr": -1.0}, "lr=-1.0 is out of range; accepted: a number in (0, inf)"),
        ({"steps": 0}, "steps=0 is out of range; accepted: an integer in [1, inf)"),
        ({"init": -0.1}, "init=-0.1 is out of range; accepted: a number in [0, 1]"),
        ({"init": 1.5}, "init=1.5 is out of range; accepted: a number in [0, 1]"),
    ]:
        with pytest.raises(schedsim.ParameterError, match="^" + re.escape(message) + "$"):
            ValueModelEstimator(bare, **kwargs)
    message = "value model 'linear' needs pool features; accepted: PromptPool(n, features=(n, d))"
    with pytest.raises(schedsim.PoolError, match="^" + re.escape(message) + "$"):
        ValueModelEstimator(bare, model="linear")
    ValueModelEstimator(bare, steps=1, init=1.0, lr=1e-9)  # the edges accepted


def test_oracle_reads_its_source_and_refuses_bad_answers() -> None:
    from schedsim.estimators.oracle import OracleEstimator

    pool = schedsim.PromptPool(n=3)
    truth = np.array([0.2, 0.7, 1.0])
    est = OracleEstimator(pool, pass_rates=lambda ids: truth[ids])
    assert est.pool is pool
    np.testing.assert_array_equal(est.estimate(), truth)
    np.testing.assert_array_equal(est.estimate(np.array([2, 0])), [1.0, 0.2])
    bare = OracleEstimator(pool)
    message = (
        "the 'oracle' estimator has no pass-rate source; it is a diagnostic for environments that know true pass "
        "rates (schedsim's runner passes the bandit's); accepted: make_scheduler(..., pass_rates=fn) with fn(ids) "
        "-> true pass rates"
    )
    with pytest.raises(schedsim.MissingSignalError, match="^" + re.escape(message) + "$"):
        bare.estimate()
    with pytest.raises(
        schedsim.ParameterError, match=r"^pass_rates=3 is not callable; accepted: a function pass_rates"
    ):
        bare.set_source(3)
    for answer, shape in (([0.2, 1.5, 0.3], "(3,)"), ([0.2, -0.1, 0.3], "(3,)"), ([0.2, np.nan, 0.3], "(3,)"),
                          ([0.2, 0.3], "(2,)")):  # fmt: skip
        bare.set_source(lambda ids, answer=answer: np.array(answer))
        message = f"pass_rates source returned shape {shape} for 3 ids; accepted: that many finite values in [0, 1]"
        with pytest.raises(schedsim.SchedsimError, match="^" + re.escape(message) + "$"):
            bare.estimate()


def test_spo_and_plr_take_the_oracle_and_name_their_estimators() -> None:
    from schedsim.estimators.oracle import OracleEstimator

    pool = schedsim.PromptPool(n=4)
    truth = np.array([0.1, 0.3, 0.6, 0.9])
    for spec in ("spo:estimator=oracle", "plr:estimator=oracle"):
        s = schedsim.make_scheduler(spec, pool=pool, seed=0, pass_rates=lambda ids: truth[ids])
        assert isinstance(s.estimator, OracleEstimator) and s.estimator.pool is pool
        np.testing.assert_array_equal(s.estimator.estimate(), truth)
    assert isinstance(schedsim.make_scheduler("plr:estimator=ema", pool=pool, seed=0).estimator, EMAEstimator)
    for spec, accepted in (("spo", "'tracker', 'oracle'"), ("plr", "'empirical', 'ema', 'oracle'")):
        message = f"{spec}: estimator='x' is not accepted; accepted: {accepted}"
        with pytest.raises(schedsim.ParameterError, match="^" + re.escape(message) + "$"):
            schedsim.make_scheduler(f"{spec}:estimator=x", pool=pool, seed=0)


def test_log_z_table_takes_a_pool_of_one_and_plr_names_its_staleness() -> None:
    from schedsim.estimators.partition import LogZTable

    assert LogZTable(1, init=-0.5).values.tolist() == [-0.5]  # the smallest pool (bad ones: test_bad_inputs_api)
    pool = schedsim.PromptPool(n=4)
    plr = schedsim.make_scheduler("plr:staleness=1", pool=pool, seed=0)  # the edge is accepted
    assert plr.rule.staleness == 1.0 and np.isnan(plr.metrics()["sched/staleness_share"])  # NaN before a batch
    for value in ("1.5", "-0.1"):
        message = f"plr: staleness={value} is out of range; accepted: a number in [0, 1]"
        with pytest.raises(schedsim.ParameterError, match="^" + re.escape(message) + "$"):
            schedsim.make_scheduler(f"plr:staleness={value}", pool=pool, seed=0)
