"""Feedback validation and group advantages by value, including ragged (NaN-padded) groups."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import schedsim
from schedsim.core.advantages import group_advantages


# -- Feedback -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_feedback_rejects_infinite_rewards_of_either_sign(bad: float) -> None:
    with pytest.raises(schedsim.FeedbackError, match=r"rewards contains \+-inf"):
        schedsim.Feedback(np.array([0]), np.array([[0.0, bad]]))


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_feedback_rejects_infinite_advantages_but_keeps_nan(bad: float) -> None:
    with pytest.raises(schedsim.FeedbackError, match=r"advantages contains \+-inf"):
        schedsim.Feedback(np.array([0]), np.zeros((1, 2)), advantages=np.array([[bad, 0.0]]))
    fb = schedsim.Feedback(np.array([0]), np.array([[1.0, np.nan]]), advantages=np.array([[0.5, np.nan]]))
    assert fb.advantages[0, 0] == 0.5 and np.isnan(fb.advantages[0, 1]) and not fb.advantages.flags.writeable


def test_feedback_optional_arrays_are_checked_and_copied() -> None:
    log_z = np.array([1.0, 2.0])
    fb = schedsim.Feedback(np.array([0, 1]), np.zeros((2, 2)), step=7, filtered=[1, 0], log_z=log_z)
    log_z[0] = 9.0
    assert fb.step == 7 and fb.filtered.dtype == bool and fb.filtered.tolist() == [True, False]
    assert fb.log_z.tolist() == [1.0, 2.0] and fb.m == 2 and fb.group_size == 2
    with pytest.raises(schedsim.FeedbackError, match=r"log_z has shape \(3,\); accepted: \(m,\) with m=2"):
        schedsim.Feedback(np.array([0, 1]), np.zeros((2, 2)), log_z=np.zeros(3))
    with pytest.raises(schedsim.FeedbackError, match=r"filtered has shape \(1,\)"):
        schedsim.Feedback(np.array([0, 1]), np.zeros((2, 2)), filtered=[True])
    empty = schedsim.Feedback(np.array([], dtype=float), np.zeros((0, 3)))  # no ids: dtype does not matter
    assert empty.m == 0 and empty.prompt_ids.dtype == np.int64


def test_validate_ids_rejects_negative_and_too_large() -> None:
    fb = schedsim.Feedback(np.array([0, -1]), np.zeros((2, 1)))
    with pytest.raises(
        schedsim.FeedbackError, match=r"prompt_ids contains -1, out of range; accepted: ids in \[0, 5\)"
    ):
        fb.validate_ids(5)
    schedsim.Feedback(np.array([0, 4]), np.zeros((2, 1))).validate_ids(5)  # 4 < 5 is fine


def test_reward_range_checks_at_the_boundaries() -> None:
    ok = schedsim.Feedback(np.array([0]), np.array([[0.0, 1.0, np.nan]]))
    ok.require_unit_rewards("x")
    ok.require_binary_rewards("x")
    with pytest.raises(schedsim.FeedbackError, match=r"x needs rewards in \[0, 1\] \(pass/fail\); got -0.1"):
        schedsim.Feedback(np.array([0]), np.array([[1.0, -0.1]])).require_unit_rewards("x")
    with pytest.raises(schedsim.FeedbackError, match=r"got 1.2$"):  # the message names the bad value, not 0 or 0.5
        schedsim.Feedback(np.array([0]), np.array([[0.0, 0.5, 1.2]])).require_unit_rewards("x")
    with pytest.raises(schedsim.FeedbackError, match=r"x needs binary rewards; got 1.5"):
        schedsim.Feedback(np.array([0]), np.array([[1.0, 1.5]])).require_binary_rewards("x")


def test_means_of_an_empty_group_is_nan_and_per_prompt_skips_it() -> None:
    fb = schedsim.Feedback(np.array([2, 5]), np.array([[np.nan, np.nan], [1.0, 0.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty group is documented: no 0/0 RuntimeWarning
        means = fb.means()
    assert np.isnan(means[0]) and means[1] == 0.5
    ids, sums, counts = fb.per_prompt()
    assert ids.tolist() == [5] and sums.tolist() == [1.0] and counts.tolist() == [2.0]


# -- group advantages ------------------------------------------------------------------------------------------------
def test_ragged_group_advantages_by_hand() -> None:
    row = np.array([[1.0, 0.0, 1.0, np.nan]])  # mean 2/3; deviations 1/3, -2/3, 1/3
    dev = np.array([1 / 3, -2 / 3, 1 / 3])
    np.testing.assert_allclose(group_advantages(row, std="none")[0, :3], dev)
    np.testing.assert_allclose(group_advantages(row)[0, :3], dev / (np.sqrt(1 / 3) + 1e-6))  # sum sq 2/3 over 2
    np.testing.assert_allclose(group_advantages(row, std="population")[0, :3], dev / (np.sqrt(2 / 9) + 1e-6))
    assert np.isnan(group_advantages(row)[0, 3])
    np.testing.assert_allclose(group_advantages(row, eps=0.5)[0, :3], dev / (np.sqrt(1 / 3) + 0.5))
    np.testing.assert_allclose(
        group_advantages(np.array([[1.0, 0.0]]), eps=0.5)[0], np.array([0.5, -0.5]) / (np.sqrt(0.5) + 0.5)
    )


def test_single_and_empty_groups() -> None:
    adv = group_advantages(np.array([[np.nan, 0.7], [np.nan, np.nan]]))  # verl: G = 1 gives A = r
    assert adv[0, 1] == pytest.approx(0.7 / (1 + 1e-6)) and np.isnan(adv[1]).all()
    np.testing.assert_allclose(group_advantages(np.array([[0.7]]), std="none"), [[0.7]])  # G = 1, full: mean 0
    np.testing.assert_allclose(group_advantages(np.array([[0.7]])), [[0.7 / (1 + 1e-6)]])
    # population std of one rollout is 0, but a single rollout keeps std 1 (verl), so A = r, not r / eps
    np.testing.assert_allclose(group_advantages(np.array([[np.nan, 0.7]]), std="population")[0, 1], 0.7 / (1 + 1e-6))
    with pytest.raises(schedsim.ParameterError, match="std='bessel' is not accepted"):
        group_advantages(np.zeros((1, 2)), std="bessel")


@pytest.mark.parametrize("std", ["unbiased", "population", "none"])
def test_empty_and_single_groups_raise_no_numpy_warnings(std: str) -> None:
    rewards = np.array([[np.nan, np.nan, np.nan], [np.nan, 1.0, np.nan], [1.0, 0.0, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 on a documented case would warn in every training step
        adv = group_advantages(rewards, std=std)
    assert np.isnan(adv[0]).all() and np.isfinite(adv[1, 1]) and np.isfinite(adv[2, :2]).all()


@st.composite
def ragged(draw: st.DrawFn) -> np.ndarray:
    m, g = draw(st.integers(1, 5)), draw(st.integers(2, 7))
    cells = st.sampled_from([0.0, 1.0, 0.25, np.nan])
    return np.array(draw(st.lists(st.lists(cells, min_size=g, max_size=g), min_size=m, max_size=m)))


@given(ragged(), st.sampled_from(["unbiased", "population", "none"]))
def test_nan_padding_does_not_change_the_advantages_of_real_rollouts(rewards: np.ndarray, std: str) -> None:
    adv = group_advantages(rewards, std=std)
    for row, got in zip(rewards, adv, strict=True):
        real = row[~np.isnan(row)]
        assert np.isnan(got[np.isnan(row)]).all()
        if real.size >= 2:  # the same group without padding goes through the full-group path
            np.testing.assert_allclose(got[~np.isnan(row)], group_advantages(real[None, :], std=std)[0], atol=1e-12)


@given(st.integers(2, 16), st.data())
def test_mean_absolute_advantage_of_a_binary_group(g: int, data: st.DataObject) -> None:
    s = data.draw(st.integers(1, g - 1))  # a mixed group
    rewards = (np.arange(g) < s).astype(float)[None, :]
    v = (s / g) * (1 - s / g)
    # docs/schedulers.md: mean |A| = 2 v (centred), 2 sqrt(v) (population), 2 sqrt(v) sqrt((G-1)/G) (unbiased)
    assert np.abs(group_advantages(rewards, std="none")).mean() == pytest.approx(2 * v)
    assert np.abs(group_advantages(rewards, std="population", eps=0)).mean() == pytest.approx(2 * np.sqrt(v))
    unbiased = np.abs(group_advantages(rewards, std="unbiased", eps=0)).mean()
    assert unbiased == pytest.approx(2 * np.sqrt(v) * np.sqrt((g - 1) / g))
    padded = np.concatenate([rewards, np.full((1, 2), np.nan)], axis=1)  # the ragged path, same group
    assert np.nanmean(np.abs(group_advantages(padded, std="unbiased", eps=0))) == pytest.approx(unbiased)


def test_feedback_arrays_are_float64_whatever_the_input() -> None:
    fb = schedsim.Feedback(np.array([0, 1]), [[1, 0], [0, 0]], advantages=[[1, -1], [0, 0]], log_z=[3, 4])
    assert fb.rewards.dtype == fb.advantages.dtype == fb.log_z.dtype == np.float64  # ints in, NaN-capable out
    boxed = np.array([[1.0, 0.0], [0.5, None]], dtype=object)  # an object array of numbers (None: missing)
    np.testing.assert_array_equal(schedsim.Feedback(np.array([0, 1]), boxed).rewards, [[1.0, 0.0], [0.5, np.nan]])


def test_feedback_messages_in_full() -> None:
    ids = np.array([0, 1])
    with pytest.raises(
        schedsim.FeedbackError,
        match=r"^rewards contains \+-inf; accepted: finite values, or NaN for a missing rollout$",
    ):
        schedsim.Feedback(ids, np.array([[0.0, -np.inf], [1.0, 0.0]]))
    with pytest.raises(schedsim.FeedbackError, match=r"^advantages contains \+-inf; accepted: finite values or NaN$"):
        schedsim.Feedback(ids, np.zeros((2, 2)), advantages=np.array([[np.inf, 0.0], [0.0, 0.0]]))
    with pytest.raises(
        schedsim.FeedbackError, match=r"^advantages has shape \(3, 2\); accepted: \(m, G\) with m=2$"
    ):  # the row count is checked before the comparison with rewards
        schedsim.Feedback(ids, np.zeros((2, 2)), advantages=np.zeros((3, 2)))
