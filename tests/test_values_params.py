"""Defaults of every estimator and preset (the papers' values, docs/schedulers.md) and the exact message of
every parameter check, so that a changed default, bound or parameter name is seen."""

from __future__ import annotations

import re

import numpy as np
import pytest

import schedsim
from schedsim.estimators import CategoryQ, EMAEstimator, EmpiricalEstimator, LogZEstimator, build_estimator
from schedsim.estimators.posterior import BetaPosteriorEstimator

POOL = schedsim.PromptPool(n=4, category=[0, 1, 1, 2])


def test_estimator_defaults() -> None:
    ema = EMAEstimator(POOL)
    assert (ema.decay, ema.init, ema.pool) == (0.9, 0.5, POOL) and ema.n_obs.dtype == np.int64
    emp = EmpiricalEstimator(POOL)
    assert (emp.init, emp.pool) == (0.5, POOL) and (emp.values() == 0.5).all()
    post = BetaPosteriorEstimator(POOL)
    assert (post.prior_alpha, post.prior_beta, post.decay, post.toward, post.pool) == (1.0, 1.0, 1.0, "prior", POOL)
    assert post.n_obs.dtype == np.int64
    q = CategoryQ(POOL)
    assert (q.alpha, q.update_unseen, q.adv_std) == (0.5, True, "unbiased")
    assert (q.q == 0).all() and np.isnan(q.last_reward).all() and q.last_reward.shape == (3,)
    lz = LogZEstimator(POOL)
    assert (lz.kl_coef, lz.clip, lz.log_z) == (0.05, True, None)
    assert (schedsim.LogZTable(3).values == 0.0).all()
    built = build_estimator("ema", POOL)
    assert (built.decay, built.init) == (0.9, 0.5)
    assert build_estimator("logz", POOL).kl_coef == 0.05


@pytest.mark.parametrize(
    ("spec", "read", "want"),
    [
        (
            "paced",
            lambda s: (s.estimator.kl_coef, s.rule.tau, s.rule.candidates, s.rule.explore),
            (0.05, 0.5, None, 0.0),
        ),
        (
            "gaussian",
            lambda s: (s.rule.kernel.mu, s.rule.kernel.sigma, s.estimator.decay, s.estimator.init, s.rule.replace),
            (0.5, 0.35, 0.9, 0.5, False),
        ),
        (
            "sec",
            lambda s: (s.values.alpha, s.tau, s.values.update_unseen, s.values.adv_std),
            (0.5, 1.0, True, "unbiased"),
        ),
        (
            "mopps",
            lambda s: (s.rule.tau, s.rule.pool_factor, s.estimator.decay, s.estimator.prior_alpha, s.estimator.toward),
            (0.5, 8, 1.0, 1.0, "prior"),
        ),
        (
            "spo",
            lambda s: (
                s.estimator.decay,
                s.rule.kernel.eps,
                s.estimator.prior_beta,
                s.estimator.toward,
                s.rule.replace,
            ),
            (0.9, 0.05, 1.0, "zero", False),
        ),
        (
            "beta",
            lambda s: (s.kernel.alpha, s.kernel.beta, s.kernel.floor, s.kernel.unbiased, s.mode, s.estimator.name),
            (1.0, 1.0, 0.05, False, "sample", "empirical"),
        ),
    ],
)
def test_preset_defaults_are_the_papers(spec: str, read, want: tuple) -> None:
    assert read(schedsim.make_scheduler(spec, pool=POOL)) == want


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: EMAEstimator(POOL, decay=1.0), "decay=1.0 is out of range; accepted: a number in [0, 1)"),
        (lambda: EMAEstimator(POOL, decay=-0.1), "decay=-0.1 is out of range; accepted: a number in [0, 1)"),
        (lambda: EMAEstimator(POOL, init=1.5), "init=1.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: EMAEstimator(POOL, init=-0.5), "init=-0.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: EmpiricalEstimator(POOL, init=1.5), "init=1.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: EmpiricalEstimator(POOL, init=-0.5), "init=-0.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: EmpiricalEstimator(POOL, init=None), "init=None is out of range; accepted: a number in [0, 1]"),
        (
            lambda: BetaPosteriorEstimator(POOL, prior_alpha=0.0),
            "prior_alpha=0.0 is out of range; accepted: a number in (0, inf)",
        ),
        (
            lambda: BetaPosteriorEstimator(POOL, prior_alpha=-1.0),
            "prior_alpha=-1.0 is out of range; accepted: a number in (0, inf)",
        ),
        (
            lambda: BetaPosteriorEstimator(POOL, prior_beta=0.0),
            "prior_beta=0.0 is out of range; accepted: a number in (0, inf)",
        ),
        (
            lambda: BetaPosteriorEstimator(POOL, prior_beta=-1.0),
            "prior_beta=-1.0 is out of range; accepted: a number in (0, inf)",
        ),
        (lambda: BetaPosteriorEstimator(POOL, decay=0.0), "decay=0.0 is out of range; accepted: a number in (0, 1]"),
        (lambda: BetaPosteriorEstimator(POOL, decay=1.5), "decay=1.5 is out of range; accepted: a number in (0, 1]"),
        (lambda: BetaPosteriorEstimator(POOL, decay=-0.5), "decay=-0.5 is out of range; accepted: a number in (0, 1]"),
        (
            lambda: BetaPosteriorEstimator(POOL, toward="one"),
            "toward='one' is not accepted; accepted: 'prior', 'zero'",
        ),
        (lambda: CategoryQ(POOL, alpha=0.0), "alpha=0.0 is out of range; accepted: a number in (0, 1]"),
        (lambda: CategoryQ(POOL, alpha=1.5), "alpha=1.5 is out of range; accepted: a number in (0, 1]"),
        (lambda: CategoryQ(POOL, alpha=-0.5), "alpha=-0.5 is out of range; accepted: a number in (0, 1]"),
        (
            lambda: CategoryQ(POOL, adv_std="bessel"),
            "adv_std='bessel' is not accepted; accepted: 'unbiased', 'population', 'none'",
        ),
        (lambda: LogZEstimator(POOL, kl_coef=0.0), "kl_coef=0.0 is out of range; accepted: a number in (0, inf)"),
        (lambda: LogZEstimator(POOL, kl_coef=-1.0), "kl_coef=-1.0 is out of range; accepted: a number in (0, inf)"),
        (
            lambda: LogZEstimator(POOL, log_z=3.0),
            "log_z=3.0 is not callable; accepted: a function log_z(ids) -> float array",
        ),
        (
            lambda: schedsim.make_scheduler("sec", pool=POOL, tau=0.0),
            "sec: tau=0.0 is out of range; accepted: a number in (0, inf)",
        ),
    ],
)
def test_bad_parameters_name_the_value_and_the_accepted_range(build, message: str) -> None:
    with pytest.raises(schedsim.ParameterError, match=f"^{re.escape(message)}$"):
        build()


def test_boundary_parameters_are_accepted() -> None:
    assert EMAEstimator(POOL, decay=0.0, init=1.0).init == 1.0 and EMAEstimator(POOL, init=0.0).init == 0.0
    assert EmpiricalEstimator(POOL, init=1.0).init == 1.0
    assert BetaPosteriorEstimator(POOL, decay=1.0).decay == 1.0
    assert CategoryQ(POOL, alpha=1.0).alpha == 1.0


def test_logz_errors_name_what_went_wrong() -> None:
    est = LogZEstimator(POOL)
    message = (
        "the 'logz' estimator has no log Z source; pass make_scheduler(..., log_z=fn) with "
        "fn(ids) -> log Z values, or call scheduler.set_log_z(fn) once the trainer has built its head"
    )
    with pytest.raises(schedsim.MissingSignalError, match=f"^{re.escape(message)}$"):
        est.values()
    est.set_source(lambda ids: np.zeros(2))
    with pytest.raises(schedsim.SchedsimError, match=re.escape("returned shape (2,) with finite=True for 4 ids")):
        est.values()
    est.set_source(lambda ids: np.full(len(ids), np.nan))
    with pytest.raises(schedsim.SchedsimError, match=re.escape("returned shape (4,) with finite=False for 4 ids")):
        est.values()


def test_logz_estimates_are_float64_whatever_the_head_returns() -> None:
    est = LogZEstimator(POOL, log_z=lambda ids: np.full(len(ids), 10.1, dtype=np.float32), kl_coef=0.05)
    out = est.values()
    assert out.dtype == np.float64 and out[0] == pytest.approx(np.float64(np.float32(10.1)) * 0.05, rel=1e-15)


def test_seen_after_one_observation_of_one_rollout() -> None:
    post = BetaPosteriorEstimator(POOL)
    post.observe(schedsim.Feedback(np.array([1]), np.array([[1.0, np.nan]])))
    np.testing.assert_array_equal(post.seen(), [False, True, False, False])
    emp = EmpiricalEstimator(POOL)
    emp.observe(schedsim.Feedback(np.array([2]), np.array([[0.0, np.nan]])))  # one rollout: count 1
    np.testing.assert_array_equal(emp.seen(), [False, False, True, False])


def test_category_observed_with_a_single_rollout() -> None:
    q = CategoryQ(POOL, alpha=1.0, update_unseen=False, adv_std="none")
    q.observe(schedsim.Feedback(np.array([0, 1]), np.array([[1.0, np.nan], [1.0, 0.0]])))  # arm 0: one rollout
    reward, observed = CategoryQ(POOL).arm_rewards(schedsim.Feedback(np.array([0]), np.array([[1.0, np.nan]])))
    np.testing.assert_array_equal(observed, [True, False, False])
    assert reward[0] == pytest.approx(1 / (1 + 1e-6))  # GRPO-normalised: std 1 for one rollout
    np.testing.assert_allclose(q.q, [1.0, 0.5, 0.0])  # a single rollout keeps A = r (verl), |A| = 1
    np.testing.assert_allclose(q.last_reward, [1.0, 0.5, np.nan])


@pytest.mark.parametrize(
    ("spec", "read", "want"),
    [
        ("mopps:tau=0.2,pool_factor=3", lambda s: (s.rule.tau, s.rule.pool_factor, s.rule.pool), (0.2, 3, POOL)),
        ("spo:replace=true,eps=0.1", lambda s: (s.rule.replace, s.rule.kernel.eps, s.rule.pool), (True, 0.1, POOL)),
        (
            "plr:init=0.2,temperature=0.3,staleness=0.4",
            lambda s: (s.estimator.init, s.rule.temperature, s.rule.staleness, s.rule.pool),
            (0.2, 0.3, 0.4, POOL),
        ),
        ("gaussian:estimator=logz", lambda s: (s.estimator.kl_coef, s.rule.pool), (0.05, POOL)),
        ("gaussian:estimator=logz,kl_coef=0.02", lambda s: s.estimator.kl_coef, 0.02),
        ("gaussian:replace=true", lambda s: (s.rule.replace, s.distinct), (True, False)),
        ("paced:estimator=ema,ema_decay=0.3,init=0.1", lambda s: (s.estimator.decay, s.estimator.init), (0.3, 0.1)),
        ("beta:estimator=logz,kl_coef=0.02", lambda s: s.estimator.kl_coef, 0.02),
        ("sec:update_unseen=false,adv_std=none", lambda s: (s.values.update_unseen, s.values.adv_std), (False, "none")),
    ],
)
def test_preset_parameters_reach_their_parts(spec: str, read, want) -> None:
    assert read(schedsim.make_scheduler(spec, pool=POOL)) == want


@pytest.mark.parametrize("spec", ["uniform", "beta", "gaussian", "sec", "mopps", "spo", "plr"])
def test_the_seed_reaches_the_private_generator(spec: str) -> None:
    pool = schedsim.PromptPool(n=40, category=np.arange(40) % 4)

    def picks(seed: int) -> list[list[int]]:
        s = schedsim.make_scheduler(spec, pool=pool, seed=seed)
        return [s.select(5).tolist() for _ in range(4)]

    assert picks(7) == picks(7)  # same seed, same batches
    assert picks(7) != picks(8)  # a different seed draws differently (4 batches of 5 from 40)


def test_the_seed_reaches_paced_tie_breaks() -> None:
    table = schedsim.LogZTable(40, init=10.0)  # every p-hat 0.5: all tied, the generator picks

    def picks(seed: int) -> list[list[int]]:
        s = schedsim.make_scheduler("paced", pool=schedsim.PromptPool(n=40), seed=seed, log_z=table)
        return [s.select(5).tolist() for _ in range(3)]

    assert picks(7) == picks(7) and picks(7) != picks(8)
