from __future__ import annotations

import numpy as np
import pytest

import schedsim


def test_only_correct_trajectories_enter_by_priority() -> None:
    buf = schedsim.AccuracyErrorReplay(capacity=4, add_per_step=3, seed=0)
    rewards = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=float)
    p_hat = np.array([0.25, 0.0, 0.5, 0.5])  # priorities 0, 0.5, 0.5, 0.5
    added = buf.add(np.array([10, 11, 12, 13]), rewards, p_hat)
    assert added == 3 and len(buf) == 3
    items = buf.sample(3)
    assert {it.prompt_id for it in items} <= {11, 13}  # prompt 12 has no success; prompt 10 has priority 0
    assert all(it.priority == 0.5 and it.weight == 1.0 for it in items)


def test_capacity_and_eviction_of_lowest_priority() -> None:
    buf = schedsim.AccuracyErrorReplay(capacity=2, add_per_step=2, seed=0)
    buf.add(np.array([0]), np.array([[1.0, 1.0]]), np.array([0.9]))  # priority 0.1, two trajectories
    buf.add(np.array([1]), np.array([[1.0, 0.0]]), np.array([0.0]))  # priority 0.5
    assert len(buf) == 2
    assert sorted(it.prompt_id for it in buf.sample(2)) == [0, 1]
    fifo = schedsim.AccuracyErrorReplay(capacity=2, add_per_step=2, eviction="fifo", seed=0)
    fifo.add(np.array([0]), np.array([[1.0, 1.0]]), np.array([0.0]))
    fifo.add(np.array([1]), np.array([[1.0, 0.0]]), np.array([0.5]))
    assert sorted(it.prompt_id for it in fifo.sample(2)) == [0, 1]


def test_payloads_state_roundtrip_and_importance_weights() -> None:
    buf = schedsim.AccuracyErrorReplay(capacity=8, add_per_step=8, is_exponent=1.0, seed=3)
    trajectories = [["a0", "a1"], ["b0", "b1"]]
    buf.add(np.array([5, 6]), np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([0.0, 0.2]), trajectories)
    clone = schedsim.AccuracyErrorReplay(capacity=8, add_per_step=8, is_exponent=1.0, seed=99)
    clone.load_state_dict(buf.state_dict())
    a, b = buf.sample(2), clone.sample(2)
    assert [x.payload for x in a] == [x.payload for x in b]
    assert {x.payload for x in buf.sample(3)} == {"a0", "b0", "b1"}
    assert max(x.weight for x in a) == 1.0


def test_remove_on_replay_and_bad_input() -> None:
    buf = schedsim.AccuracyErrorReplay(remove_on_replay=True, seed=0)
    buf.add(np.array([0]), np.array([[1.0, 1.0, 0.0]]), np.array([0.0]))
    assert len(buf.sample(1)) == 1 and len(buf) == 1
    with pytest.raises(schedsim.FeedbackError, match="replay needs binary rewards"):
        buf.add(np.array([0]), np.array([[0.5]]), np.array([0.0]))
    with pytest.raises(schedsim.ParameterError, match="eviction='lru' is not accepted"):
        schedsim.AccuracyErrorReplay(eviction="lru")
    with pytest.raises(schedsim.StateError, match="corrupt replay state"):
        buf.load_state_dict({"ids": []})
