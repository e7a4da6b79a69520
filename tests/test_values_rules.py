"""Rules and kernels: defaults, validation messages, the sampling law on unnormalised and degenerate weights, the
Gumbel fallback, and the incremental weight cache, each checked by value."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import schedsim
from schedsim.estimators import EmpiricalEstimator, LogZEstimator
from schedsim.rules.kernels import (
    BetaKernel,
    GaussianKernel,
    SqrtKernel,
    beta_kernel,
    falling_factorial,
    gaussian_kernel,
)
from schedsim.rules.sampling import KernelSampling, TopKClosest, sample_distinct, smallest_k

POOL = schedsim.PromptPool(n=6)


def fb(ids: list[int], rewards: list[list[float]]) -> schedsim.Feedback:
    return schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array(rewards, dtype=float))


# -- defaults and validation ---------------------------------------------------------------------------------------------
def test_kernel_and_rule_defaults_are_the_papers() -> None:
    b = BetaKernel()
    assert (b.alpha, b.beta, b.floor, b.unbiased, b.peak) == (1.0, 1.0, 0.05, False, 0.25)
    g = GaussianKernel()
    assert (g.mu, g.sigma) == (0.5, 0.35)
    assert SqrtKernel().eps == 0.05
    t = TopKClosest(POOL)
    assert (t.tau, t.candidates, t.explore, t.pool) == (0.5, None, 0.0, POOL)
    k = KernelSampling(POOL, b)
    assert (k.replace, k.distinct, k.pool) == (False, True, POOL)
    assert KernelSampling(POOL, b, replace=True).distinct is False


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BetaKernel(alpha=0.0), "alpha=0.0 is out of range; accepted: a number in (0, inf)"),
        (lambda: BetaKernel(beta=0.0), "beta=0.0 is out of range; accepted: a number in (0, inf)"),
        (lambda: BetaKernel(beta=-1.0), "beta=-1.0 is out of range; accepted: a number in (0, inf)"),
        (lambda: BetaKernel(floor=-0.1), "floor=-0.1 is out of range; accepted: a number in [0, inf)"),
        (
            lambda: BetaKernel(1.5, 1.0, unbiased=True),
            "unbiased=True needs integer exponents, got alpha=1.5, beta=1.0; "
            "accepted: integer alpha and beta, or unbiased=False",
        ),
        (lambda: GaussianKernel(mu=1.5), "mu=1.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: GaussianKernel(mu=-0.5), "mu=-0.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: GaussianKernel(sigma=0.0), "sigma=0.0 is out of range; accepted: a number in (0, inf)"),
        (lambda: SqrtKernel(eps=-0.01), "eps=-0.01 is out of range; accepted: a number in [0, inf)"),
        (lambda: TopKClosest(POOL, tau=1.5), "tau=1.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: TopKClosest(POOL, tau=-0.1), "tau=-0.1 is out of range; accepted: a number in [0, 1]"),
        (lambda: TopKClosest(POOL, explore=1.5), "explore=1.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: TopKClosest(POOL, explore=-0.5), "explore=-0.5 is out of range; accepted: a number in [0, 1]"),
        (lambda: TopKClosest(POOL, candidates=0), "candidates=0 is out of range; accepted: an integer in [1, inf)"),
    ],
)
def test_bad_parameters_name_the_value_and_the_accepted_range(build, message: str) -> None:
    with pytest.raises(schedsim.ParameterError, match=f"^{re.escape(message)}$"):
        build()


def test_boundary_parameters_are_accepted() -> None:
    assert GaussianKernel(mu=1.0).mu == 1.0 and GaussianKernel(mu=0.0).mu == 0.0
    assert TopKClosest(POOL, tau=1.0, explore=1.0, candidates=1).candidates == 1
    assert BetaKernel(floor=0.0).floor == 0.0 and SqrtKernel(eps=0.0).eps == 0.0


def test_unbiased_kernel_needs_an_estimator_with_counts() -> None:
    est = schedsim.estimators.EMAEstimator(POOL)
    with pytest.raises(
        schedsim.ParameterError,
        match=r"^unbiased=True needs success counts, but estimator 'ema' keeps none; "
        r"accepted: estimator='empirical', or unbiased=False$",
    ):
        BetaKernel(unbiased=True).check_estimator(est)
    BetaKernel(unbiased=True).check_estimator(EmpiricalEstimator(POOL))
    BetaKernel().check_estimator(est)  # the plug-in kernel reads any estimator


def test_gaussian_sigma_is_accepted_exactly_when_its_weights_are_finite() -> None:
    # 1 / (2 sigma^2) overflows below sigma ~ 5.27e-155: 4.8e-155 -> 2.2e308 (inf); 5.3e-155 -> 1.78e308 (finite)
    with pytest.raises(schedsim.ParameterError, match=r"sigma=4\.8e-155 is too small"):
        GaussianKernel(0.5, 4.8e-155)
    k = GaussianKernel(0.5, 5.3e-155)
    np.testing.assert_array_equal(k(np.array([0.5, 0.6])), [1.0, 0.0])


# -- kernels on integer inputs and large values ---------------------------------------------------------------------------
def test_kernels_accept_integer_arrays() -> None:
    np.testing.assert_allclose(beta_kernel(np.array([0, 1]), 2, 0.5), [0.0, 0.0])
    np.testing.assert_allclose(beta_kernel(np.array([0.3]), 1, 2), [0.3 * 0.49])  # beta = 2 squares 1 - p
    np.testing.assert_allclose(gaussian_kernel(np.array([0, 1]), 0, 1), [1.0, np.exp(-0.5)])  # int p and int mu
    assert falling_factorial(np.array([30]), 20)[0] == pytest.approx(math.perm(30, 20), rel=1e-12)  # > int64


def test_unbiased_kernel_below_alpha_plus_beta_warns_nothing() -> None:
    from schedsim.rules.kernels import unbiased_beta_kernel

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # K < alpha + beta and never-observed prompts are routine: no 0/0 warning
        out = unbiased_beta_kernel(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 2.0]), 2, 1)
    assert np.isnan(out).all()


# -- smallest_k -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_smallest_k_with_distinct_scores_is_exact(k: int) -> None:
    scores = np.array([5.0, 3.0, 8.0, 1.0, 9.0, 2.0, 7.0])
    picked = smallest_k(scores, k, np.random.default_rng(k))
    assert sorted(picked.tolist()) == sorted(np.argsort(scores)[:k].tolist())


def test_smallest_k_of_one_is_the_minimum() -> None:
    assert smallest_k(np.array([0.4, 0.1, 0.3]), 1, np.random.default_rng(0)).tolist() == [1]


# -- sample_distinct --------------------------------------------------------------------------------------------------------
def test_sample_distinct_law_with_unnormalised_weights() -> None:
    rng = np.random.default_rng(2)
    firsts = np.array([sample_distinct(np.array([5.0, 3.0, 2.0]), 2, rng)[0] for _ in range(6000)])
    np.testing.assert_allclose(np.bincount(firsts, minlength=3) / 6000, [0.5, 0.3, 0.2], atol=0.02)


def test_sample_distinct_fills_with_zero_weight_ids_uniformly_and_silently() -> None:
    rng = np.random.default_rng(3)
    counts = np.zeros(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no log(0) on zero weights
        for _ in range(600):
            ids = sample_distinct(np.array([0.0, 1.0, 0.0, 0.0, 0.0]), 3, rng)
            assert ids[0] == 1 and len(set(ids.tolist())) == 3
            counts[ids] += 1
    assert counts[1] == 600 and counts[[0, 2, 3, 4]].min() > 240  # 1200 fills over 4 ids: 300 each


def test_gumbel_fallback_follows_the_weights_and_never_takes_zero_weights() -> None:
    weights = np.concatenate([np.ones(3), np.full(500, 1e-11), np.full(500, 1e-12), np.zeros(50)])
    rng = np.random.default_rng(4)
    heavy = total = 0
    for _ in range(150):
        ids = sample_distinct(weights, 10, rng)
        assert ids.shape == (10,) and len(set(ids.tolist())) == 10
        assert set(ids[:3].tolist()) == {0, 1, 2} and (ids < 1003).all()
        heavy += int((ids[3:] < 503).sum())
        total += 7
    # each fallback pick is ~ proportional to weight: the 1e-11 half holds 10/11 of the light mass
    assert heavy / total == pytest.approx(10 / 11, abs=0.03)


def test_gumbel_fallback_takes_the_top_keys_exactly_when_weights_are_far_apart() -> None:
    weights = np.concatenate([np.ones(3), np.full(7, 1e-3), np.full(990, 1e-300)])
    for seed in range(30):  # 1e-3 vs 1e-300: the 7 light-but-not-negligible ids always win
        ids = sample_distinct(weights, 10, np.random.default_rng(seed))
        assert sorted(ids.tolist()) == list(range(10))


# -- KernelSampling --------------------------------------------------------------------------------------------------------
def test_all_zero_weights_sample_uniformly() -> None:
    pool = schedsim.PromptPool(n=10)
    counts = np.zeros(10)
    for seed in range(300):
        s = schedsim.make_scheduler("beta:floor=0", pool=pool, seed=seed)
        s.observe(fb(list(range(10)), [[1.0, 1.0]] * 5 + [[0.0, 0.0]] * 5))  # every p-hat in {0, 1}: w = 0
        ids = s.select(2)
        assert len(set(ids.tolist())) == 2
        counts[ids] += 1
    np.testing.assert_allclose(s.distribution(), 0.1)
    assert counts.min() > 30 and counts.max() < 95  # 600 picks over 10 ids: 60 each


def test_sampling_law_with_small_unnormalised_weights() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("beta:floor=0,replace=true", pool=pool, seed=0)
    s.observe(fb([0, 1, 2], [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]]))  # w = 3/16, 1/4, 3/16: total 5/8 < 1
    draws = np.concatenate([s.select(3) for _ in range(3000)])
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / draws.size, [0.3, 0.4, 0.3], atol=0.015)


def test_incremental_cache_after_two_observations_between_reads() -> None:
    pool = schedsim.PromptPool(n=5)
    s = schedsim.make_scheduler("beta:alpha=2", pool=pool, seed=0)
    s.distribution()  # fills the cache
    s.observe(fb([0], [[1, 0, 0, 0]]))
    s.observe(fb([3], [[1, 1, 1, 0]]))  # two revisions before the next read
    p = np.array([0.25, 0.5, 0.5, 0.75, 0.5])
    w = p**2 * (1 - p) + 0.05 * 4 / 27
    np.testing.assert_allclose(s.distribution(), w / w.sum())
    s.observe(fb([1], [[0, 0, 0, 0]]))  # one revision: incremental update of prompt 1 only
    p[1] = 0.0
    w = p**2 * (1 - p) + 0.05 * 4 / 27
    np.testing.assert_allclose(s.distribution(), w / w.sum())


def test_non_incremental_estimators_are_reread_every_time() -> None:
    table = schedsim.LogZTable(4, init=10.0)  # p-hat 0.5 everywhere
    s = schedsim.make_scheduler("gaussian:estimator=logz,sigma=0.2", pool=schedsim.PromptPool(n=4), log_z=table)
    np.testing.assert_allclose(s.distribution(), 0.25)
    table.update(np.array([2]), np.array([20.0]))  # the trainer's head moved: p-hat 1 for prompt 2
    w = np.array([1.0, 1.0, np.exp(-0.25 / 0.08), 1.0])
    np.testing.assert_allclose(s.distribution(), w / w.sum())
    assert isinstance(s.estimator, LogZEstimator) and not s.estimator.incremental


@pytest.mark.parametrize("k", [1, 7, 50, 333, 999])
def test_smallest_k_on_a_large_array_is_exact(k: int) -> None:
    scores = np.random.default_rng(k).permutation(1000).astype(float)  # distinct: no ties
    picked = smallest_k(scores, k, np.random.default_rng(0))
    assert sorted(scores[picked].tolist()) == list(range(k))


@pytest.mark.parametrize("seed", [20, 106, 115])
def test_smallest_k_where_introselect_moves_the_neighbour_of_the_kth(seed: int) -> None:
    # inputs found by search on which np.partition(scores, k - 2)[k - 1] is not the k-th smallest score
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    k = int(rng.integers(2, n))
    scores = rng.permutation(n).astype(float)
    picked = smallest_k(scores, k, np.random.default_rng(0))
    assert sorted(scores[picked].tolist()) == list(range(k))
