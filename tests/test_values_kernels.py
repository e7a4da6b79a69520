"""Kernels, sampling rules and kernel schedulers at asymmetric parameters, so that a swapped or ignored parameter
changes a value (docs/schedulers.md (beta), §3, §6). Each expected value is computed by hand in the comment."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

import schedsim
from schedsim.estimators import EmpiricalEstimator
from schedsim.rules.kernels import (
    BetaKernel,
    GaussianKernel,
    SqrtKernel,
    beta_kernel,
    beta_kernel_peak,
    falling_factorial,
    gaussian_kernel,
    unbiased_beta_kernel,
)
from schedsim.rules.sampling import normalise, smallest_k


def fb(ids: list[int], rewards: list[list[float]]) -> schedsim.Feedback:
    return schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array(rewards, dtype=float))


# -- Beta kernel ----------------------------------------------------------------------------------------------------
def test_beta_kernel_asymmetric_exponents_at_interior_points() -> None:
    p = np.array([0.2, 0.3, 0.75])
    np.testing.assert_allclose(beta_kernel(p, 1, 3), [0.2 * 0.8**3, 0.3 * 0.7**3, 0.75 * 0.25**3])  # .1024 .1029
    np.testing.assert_allclose(beta_kernel(p, 2, 1), [0.04 * 0.8, 0.09 * 0.7, 0.5625 * 0.25])  # alpha on p only
    np.testing.assert_allclose(beta_kernel(p, 2, 0.5), p**2 * np.sqrt(1 - p))
    np.testing.assert_allclose(beta_kernel(p, 1, 1), p * (1 - p))


def test_beta_kernel_clips_p_to_the_unit_interval() -> None:
    np.testing.assert_array_equal(beta_kernel(np.array([-0.5, 1.5]), 2, 1), [0.0, 0.0])  # unclipped: .375, -.5625
    assert beta_kernel(np.array(-0.5), 1, 1) == 0.0


def test_beta_kernel_peak_is_at_alpha_over_alpha_plus_beta() -> None:
    assert beta_kernel_peak(1, 3) == pytest.approx(0.25 * 0.75**3)  # mode 1/4: 0.10546875
    assert beta_kernel_peak(3, 1) == pytest.approx(0.75**3 * 0.25)  # same value, mode 3/4
    assert beta_kernel_peak(2, 0.5) == pytest.approx(0.64 * np.sqrt(0.2))  # mode 0.8
    grid = np.linspace(0, 1, 100_001)
    assert beta_kernel(grid, 2, 0.5).max() == pytest.approx(beta_kernel_peak(2, 0.5), rel=1e-8)


def test_beta_kernel_floor_is_a_fraction_of_the_peak() -> None:
    k = BetaKernel(2.0, 0.5, floor=0.1)
    peak = 0.64 * np.sqrt(0.2)
    np.testing.assert_allclose(
        k(np.array([0.0, 0.25, 0.75])), [0.1 * peak, 0.0625 * np.sqrt(0.75) + 0.1 * peak, 0.5625 * 0.5 + 0.1 * peak]
    )
    np.testing.assert_allclose(BetaKernel(2.0, 0.5, floor=0.0)(np.array([0.0, 1.0])), [0.0, 0.0])


def test_falling_factorial() -> None:
    np.testing.assert_allclose(falling_factorial(np.array([5.0, 2.0, 0.0]), 3), [60.0, 0.0, 0.0])  # 5*4*3, 2*1*0
    np.testing.assert_allclose(falling_factorial(np.array([7.0]), 0), [1.0])


def test_unbiased_kernel_at_k_equal_to_alpha_plus_beta_and_below() -> None:
    s = np.array([0.0, 1.0, 2.0, 3.0])
    # K = 3 = alpha + beta with (2, 1): (s)_2 (3-s)_1 / (3)_3 = [0, 0, 2*1*1/6, 0]
    np.testing.assert_allclose(unbiased_beta_kernel(s, np.full(4, 3.0), 2, 1), [0.0, 0.0, 1 / 3, 0.0])
    for p in (0.1, 0.6):  # still exactly unbiased at the smallest K
        assert binom.pmf(s, 3, p) @ unbiased_beta_kernel(s, np.full(4, 3.0), 2, 1) == pytest.approx(p**2 * (1 - p))
    assert np.isnan(unbiased_beta_kernel(np.array([1.0]), np.array([2.0]), 2, 1)).all()  # K < alpha + beta
    # K = 2 = alpha + beta with (1, 1): K/(K-1) p(1-p) = 2 * 1/2 * 1/2 = 1/2
    assert unbiased_beta_kernel(np.array(1.0), np.array(2.0), 1, 1) == pytest.approx(0.5)


def test_unbiased_weights_fall_back_to_plug_in_where_k_is_too_small() -> None:
    pool = schedsim.PromptPool(n=4)
    est = EmpiricalEstimator(pool, init=0.4)
    est.observe(fb([0, 1], [[1, 0, np.nan], [1, 1, 0]]))  # K = 2 < 3 (plug-in), K = 3 (U-statistic)
    k = BetaKernel(2, 1, floor=0.0, unbiased=True)
    # prompt 0: plug-in (1/2)^2 (1/2) = 1/8; prompt 1: (2)_2 (1)_1 / (3)_3 = 1/3; unseen: 0.4^2 * 0.6 = 0.096
    np.testing.assert_allclose(k.weights(est), [0.125, 1 / 3, 0.096, 0.096])
    np.testing.assert_allclose(k.weights(est, np.array([1, 0])), [1 / 3, 0.125])
    floored = BetaKernel(2, 1, floor=0.5, unbiased=True)
    np.testing.assert_allclose(floored.weights(est), np.array([0.125, 1 / 3, 0.096, 0.096]) + 0.5 * 4 / 27)


def test_unbiased_weights_are_never_negative() -> None:
    # (1, 1) at K = 2 is exact and non-negative; check the clamp with a hand-made negative count state
    pool = schedsim.PromptPool(n=1)
    est = EmpiricalEstimator(pool)
    est.succ[:], est.count[:], est.p[:] = 3.0, 2.0, 1.0  # (3)_1 (-1)_1 / (2)_2 = -1.5: clamped to 0
    np.testing.assert_array_equal(BetaKernel(1, 1, floor=0.0, unbiased=True).weights(est), [0.0])


# -- Gaussian and SPO's sqrt kernel ------------------------------------------------------------------------------------
def test_gaussian_kernel_uses_mu_and_sigma() -> None:
    p = np.array([0.1, 0.3, 0.6])
    # mu = 0.3, sigma = 0.2: 2 sigma^2 = 0.08 -> exp(-0.04/0.08), 1, exp(-0.09/0.08)
    np.testing.assert_allclose(gaussian_kernel(p, 0.3, 0.2), np.exp([-0.5, 0.0, -1.125]))
    np.testing.assert_allclose(GaussianKernel(0.3, 0.2)(p), np.exp([-0.5, 0.0, -1.125]))
    np.testing.assert_allclose(GaussianKernel()(np.array([0.5, 0.85])), [1.0, np.exp(-0.5)])  # one sigma = 0.35 off


def test_gaussian_kernel_rejects_a_sigma_whose_square_underflows() -> None:
    with pytest.raises(schedsim.ParameterError, match="sigma=1e-200 is too small"):
        GaussianKernel(0.5, 1e-200)  # sigma^2 underflows to 0 (was a ZeroDivisionError)
    with pytest.raises(schedsim.ParameterError, match="sigma=1e-160 is too small"):
        GaussianKernel(0.5, 1e-160)  # 1 / (2 sigma^2) overflows to inf


def test_sqrt_kernel_eps_and_clipping() -> None:
    k = SqrtKernel(eps=0.2)
    np.testing.assert_allclose(k(np.array([0.36, -1.0, 2.0, 0.5])), [0.48 + 0.2, 0.2, 0.2, 0.5 + 0.2])


def test_normalise_falls_back_to_uniform() -> None:
    np.testing.assert_allclose(normalise(np.array([1.0, 3.0])), [0.25, 0.75])
    np.testing.assert_allclose(normalise(np.zeros(4)), 0.25)
    np.testing.assert_allclose(normalise(np.array([np.inf, 1.0])), 0.5)


# -- the schedulers at asymmetric parameters ---------------------------------------------------------------------------
def test_beta_scheduler_asymmetric_exponents_and_floor() -> None:
    pool = schedsim.PromptPool(n=4)
    s = schedsim.make_scheduler("beta:alpha=2,beta=0.5,floor=0.1,init=0.3", pool=pool, seed=0)
    s.observe(fb([0, 1, 2], [[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]))  # p-hat 0.25, 0.75, 1; prompt 3: init 0.3
    p = np.array([0.25, 0.75, 1.0, 0.3])
    w = p**2 * np.sqrt(1 - p) + 0.1 * 0.64 * np.sqrt(0.2)
    np.testing.assert_allclose(s.distribution(), w / w.sum())


def test_gaussian_scheduler_mu_sigma_decay_init() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("gaussian:mu=0.3,sigma=0.2,ema_decay=0.6,init=0.4", pool=pool, seed=0)
    s.observe(fb([0, 1], [[1, 1, 1, 1], [0, 0, 0, 0]]))
    p = np.array([0.6 * 0.4 + 0.4, 0.6 * 0.4, 0.4])  # 0.64, 0.24, 0.4
    np.testing.assert_allclose(s.estimates(), p)
    w = np.exp(-((p - 0.3) ** 2) / 0.08)
    np.testing.assert_allclose(s.distribution(), w / w.sum())


def test_sec_alpha_and_tau_off_their_defaults() -> None:
    pool = schedsim.PromptPool(n=4, category=[0, 0, 1, 2])
    s = schedsim.make_scheduler("sec:alpha=0.3,tau=0.5", pool=pool, seed=0)
    s.observe(fb([0, 3], [[1, 0, 1, 0], [1, 0, np.nan, np.nan]]))
    s.observe(fb([1, 2], [[1, 0, 0, 0], [1, 1, 1, 1]]))
    r1 = np.array([0.5 / (np.sqrt(1 / 3) + 1e-6), 0.0, 0.5 / (np.sqrt(0.5) + 1e-6)])  # mean |A| per arm
    r2 = np.array([np.mean(np.array([0.75, 0.25, 0.25, 0.25]) / (0.5 + 1e-6)), 0.0, 0.0])
    q = 0.7 * (0.3 * r1) + 0.3 * r2  # Q <- (1 - alpha) Q + alpha r, every arm (official)
    np.testing.assert_allclose(s.values.q, q)
    e = np.exp(q / 0.5)
    np.testing.assert_allclose(s.arm_probabilities(), e / e.sum())
    np.testing.assert_allclose(s.distribution(), (e / e.sum())[[0, 0, 1, 2]] / [2, 2, 1, 1])


def test_sec_uses_the_advantages_the_trainer_sent_and_the_configured_std() -> None:
    pool = schedsim.PromptPool(n=2, category=[0, 1])
    s = schedsim.make_scheduler("sec:alpha=1", pool=pool, seed=0)
    adv = np.array([[0.5, -1.5, np.nan], [2.0, 0.0, 0.0]])
    s.observe(schedsim.Feedback(prompt_ids=np.array([0, 1]), rewards=np.zeros((2, 3)), advantages=adv))
    np.testing.assert_allclose(s.values.q, [1.0, 2 / 3])  # mean |A| over real entries: (0.5+1.5)/2, 2/3
    pop = schedsim.make_scheduler("sec:alpha=1,adv_std=population", pool=pool, seed=0)
    pop.observe(fb([0, 1], [[1, 0, 0, 0], [1, 1, 0, 0]]))
    # population std: r̄ = 1/4: |A| = (3/4, 1/4 x3) / sqrt(3/16); r̄ = 1/2: all 1/2 / 1/2 = 1
    np.testing.assert_allclose(pop.values.q, [1.5 / 4 / (np.sqrt(3 / 16) + 1e-6), 0.5 / (0.5 + 1e-6)])


def test_spo_eps_and_decay_off_their_defaults() -> None:
    pool = schedsim.PromptPool(n=2)
    s = schedsim.make_scheduler("spo:eps=0.2,decay=0.8,prior_alpha=2,prior_beta=3", pool=pool, seed=0)
    s.observe(fb([0], [[1, 1, 1, 0]]))
    s.observe(fb([0], [[1, 0, 0, 0]]))
    # alpha <- 0.8 alpha + s: 2 -> 4.6 -> 4.68; beta: 3 -> 3.4 -> 5.72
    np.testing.assert_allclose([s.estimator.alpha[0], s.estimator.beta[0]], [4.68, 5.72])
    p = np.array([4.68 / 10.4, 0.4])  # prompt 1 keeps its prior mean 2/5
    w = np.sqrt(p * (1 - p)) + 0.2
    np.testing.assert_allclose(s.distribution(), w / w.sum())


def test_mopps_decay_pulls_toward_an_asymmetric_prior() -> None:
    pool = schedsim.PromptPool(n=2)
    s = schedsim.make_scheduler("mopps:decay=0.7,prior_alpha=2,prior_beta=3", pool=pool, seed=0)
    s.observe(fb([0], [[1, 1, 1, 0]]))
    s.observe(fb([0], [[1, 0, 0, 0]]))
    # alpha <- 0.7 alpha + 0.3 * 2 + s: 2 -> 5 -> 5.1; beta <- 0.7 beta + 0.3 * 3 + f: 3 -> 4 -> 6.7
    np.testing.assert_allclose([s.estimator.alpha[0], s.estimator.beta[0]], [5.1, 6.7])
    np.testing.assert_allclose(s.estimates(), [5.1 / 11.8, 0.4])


def test_paced_kl_coef_and_tau_off_their_defaults() -> None:
    pool = schedsim.PromptPool(n=5)
    table = schedsim.LogZTable(5)
    table.update(np.arange(5), np.array([5.0, 10.0, 20.0, 30.0, 40.0]))  # x 0.03: .15 .3 .6 .9 1.2 -> 1
    s = schedsim.make_scheduler("paced:kl_coef=0.03,tau=0.7", pool=pool, seed=0, log_z=table)
    np.testing.assert_allclose(s.estimates(), [0.15, 0.3, 0.6, 0.9, 1.0])
    assert set(s.select(2)) == {2, 3}  # |.6 - .7| = .1, |.9 - .7| = .2, next |.3 - .7| = .4


# -- ties are broken at random ----------------------------------------------------------------------------------------
def test_smallest_k_all_tied_picks_every_id_about_equally() -> None:
    rng = np.random.default_rng(0)
    counts = np.zeros(10)
    for _ in range(300):
        picked = smallest_k(np.zeros(10), 3, rng)
        assert len(set(picked)) == 3
        counts[picked] += 1
    # 900 picks over 10 tied ids: 90 each, binomial s.d. ~ 8.5
    assert counts.min() > 55 and counts.max() < 125, counts


def test_smallest_k_boundary_ties_random_and_strict_minimum_always_in() -> None:
    rng = np.random.default_rng(1)
    scores = np.array([3.0, 1.0, 1.0, 0.0, 1.0, 1.0, 2.0])
    counts = np.zeros(7)
    for _ in range(400):
        picked = smallest_k(scores, 3, rng)
        counts[picked] += 1
    assert counts[3] == 400 and counts[0] == counts[6] == 0
    assert counts[[1, 2, 4, 5]].min() > 150  # 800 picks over 4 tied ids: 200 each
    np.testing.assert_array_equal(np.sort(smallest_k(scores, 7, rng)), np.arange(7))
    assert smallest_k(scores, 0, rng).shape == (0,)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=30), st.data())
def test_smallest_k_returns_k_distinct_smallest(scores: list[int], data: st.DataObject) -> None:
    scores_arr = np.array(scores, dtype=float)
    k = data.draw(st.integers(0, len(scores)))
    picked = smallest_k(scores_arr, k, np.random.default_rng(data.draw(st.integers(0, 99))))
    assert picked.shape == (k,) and len(set(picked.tolist())) == k
    rest = np.setdiff1d(np.arange(len(scores)), picked)
    if k and rest.size:
        assert scores_arr[picked].max() <= scores_arr[rest].min()


def test_topk_candidates_are_a_fresh_random_subset_and_explore_fills_the_rest() -> None:
    pool = schedsim.PromptPool(n=50)
    table = schedsim.LogZTable(50)
    table.update(np.arange(50), np.arange(50) / 49 * 20)  # p-hat = i / 49
    s = schedsim.make_scheduler("paced:candidates=10", pool=pool, seed=3, log_z=table)
    seen = set()
    for _ in range(20):
        cand = copy.deepcopy(s._rng).choice(50, size=10, replace=False)  # the subset the rule draws first
        ids = s.select(3)
        dist = np.abs(np.arange(50) / 49 - 0.5)
        assert set(ids) <= set(cand)  # the 3 closest to tau among the candidates
        assert dist[ids].max() <= dist[np.setdiff1d(cand, ids)].min() + 1e-12
        seen |= set(ids.tolist())
    assert len(seen) > 10  # not the global best 3 every time
    e = schedsim.make_scheduler("paced:explore=0.5", pool=pool, seed=0, log_z=table)
    ids = e.select(8)
    assert set(ids[:4]) == {23, 24, 25, 26}  # round(0.5 * 8) = 4 greedy: |i/49 - 0.5| smallest
    assert len(set(ids)) == 8 and not set(ids[4:]) & {23, 24, 25, 26}


def test_kernel_sampling_with_replacement_follows_the_weights() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("gaussian:replace=true,mu=0.0,sigma=0.3,ema_decay=0", pool=pool, seed=0)
    s.observe(fb([0, 1, 2], [[0, 0], [1, 0], [1, 1]]))  # p 0, .5, 1: w = 1, exp(-.25/.18), exp(-1/.18)
    w = np.exp(-np.array([0.0, 0.25, 1.0]) / 0.18)
    draws = np.concatenate([s.select(3) for _ in range(3000)])
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / draws.size, w / w.sum(), atol=0.015)


# -- properties that tell a swap ---------------------------------------------------------------------------------------
@given(
    st.floats(0.2, 4.0),
    st.floats(0.2, 4.0),
    st.integers(1, 2**20 - 1).map(lambda i: i / 2**20),
)
def test_beta_kernel_peaks_at_its_mode_and_rises_toward_it(a: float, b: float, p: float) -> None:
    mode = a / (a + b)
    w = beta_kernel(np.array([p, mode]), a, b)
    assert w[0] <= w[1] * (1 + 1e-12)
    assert w[1] == pytest.approx(beta_kernel_peak(a, b), rel=1e-12)
    between = (p + mode) / 2  # strictly between p and the mode: the kernel is unimodal
    assert beta_kernel(np.array(between), a, b) >= w[0] * (1 - 1e-12)
    assert w[0] == pytest.approx(p**a * (1 - p) ** b, rel=1e-9)


@given(st.floats(0.0, 1.0), st.floats(0.05, 2.0), st.floats(0.0, 0.5))
def test_gaussian_kernel_centred_on_mu_with_width_sigma(mu: float, sigma: float, d: float) -> None:
    g = gaussian_kernel(np.array([mu - d, mu + d, mu, mu + sigma]), mu, sigma)
    assert g[0] == pytest.approx(g[1], rel=1e-12) and g[2] == 1.0
    assert g[3] == pytest.approx(np.exp(-0.5), rel=1e-9)
    assert g[0] == pytest.approx(np.exp(-(d**2) / (2 * sigma**2)), rel=1e-9, abs=1e-300)
