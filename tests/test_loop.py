"""The run loop's pieces by value: the tally of a hand-made batch, the probe meter, training on probed groups."""

from __future__ import annotations

import numpy as np
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
    with pytest.raises(BudgetExhausted):
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
