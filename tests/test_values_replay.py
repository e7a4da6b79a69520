"""PACED-RL's accuracy-error replay by value: priorities, which trajectories enter, eviction order, sampling law and
importance weights (docs/schedulers.md (paced), component 2)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import schedsim


def buffer(**kw) -> schedsim.AccuracyErrorReplay:
    return schedsim.AccuracyErrorReplay(**({"seed": 0} | kw))


def contents(buf: schedsim.AccuracyErrorReplay) -> list[tuple[int, float]]:
    state = buf.state_dict()
    return sorted((i, round(p, 12)) for i, p in zip(state["ids"], state["priority"], strict=True))


def test_priority_is_the_absolute_accuracy_error() -> None:
    buf = buffer(capacity=10, add_per_step=10)
    rewards = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 0, np.nan, np.nan]])
    buf.add(np.array([7, 8, 9]), rewards, np.array([0.25, 0.75, 0.2]))
    # |0.75 - 0.25| = 0.5 (x3 successes), |0.25 - 0.75| = 0.5, |0.5 - 0.2| = 0.3 (NaN is not a rollout)
    assert contents(buf) == [(7, 0.5), (7, 0.5), (7, 0.5), (8, 0.5), (9, 0.3)]


def test_largest_priorities_enter_first_and_payloads_are_the_successes() -> None:
    buf = buffer(capacity=10, add_per_step=2)
    rewards = np.array([[0, 1, 0], [1, 0, 0], [1, 1, 1]])
    added = buf.add(np.array([0, 1, 2]), rewards, np.array([0.9, 0.0, 1.0]))  # 1/3 vs 0.9: 0.567; 1/3; 0
    assert added == 2
    state = buf.state_dict()
    assert sorted(zip(state["ids"], state["payloads"], strict=True)) == [(0, (0, 1)), (1, (1, 0))]
    assert buffer(add_per_step=0).add(np.array([0]), np.array([[1.0]]), np.array([0.0])) == 0


def test_tied_priorities_enter_at_random() -> None:
    entered = set()
    for seed in range(40):
        buf = buffer(capacity=4, add_per_step=1, seed=seed)
        buf.add(np.array([0, 1, 2]), np.array([[1, 0], [1, 0], [1, 0]]), np.array([0.0, 0.0, 0.0]))
        entered.add(buf.state_dict()["ids"][0])
    assert entered == {0, 1, 2}


def test_priority_eviction_drops_the_lowest_then_the_oldest() -> None:
    buf = buffer(capacity=3, add_per_step=4)
    buf.add(np.array([0]), np.array([[1.0, 0.0]]), np.array([0.2]))  # priority 0.3, age 0
    buf.add(np.array([1]), np.array([[1.0, 0.0]]), np.array([0.8]))  # priority 0.3, age 1
    buf.add(np.array([2]), np.array([[1.0, 0.0]]), np.array([0.0]))  # priority 0.5
    buf.add(np.array([3]), np.array([[1.0, 0.0]]), np.array([0.1]))  # priority 0.4: evicts id 0 (0.3, older)
    assert contents(buf) == [(1, 0.3), (2, 0.5), (3, 0.4)]
    buf.add(np.array([4]), np.array([[1.0, 1.0]]), np.array([0.95]))  # 2 items at 0.05: both go, not 0.3
    assert contents(buf) == [(1, 0.3), (2, 0.5), (3, 0.4)]


def test_fifo_eviction_drops_the_oldest_whatever_the_priority() -> None:
    buf = buffer(capacity=2, add_per_step=4, eviction="fifo")
    buf.add(np.array([0]), np.array([[1.0, 0.0]]), np.array([1.0]))  # priority 0.5, oldest
    buf.add(np.array([1]), np.array([[1.0, 0.0]]), np.array([0.5]))  # priority 0
    buf.add(np.array([2]), np.array([[1.0, 0.0]]), np.array([0.4]))  # priority 0.1
    assert [i for i, _ in contents(buf)] == [1, 2]


def test_priority_sampling_law() -> None:
    buf = buffer(capacity=4, add_per_step=4, seed=1)
    buf.add(np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.4, 0.1]))  # priorities 0.1, 0.4
    picks = np.array([buf.sample(1)[0].prompt_id for _ in range(4000)])
    assert (picks == 1).mean() == pytest.approx(0.8, abs=0.025)  # (0.4 + 1e-6) / (0.5 + 2e-6)
    uniform = buffer(capacity=4, add_per_step=4, seed=1, sampling="uniform")
    uniform.add(np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.4, 0.1]))
    picks = np.array([uniform.sample(1)[0].prompt_id for _ in range(4000)])
    assert (picks == 1).mean() == pytest.approx(0.5, abs=0.025)


@pytest.mark.parametrize(("b", "low_weight"), [(0.0, 1.0), (0.5, 0.5), (1.0, 0.25)])
def test_importance_weights_by_hand(b: float, low_weight: float) -> None:
    buf = buffer(capacity=4, add_per_step=4, is_exponent=b)
    buf.add(np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.4, 0.1]))  # P = 0.2, 0.8
    # (2 P)^-b / max: (0.4^-b, 1.6^-b) / 0.4^-b = (1, 4^-b)
    weights = {it.prompt_id: it.weight for it in buf.sample(2)}
    assert weights[0] == 1.0 and weights[1] == pytest.approx(low_weight, rel=1e-5)
    flat = buffer(capacity=4, add_per_step=4, is_exponent=1.0, sampling="uniform")
    flat.add(np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.4, 0.1]))
    assert {it.weight for it in flat.sample(2)} == {1.0}


def test_sample_size_default_and_removal() -> None:
    buf = buffer(capacity=10, add_per_step=10, replay_per_step=3)
    buf.add(np.array([0]), np.array([[1.0, 1.0, 1.0, 1.0, 0.0]]), np.array([0.0]))  # 4 successes
    assert len(buf.sample()) == 3 and len(buf.sample(10)) == 4 and buf.sample(0) == []
    gone = buffer(capacity=10, add_per_step=10, remove_on_replay=True)
    gone.add(np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([0.0, 0.0]))
    first = gone.sample(2)
    assert len(gone) == 1 and sorted(gone.state_dict()["payloads"] + [it.payload for it in first]) == [
        (0, 0),
        (1, 0),
        (1, 1),
    ]


def test_replay_rejects_bad_input_with_messages() -> None:
    buf = buffer()
    with pytest.raises(schedsim.FeedbackError, match=r"shapes ids \(1,\), rewards \(2, 1\), p_hat \(1,\)"):
        buf.add(np.array([0]), np.array([[1.0], [0.0]]), np.array([0.0]))
    with pytest.raises(schedsim.FeedbackError, match="finite p_hat"):
        buf.add(np.array([0]), np.array([[1.0]]), np.array([np.nan]))
    with pytest.raises(schedsim.StateError, match="lengths differ"):
        buf.load_state_dict({"ids": [1], "payloads": [], "priority": [], "age": [], "clock": 0, "rng": {}})


def test_replay_defaults_are_the_papers() -> None:
    buf = schedsim.AccuracyErrorReplay()
    assert (buf.capacity, buf.add_per_step, buf.replay_per_step) == (128, 64, 16)
    assert (buf.eviction, buf.sampling, buf.is_exponent, buf.remove_on_replay) == ("priority", "priority", 0.0, False)
    assert len(buf) == 0 and buf.sample() == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"capacity": 0}, "capacity=0 is out of range; accepted: an integer in [1, inf)"),
        ({"add_per_step": -1}, "add_per_step=-1 is out of range; accepted: an integer in [0, inf)"),
        ({"replay_per_step": -1}, "replay_per_step=-1 is out of range; accepted: an integer in [0, inf)"),
        ({"eviction": "lru"}, "eviction='lru' is not accepted; accepted: 'priority', 'fifo'"),
        ({"sampling": "greedy"}, "sampling='greedy' is not accepted; accepted: 'priority', 'uniform'"),
        ({"is_exponent": 1.5}, "is_exponent=1.5 is out of range; accepted: a number in [0, 1]"),
        ({"is_exponent": -0.5}, "is_exponent=-0.5 is out of range; accepted: a number in [0, 1]"),
    ],
)
def test_replay_parameters_are_checked(kw: dict, message: str) -> None:
    with pytest.raises(schedsim.ParameterError, match=f"^{re.escape(message)}$"):
        schedsim.AccuracyErrorReplay(**kw)


def test_state_roundtrip_keeps_contents_order_and_clock() -> None:
    buf = buffer(capacity=3, add_per_step=4, seed=5)
    buf.add(np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([0.1, 0.3]))
    clone = buffer(capacity=3, add_per_step=4, seed=6)
    clone.load_state_dict(buf.state_dict())
    assert clone.state_dict()["clock"] == 3 and contents(clone) == contents(buf)
    for b in (buf, clone):  # the same next insertion, eviction and draw
        b.add(
            np.array([2]), np.array([[1.0, 0.0]]), np.array([0.0])
        )  # priority 0.5 evicts prompt 0's 0.4 (prompt 1 has 0.7)
    assert contents(clone) == contents(buf) == [(1, 0.7), (1, 0.7), (2, 0.5)]
    assert [it.payload for it in clone.sample(2)] == [it.payload for it in buf.sample(2)]
    with pytest.raises(schedsim.StateError, match=r"corrupt replay state; accepted keys: \['ids', 'payloads'"):
        clone.load_state_dict([1, 2])


def test_the_seed_makes_sampling_reproducible() -> None:
    def draws(seed: int) -> list[int]:
        buf = buffer(capacity=50, add_per_step=50, seed=seed)
        buf.add(np.arange(10), np.ones((10, 1)), np.linspace(0.0, 0.9, 10))  # ten priorities 1 .. 0.1
        return [it.prompt_id for _ in range(5) for it in buf.sample(3)]

    assert draws(11) == draws(11) and draws(11) != draws(12)


def test_fifo_evicts_several_at_once() -> None:
    buf = buffer(capacity=2, add_per_step=4, eviction="fifo")
    buf.add(np.array([0, 1]), np.array([[1.0], [1.0]]), np.array([0.0, 0.0]))
    buf.add(np.array([2, 3]), np.array([[1.0], [1.0]]), np.array([0.0, 0.0]))  # two over capacity: both old go
    assert sorted(buf.state_dict()["ids"]) == [2, 3]


def test_all_missing_groups_are_skipped_silently() -> None:
    buf = buffer(capacity=4, add_per_step=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" for a group without rollouts
        added = buf.add(np.array([0, 1]), np.array([[np.nan, np.nan], [1.0, np.nan]]), np.array([0.5, 0.25]))
    assert added == 1 and contents(buf) == [(1, 0.75)]


def test_zero_priority_items_stay_reachable_with_the_largest_weight() -> None:
    buf = buffer(capacity=4, add_per_step=4, is_exponent=1.0)
    buf.add(np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.5, 0.0]))  # priorities 0 and 0.5
    # P = (1e-6, 0.5 + 1e-6) / (0.5 + 2e-6): the rare zero-error item gets weight 1, the other ~ 2e-6
    weights = {it.prompt_id: it.weight for it in buf.sample(2)}
    assert weights[0] == 1.0 and weights[1] == pytest.approx(1e-6 / (0.5 + 1e-6), rel=1e-6)


def test_replay_messages_in_full() -> None:
    buf = buffer()
    with pytest.raises(
        schedsim.FeedbackError, match=r"^replay needs binary rewards \(NaN = missing\) and finite p_hat$"
    ):
        buf.add(np.array([0]), np.array([[0.5]]), np.array([0.0]))
    with pytest.raises(schedsim.StateError, match=r"^corrupt replay state: ids/payloads/priority/age lengths differ$"):
        buf.load_state_dict({"ids": [1], "payloads": [], "priority": [], "age": [], "clock": 0, "rng": {}})
    with pytest.raises(schedsim.ParameterError, match=r"^n=-1 is out of range; accepted: an integer in \[0, inf\)$"):
        buf.sample(-1)
