"""Reference values computed by hand for pcl, tscl, exp3s, pools and bots (docs/schedulers.md), at non-default,
asymmetric parameters that a wrong formula would fail."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import schedsim
from schedsim.core.errors import MissingSignalError, ParameterError


def fb(ids: list[int], rows: list[list[float]]) -> schedsim.Feedback:
    return schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array(rows, dtype=float))


def group(successes: int, size: int) -> list[float]:
    return [1.0] * successes + [0.0] * (size - successes)


# -- pcl ---------------------------------------------------------------------------------------------------
def test_pcl_table_value_model_and_closest_to_tau() -> None:
    pool = schedsim.PromptPool(n=5)
    s = schedsim.make_scheduler("pcl:lr=0.25,init=0.4,tau=0.3,pool_factor=3", pool=pool, seed=0)
    assert s.estimator.model == "table"  # no features in the pool
    s.observe(fb([0, 1, 2, 3], [group(4, 4), group(1, 4), group(0, 4), group(2, 4)]))
    # V <- V + 0.25 (y - V) from 0.4: y = 1, 0.25, 0, 0.5
    np.testing.assert_allclose(s.estimates(), [0.55, 0.3625, 0.3, 0.425, 0.4])
    # 3 x 2 candidates >= N: the whole pool is scored; |V - 0.3| = 0.25, 0.0625, 0, 0.125, 0.1
    assert sorted(s.select(2).tolist()) == [1, 2]
    assert sorted(s.select(3).tolist()) == [1, 2, 4]


def test_pcl_scores_only_its_candidates() -> None:
    # V = (0.9, 0.1, 0.5, 0.9, 0.9) with tau = 0.5: prompt 2 is chosen iff it is one of the 2 uniform candidates
    pool = schedsim.PromptPool(n=5)
    hits = 0
    for seed in range(1000):
        s = schedsim.make_scheduler("pcl:pool_factor=2,lr=1.0,tau=0.5", pool=pool, seed=seed)
        s.estimator.v[:] = [0.9, 0.1, 0.5, 0.9, 0.9]
        hits += int(s.select(1)[0] == 2)
    assert abs(hits / 1000 - 0.4) < 0.05  # 1 - C(4,2)/C(5,2) = 0.4; binomial s.d. 0.015


def test_pcl_linear_value_model_two_gradient_steps() -> None:
    pool = schedsim.PromptPool(n=3, features=np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    s = schedsim.make_scheduler("pcl:lr=0.5,steps=2,init=0.2", pool=pool, seed=0)
    assert s.estimator.model == "linear"
    s.observe(fb([0, 1], [group(4, 4), group(0, 4)]))
    # step 1: err (-0.8, 0.2): w = (0.2, -0.05), b = 0.35; step 2: err (-0.45, 0.3): w = (0.3125, -0.125), b = 0.3875
    np.testing.assert_allclose(s.estimator.w, [0.3125, -0.125, 0.3875])
    np.testing.assert_allclose(s.estimates(), [0.7, 0.2625, 0.575])
    with pytest.raises(schedsim.PoolError):
        schedsim.make_scheduler("pcl:model=linear", pool=schedsim.PromptPool(n=3), seed=0)


# -- tscl --------------------------------------------------------------------------------------------------
CATS3 = [0, 0, 1, 1, 2, 2]


def test_tscl_online_teacher_egreedy_on_absolute_q() -> None:
    pool = schedsim.PromptPool(n=6, category=CATS3)
    spec = "tscl:teacher=online,policy=egreedy,alpha=0.5,epsilon=0.3"
    s = schedsim.make_scheduler(spec, pool=pool, seed=0)
    s.observe(fb([0, 2], [[1, 0, 1, 0], group(1, 4)]))  # x = (0.5, 0.25, 0): Q = 0.5 dx = (0.25, 0.125, 0)
    np.testing.assert_allclose(s.q, [0.25, 0.125, 0.0])
    s.observe(fb([1], [group(0, 4)]))  # dx = (-0.5, 0, 0): Q = (-0.125, 0.0625, 0)
    np.testing.assert_allclose(s.q, [-0.125, 0.0625, 0.0])
    s.select(2)
    np.testing.assert_allclose(s.arm_probabilities(), [0.8, 0.1, 0.1])  # argmax |Q| = arm 0
    np.testing.assert_allclose(s.distribution(), [0.4, 0.4, 0.05, 0.05, 0.05, 0.05])
    signed = schedsim.make_scheduler(spec + ",absolute=false", pool=pool, seed=0)
    signed.observe(fb([0, 2], [[1, 0, 1, 0], group(1, 4)]))
    signed.observe(fb([1], [group(0, 4)]))
    signed.select(2)
    np.testing.assert_allclose(signed.arm_probabilities(), [0.1, 0.8, 0.1])  # argmax Q = arm 1


def test_tscl_window_teacher_slope_and_boltzmann() -> None:
    pool = schedsim.PromptPool(n=4, category=[0, 0, 1, 1])
    s = schedsim.make_scheduler(
        "tscl:teacher=window,policy=boltzmann,window=3,temperature=0.1,absolute=false", pool=pool, seed=0
    )
    s.observe(fb([0], [group(1, 4)]))  # t = 0: c0 0.25
    s.observe(fb([0, 2], [group(2, 4), group(4, 4)]))  # t = 1: c0 0.5, c1 1.0
    s.observe(fb([1], [group(4, 4)]))  # t = 2: c0 1.0
    s.observe(fb([0], [group(3, 4)]))  # t = 3: c0 0.75; window of 3 keeps t = 1, 2, 3
    s.select(1)
    # c0: slope of (1, .5), (2, 1), (3, .75) = 0.125; c1: one point -> 1. softmax((0.125, 1) / 0.1)
    p0 = 1.0 / (1.0 + math.exp(8.75))
    np.testing.assert_allclose(s.arm_probabilities(), [p0, 1.0 - p0])


def test_window_slopes_from_two_points_and_with_gaps() -> None:
    from schedsim.schedulers.tscl import window_slopes

    nan = math.nan
    times = np.array([[nan, nan, 0.0], [0.0, nan, 2.0], [1.0, 5.0, 3.0]])
    scores = np.array([[nan, nan, 0.1], [0.2, nan, 0.5], [0.6, 0.3, 0.9]])
    # column 0: two points, slope 0.4; column 1: one point, 1; column 2: (0, .1), (2, .5), (3, .9): slope 1.2 / (42/9) = 9/35
    np.testing.assert_allclose(window_slopes(times, scores), [0.4, 1.0, 9 / 35])


def test_tscl_sampling_teacher_fifo_mean() -> None:
    pool = schedsim.PromptPool(n=4, category=[0, 0, 1, 1])
    s = schedsim.make_scheduler("tscl:teacher=sampling,policy=egreedy,window=2,epsilon=0.2", pool=pool, seed=0)
    s.observe(fb([0], [group(2, 4)]))  # dx = (0.5, 0)
    s.observe(fb([2], [group(1, 4)]))  # dx = (0, 0.25)
    s.observe(fb([1], [group(0, 4)]))  # dx = (-0.5, 0); FIFO of 2 = {(0, .25), (-.5, 0)}: mean (-0.25, 0.125)
    s.select(1)
    np.testing.assert_allclose(s.arm_probabilities(), [0.9, 0.1])  # |mean| picks arm 0


def test_tscl_thompson_draws_one_stored_progress_per_arm() -> None:
    # FIFO {(0.5, 0), (0, 0.25)}: arm 0 draws 0.5 w.p. 1/2 (wins); else 0 vs arm 1's {0, 0.25}: arm 1 wins w.p.
    # 1/4, ties (1/4) split: P(greedy = arm 0) = 1/2 + 1/8 = 0.625
    pool = schedsim.PromptPool(n=4, category=[0, 0, 1, 1])
    wins = 0
    for seed in range(2000):
        s = schedsim.make_scheduler("tscl:window=2,epsilon=0.0", pool=pool, seed=seed)
        s.observe(fb([0], [group(2, 4)]))
        s.observe(fb([2], [group(1, 4)]))
        s.select(1)
        wins += int(s.arm_probabilities()[0] == 1.0)
    assert abs(wins / 2000 - 0.625) < 0.035  # binomial s.d. 0.011
    with pytest.raises(ParameterError):
        schedsim.make_scheduler("tscl:teacher=online", pool=pool, seed=0)  # thompson needs the sampling teacher


def test_tscl_and_exp3s_states_load_integer_lists_as_floats() -> None:
    pool = schedsim.PromptPool(n=6, category=CATS3)
    loaded = schedsim.make_scheduler("tscl", pool=pool, seed=0)
    state = loaded.state_dict()
    arrays = {**state["body"]["arrays"], "q": [0, 0, 0], "dx": np.zeros((10, 3), dtype=int).tolist()}
    loaded.load_state_dict({**state, "body": {**state["body"], "arrays": arrays}})  # integer lists, as JSON may hold
    assert loaded.q.dtype == loaded.dx.dtype == np.float64
    e = schedsim.make_scheduler("exp3s", pool=pool, seed=0)
    state = e.state_dict()
    state["body"] = {**state["body"], "w": [0, 1, 0], "sample": [0, 1]}
    e.load_state_dict(state)
    assert e.w.dtype == e.sample.dtype == np.float64  # a later reservoir write of 0.25 must not truncate to 0


def test_tscl_and_exp3s_defaults_seed_and_bad_values() -> None:
    pool = schedsim.PromptPool(n=6, category=CATS3)
    s = schedsim.make_scheduler("tscl", pool=pool, seed=0)
    assert (s.teacher, s.policy, s.alpha, s.window, s.epsilon, s.temperature, s.absolute) == (
        "sampling",
        "thompson",
        0.1,
        10,
        0.1,
        4e-4,
        True,
    )
    assert s.dx.shape == (10, 3) and (s.n_dx, s.t) == (0, 0)
    np.testing.assert_allclose(s.arm_probabilities(), [1 / 3] * 3)  # an empty FIFO: Q = 1 everywhere, tied
    assert [s.metrics()[f"sched/arm_prob/{c}"] for c in range(3)] == pytest.approx([1 / 3] * 3)
    e = schedsim.make_scheduler("exp3s", pool=pool, seed=0)
    assert (e.eta, e.epsilon, e.beta, e.reservoir, e.t, e.n_rewards) == (0.01, 0.05, 0.0, 1000, 0, 0)
    for spec in ("tscl", "exp3s"):
        picks = []
        for seed in (3, 3, 4):
            sched = schedsim.make_scheduler(spec, pool=pool, seed=seed)
            sched.observe(fb([0, 2], [group(3, 4), group(1, 4)]))
            picks.append(sched.select(6).tolist())
        assert picks[0] == picks[1] != picks[2]  # queues and policy draws from the scheduler's seed
    # edges accepted
    schedsim.make_scheduler("tscl:teacher=online,policy=egreedy,alpha=1,window=1,epsilon=1", pool=pool)
    schedsim.make_scheduler("tscl:epsilon=0", pool=pool)
    schedsim.make_scheduler("exp3s:epsilon=1,beta=0,reservoir=1", pool=pool)
    for spec, message in [
        ("tscl:teacher=x", "teacher='x' is not accepted; accepted: 'sampling', 'online', 'window'"),
        ("tscl:policy=x", "policy='x' is not accepted; accepted: 'thompson', 'egreedy', 'boltzmann'"),
        (
            "tscl:teacher=window",
            "policy='thompson' needs teacher='sampling', not 'window'; accepted: teacher='sampling', or "
            "policy='egreedy' / 'boltzmann'",
        ),
        ("tscl:alpha=0", "alpha=0.0 is out of range; accepted: a number in (0, 1]"),
        ("tscl:alpha=1.5", "alpha=1.5 is out of range; accepted: a number in (0, 1]"),
        ("tscl:window=0", "window=0 is out of range; accepted: an integer in [1, inf)"),
        ("tscl:epsilon=-0.1", "epsilon=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("tscl:epsilon=1.5", "epsilon=1.5 is out of range; accepted: a number in [0, 1]"),
        ("tscl:temperature=0", "temperature=0.0 is out of range; accepted: a number in (0, inf)"),
        ("exp3s:eta=0", "eta=0.0 is out of range; accepted: a number in (0, inf)"),
        ("exp3s:epsilon=-0.1", "epsilon=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("exp3s:epsilon=1.5", "epsilon=1.5 is out of range; accepted: a number in [0, 1]"),
        ("exp3s:beta=-0.1", "beta=-0.1 is out of range; accepted: a number in [0, inf)"),
        ("exp3s:reservoir=0", "reservoir=0 is out of range; accepted: an integer in [1, inf)"),
    ]:
        name = spec.partition(":")[0]
        with pytest.raises(ParameterError, match="^" + re.escape(f"{name}: {message}") + "$"):
            schedsim.make_scheduler(spec, pool=pool, seed=0)


# -- exp3s -------------------------------------------------------------------------------------------------
def test_exp3s_two_updates() -> None:
    pool = schedsim.PromptPool(n=6, category=CATS3)
    s = schedsim.make_scheduler("exp3s:eta=0.5,epsilon=0.3,beta=0.1,reservoir=3", pool=pool, seed=0)
    # batch 1: c0 = 6/8 = 0.75, c1 = 0.25 (c2 absent); reservoir (0.75, 0.25): q20 = 0.35, q80 = 0.65
    s.observe(fb([0, 1, 2], [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]))
    np.testing.assert_allclose(s.scaled(np.array([0.75, 0.25, 0.5])), [1.0, -1.0, 0.0])
    # pi = 1/3 each; shares (2/3, 1/3, 0); r~ = (r share + 0.1) / (1/3) = (2.3, -0.7, 0.3); v = 0.5 r~; t = 1
    v = np.array([1.15, -0.35, 0.15])
    w1 = np.log([(math.exp(v[1]) + math.exp(v[2])) / 2, (math.exp(v[0]) + math.exp(v[2])) / 2,
                 (math.exp(v[0]) + math.exp(v[1])) / 2])  # fmt: skip
    np.testing.assert_allclose(s.w, w1)
    # batch 2: c2 = 1.0 (dx 1.0); reservoir (0.75, 0.25, 1.0): q20 = 0.45, q80 = 0.9 -> r = 1; t = 2: alpha 1/2
    pi = 0.7 * np.exp(w1) / np.exp(w1).sum() + 0.1
    np.testing.assert_allclose(s.arm_probabilities(), pi)
    s.observe(fb([4], [group(4, 4)]))
    v2 = w1 + 0.5 * (np.array([0.0, 0.0, 1.0]) + 0.1) / pi
    e = np.exp(v2)
    np.testing.assert_allclose(s.w, np.log(0.5 * e + 0.25 * (e.sum() - e)))
    np.testing.assert_allclose(s.sample, [0.75, 0.25, 1.0])


def test_exp3s_reservoir_is_algorithm_r_on_the_schedulers_generator() -> None:
    import copy

    values = np.arange(1.0, 41.0) / 40
    for seed in range(4):
        e = schedsim.make_scheduler("exp3s:reservoir=4", pool=schedsim.PromptPool(n=6, category=CATS3), seed=seed)
        rng = copy.deepcopy(e._rng)
        e._remember(values[:25])
        e._remember(values[25:])  # a second call continues the count
        expected: list[float] = []
        for i, v in enumerate(values):  # keep the first 4, then the i-th replaces slot j ~ U{0..i} if j < 4
            if len(expected) < 4:
                expected.append(v)
            else:
                j = int(rng.integers(0, i + 1))
                if j < 4:
                    expected[j] = v
        np.testing.assert_array_equal(e.sample, expected)
        assert e.n_rewards == 40 and e.sample.size == 4


def test_exp3s_edges_one_arm_flat_reservoir_and_an_arm_without_rollouts() -> None:
    # a flat reservoir maps by the sign of r - q20
    e = schedsim.make_scheduler("exp3s", pool=schedsim.PromptPool(n=6, category=CATS3), seed=0)
    e.sample = np.array([0.5, 0.5])
    np.testing.assert_array_equal(e.scaled(np.array([0.2, 0.5, 0.9])), [-1.0, 0.0, 1.0])
    # one arm: pi = 1, share = 1, r~ = r + beta; the first reward is the reservoir's only value: scaled 0
    one = schedsim.make_scheduler("exp3s:eta=0.5,beta=0.2", pool=schedsim.PromptPool(n=2, category=[0, 0]), seed=0)
    one.observe(fb([0], [group(3, 4)]))
    np.testing.assert_allclose(one.w, [0.1])
    # an arm whose group has no rollout is not observed: its reward is 0 even though it holds half the batch.
    # Cat 0's only reward is the reservoir's only value (scaled 0), beta = 0: every r~ is 0, and with
    # alpha_1 = 1 every w_i = log(mean of the others' e^0) = 0
    e = schedsim.make_scheduler("exp3s:eta=0.5,beta=0", pool=schedsim.PromptPool(n=6, category=CATS3), seed=0)
    nan = math.nan
    e.observe(fb([0, 2], [[1, 1, 0, 0], [nan, nan, nan, nan]]))
    np.testing.assert_allclose(e.w, [0.0, 0.0, 0.0], atol=1e-12)
    for name in ("exp3s", "tscl"):
        with pytest.raises(schedsim.PoolError, match=f"^{name} needs prompt categories but the pool has none"):
            schedsim.make_scheduler(name, pool=schedsim.PromptPool(n=4), seed=0)
        sched = schedsim.make_scheduler(name, pool=schedsim.PromptPool(n=6, category=CATS3), seed=0)
        with pytest.raises(schedsim.FeedbackError, match=rf"^{name} needs rewards in \[0, 1\]"):
            sched.observe(fb([0], [[2.0, 0.0]]))


def test_tscl_fifo_keeps_the_last_window_progress_vectors_oldest_first() -> None:
    pool = schedsim.PromptPool(n=4, category=[0, 0, 1, 1])
    s = schedsim.make_scheduler("tscl:teacher=sampling,policy=egreedy,window=3", pool=pool, seed=0)
    s.observe(fb([0], [group(2, 4)]))  # dx = (0.5, 0)
    s.observe(fb([2], [group(1, 4)]))  # dx = (0, 0.25)
    np.testing.assert_array_equal(s.dx, [[0.0, 0.0], [0.5, 0.0], [0.0, 0.25]])
    assert s.n_dx == 2 and s.t == 2
    assert s.state_dict()["body"]["arrays"]["win_x"].dtype == np.float64
    # egreedy reads the mean of the stored vectors, not a random one: |(0.25, 0.125)| picks arm 0 at every seed
    for seed in range(12):
        t = schedsim.make_scheduler("tscl:teacher=sampling,policy=egreedy,window=2,epsilon=0.2", pool=pool, seed=seed)
        t.observe(fb([0], [group(2, 4)]))
        t.observe(fb([2], [group(1, 4)]))
        t.observe(fb([1], [group(0, 4)]))  # FIFO (0, .25), (-.5, 0): mean (-0.25, 0.125)
        t.select(1)
        np.testing.assert_allclose(t.arm_probabilities(), [0.9, 0.1])


# -- pools -------------------------------------------------------------------------------------------------
def test_pools_thresholds_weights_and_latest_score() -> None:
    pool = schedsim.PromptPool(n=5)
    spec = "pools:hard_max=0.3,normal_max=0.6,hard_weight=0.5,normal_weight=2.0,easy_weight=0.1,unseen_weight=3.0"
    s = schedsim.make_scheduler(spec, pool=pool, seed=0)
    s.observe(fb([0, 1, 2, 3], [group(30, 100), group(31, 100), group(60, 100), group(61, 100)]))
    # 0.30 <= 0.3: hard; 0.31, 0.60: normal; 0.61: easy; prompt 4 unseen
    np.testing.assert_allclose(s.distribution(), np.array([0.5, 2.0, 2.0, 0.1, 3.0]) / 7.6)
    s.observe(fb([0], [group(90, 100)]))  # overwritten, not averaged: 0.9 -> easy
    np.testing.assert_allclose(s.distribution(), np.array([0.1, 2.0, 2.0, 0.1, 3.0]) / 7.2)
    ids = s.select(20_000)  # with replacement: k may exceed N
    freq = np.bincount(ids, minlength=5) / 20_000
    np.testing.assert_allclose(freq, np.array([0.1, 2.0, 2.0, 0.1, 3.0]) / 7.2, atol=0.015)


ROWS = {0: group(0, 4), 1: group(2, 4), 2: group(4, 4), 3: group(1, 4)}


class ScriptedProbe:
    """Fixed groups per prompt (ROWS): 0 all wrong, 1 half right, 2 all right, 3 one of four right."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, ids: np.ndarray, g: int) -> schedsim.Feedback:
        self.calls.append(ids.tolist())
        return fb(ids.tolist(), [ROWS[int(i)] for i in ids])


def test_pools_adv_range_gate() -> None:
    pool = schedsim.PromptPool(n=4)
    probe = ScriptedProbe()
    s = schedsim.make_scheduler(
        "pools:gate=true,reject_min=-0.5,reject_max=0.5,probe_group=4", pool=pool, seed=3, probe=probe
    )
    # mean-centred advantages: prompt 1 (.5, .5, -.5, -.5) all inside [-0.5, 0.5]: rejected, as are the all-equal
    # groups; prompt 3 (.75, -.25, -.25, -.25) is admitted
    assert s.select(1).tolist() == [3]
    probed = [i for call in probe.calls for i in call]
    assert len(probed) == len(set(probed)) and 3 in probed  # distinct draws until one is admitted
    np.testing.assert_allclose(s.estimates()[probed], [ROWS[i].count(1.0) / 4 for i in probed])
    default = schedsim.make_scheduler("pools:gate=true,probe_group=4", pool=pool, seed=0, probe=ScriptedProbe())
    assert sorted(default.select(2).tolist()) == [1, 3]  # [0, 0] rejects only the all-equal groups
    with pytest.raises(MissingSignalError):
        schedsim.make_scheduler("pools:gate=true", pool=pool, seed=0).select(1)


def test_pools_defaults_seed_zero_weight_worlds_and_bad_values() -> None:
    pool = schedsim.PromptPool(n=6)
    s = schedsim.make_scheduler("pools", pool=pool, seed=0)
    assert (s.hard_max, s.normal_max, s.unseen_weight, s.gate) == (0.25, 0.75, 1.0, False)
    np.testing.assert_array_equal(s.pool_weights, [0.2, 1.0, 0.2])
    assert (s.reject_min, s.reject_max, s.probe_group, s.max_rounds, s.adv_std) == (0.0, 0.0, 8, 16, "none")
    np.testing.assert_array_equal(s.estimates(), np.full(6, 0.5))  # unseen prompts read as 0.5
    picks = [schedsim.make_scheduler("pools", pool=pool, seed=seed).select(8).tolist() for seed in (4, 4, 5)]
    assert picks[0] == picks[1] != picks[2]  # draws from the scheduler's seeded generator
    # unseen prompts weigh 0: the distribution is uniform until a prompt is seen, then all mass is on it
    s = schedsim.make_scheduler("pools:unseen_weight=0,hard_weight=0.5", pool=pool, seed=0)
    np.testing.assert_array_equal(s.distribution(), np.full(6, 1 / 6))
    s.observe(fb([2], [group(1, 4)]))
    np.testing.assert_array_equal(s.distribution(), [0, 0, 1, 0, 0, 0])
    assert s.select(3).tolist() == [2, 2, 2]
    # bounds: 0 <= hard_max <= normal_max <= 1, weights >= 0 (unseen_weight 0.5 is accepted)
    schedsim.make_scheduler("pools:unseen_weight=0.5,hard_max=0.4,normal_max=0.4", pool=pool, seed=0)
    schedsim.make_scheduler("pools:probe_group=1,max_rounds=1", pool=pool, seed=0)  # the smallest accepted
    with pytest.raises(ParameterError, match=r"^pools: reject_min=inf is out of range; accepted: a number in \(-inf"):
        schedsim.make_scheduler("pools", pool=pool, seed=0, reject_min=math.inf)
    for spec, message in [
        ("pools:hard_max=-0.1", "hard_max=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("pools:hard_max=1.5,normal_max=1", "hard_max=1.5 is out of range; accepted: a number in [0, 1]"),
        ("pools:hard_max=0.5,normal_max=0.4", "normal_max=0.4 is out of range; accepted: a number in [0.5, 1]"),
        ("pools:normal_max=1.5", "normal_max=1.5 is out of range; accepted: a number in [0.25, 1]"),
        ("pools:hard_weight=-0.1", "hard_weight=-0.1 is out of range; accepted: a number in [0, inf)"),
        ("pools:normal_weight=-1", "normal_weight=-1.0 is out of range; accepted: a number in [0, inf)"),
        ("pools:easy_weight=-0.5", "easy_weight=-0.5 is out of range; accepted: a number in [0, inf)"),
        ("pools:unseen_weight=-2", "unseen_weight=-2.0 is out of range; accepted: a number in [0, inf)"),
        (
            "pools:hard_weight=0,normal_weight=0,easy_weight=0,unseen_weight=0",
            "every pool weight is 0; accepted: at least one positive weight",
        ),
        ("pools:reject_min=0.2,reject_max=0.1", "reject_max=0.1 is out of range; accepted: a number in [0.2, inf)"),
        ("pools:max_rounds=0", "max_rounds=0 is out of range; accepted: an integer in [1, inf)"),
        ("pools:probe_group=0", "probe_group=0 is out of range; accepted: an integer in [1, inf)"),
        ("pools:adv_std=batch", "adv_std='batch' is not accepted; accepted: 'unbiased', 'population', 'none'"),
    ]:
        with pytest.raises(schedsim.ParameterError, match="^pools: " + re.escape(message)):
            schedsim.make_scheduler(spec, pool=pool, seed=0)


def test_pools_gate_probes_every_prompt_once_and_fills_from_rejected_or_fresh_draws() -> None:
    # [0, 0] admits prompts 1 and 3 only, so for k = 3 of 4 the gate probes the whole pool (distinct, no empty
    # round) and trains on 1 and 3 (admitted first) plus one of 0 and 2: a rejected group of the last round, or, when
    # that round admitted its only prompt, a fresh distinct draw. 4 probed - 3 trained = 1 rejected.
    pool = schedsim.PromptPool(n=4)
    last_rounds = set()
    for seed in range(10):
        probe = ScriptedProbe()
        s = schedsim.make_scheduler("pools:gate=true,probe_group=4", pool=pool, seed=seed, probe=probe)
        assert s.metrics()["sched/gate_rejected"] == 0.0 and s.metrics()["sched/est_seen_frac"] == 0.0
        ids = s.select(3).tolist()
        assert sorted(ids[:2]) == [1, 3] and ids[2] in (0, 2)
        probed = [i for call in probe.calls for i in call]
        assert sorted(probed) == [0, 1, 2, 3] and all(probe.calls)
        m = s.metrics()
        assert m["sched/gate_rejected"] == 1.0 and m["sched/est_seen_frac"] == 1.0
        last_rounds.add(tuple(probe.calls[-1]))
    assert last_rounds & {(1,), (3,)} and last_rounds & {(0,), (2,)}  # both ways of filling were exercised
    # a probe that admits everything: one round of k distinct prompts, nothing rejected
    calls = []

    def admit_all(ids: np.ndarray, g: int) -> schedsim.Feedback:
        calls.append(ids.tolist())
        return fb(ids.tolist(), [group(2, 4)] * ids.size)

    s = schedsim.make_scheduler("pools:gate=true", pool=pool, seed=0, probe=admit_all)
    assert len(set(s.select(2).tolist())) == 2 and len(calls) == 1
    assert s.metrics()["sched/gate_rejected"] == 0.0


def test_pools_gate_with_zero_weights_draws_distinct_unprobed_prompts() -> None:
    # only the normal pool weighs: every unprobed prompt has weight 0, so each round falls back to a uniform draw
    # among the unprobed ones, never a probed one again
    pool = schedsim.PromptPool(n=4)
    spec = "pools:gate=true,probe_group=4,unseen_weight=0,hard_weight=0,easy_weight=0"
    for seed in range(5):
        probe = ScriptedProbe()
        s = schedsim.make_scheduler(spec, pool=pool, seed=seed, probe=probe)
        assert sorted(s.select(3)[:2].tolist()) == [1, 3]
        assert sorted(i for call in probe.calls for i in call) == [0, 1, 2, 3]
    # without the gate, all-zero weights draw uniformly with replacement
    s = schedsim.make_scheduler("pools:unseen_weight=0", pool=schedsim.PromptPool(n=6), seed=0)
    counts = np.bincount(s.select(600), minlength=6)
    assert counts.min() > 60  # about 100 each; a draw of the last id only, or of none, fails


def test_pools_gate_reads_the_trainers_advantages_and_admits_a_group_without_rollouts() -> None:
    s = schedsim.make_scheduler("pools:gate=true,reject_min=-0.1,reject_max=0.1", pool=schedsim.PromptPool(n=3))
    nan = float("nan")
    feedback = schedsim.Feedback(
        prompt_ids=np.array([0, 1, 2]),
        rewards=np.array([[1.0, 0.0, 0.0], [1.0, 0.0, nan], [nan, nan, nan]]),
        advantages=np.array([[0.05, -0.05, 0.0], [0.5, -0.5, nan], [nan, nan, nan]]),
    )
    # row 0: rewards mixed, but the trainer's advantages all lie in [-0.1, 0.1]: rejected; row 2: no rollouts
    np.testing.assert_array_equal(s.admit(feedback), [False, True, True])


def test_pools_probe_answers_state_and_messages_are_checked() -> None:
    pool = schedsim.PromptPool(n=4)
    for bad in (lambda ids, g: fb((ids[::-1]).tolist(), [group(1, 4)] * ids.size), lambda ids, g: "rows"):
        s = schedsim.make_scheduler("pools:gate=true,probe_group=4", pool=pool, seed=0, probe=bad)
        message = "probe returned feedback that does not match the probed ids; accepted: one row per id"
        with pytest.raises(schedsim.FeedbackError, match="^" + re.escape(message) + "$"):
            s.select(2)
    message = (
        "pools:gate=true probes groups to admit them; pass make_scheduler('pools:gate=true', ..., probe=fn) with "
        "fn(ids, G) -> Feedback (the schedsim runner provides one and charges its rollouts)"
    )
    with pytest.raises(MissingSignalError, match="^" + re.escape(message) + "$"):
        schedsim.make_scheduler("pools:gate=true", pool=pool, seed=0).select(1)
    with pytest.raises(ParameterError, match=r"^pools: probe=3 is not callable; accepted: a function probe\(ids, G\)"):
        schedsim.make_scheduler("pools", pool=pool, seed=0, probe=3)
    s = schedsim.make_scheduler("pools", pool=pool, seed=0)
    with pytest.raises(schedsim.FeedbackError, match=r"^pools needs rewards in \[0, 1\] \(pass/fail\); got 2.0$"):
        s.observe(fb([0], [[2.0, 0.0]]))
    # state: integer scores load as floats (a later observation is not truncated); the gate's count comes back
    state = s.state_dict()
    state["body"] = {"score": [0, 1, 1, 0], "rejected": 5}
    s.load_state_dict(state)
    s.observe(fb([0], [group(1, 4)]))
    np.testing.assert_array_equal(s.estimates(), [0.25, 1.0, 1.0, 0.0])
    gated = schedsim.make_scheduler("pools:gate=true", pool=pool, seed=0, probe=ScriptedProbe())
    gated.load_state_dict({**gated.state_dict(), "body": {"score": [0.5] * 4, "rejected": 5}})
    assert gated.metrics()["sched/gate_rejected"] == 5.0
    state["body"] = {"score": [0.5] * 3, "rejected": 0}
    with pytest.raises(schedsim.StateError, match=re.escape("pools state has (3,) scores; accepted: (4,)")):
        s.load_state_dict(state)


# -- bots --------------------------------------------------------------------------------------------------
def test_bots_without_anchors_relaxes_unobserved_tasks_to_the_prior() -> None:
    pool = schedsim.PromptPool(n=3)
    spec = "bots:m=4,lamb=0.5,rho=0.3,do_sample=false,target=0.6"
    s = schedsim.make_scheduler(spec, pool=pool, seed=0)
    s.observe(fb([0], [group(3, 4)]))  # alpha0 = 0.5 + 0.5 + 4 * 0.75 = 4, beta0 = 2
    np.testing.assert_allclose(s.estimator.alpha, [4.0, 1.0, 1.0])
    np.testing.assert_allclose(s.estimator.beta, [2.0, 1.0, 1.0])
    s.observe(fb([1], [group(0, 4)]))  # alpha = (2.5, 1, 1), beta = (1.5, 5, 1)
    np.testing.assert_allclose(s.estimates(), [0.625, 1 / 6, 0.5])
    assert sorted(s.select(2).tolist()) == [0, 2]  # |0.6 - p|: 0.025, 0.433, 0.1
    low = schedsim.make_scheduler(spec.replace("target=0.6", "target=0.2"), pool=pool, seed=0)
    low.load_state_dict(s.state_dict() | {"scheduler": "bots"})
    assert sorted(low.select(2).tolist()) == [1, 2]  # 0.425, 0.033, 0.3


def test_bots_with_anchors_interpolates_pseudo_counts() -> None:
    pool = schedsim.PromptPool(n=3)
    anchors = np.array([[0.2, 0.4, 0.0], [0.6, 0.8, 0.5]])
    spec = "bots:m=4,lamb=0.5,rho=0.25,cap_discount=0.8"
    s = schedsim.make_scheduler(spec, pool=pool, seed=0, anchors=anchors)
    s.observe(fb([0], [group(2, 4)]))
    c = 0.3 / (0.4 + 1e-6)
    assert s.estimator.cap == pytest.approx(c)
    p1, p2 = 0.4 + 0.4 * c, 0.5 * c  # p~ of the unobserved tasks; task 0 uses its observed 0.5
    # alpha = 0.5 + 0.5 + 0.75 * 4 * p_o [obs] + 0.25 * 4 * p~
    np.testing.assert_allclose(s.estimator.alpha, [1 + 1.5 + 0.5, 1 + p1, 1 + p2])
    np.testing.assert_allclose(s.estimator.beta, [1 + 1.5 + 0.5, 2 - p1, 2 - p2])
    s.observe(fb([1], [group(4, 4)]))
    c2 = 0.8 * c + 0.2 * (1.0 - 0.4) / (0.4 + 1e-6)
    assert s.estimator.cap == pytest.approx(c2)


def test_bots_adaptive_rho_halves_on_a_poor_interpolation() -> None:
    pool = schedsim.PromptPool(n=3)
    anchors = np.array([[0.2, 0.4, 0.0], [0.6, 0.8, 0.5]])
    spec = "bots:m=4,lamb=0.5,rho=0.25,adaptive_rho=true"
    s = schedsim.make_scheduler(spec, pool=pool, seed=0, anchors=anchors)
    s.observe(fb([0, 2], [group(0, 4), group(4, 4)]))
    c = (0.5 - 0.1) / (0.45 + 1e-6)  # predicted (0.2 + 0.4c, 0.5c) vs observed (0, 1): mean error 0.556 >= 0.25
    assert s.estimator.rho == 0.125
    np.testing.assert_allclose(s.estimator.alpha[1], 1 + 0.125 * 4 * (0.4 + 0.4 * c))
    fixed = schedsim.make_scheduler(spec.replace("true", "false"), pool=pool, seed=0, anchors=anchors)
    fixed.observe(fb([0, 2], [group(0, 4), group(4, 4)]))
    assert fixed.estimator.rho == 0.25


def test_bots_softmax_distribution() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("bots:m=4,lamb=0.5,do_sample=false,tau=0.5,target=0.6", pool=pool, seed=0)
    s.observe(fb([0], [group(3, 4)]))
    s.observe(fb([1], [group(0, 4)]))  # p = (0.625, 1/6, 0.5) as above
    z = -np.abs(0.6 - np.array([0.625, 1 / 6, 0.5])) / 0.5
    np.testing.assert_allclose(s.distribution(), np.exp(z) / np.exp(z).sum())
    assert schedsim.make_scheduler("bots", pool=pool, seed=0).distribution() is None  # Thompson: random scores


class FixedPosterior:
    """An estimator stand-in that only answers ``posterior()``."""

    def __init__(self, alpha: list[float], beta: list[float]) -> None:
        self.alpha, self.beta = np.array(alpha), np.array(beta)

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        return self.alpha, self.beta


@pytest.mark.parametrize("target", [0.3, 0.85])
def test_bots_thompson_top_k_has_the_law_of_drawing_every_prompt(target: float) -> None:
    """Prior-only prompts are drawn as a block of order statistics; the selected set must have the law of
    drawing all N posteriors and taking the k closest to target (inclusion frequencies, 8,000 runs each)."""
    from schedsim.rules.closest import ClosestToTarget

    # five prompts at the Beta(1, 1) prior; five observed, four of them with one parameter still at 1, two of those
    # at Beta(2, 1) and Beta(1, 2) (one success / one failure away from the prior: not prior-only)
    alpha = [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 6.0, 1.0, 1.0, 4.0]
    beta = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 5.0, 1.0]
    est = FixedPosterior(alpha, beta)
    rule = ClosestToTarget(schedsim.PromptPool(n=10), target=target, tau=0.0, do_sample=True)
    runs, k = 8000, 3
    rng = np.random.default_rng(1)
    got = np.zeros(10)
    for _ in range(runs):
        picked = rule.select(k, est, rng)
        assert picked.size == k and np.unique(picked).size == k
        got[picked] += 1
    ref_rng = np.random.default_rng(2)
    draws = ref_rng.beta(est.alpha, est.beta, size=(runs * 4, 10))
    top = np.argsort(np.abs(target - draws), axis=1)[:, :k]
    ref = np.bincount(top.ravel(), minlength=10) / (runs * 4)
    # standard error of a frequency <= 0.0056 (8,000 runs) + 0.0028 (32,000): 0.025 is over 4 of them combined
    np.testing.assert_allclose(got / runs, ref, atol=0.025)


def test_bots_thompson_block_distances_follow_the_law_of_the_distance_to_the_target() -> None:
    """Two prior-only prompts against one whose draws sit 0.25 below the target 0.85: a prior-only prompt is
    closer iff |0.85 - U| < 0.25, i.e. U > 0.6, so P(the pick is prior-only) = 1 - 0.6^2 = 0.64 (+0.0002 from the
    other's spread). The block's order statistic u maps to a distance u/2 only up to u = 2 min(target, 1 - target)."""
    from schedsim.rules.closest import ClosestToTarget

    rule = ClosestToTarget(schedsim.PromptPool(n=3), target=0.85, tau=0.0, do_sample=True)
    est = FixedPosterior([1.0, 1.0, 600.0], [1.0, 1.0, 400.0])
    rng = np.random.default_rng(4)
    share = np.mean([rule.select(1, est, rng)[0] < 2 for _ in range(6000)])
    assert abs(share - 0.64) < 0.025  # binomial s.d. 0.0062; a map with its kink at 3a gives 0.70


def test_bots_defaults_are_the_bots_example_and_the_seed_reaches_the_draws() -> None:
    pool = schedsim.PromptPool(n=50)
    s = schedsim.make_scheduler("bots", pool=pool, seed=0)
    est, rule = s.estimator, s.rule
    assert (est.m, est.lamb, est.rho, est.adaptive_rho, est.cap_discount) == (16, 0.1, 0.1, False, 0.9)
    assert (rule.target, rule.tau, rule.do_sample) == (0.5, 0.0, True)
    picks = [schedsim.make_scheduler("bots", pool=pool, seed=seed).select(10).tolist() for seed in (5, 5, 6)]
    assert picks[0] == picks[1] != picks[2]  # Thompson draws from the scheduler's seeded generator


class MeanPosterior(FixedPosterior):
    """A stand-in with posterior means too (``values``)."""

    def values(self) -> np.ndarray:
        return self.alpha / (self.alpha + self.beta)


def test_closest_to_target_softmax_and_greedy_branches() -> None:
    from schedsim.rules.closest import ClosestToTarget

    pool = schedsim.PromptPool(n=3)
    est = MeanPosterior([9.0, 1.0, 30.0], [1.0, 9.0, 10.0])  # means 0.9, 0.1, 0.75
    assert ClosestToTarget(pool, target=0.2, tau=0.0, do_sample=False).distribution(est) is None  # greedy
    sharp_rule = ClosestToTarget(pool, target=0.0, tau=0.001, do_sample=False)
    far = MeanPosterior([9.0, 1.0, 30.0], [1.0, 1.0, 10.0])  # means 0.9, 0.5, 0.75
    for posterior, closest in ((est, 1), (far, 1)):
        # scores -0.9, -0.1 (or -0.5), -0.75 over tau = 0.001: every exp underflows unless shifted by the maximum
        sharp = sharp_rule.distribution(posterior)
        assert np.isfinite(sharp).all() and sharp[closest] == pytest.approx(1.0)
        assert sharp_rule.select(1, posterior, np.random.default_rng(0)).tolist() == [closest]
    # softmax selection at tau = 0.1: P(pick the mean at the target) = 1 / (1 + e^-2) = 0.881 over a mean 0.2 away
    two = MeanPosterior([5.0, 3.0], [5.0, 7.0])  # means 0.5, 0.3
    rule = ClosestToTarget(schedsim.PromptPool(n=2), target=0.5, tau=0.1, do_sample=False)
    rng = np.random.default_rng(3)
    share = np.mean([rule.select(1, two, rng)[0] == 0 for _ in range(2000)])
    assert abs(share - 1 / (1 + math.exp(-2))) < 0.03  # binomial s.d. 0.007
    # softmax over Thompson draws at tau = 1 (not the top-k of the draws): draws near 1 and near 0, target 0.2:
    # P(pick the draw near 0) = e^-0.2 / (e^-0.2 + e^-0.8) = 0.646
    poles = FixedPosterior([1000.0, 1.0], [1.0, 1000.0])
    rule = ClosestToTarget(schedsim.PromptPool(n=2), target=0.2, tau=1.0, do_sample=True)
    share = np.mean([rule.select(1, poles, rng)[0] == 1 for _ in range(2000)])
    assert abs(share - 0.646) < 0.04
    soft = ClosestToTarget(pool, target=0.2, tau=0.5, do_sample=False).distribution(est)
    z = -np.abs(0.2 - np.array([0.9, 0.1, 0.75])) / 0.5
    np.testing.assert_allclose(soft, np.exp(z) / np.exp(z).sum())
    # softmax over Thompson draws: needs only posterior(); the draws come from the generator
    thompson = ClosestToTarget(pool, target=0.2, tau=0.5, do_sample=True)
    draws = [
        thompson.select(1, FixedPosterior([9.0, 1.0, 30.0], [1.0, 9.0, 10.0]), np.random.default_rng(s))[0]
        for s in range(40)
    ]
    assert set(draws) <= {0, 1, 2} and len(set(draws)) > 1


def test_interpolated_beta_estimator_defaults_and_bad_values() -> None:
    from schedsim.estimators.interpolation import InterpolatedBetaEstimator

    pool = schedsim.PromptPool(n=3)
    est = InterpolatedBetaEstimator(pool)
    assert (est.m, est.lamb, est.rho, est.adaptive_rho, est.cap_discount, est.anchors) == (
        16,
        0.1,
        0.1,
        False,
        0.9,
        None,
    )
    np.testing.assert_array_equal(est.estimate(), [0.5, 0.5, 0.5])  # Beta(1, 1) before any batch
    assert est.n_obs.dtype == np.int64
    for kwargs, message in [
        ({"m": 0}, "m=0"),
        ({"lamb": -0.1}, "lamb=-0.1 is out of range; accepted: a number in [0, 1]"),
        ({"lamb": 1.1}, "lamb=1.1 is out of range; accepted: a number in [0, 1]"),
        ({"rho": -0.1}, "rho=-0.1 is out of range; accepted: a number in [0, 1]"),
        ({"rho": 1.1}, "rho=1.1 is out of range; accepted: a number in [0, 1]"),
        ({"cap_discount": 1.5}, "cap_discount=1.5 is out of range; accepted: a number in [0, 1]"),
        ({"anchors": np.zeros((2, 4))}, "anchors has shape (2, 4); accepted: finite pass rates of shape (2, 3)"),
    ]:
        with pytest.raises(schedsim.ParameterError, match=re.escape(message)):
            InterpolatedBetaEstimator(pool, **kwargs)
    ints = InterpolatedBetaEstimator(pool, anchors=[[0, 1, 0], [1, 1, 1]])
    assert ints.anchors.dtype == np.float64 and not ints.anchors.flags.writeable
    assert InterpolatedBetaEstimator(pool, m=1).m == 1  # the smallest accepted


def test_interpolated_pseudo_counts_are_clipped_to_unit_pass_rates() -> None:
    from schedsim.estimators.interpolation import InterpolatedBetaEstimator

    pool = schedsim.PromptPool(n=3)
    # task 0 observed all-correct against anchors 0 -> 0.2: c = 1 / (0.2 + 1e-6), about 5
    est = InterpolatedBetaEstimator(pool, m=4, lamb=0.5, rho=0.25, anchors=[[0.0, 0.9, 0.1], [0.2, 1.0, 0.9]])
    est.observe(fb([0], [group(4, 4)]))
    c = 1.0 / (0.2 + 1e-6)
    assert est.cap == pytest.approx(c)
    # task 1: 0.9 + 0.1 c = 1.4 -> 1; task 2: 0.1 + 0.8 c -> 1; alpha = 0.5 + 0.5 + 0.25 * 4 * p~
    np.testing.assert_allclose(est.alpha[1:], [2.0, 2.0])
    np.testing.assert_allclose(est.beta[1:], [1.0, 1.0])
    low = InterpolatedBetaEstimator(pool, m=4, lamb=0.5, rho=0.25, anchors=[[0.2, 0.1, 0.0], [0.6, 0.9, 0.5]])
    low.observe(fb([0], [group(0, 4)]))  # c = -0.2 / 0.4: task 1 at 0.1 - 0.4 = -0.3 -> 0, task 2 at -0.25 -> 0
    np.testing.assert_allclose(low.alpha[1:], [1.0, 1.0])
    np.testing.assert_allclose(low.beta[1:], [2.0, 2.0])


def test_adaptive_rho_halves_at_a_mean_miss_of_exactly_a_quarter_and_uses_the_difference() -> None:
    from schedsim.estimators.interpolation import InterpolatedBetaEstimator

    pool = schedsim.PromptPool(n=3)
    anchors = [[0.0, 0.5, 0.3], [1.0, 0.5, 0.3]]
    edge = InterpolatedBetaEstimator(pool, m=4, rho=0.5, adaptive_rho=True, anchors=anchors)
    edge.observe(fb([0, 1], [group(1, 4), group(1, 4)]))  # c = 0: p~ = (0, 0.5) against 0.25 each: misses 0.25
    assert edge.rho == 0.25
    close = InterpolatedBetaEstimator(pool, m=4, rho=0.5, adaptive_rho=True, anchors=anchors)
    close.observe(fb([0, 1], [group(2, 4), group(2, 4)]))  # c ~ 0.5: p~ ~ (0.5, 0.5) = observed: no miss
    assert close.rho == 0.5


def test_pcl_and_candidate_top_k_defaults_seed_and_bad_values() -> None:
    from schedsim.rules.candidates import CandidateTopK

    pool = schedsim.PromptPool(n=40)
    s = schedsim.make_scheduler("pcl", pool=pool, seed=0)
    assert (s.rule.tau, s.rule.pool_factor, s.estimator.lr, s.estimator.steps, s.estimator.init) == (
        0.5,
        4,
        0.5,
        1,
        0.5,
    )
    rule = CandidateTopK(pool)
    assert (rule.tau, rule.pool_factor) == (0.5, 4)
    picks = [schedsim.make_scheduler("pcl", pool=pool, seed=seed).select(5).tolist() for seed in (2, 2, 3)]
    assert picks[0] == picks[1] != picks[2]  # candidates drawn from the scheduler's seeded generator
    for spec, message in [
        ("pcl:tau=-0.1", "tau=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("pcl:tau=1.5", "tau=1.5 is out of range; accepted: a number in [0, 1]"),
        ("pcl:pool_factor=0", "pool_factor=0 is out of range; accepted: an integer in [1, inf)"),
    ]:
        with pytest.raises(schedsim.ParameterError, match=re.escape(message)):
            schedsim.make_scheduler(spec, pool=pool, seed=0)


def test_category_scores_count_a_category_seen_through_a_single_rollout() -> None:
    from schedsim.estimators.progress import CategoryScores

    scores = CategoryScores(schedsim.PromptPool(n=4, category=[0, 0, 1, 1]), "tscl")
    nan = float("nan")
    fbk = schedsim.Feedback(prompt_ids=np.array([0, 2]), rewards=np.array([[1.0, nan], [0.0, 1.0]]))
    dx, observed = scores.update(fbk)  # category 0: one real rollout (1.0); category 1: 0.5
    assert observed.tolist() == [True, True]
    np.testing.assert_allclose(dx, [1.0, 0.5])
    with pytest.raises(schedsim.PoolError, match="tscl"):
        CategoryScores(schedsim.PromptPool(n=4), "tscl")  # names who needs the categories


def test_interpolated_beta_discounts_its_history_on_the_second_batch_and_counts_observations() -> None:
    from schedsim.estimators.interpolation import InterpolatedBetaEstimator

    pool = schedsim.PromptPool(n=3)
    anchors = [[0.2, 0.4, 0.0], [0.6, 0.8, 0.5]]
    est = InterpolatedBetaEstimator(pool, m=4, lamb=0.5, rho=0.25, cap_discount=0.8, anchors=anchors)
    est.observe(fb([0], [group(2, 4)]))
    assert est.seen().tolist() == [True, False, False]  # seen after one observation
    # every task's posterior moves at every batch: all ids touched, handed out read-only
    assert est.touched.tolist() == [0, 1, 2] and not est.touched.flags.writeable
    alpha1, beta1 = est.alpha.copy(), est.beta.copy()
    est.observe(fb([0], [group(4, 4)]))
    c = 0.3 / (0.4 + 1e-6)
    c2 = 0.8 * c + 0.2 * (1.0 - 0.2) / (0.4 + 1e-6)
    p_tilde = np.clip(np.array([0.2, 0.4, 0.0]) + c2 * np.array([0.4, 0.4, 0.5]), 0, 1)
    p_tilde[0] = 1.0  # observed
    # alpha = 0.5 alpha1 + 0.5 + 0.75 * 4 * s_bar + 0.25 * 4 * p~ (s_bar = 1 for task 0 only)
    np.testing.assert_allclose(est.alpha, 0.5 * alpha1 + 0.5 + np.array([3.0, 0, 0]) + p_tilde)
    np.testing.assert_allclose(est.beta, 0.5 * beta1 + 0.5 + (1 - p_tilde))
    assert est.n_obs.tolist() == [2, 0, 0] and est.seen().tolist() == [True, False, False]


def test_closest_to_target_without_prior_only_prompts_and_its_bad_values() -> None:
    from schedsim.rules.closest import ClosestToTarget

    pool = schedsim.PromptPool(n=3)
    rule = ClosestToTarget(pool, target=0.3)
    assert (rule.target, rule.tau, rule.do_sample, rule.pool) == (0.3, 0.0, True, pool)
    sharp = FixedPosterior([300.0, 3000.0, 100.0], [700.0, 1000.0, 900.0])  # no task at the prior: means .3, .75, .1
    assert rule.select(1, sharp, np.random.default_rng(0)).tolist() == [0]
    for kwargs, message in [
        ({"target": -0.1}, "target=-0.1 is out of range; accepted: a number in [0, 1]"),
        ({"target": 1.5}, "target=1.5 is out of range; accepted: a number in [0, 1]"),
        ({"tau": -1.0}, "tau=-1.0 is out of range"),
    ]:
        with pytest.raises(schedsim.ParameterError, match=re.escape(message)):
            ClosestToTarget(pool, **kwargs)
