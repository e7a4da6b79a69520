"""The bandit simulator: model properties, gradient statistics, the TB head, the SNR formula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

import schedsim
from schedsim.analysis.snr import analytic_moments, fit_boundary_exponents, snr_table
from schedsim.envs import make_env, parse_env_spec
from schedsim.envs.bandit import PRESETS, BanditConfig, BanditEnv
from schedsim.envs.bandit.logz import bernoulli_kl, bernoulli_logratio

SMALL = "bandit:n_train=200,n_test=100"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_build_with_pass_rates_strictly_inside(preset: str) -> None:
    env = make_env(f"bandit:{preset},n_train=300,n_test=100", seed=0)
    p = env.pass_rates()
    assert p.shape == (300,) and ((p > 0) & (p < 1)).all()
    assert env.pool.n == 300 and env.pool.category is not None


def test_same_seed_same_world_and_rollouts() -> None:
    a, b = make_env(SMALL, seed=3), make_env(SMALL, seed=3)
    np.testing.assert_array_equal(a.pass_rates(pool="test"), b.pass_rates(pool="test"))
    ids = np.arange(10)
    np.testing.assert_array_equal(a.rollout(ids, 4).rewards, b.rollout(ids, 4).rewards)
    assert not np.array_equal(make_env(SMALL, seed=4).pass_rates(), a.pass_rates())


@pytest.mark.parametrize(("advantage", "factor"), [("rloo", 1.0), ("mean", 1 - 1 / 8)])
def test_gradient_estimate_is_unbiased_statistically(advantage: str, factor: float) -> None:
    env = make_env(f"{SMALL},advantage={advantage}", seed=0)
    ids = np.array([0, 1, 2, 3, 4])
    samples = env.gradient_samples(ids, 8, 40_000)  # (5, n, d)
    p = env.pass_rates(ids)
    truth = factor * (p * (1 - p))[:, None] * env.train.features[ids]  # E g = factor * grad of p
    se = samples.std(axis=1, ddof=1) / np.sqrt(samples.shape[1])
    z = np.abs(samples.mean(axis=1) - truth) / se
    assert z.max() < 5.0, z.max()


def test_mean_centred_snr_matches_the_closed_form_of_theory_section_6() -> None:
    g, d, sigma = 8, 16, 1.0
    p = np.linspace(0.02, 0.98, 25)
    signal, trace = analytic_moments(p, group=g, dim=d, score_noise=sigma, advantage="mean")
    s = np.arange(g + 1)
    pmf = binom.pmf(s[None, :], g, p[:, None])
    rbar = s / g
    var = pmf @ (rbar * (1 - rbar)) ** 2 - (pmf @ (rbar * (1 - rbar))) ** 2
    expected_signal = (p * (1 - p) * (1 - 1 / g)) ** 2
    expected_trace = var + d * sigma**2 * p * (1 - p) * (1 - 1 / g) / g
    np.testing.assert_allclose(signal, expected_signal, rtol=1e-10)
    np.testing.assert_allclose(trace, expected_trace, rtol=1e-10)


@pytest.mark.parametrize("spec", ["bandit", "bandit:score_noise=0", "bandit:advantage=mean"])
def test_measured_snr_agrees_with_exact_curve_in_every_bin(spec: str) -> None:
    table = snr_table(make_env(spec, seed=0), group=8, n_prompts=200, n_samples=600, n_bins=10)
    half_width = np.maximum(table["snr_hi"] - table["snr"], table["snr"] - table["snr_lo"])
    assert (np.abs(table["snr"] - table["snr_analytic"]) <= 2.0 * half_width).all(), table
    low, high = fit_boundary_exponents(table, edge=0.25)
    assert 0.5 < low < 2.5 and 0.5 < high < 2.5  # SNR vanishes at both ends


def test_trajectory_balance_target_has_mean_accuracy_plus_beta_kl() -> None:
    """Fixed pi_old and pi_theta, on-policy samples: the TB optimum beta log Z* = p_old + beta KL(old || theta)."""
    beta = 0.25  # the identity holds for any beta; a large one makes the KL term big enough to see
    p_old = np.array([0.1, 0.3, 0.5, 0.8, 0.95])
    p_new = np.array([0.3, 0.1, 0.7, 0.5, 0.5])
    expected = p_old + beta * bernoulli_kl(p_old, p_new)
    kl_effect = expected - p_old
    assert kl_effect.min() > 0.01  # beta KL in [0.012, 0.12] here
    # exactly: E_old[r - beta logratio] over y in {0, 1}
    exact = p_old * (1 - beta * bernoulli_logratio(1.0, p_new, p_old)) - (1 - p_old) * beta * bernoulli_logratio(
        0.0, p_new, p_old
    )
    np.testing.assert_allclose(exact, expected, rtol=1e-12)
    # Monte Carlo: the mean per-rollout target is within 4 standard errors, and 4 s.e. < the smallest KL effect
    y = (np.random.default_rng(0).random((5, 400_000)) < p_old[:, None]).astype(float)
    targets = y - beta * bernoulli_logratio(y, p_new[:, None], p_old[:, None])
    se = targets.std(axis=1, ddof=1) / np.sqrt(y.shape[1])
    assert (4 * se < kl_effect).all()
    assert (np.abs(targets.mean(axis=1) - expected) < 4 * se).all()


def test_head_tracks_accuracy_in_the_simulator() -> None:
    env = make_env(f"{SMALL},head=table,table_lr=1.0", seed=0)
    ids = np.arange(200)
    env.learn(env.rollout(ids, 64))  # fit on 64 rollouts per prompt
    p_hat = env.log_z(ids) * env.config.kl_coef
    assert np.abs(p_hat - env.pass_rates(ids)).mean() < 0.12


def test_learning_improves_heldout_accuracy_and_mixed_reduction_takes_bigger_steps() -> None:
    env = make_env(SMALL, seed=0)
    start = env.evaluate()["heldout_acc"]
    sched = schedsim.make_scheduler("uniform", pool=env.pool, seed=0)
    for _ in range(150):
        ids = sched.select(32)
        env.learn(env.rollout(ids, 8))
    assert env.evaluate()["heldout_acc"] > start + 0.05
    # the mixed reduction divides the same direction by the number of mixed groups instead of all groups: with no
    # score noise and no clipping the step is exactly m / m_mixed times larger (a deterministic comparison)
    spec = f"{SMALL},optimizer=sgd,lr=1,clip=0,score_noise=0"
    all_env, mixed_env = make_env(spec, seed=0), make_env(spec, seed=0)
    fb = all_env.rollout(np.arange(32), 4)
    n_mixed = int((fb.rewards.min(axis=1) != fb.rewards.max(axis=1)).sum())
    assert 0 < n_mixed < 32
    before = all_env.theta.copy()
    all_env.learn(fb, reduction="all")
    mixed_env.learn(fb, reduction="mixed")
    np.testing.assert_allclose(mixed_env.theta - before, (all_env.theta - before) * 32 / n_mixed, rtol=1e-12)


def test_onehot_has_no_transfer_and_loss_weights_scale_updates() -> None:
    env = make_env("bandit:independent,n_train=50", seed=0)
    before = env.pass_rates()
    env.learn(env.rollout(np.array([3]), 8))
    changed = np.flatnonzero(np.abs(env.pass_rates() - before) > 1e-12)
    assert set(changed) <= set(range(50)) and env.test is env.train
    cfg = parse_env_spec("bandit:optimizer=sgd,lr=1,score_noise=0,clip=0,n_train=100,n_test=10")[2]
    a, b = BanditEnv(cfg, seed=1), BanditEnv(cfg, seed=1)
    fb = a.rollout(np.arange(20), 8)
    t0 = a.theta.copy()
    a.learn(fb, weights=np.ones(20))
    b.learn(fb, weights=2 * np.ones(20))
    np.testing.assert_allclose(b.theta - t0, 2 * (a.theta - t0))


def test_forgetting_pulls_back_and_replay_fills_buffer() -> None:
    env = make_env(f"{SMALL},forget=0.5,score_noise=0", seed=0)
    env.theta[:] = 1.0
    env.learn(env.rollout(np.arange(4), 2), weights=np.zeros(4))
    np.testing.assert_allclose(env.theta, 0.5)
    rep = make_env(f"{SMALL},replay=true", seed=0)
    for _ in range(5):
        rep.learn(rep.rollout(np.arange(64), 8))
    assert 0 < len(rep.replay) <= 128


def test_bad_env_specs() -> None:
    with pytest.raises(schedsim.SpecError, match="unknown environment 'gym'; accepted: 'bandit'"):
        parse_env_spec("gym")
    with pytest.raises(schedsim.SpecError, match="unknown bandit preset 'hard'; accepted: 'default'"):
        parse_env_spec("bandit:hard")
    with pytest.raises(schedsim.SpecError, match="unknown bandit parameter 'speed=2'"):
        parse_env_spec("bandit:speed=2")
    with pytest.raises(schedsim.SpecError, match="bandit: lr='fast' is not accepted; accepted: a float"):
        parse_env_spec("bandit:lr=fast")
    with pytest.raises(schedsim.ParameterError, match="optimizer='rmsprop' is not accepted; accepted: 'adam', 'sgd'"):
        BanditConfig(optimizer="rmsprop")
    assert parse_env_spec("bandit:hard-tail,level_offsets=-1/0/3")[2].level_offsets == (-1.0, 0.0, 3.0)
    with pytest.raises(schedsim.ParameterError, match="head='none'"):
        make_env(f"{SMALL},head=none", seed=0).log_z(np.arange(3))
