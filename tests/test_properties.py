"""hypothesis property tests: scheduler invariants over random pools and random feedback sequences."""

from __future__ import annotations

import copy

import numpy as np
from conftest import builtin_kwargs
from hypothesis import given, settings
from hypothesis import strategies as st

import schedsim
from schedsim.checks import passive_check_distribution, passive_check_ids
from schedsim.rules.kernels import beta_kernel
from schedsim.rules.sampling import KernelSampling, normalise

SPECS = [
    "uniform",
    "paced",
    "beta",
    "beta:unbiased=true",
    "gaussian",
    "sec",
    "sec:update_unseen=false",
    "mopps",
    "spo",
    "plr",
    "dapo",
    "dapo:variant=v1,max_num_gen_batches=0",
    "band:tau_lo=0.1,tau_hi=0.7",
    "band:mode=weight",
    "greso",
]
SETTINGS = settings()  # the profile loaded in conftest.py: `ci` (200 examples) or HYPOTHESIS_PROFILE=thorough


@st.composite
def scenario(draw: st.DrawFn) -> tuple[schedsim.PromptPool, list[schedsim.Feedback], int]:
    n = draw(st.integers(1, 40))
    n_cat = draw(st.integers(1, 4))
    category = np.array(draw(st.lists(st.integers(0, n_cat - 1), min_size=n, max_size=n)))
    pool = schedsim.PromptPool(n=n, category=category)
    batches = []
    for _ in range(draw(st.integers(0, 5))):
        m = draw(st.integers(0, 6))
        g = draw(st.integers(1, 6))
        ids = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
        cells = st.sampled_from([0.0, 1.0, np.nan])
        rewards = np.array(draw(st.lists(st.lists(cells, min_size=g, max_size=g), min_size=m, max_size=m)))
        batches.append(schedsim.Feedback(prompt_ids=ids, rewards=rewards.reshape(m, g)))
    k = draw(st.integers(0, n))
    return pool, batches, k


@SETTINGS
@given(scenario(), st.sampled_from(SPECS), st.integers(0, 2**16))
def test_invariants_hold_after_any_feedback(case: tuple, spec: str, seed: int) -> None:
    pool, batches, k = case
    s = schedsim.make_scheduler(spec, pool=pool, seed=seed, **builtin_kwargs(spec.partition(":")[0], pool.n))
    twin = copy.deepcopy(s)
    for fb in batches:
        s.observe(fb)
        twin.observe(fb)
        passive_check_distribution(s.distribution(), pool.n)
        if isinstance(getattr(s, "rule", None), KernelSampling):  # the incremental weight cache is exact
            np.testing.assert_allclose(s.distribution(), normalise(s.rule.kernel.weights(s.estimator)))
        est = s.estimates()
        assert est is None or (np.isfinite(est).all() and (est >= 0).all() and (est <= 1).all())
    ids = passive_check_ids(s.select(k), pool.n, k, distinct=s.distinct)
    np.testing.assert_array_equal(ids, twin.select(k))  # determinism
    state = s.state_dict()
    fresh = schedsim.make_scheduler(spec, pool=pool, seed=seed + 1, **builtin_kwargs(spec.partition(":")[0], pool.n))
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(s.select(k), fresh.select(k))


@SETTINGS
@given(st.integers(0, 2**20).map(lambda i: i / 2**20), st.floats(0.1, 5))  # dyadic p: 1 - p is exact
def test_beta_kernel_symmetric_when_alpha_equals_beta(p: float, a: float) -> None:
    # 1 - (1 - p) != p in floating point (1 - 1e-139 == 1): equal up to rounding of p near the ends
    np.testing.assert_allclose(
        beta_kernel(np.array(p), a, a), beta_kernel(np.array(1 - p), a, a), rtol=1e-6, atol=1e-12
    )


@SETTINGS
@given(scenario(), st.integers(0, 100))
def test_gaussian_weight_ratio_bounded_for_default_sigma(case: tuple, seed: int) -> None:
    pool, batches, _ = case
    s = schedsim.make_scheduler("gaussian", pool=pool, seed=seed)
    for fb in batches:
        s.observe(fb)
    d = s.distribution()
    assert d.min() / d.max() >= np.exp(-0.25 / (2 * 0.35**2)) - 1e-12


@SETTINGS
@given(scenario(), st.floats(0.05, 5), st.integers(0, 100))
def test_sec_probabilities_are_softmax_of_reported_q(case: tuple, tau: float, seed: int) -> None:
    pool, batches, _ = case
    s = schedsim.make_scheduler("sec", pool=pool, seed=seed, tau=tau)
    for fb in batches:
        s.observe(fb)
    m = s.metrics()
    q = np.array([m[f"sched/q/{c}"] for c in range(pool.n_categories)])
    probs = np.array([m[f"sched/arm_prob/{c}"] for c in range(pool.n_categories)])
    e = np.exp((q - q.max()) / tau)
    np.testing.assert_allclose(probs, e / e.sum(), rtol=1e-9)
    assert (q >= 0).all()  # mean |A| is non-negative, so is its EMA from Q0 = 0


@SETTINGS
@given(scenario(), st.floats(0.0, 1.0), st.floats(0.05, 1.0), st.floats(0.0, 0.95), st.floats(0.0, 1.0))
def test_gaussian_distribution_is_the_kernel_of_a_loop_ema(
    case: tuple, mu: float, sigma: float, decay: float, init: float
) -> None:
    pool, batches, _ = case
    s = schedsim.make_scheduler("gaussian", pool=pool, seed=0, mu=mu, sigma=sigma, ema_decay=decay, init=init)
    p = np.full(pool.n, init)
    for fb in batches:
        s.observe(fb)
        for i in set(fb.prompt_ids.tolist()):  # one EMA step per prompt per batch, on its pooled accuracy
            r = fb.rewards[fb.prompt_ids == i]
            if (~np.isnan(r)).any():
                p[i] = decay * p[i] + (1 - decay) * np.nanmean(r)
    w = np.exp(-((p - mu) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(s.distribution(), w / w.sum(), rtol=1e-9, atol=1e-300)


@SETTINGS
@given(scenario(), st.floats(0.1, 3.0), st.floats(0.1, 3.0), st.floats(0.0, 0.5), st.integers(0, 100))
def test_beta_distribution_is_the_kernel_of_the_latest_group(
    case: tuple, alpha: float, beta: float, floor: float, seed: int
) -> None:
    pool, batches, _ = case
    s = schedsim.make_scheduler("beta", pool=pool, seed=seed, alpha=alpha, beta=beta, floor=floor, init=0.3)
    p = np.full(pool.n, 0.3)
    for fb in batches:
        s.observe(fb)
        for i in set(fb.prompt_ids.tolist()):  # the latest batch's pooled accuracy replaces the estimate
            r = fb.rewards[fb.prompt_ids == i]
            if (~np.isnan(r)).any():
                p[i] = np.nanmean(r)
    mode = alpha / (alpha + beta)
    w = p**alpha * (1 - p) ** beta + floor * mode**alpha * (1 - mode) ** beta
    want = w / w.sum() if w.sum() > 0 else np.full(pool.n, 1 / pool.n)
    np.testing.assert_allclose(s.distribution(), want, rtol=1e-9, atol=1e-15)
