from __future__ import annotations

import numpy as np
import pytest

import schedsim
from schedsim.core.advantages import group_advantages
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.core.seeding import make_rng, rng_state, set_rng_state


def test_pool_validation_messages() -> None:
    with pytest.raises(schedsim.PoolError, match=r"n=0 is not accepted; accepted: a positive integer"):
        schedsim.PromptPool(n=0)
    with pytest.raises(schedsim.PoolError, match=r"category has shape \(3,\); accepted: \(4,\)"):
        schedsim.PromptPool(n=4, category=[0, 1, 2])
    with pytest.raises(schedsim.PoolError, match="category has dtype float64"):
        schedsim.PromptPool(n=2, category=np.array([0.0, 1.0]))
    with pytest.raises(schedsim.PoolError, match="category contains -1"):
        schedsim.PromptPool(n=2, category=[0, -1])
    with pytest.raises(schedsim.PoolError, match="features contains NaN"):
        schedsim.PromptPool(n=2, features=np.array([[0.0], [np.nan]]))
    with pytest.raises(schedsim.PoolError, match=r"difficulty_prior has values outside \[0, 1\]"):
        schedsim.PromptPool(n=2, difficulty_prior=[0.5, 1.5])


def test_pool_is_immutable_copy() -> None:
    cat = np.array([0, 1, 1])
    pool = schedsim.PromptPool(n=3, category=cat)
    cat[0] = 5
    assert pool.category[0] == 0 and pool.n_categories == 2
    with pytest.raises(ValueError):
        pool.category[0] = 1


def test_feedback_validation_messages() -> None:
    ids = np.array([0, 1])
    with pytest.raises(schedsim.FeedbackError, match=r"rewards has shape \(3, 2\); accepted: \(m, G\) with m=2"):
        schedsim.Feedback(ids, np.zeros((3, 2)))
    with pytest.raises(schedsim.FeedbackError, match=r"prompt_ids has shape \(2, 1\); accepted: \(m,\)"):
        schedsim.Feedback(ids[:, None], np.zeros((2, 2)))
    with pytest.raises(schedsim.FeedbackError, match="prompt_ids has dtype float64"):
        schedsim.Feedback(np.array([0.0, 1.0]), np.zeros((2, 2)))
    with pytest.raises(schedsim.FeedbackError, match=r"rewards contains \+-inf"):
        schedsim.Feedback(ids, np.array([[0.0, np.inf], [1.0, 0.0]]))
    with pytest.raises(schedsim.FeedbackError, match=r"advantages has shape \(2, 3\); accepted: \(2, 2\)"):
        schedsim.Feedback(ids, np.zeros((2, 2)), advantages=np.zeros((2, 3)))
    fb = schedsim.Feedback(ids, np.zeros((2, 2)))
    with pytest.raises(schedsim.FeedbackError, match=r"prompt_ids contains 1, out of range; accepted: ids in \[0, 1\)"):
        fb.validate_ids(1)


def test_feedback_nan_means_missing_and_pools_repeats() -> None:
    fb = schedsim.Feedback(
        np.array([3, 1, 3, 2]),
        np.array([[1.0, 1.0, np.nan], [0.0, 1.0, 1.0], [0.0, np.nan, np.nan], [np.nan, np.nan, np.nan]]),
    )
    np.testing.assert_array_equal(fb.counts(), [2, 3, 1, 0])
    np.testing.assert_allclose(fb.means()[:3], [1.0, 2 / 3, 0.0])
    assert np.isnan(fb.means()[3])
    ids, sums, counts = fb.per_prompt()
    np.testing.assert_array_equal(ids, [1, 3])  # id 2 had no rollouts
    np.testing.assert_allclose(sums, [2.0, 2.0])
    np.testing.assert_allclose(counts, [3.0, 3.0])


def test_feedback_reward_kind_checks() -> None:
    fb = schedsim.Feedback(np.array([0]), np.array([[0.5, 1.0]]))
    fb.require_unit_rewards("x")
    with pytest.raises(schedsim.FeedbackError, match=r"x needs binary rewards; got 0.5"):
        fb.require_binary_rewards("x")
    bad = schedsim.Feedback(np.array([0]), np.array([[2.0, 1.0]]))
    with pytest.raises(schedsim.FeedbackError, match=r"x needs rewards in \[0, 1\] \(pass/fail\); got 2.0"):
        bad.require_unit_rewards("x")


def test_feedback_does_not_alias_caller_arrays() -> None:
    ids, rewards = np.array([0, 1]), np.ones((2, 2))
    fb = schedsim.Feedback(ids, rewards)
    ids[0], rewards[0, 0] = 1, 0.0
    assert fb.prompt_ids[0] == 0 and fb.rewards[0, 0] == 1.0


def test_group_advantages_match_grpo_by_hand() -> None:
    rewards = np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, np.nan, np.nan, np.nan]])
    adv = group_advantages(rewards)
    np.testing.assert_allclose(adv[0], np.array([0.5, -0.5, 0.5, -0.5]) / (np.sqrt(1 / 3) + 1e-6))
    np.testing.assert_allclose(adv[1], 0.0)
    assert adv[2, 0] == pytest.approx(1.0 / (1.0 + 1e-6)) and np.isnan(adv[2, 1:]).all()  # verl: G = 1 -> A = r
    np.testing.assert_allclose(group_advantages(rewards[:1], std="none")[0], [0.5, -0.5, 0.5, -0.5])
    np.testing.assert_allclose(group_advantages(rewards[:1], std="population")[0], [1, -1, 1, -1], rtol=1e-5)


def test_param_checks_name_value_and_range() -> None:
    with pytest.raises(schedsim.ParameterError, match=r"x=1.5 is out of range; accepted: a number in \[0, 1\]"):
        check_range("x", 1.5, 0.0, 1.0)
    with pytest.raises(schedsim.ParameterError, match=r"x=nan is out of range"):
        check_range("x", float("nan"), 0.0, 1.0)
    with pytest.raises(schedsim.ParameterError, match=r"n=0 is out of range; accepted: an integer in \[1, inf\)"):
        check_int("n", 0, 1)
    with pytest.raises(schedsim.ParameterError, match=r"m='c' is not accepted; accepted: 'a', 'b'"):
        check_choice("m", "c", ("a", "b"))


def test_seeding_roundtrip_and_bad_seed() -> None:
    a = make_rng(3)
    state = rng_state(a)
    x = a.random(5)
    b = make_rng(99)
    set_rng_state(b, state)
    np.testing.assert_array_equal(b.random(5), x)
    with pytest.raises(schedsim.ParameterError, match="seed=-1 is not accepted"):
        make_rng(-1)
    with pytest.raises(schedsim.StateError, match="corrupt RNG state"):
        set_rng_state(b, {"bit_generator": "PCG64"})
