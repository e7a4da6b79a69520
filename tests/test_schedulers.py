"""Reference values computed by hand from the formulas in docs/schedulers.md."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

import schedsim
from schedsim.rules.kernels import beta_kernel, beta_kernel_peak, unbiased_beta_kernel
from schedsim.rules.sampling import sample_distinct, smallest_k


def fb(ids: list[int], rewards: list[list[float]]) -> schedsim.Feedback:
    return schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array(rewards, dtype=float))


# -- gaussian (FG-ExPO) -----------------------------------------------------------------------------------
def test_gaussian_distribution_after_known_feedback() -> None:
    pool = schedsim.PromptPool(n=4)
    s = schedsim.make_scheduler("gaussian", pool=pool, seed=0)
    s.observe(fb([0, 1, 2], [[1] * 8, [0] * 8, [1, 0] * 4]))
    s.observe(fb([0], [[1] * 8]))
    p_tilde = np.array([0.9 * (0.9 * 0.5 + 0.1) + 0.1, 0.45, 0.5, 0.5])  # 0.595, 0.45, 0.5, 0.5
    np.testing.assert_allclose(s.estimates(), p_tilde)
    w = np.exp(-((p_tilde - 0.5) ** 2) / (2 * 0.35**2))
    np.testing.assert_allclose(s.distribution(), w / w.sum())


def test_gaussian_weight_ratio_floor_for_default_sigma() -> None:
    pool = schedsim.PromptPool(n=2)
    s = schedsim.make_scheduler("gaussian", pool=pool, seed=0, ema_decay=0.0)
    s.observe(fb([0, 1], [[1] * 4, [1, 1, 0, 0]]))
    d = s.distribution()
    assert d[0] / d[1] == pytest.approx(np.exp(-0.25 / 0.245))  # 0.36, the smallest ratio on [0, 1]


# -- sec --------------------------------------------------------------------------------------------------
def sec_two_batches(update_unseen: bool) -> schedsim.Scheduler:
    pool = schedsim.PromptPool(n=4, category=[0, 0, 1, 2])
    s = schedsim.make_scheduler("sec", pool=pool, seed=0, update_unseen=update_unseen)
    s.observe(fb([0, 3], [[1, 0, 1, 0], [1, 0, np.nan, np.nan]]))
    s.observe(fb([1, 2], [[1, 0, 0, 0], [1, 1, 1, 1]]))
    return s


def test_sec_q_after_two_updates_official() -> None:
    s = sec_two_batches(update_unseen=True)
    r1 = np.array([0.5 / (np.sqrt(1 / 3) + 1e-6), 0.0, 0.5 / (np.sqrt(0.5) + 1e-6)])
    r2 = np.array([np.mean(np.array([0.75, 0.25, 0.25, 0.25]) / (0.5 + 1e-6)), 0.0, 0.0])
    q = 0.5 * (0.5 * r1) + 0.5 * r2  # Q0 = 0 -> 0.5 r1 -> ...
    np.testing.assert_allclose(s.values.q, q)
    np.testing.assert_allclose(s.values.q, [0.5915063, 0.0, 0.1767767], rtol=1e-5)
    e = np.exp(q / 1.0)
    np.testing.assert_allclose(s.arm_probabilities(), e / e.sum())


def test_sec_observed_only_keeps_unseen_arms() -> None:
    s = sec_two_batches(update_unseen=False)
    np.testing.assert_allclose(s.values.q, [0.5915063, 0.0, 0.3535534], rtol=1e-5)


def test_sec_first_batch_uniform_over_arms_and_distribution() -> None:
    pool = schedsim.PromptPool(n=6, category=[0, 0, 0, 0, 1, 1])
    s = schedsim.make_scheduler("sec", pool=pool, seed=0)
    np.testing.assert_allclose(s.distribution(), [1 / 8] * 4 + [1 / 4] * 2)


def test_sec_needs_categories() -> None:
    with pytest.raises(schedsim.PoolError, match="SEC needs prompt categories but the pool has none"):
        schedsim.make_scheduler("sec", pool=schedsim.PromptPool(n=5))


def test_sec_arm_queues_cycle_without_replacement() -> None:
    pool = schedsim.PromptPool(n=6, category=[0, 0, 0, 1, 1, 1])
    s = schedsim.make_scheduler("sec", pool=pool, seed=0, tau=1e-3)
    s.values.q[:] = [1.0, 0.0]  # arm 0 almost surely
    first, second = s.select(3), s.select(3)
    assert set(first) == set(second) == {0, 1, 2}
    fallback = s.select(5)  # arm 0 has 3 prompts: the rest falls back to arm 1, still distinct
    assert len(set(fallback)) == 5


# -- paced ------------------------------------------------------------------------------------------------
def test_paced_selects_closest_to_tau() -> None:
    pool = schedsim.PromptPool(n=6)
    table = schedsim.LogZTable(6)
    table.update(np.arange(6), np.array([0.0, 10.0, 20.0, 8.0, 11.5, 30.0]))  # p-hat 0 .5 1 .4 .575 1
    s = schedsim.make_scheduler("paced", pool=pool, seed=0, log_z=table)
    np.testing.assert_allclose(s.estimates(), [0.0, 0.5, 1.0, 0.4, 0.575, 1.0])
    assert set(s.select(2)) == {1, 4}
    assert set(s.select(3)) == {1, 3, 4}
    extra = {
        int(np.setdiff1d(make(seed).select(4), [1, 3, 4])[0])
        for seed in range(60)
        for make in [lambda seed: schedsim.make_scheduler("paced", pool=pool, seed=seed, log_z=table)]
    }
    assert extra == {0, 2, 5}  # ties at |p-hat - tau| = 0.5 broken at random
    assert s.distribution() is None


def test_paced_tau_and_explore() -> None:
    pool = schedsim.PromptPool(n=100)
    table = schedsim.LogZTable(100)
    table.update(np.arange(100), np.arange(100) / 99 * 20)  # p-hat rises linearly 0 .. 1
    s = schedsim.make_scheduler("paced:tau=0.2", pool=pool, seed=0, log_z=table)
    assert set(s.select(5)) == set(range(18, 23))
    e = schedsim.make_scheduler("paced:tau=0.2,explore=0.4", pool=pool, seed=0, log_z=table)
    ids = e.select(10)
    assert len(set(ids)) == 10 and len(set(ids[:6]) & set(range(16, 25))) == 6


def test_paced_missing_log_z_is_a_clear_error_and_can_be_set_later() -> None:
    pool = schedsim.PromptPool(n=10)
    s = schedsim.make_scheduler("paced", pool=pool, seed=0)
    with pytest.raises(schedsim.MissingSignalError, match="has no log Z source"):
        s.select(3)
    s.set_log_z(schedsim.LogZTable(10, init=10.0))
    assert s.select(3).shape == (3,)
    bad = schedsim.make_scheduler("paced", pool=pool, seed=0, log_z=lambda ids: np.zeros(2))
    with pytest.raises(schedsim.SchedsimError, match=r"log_z source returned shape \(2,\)"):
        bad.select(3)
    with pytest.raises(schedsim.ParameterError, match="reads no log Z"):
        schedsim.make_scheduler("gaussian", pool=pool).set_log_z(schedsim.LogZTable(10))


def test_paced_crossed_with_ema_needs_no_log_z() -> None:
    pool = schedsim.PromptPool(n=4)
    s = schedsim.make_scheduler("paced:estimator=ema,ema_decay=0", pool=pool, seed=0)
    s.observe(fb([0, 1, 2, 3], [[1] * 4, [0] * 4, [1, 0, 0, 0], [1, 1, 0, 1]]))
    assert set(s.select(2)) == {2, 3}


# -- beta (PACED distillation) ----------------------------------------------------------------------------
def test_beta_kernel_values() -> None:
    assert beta_kernel(np.array(0.5), 1, 1) == pytest.approx(0.25)
    np.testing.assert_allclose(beta_kernel(np.array([0.0, 1.0]), 2, 3), 0.0)
    assert beta_kernel_peak(2, 1) == pytest.approx((2 / 3) ** 2 / 3)
    assert unbiased_beta_kernel(np.array(3.0), np.array(8.0), 1, 1) == pytest.approx(8 / 7 * 3 / 8 * 5 / 8)


@pytest.mark.parametrize(("alpha", "beta", "k"), [(1, 1, 8), (2, 1, 4), (2, 3, 16)])
def test_unbiased_beta_kernel_is_exactly_unbiased(alpha: int, beta: int, k: int) -> None:
    s = np.arange(k + 1, dtype=float)
    for p in (0.05, 0.3, 0.5, 0.9):
        expectation = (binom.pmf(s, k, p) * unbiased_beta_kernel(s, np.full(k + 1, k), alpha, beta)).sum()
        assert expectation == pytest.approx(p**alpha * (1 - p) ** beta)


def test_beta_sampling_distribution_with_floor() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("beta", pool=pool, seed=0)
    s.observe(fb([0, 1, 2], [[1] * 4, [1, 0, 0, 0], [1, 1, 0, 0]]))
    w = np.array([0.0, 0.25 * 0.75, 0.25]) + 0.05 * 0.25
    np.testing.assert_allclose(s.distribution(), w / w.sum())
    u = schedsim.make_scheduler("beta:unbiased=true,floor=0", pool=pool, seed=0)
    u.observe(fb([0, 1, 2], [[1] * 4, [1, 0, 0, 0], [1, 1, 0, 0]]))
    w = np.array([0.0, 4 / 3 * 0.25 * 0.75, 4 / 3 * 0.25])
    np.testing.assert_allclose(u.distribution(), w / w.sum())


def test_beta_weight_mode_loss_weights() -> None:
    pool = schedsim.PromptPool(n=3)
    batch = fb([0, 1, 2], [[1] * 4, [1, 0, 0, 0], [1, 1, 0, 0]])
    s = schedsim.make_scheduler("beta:mode=weight", pool=pool, seed=0)
    w = np.array([0.0, 0.1875, 0.25]) + 0.0125  # w(p̂) of each group's own rollouts, before any observe
    np.testing.assert_allclose(s.loss_weights(batch), w / w.mean())
    raw = schedsim.make_scheduler("beta:mode=weight,weight_norm=none,floor=0,alpha=2", pool=pool, seed=0)
    np.testing.assert_allclose(raw.loss_weights(batch), [0.0, 0.25**2 * 0.75, 0.5**2 * 0.5])  # p̂² (1 − p̂)
    unb = schedsim.make_scheduler("beta:mode=weight,weight_norm=none,floor=0,unbiased=true,beta=2", pool=pool)
    # U-statistic s (K−s)(K−s−1) / (K (K−1) (K−2)) with K = 4: s=1 -> 1·3·2/24, s=2 -> 2·2·1/24
    np.testing.assert_allclose(unb.loss_weights(batch), [0.0, 6 / 24, 4 / 24])
    stale = schedsim.make_scheduler("beta:mode=weight,weight_norm=none,floor=0,weight_source=estimate", pool=pool)
    np.testing.assert_allclose(stale.loss_weights(np.array([2, 0])), [0.25, 0.25])  # unobserved: init 0.5
    stale.observe(batch)
    np.testing.assert_allclose(stale.loss_weights(np.array([2, 0])), [0.25, 0.0])  # the previous observation
    assert sorted(s.select(3)) == [0, 1, 2]  # weight mode samples uniformly (epoch order)
    np.testing.assert_allclose(schedsim.make_scheduler("beta", pool=pool).loss_weights(np.array([0, 1])), 1.0)


def test_beta_unbiased_needs_counts_and_integer_exponents() -> None:
    pool = schedsim.PromptPool(n=3)
    with pytest.raises(schedsim.ParameterError, match="estimator 'ema' keeps none"):
        schedsim.make_scheduler("beta:unbiased=true,estimator=ema", pool=pool)
    with pytest.raises(schedsim.ParameterError, match="unbiased=True needs integer exponents"):
        schedsim.make_scheduler("beta:unbiased=true,alpha=0.5", pool=pool)


def test_rewards_outside_unit_interval_rejected_before_any_update() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("gaussian", pool=pool, seed=0)
    before = s.state_dict()
    with pytest.raises(schedsim.FeedbackError, match=r"estimator 'ema' needs rewards in \[0, 1\]"):
        s.observe(fb([0], [[3.0, 1.0]]))
    np.testing.assert_array_equal(s.state_dict()["body"]["estimator"]["p"], before["body"]["estimator"]["p"])
    with pytest.raises(schedsim.FeedbackError, match=r"prompt_ids contains 7, out of range"):
        s.observe(fb([7], [[1.0]]))


# -- uniform ----------------------------------------------------------------------------------------------
def test_uniform_epochs_visit_every_prompt_once() -> None:
    pool = schedsim.PromptPool(n=10)
    s = schedsim.make_scheduler("uniform", pool=pool, seed=0)
    batches = [s.select(4) for _ in range(5)]  # 20 draws = 2 epochs, batches cross the boundary
    flat = np.concatenate(batches)
    assert all(len(set(b)) == 4 for b in batches)
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:]) == list(range(10))


def test_k_larger_than_pool_is_an_error() -> None:
    with pytest.raises(schedsim.ParameterError, match=r"k=11 exceeds the pool size; accepted: k <= 10"):
        schedsim.make_scheduler("uniform", pool=schedsim.PromptPool(n=10)).select(11)
    with pytest.raises(schedsim.ParameterError, match=r"k=-1 is not accepted"):
        schedsim.make_scheduler("uniform", pool=schedsim.PromptPool(n=10)).select(-1)


# -- sampling helpers -------------------------------------------------------------------------------------
def test_sample_distinct_matches_successive_sampling_law() -> None:
    prob = np.array([0.5, 0.3, 0.2])
    rng = np.random.default_rng(0)
    firsts = np.array([sample_distinct(prob, 2, rng) for _ in range(20000)])
    # P(first = i) = p_i; P(second = 2 | first = 0) = 0.2 / 0.5
    np.testing.assert_allclose(np.bincount(firsts[:, 0], minlength=3) / 20000, prob, atol=0.015)
    sel = firsts[firsts[:, 0] == 0]
    assert (sel[:, 1] == 2).mean() == pytest.approx(0.4, abs=0.02)
    zeros = sample_distinct(np.array([0.0, 1.0, 0.0, 0.0]), 3, rng)
    assert zeros[0] == 1 and len(set(zeros)) == 3


def test_sample_distinct_concentrated_mass_uses_gumbel_fallback() -> None:
    prob = np.full(1000, 1e-12)
    prob[:3] = 1.0
    prob /= prob.sum()
    ids = sample_distinct(prob, 10, np.random.default_rng(0))
    assert len(set(ids)) == 10 and set(ids[:3]) == {0, 1, 2}


def test_smallest_k_random_ties() -> None:
    rng = np.random.default_rng(0)
    seen = {tuple(sorted(smallest_k(np.array([0.0, 1.0, 1.0, 1.0]), 2, rng))) for _ in range(50)}
    assert seen == {(0, 1), (0, 2), (0, 3)}


def test_unbiased_beta_needs_binary_rewards_and_loss_weight_ids_checked() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("beta:unbiased=true,mode=weight", pool=pool, seed=0)
    with pytest.raises(schedsim.FeedbackError, match=r"beta \(unbiased=True\) needs binary rewards; got 0.5"):
        s.observe(fb([0], [[0.5, 1.0]]))
    with pytest.raises(schedsim.FeedbackError, match=r"ids contain 3, out of range; accepted: ids in \[0, 3\)"):
        s.loss_weights(np.array([0, 3]))


# -- literature baselines (docs/schedulers.md) --------------------------------------------------------
def test_beta_posterior_updates_mopps_and_spo() -> None:
    pool = schedsim.PromptPool(n=3)
    mopps = schedsim.make_scheduler("mopps:decay=0.5", pool=pool, seed=0)
    spo = schedsim.make_scheduler("spo:decay=0.9", pool=pool, seed=0)
    for s in (mopps, spo):
        s.observe(fb([0], [[1, 1, 0, 0]]))
        s.observe(fb([0], [[1, 0, 0, 0]]))
    # MoPPS: a <- l a + (1 - l) a0 + s: 1 -> 0.5 + 0.5 + 2 = 3 -> 1.5 + 0.5 + 1 = 3; b: 3 -> 1.5 + 0.5 + 3 = 5
    np.testing.assert_allclose(mopps.estimator.alpha[0], 3.0)
    np.testing.assert_allclose(mopps.estimator.beta[0], 5.0)
    # SPO: a <- rho a + s: 1 -> 2.9 -> 3.61; b: 1 -> 2.9 -> 5.61
    np.testing.assert_allclose([spo.estimator.alpha[0], spo.estimator.beta[0]], [3.61, 5.61])
    p = np.array([3.61 / 9.22, 0.5, 0.5])
    w = np.sqrt(p * (1 - p)) + 0.05
    np.testing.assert_allclose(spo.distribution(), w / w.sum())


def test_mopps_thompson_picks_closest_to_tau_when_posteriors_are_sharp() -> None:
    pool = schedsim.PromptPool(n=6)
    s = schedsim.make_scheduler("mopps:pool_factor=8", pool=pool, seed=0)
    rates = [0.05, 0.45, 0.95, 0.55, 0.2, 0.8]
    s.observe(fb(list(range(6)), [[1.0] * round(100 * r) + [0.0] * (100 - round(100 * r)) for r in rates]))
    assert set(s.select(2)) == {1, 3}
    assert s.distribution() is None


def test_plr_rank_and_staleness_mixture() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("plr", pool=pool, seed=0)
    s.observe(fb([0, 1, 2], [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]]))  # scores .25, .1875, 0 -> ranks 1, 2, 3
    p_score = np.array([1.0, 2.0**-10, 3.0**-10])
    p_score /= p_score.sum()
    np.testing.assert_allclose(s.distribution(), 0.9 * p_score + 0.1 / 3)  # no selection yet: uniform staleness
    first = s.select(1)
    assert first.tolist() == [0]
    stale = np.array([0.0, 1.0, 1.0])  # clock 1; prompt 0 just selected
    np.testing.assert_allclose(s.distribution(), 0.9 * p_score + 0.1 * stale / stale.sum())


def test_lilo_keeps_the_most_learnable_probed_prompts_and_needs_a_probe() -> None:
    from schedsim.checks import SyntheticProbe

    pool = schedsim.PromptPool(n=40)
    probe = SyntheticProbe(40, seed=1)
    probe.p = np.where(np.arange(40) % 2 == 0, 0.5, 1.0)  # even prompts mixed, odd ones always solved
    s = schedsim.make_scheduler("lilo:probe_group=16", pool=pool, seed=0, probe=probe)
    ids = s.select(5)
    assert len(set(ids)) == 5 and all(i % 2 == 0 for i in ids)
    assert s.metrics()["sched/chosen_learnability"] > 0.2
    with pytest.raises(schedsim.MissingSignalError, match="lilo needs fresh rollouts to choose"):
        schedsim.make_scheduler("lilo", pool=pool, seed=0).select(3)
