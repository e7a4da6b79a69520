"""SEC's batch construction by value: per-arm queues without replacement, empty categories, and the fallback law
when an arm runs out within a batch (docs/schedulers.md (sec))."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import schedsim


def sec(category: list[int], q: list[float], seed: int = 0) -> schedsim.Scheduler:
    s = schedsim.make_scheduler("sec", pool=schedsim.PromptPool(n=len(category), category=category), seed=seed)
    s.values.q[:] = q
    return s


def test_each_arm_queue_is_an_epoch_without_replacement() -> None:
    s = sec([0, 0, 0, 0, 0, 1], [50.0, 0.0])  # arm 0 with probability 1 - 2e-22
    picks = [int(s.select(1)[0]) for _ in range(15)]
    for epoch in range(3):  # every 5 picks visit the 5 prompts of arm 0 once, in a fresh order
        assert sorted(picks[5 * epoch : 5 * epoch + 5]) == [0, 1, 2, 3, 4]
    assert len({tuple(picks[:5]), tuple(picks[5:10]), tuple(picks[10:])}) > 1


def test_empty_category_gets_no_mass_and_no_warning() -> None:
    s = sec([0, 0, 2, 2], [0.0, 0.0, 0.0])  # category 1 has no prompt
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = s.distribution()
    np.testing.assert_allclose(d, 0.25)  # arms 0 and 2 share the mass: 1/2 each, 1/4 per prompt
    counts = np.zeros(4)
    for _ in range(200):
        counts[s.select(2)] += 1
    assert counts.sum() == 400 and counts.min() > 60


def test_fallback_follows_the_remaining_arm_probabilities() -> None:
    # arm 0 (one prompt) is almost sure; once taken, the next slot falls back to arms 1 and 2 in ratio e^ln3 : 1
    hits = 0
    for seed in range(400):
        s = sec([0, 1, 1, 1, 2, 2, 2], [10.0, np.log(3.0), 0.0], seed=seed)
        ids = s.select(2)
        assert ids[0] == 0
        hits += int(ids[1] in (1, 2, 3))
    assert abs(hits / 400 - 0.75) < 0.07  # binomial s.d. 0.022


def test_fallback_when_the_remaining_arms_have_zero_probability() -> None:
    s = sec([0, 1, 2], [1000.0, 0.0, 0.0])  # softmax underflows: P = (1, 0, 0)
    ids = s.select(3)  # arm 0 is exhausted after one slot: the rest is uniform over arms with prompts left
    assert sorted(ids.tolist()) == [0, 1, 2] and ids[0] == 0


def test_uniform_reports_the_epoch_count() -> None:
    s = schedsim.make_scheduler("uniform", pool=schedsim.PromptPool(n=4), seed=0)
    assert s.metrics()["sched/epoch"] == 0.0  # nothing drawn yet
    s.select(3)
    assert s.metrics()["sched/epoch"] == 0.0 and s.rule.epoch == 0  # the first epoch is epoch 0
    s.select(3)  # crosses into the second epoch
    assert s.metrics()["sched/epoch"] == 1.0
    s.select(4)
    s.select(4)
    assert s.rule.epoch == 3 and s.metrics()["sched/epoch"] == 3.0  # 14 draws over a pool of 4


def test_fallback_reaches_arms_with_a_single_prompt_left() -> None:
    hits = 0
    for seed in range(400):
        s = sec([0, 1, 2, 2, 2], [10.0, np.log(3.0), 0.0], seed=seed)  # arm 1 holds one prompt
        ids = s.select(2)
        hits += int(ids[1] == 1)
    assert abs(hits / 400 - 0.75) < 0.07


def test_arm_queues_need_categories() -> None:
    from schedsim.rules.arms import ArmQueues

    with pytest.raises(schedsim.PoolError, match=r"^SEC-style arm selection needs prompt categories"):
        ArmQueues(schedsim.PromptPool(n=3))
