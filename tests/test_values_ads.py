"""ads by value: clusters, easy-to-hard orders and scripted feedback set by hand, so the windows, the cluster success
rates, the cluster weights and the selected ids are exact."""

from __future__ import annotations

import inspect
import re
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import schedsim

# 12 prompts in clusters of 5, 4 and 3 (categories); difficulty_prior orders each cluster easy -> hard:
# cluster 0: 3, 0, 4, 1, 2 · cluster 1: 8, 7, 6, 5 · cluster 2: 9, 10, 11
CATEGORY = [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
PRIOR = [0.8, 0.5, 0.1, 0.9, 0.6, 0.3, 0.5, 0.7, 0.9, 0.9, 0.5, 0.2]
SPEC = "ads:window=2,active_clusters=2,eps=0.1,center=0.4,alpha=0.5,r_init=0.2,reset_steps=0"


def pool() -> schedsim.PromptPool:
    return schedsim.PromptPool(n=12, category=CATEGORY, difficulty_prior=PRIOR)


def feedback(successes: dict[int, int], g: int = 4) -> schedsim.Feedback:
    ids = np.array(list(successes))
    rewards = (np.arange(g)[None, :] < np.array(list(successes.values()))[:, None]).astype(float)
    return schedsim.Feedback(prompt_ids=ids, rewards=rewards)


def windows(s) -> list[list[int]]:
    return [s.members[c][w].tolist() for c, w in enumerate(s.windows)]


def test_clusters_orders_and_first_batch() -> None:
    s = schedsim.make_scheduler(SPEC, pool=pool(), seed=3)
    assert [m.tolist() for m in s.members] == [[3, 0, 4, 1, 2], [8, 7, 6, 5], [9, 10, 11]]
    ids = s.select(4).tolist()
    # two whole windows (the 2 easiest of a cluster each), clusters drawn without replacement
    assert ids in ([3, 0, 8, 7], [3, 0, 9, 10], [8, 7, 3, 0], [8, 7, 9, 10], [9, 10, 3, 0], [9, 10, 8, 7])
    np.testing.assert_allclose(s.cluster_weights(), [1 / 3] * 3)
    np.testing.assert_allclose(s.estimates(), [0.2] * 12)


def test_window_moves_success_rates_and_weights_by_hand() -> None:
    # band [0.3, 0.5]. cluster 0: 3 (pos 0) ρ=.25 too hard, stays at 0 (the easy end); 0 (pos 1) ρ=.75 too easy,
    # to pos 2 (id 4); 1 (pos 3, outside the window) only counts in r_0 = (.25+.75+1)/3 = 2/3.
    # cluster 1: 8 (pos 0) and 7 (pos 1) too easy: 7 moves first (from the hard end) to 2, then 8 to 1 -> ids 7, 6;
    # r_1 = (.75 + 1)/2 = 7/8. cluster 2: 9 (pos 0) ρ=.5 keeps its slot; 10 (pos 1) ρ=0 wants pos 0, taken: the
    # nearest free slot is its own, 1; r_2 = 1/4.
    s = schedsim.make_scheduler(SPEC, pool=pool(), seed=3)
    s.select(4)
    s.observe(feedback({3: 1, 0: 3, 1: 4, 8: 3, 7: 4, 9: 2, 10: 0}))
    assert windows(s) == [[3, 4], [7, 6], [9, 10]]
    np.testing.assert_allclose(s.r, [2 / 3, 7 / 8, 1 / 4])
    # Σr = 43/24: target (16, 21, 6)/43; p = (1 − .5)/3 + .5 target
    p1 = [F(1, 6) + F(8, 43), F(1, 6) + F(21, 86), F(1, 6) + F(3, 43)]
    np.testing.assert_allclose(s.cluster_weights(), [float(x) for x in p1], rtol=1e-12)
    m = s.metrics()
    assert (m["sched/band_too_hard"], m["sched/band_keep"], m["sched/band_too_easy"]) == (2.0, 1.0, 3.0)
    # cluster 2 alone: 11 (pos 2, outside the window) ρ = 1 -> r_2 = 1; clusters 0 and 1 keep theirs
    s.observe(feedback({11: 4}))
    np.testing.assert_allclose(s.r, [2 / 3, 7 / 8, 1.0])
    target = [F(16, 61), F(21, 61), F(24, 61)]  # Σr = 61/24
    p2 = [x / 2 + t / 2 for x, t in zip(p1, target, strict=True)]
    np.testing.assert_allclose(s.cluster_weights(), [float(x) for x in p2], rtol=1e-12)
    np.testing.assert_allclose(s.estimates(), np.array([2 / 3, 7 / 8, 1.0])[CATEGORY])


def test_zero_weight_clusters_come_last() -> None:
    # alpha = 1: p = r / Σr at once; r = (0, 0, 1/2) puts all weight on cluster 2, whose window leads the batch
    spec = "ads:window=2,active_clusters=2,alpha=1,reset_steps=0"
    s = schedsim.make_scheduler(spec, pool=pool(), seed=5)
    s.select(4)
    s.observe(feedback({3: 0, 8: 0, 9: 2}))  # 3 and 8 too hard (stay at the easy end); 9 in the band
    np.testing.assert_allclose(s.cluster_weights(), [0.0, 0.0, 1.0])
    ids = s.select(5).tolist()
    assert ids[:2] == [9, 10] and ids[2:4] in ([3, 0], [8, 7]) and len(set(ids)) == 5


def test_reset_every_reset_steps_batches() -> None:
    spec = SPEC.replace("reset_steps=0", "reset_steps=2")
    s = schedsim.make_scheduler(spec, pool=pool(), seed=3)
    s.select(4)
    s.observe(feedback({3: 1, 0: 3, 8: 3, 7: 4}))
    assert windows(s) == [[3, 4], [7, 6], [9, 10]]
    s.observe(feedback({9: 4}))  # the second batch: everything back to its initial state
    assert windows(s) == [[3, 0], [8, 7], [9, 10]]
    np.testing.assert_allclose(s.r, [0.2] * 3)
    np.testing.assert_allclose(s.cluster_weights(), [1 / 3] * 3)


def test_default_window_and_reset_scale_with_k() -> None:
    # window None: ceil(k / active_clusters) = ceil(5 / 2) = 3; reset every max(1, 12 // (2 x 3)) = 2 batches
    s = schedsim.make_scheduler("ads:active_clusters=2", pool=pool(), seed=0)
    s.select(5)
    assert s.width == 3 and s._reset_every() == 2
    assert windows(s) == [[3, 0, 4], [8, 7, 6], [9, 10, 11]]


def test_random_and_kmeans_clusterings() -> None:
    s = schedsim.make_scheduler("ads:clusters=3", pool=schedsim.PromptPool(n=10), seed=0)
    assert s.clustering == "random" and sorted(m.size for m in s.members) == [3, 3, 4]
    blobs = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1]])
    s = schedsim.make_scheduler("ads:clusters=2", pool=schedsim.PromptPool(n=6, features=blobs), seed=1)
    assert s.clustering == "kmeans"
    assert sorted(sorted(m.tolist()) for m in s.members) == [[0, 1, 2], [3, 4, 5]]


def test_ads_defaults_clustering_choice_and_bad_values() -> None:
    bare = schedsim.PromptPool(n=8)
    s = schedsim.make_scheduler("ads", pool=bare, seed=0)
    assert (s.n_clusters_asked, s.clustering, s.active_clusters, s.window, s.eps, s.center) == (
        64,
        "random",
        4,
        None,
        0.17,
        0.5,
    )
    assert (s.alpha, s.r_init, s.reset_steps, s.k, s.width, s.steps_in_epoch) == (0.3, 0.5, None, 8, 0, 0)
    np.testing.assert_array_equal(s.r, np.full(8, 0.5))
    np.testing.assert_array_equal(s.p, np.full(8, 1 / 8))
    np.testing.assert_array_equal(np.sort(s.cluster), np.arange(8))  # min(64, n) random clusters of one prompt
    twins = [schedsim.make_scheduler("ads:clusters=3", pool=bare, seed=seed).cluster.tolist() for seed in (5, 5, 6)]
    assert twins[0] == twins[1] != twins[2]  # random clusters from the scheduler's seed
    cats = schedsim.PromptPool(n=8, category=[0, 1] * 4)
    feats = schedsim.PromptPool(n=8, category=[0, 1] * 4, features=np.arange(16.0).reshape(8, 2))
    assert schedsim.make_scheduler("ads", pool=cats).clustering == "category"
    assert schedsim.make_scheduler("ads", pool=feats).clustering == "kmeans"
    assert schedsim.make_scheduler("ads:clustering=random", pool=feats).clustering == "random"
    # edges accepted
    schedsim.make_scheduler("ads:clusters=1,active_clusters=1,window=1,eps=0,center=0,alpha=1,r_init=0", pool=bare)
    schedsim.make_scheduler("ads:center=1,r_init=1,reset_steps=0", pool=bare)
    for spec, pool, message in [
        ("ads:clusters=0", bare, "clusters=0 is out of range; accepted: an integer in [1, inf)"),
        ("ads:clustering=x", bare, "clustering='x' is not accepted; accepted: 'auto', 'kmeans', 'category', 'random'"),
        ("ads:active_clusters=0", bare, "active_clusters=0 is out of range; accepted: an integer in [1, inf)"),
        ("ads:window=0", bare, "window=0 is out of range; accepted: an integer in [1, inf)"),
        ("ads:eps=-0.1", bare, "eps=-0.1 is out of range; accepted: a number in [0, inf)"),
        ("ads:center=-0.1", bare, "center=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("ads:center=1.5", bare, "center=1.5 is out of range; accepted: a number in [0, 1]"),
        ("ads:alpha=0", bare, "alpha=0.0 is out of range; accepted: a number in (0, 1]"),
        ("ads:alpha=1.5", bare, "alpha=1.5 is out of range; accepted: a number in (0, 1]"),
        ("ads:r_init=-0.1", bare, "r_init=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("ads:r_init=1.5", bare, "r_init=1.5 is out of range; accepted: a number in [0, 1]"),
        ("ads:reset_steps=-1", bare, "reset_steps=-1 is out of range; accepted: an integer in [0, inf)"),
    ]:
        with pytest.raises(schedsim.ParameterError, match="^" + re.escape(f"ads: {message}") + "$"):
            schedsim.make_scheduler(spec, pool=pool, seed=0)
    message = "clustering 'kmeans' needs pool features; accepted: PromptPool(n, features=(n, d))"
    with pytest.raises(schedsim.PoolError, match="^(ads: )?" + re.escape(message) + "$"):
        schedsim.make_scheduler("ads:clustering=kmeans", pool=cats, seed=0)
    message = "ads:clustering=category needs prompt categories but the pool has none; accepted: PromptPool(n, category="
    with pytest.raises(schedsim.PoolError, match="^(ads: )?" + re.escape(message)):
        schedsim.make_scheduler("ads:clustering=category", pool=bare, seed=0)
    m = s.metrics()  # nothing observed yet
    assert (m["sched/band_too_hard"], m["sched/band_keep"], m["sched/band_too_easy"]) == (0.0, 0.0, 0.0)


def test_ads_window_position_and_reset_counter() -> None:
    # clusters of 2 and 3 prompts, windows of 2 on their easiest positions (0, 1): mean position 0.5 over the last
    # position 1 and 2: (0.5 + 0.25) / 2
    small = schedsim.PromptPool(n=5, category=[0, 0, 1, 1, 1], difficulty_prior=[0.1, 0.2, 0.3, 0.4, 0.5])
    s = schedsim.make_scheduler("ads:window=2,active_clusters=2,reset_steps=3", pool=small, seed=0)
    assert np.isnan(s.metrics()["sched/window_position"])  # no window before the first select
    s.select(4)
    m = s.metrics()
    assert m["sched/window_position"] == pytest.approx(0.375)
    assert (m["sched/clusters"], m["sched/prob_max"]) == (2.0, 0.5)
    s.steps_in_epoch = 5
    s._reset()
    assert s.steps_in_epoch == 0


def test_kmeans_finds_separated_blobs_from_any_start() -> None:
    from schedsim.schedulers.ads import kmeans

    # 1-D blobs {0, 1, 2} and {10, 11, 12}: Lloyd's iterations fix a start with both centres in one blob
    line = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    # 2-D blobs that differ in which coordinate is large (a centre must be a per-coordinate mean)
    cross = np.array([[0.0, 10.0], [0.2, 10.0], [0.1, 10.2], [10.0, 0.0], [10.2, 0.0], [10.0, 0.1]])
    for seed in range(8):
        for x in (line, cross):
            labels = kmeans(x, 2, np.random.default_rng(seed))
            assert labels.dtype == np.int64 and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
            assert labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5]
        # k = n distinct points: every point its own cluster (distinct initial centres)
        assert sorted(kmeans(line, 6, np.random.default_rng(seed)).tolist()) == [0, 1, 2, 3, 4, 5]
    assert inspect.signature(kmeans).parameters["iters"].default == 25


def test_standardised_scores_each_column_and_zeroes_constant_ones() -> None:
    from schedsim.schedulers.dots import standardised

    x = np.array([[1.0, 10.0, 7.0], [3.0, 30.0, 7.0], [2.0, 50.0, 7.0]])
    z = standardised(x)
    np.testing.assert_allclose(z[:, 0], [-1.0, 1.0, 0.0] / np.std([1.0, 3.0, 2.0]) * 1.0)
    np.testing.assert_allclose(z[:, 1], (np.array([10.0, 30.0, 50.0]) - 30.0) / np.std([10.0, 30.0, 50.0]))
    np.testing.assert_array_equal(z[:, 2], [0.0, 0.0, 0.0])  # a constant column carries nothing


def test_window_moves_resolve_collisions_by_value() -> None:
    s = schedsim.make_scheduler(SPEC, pool=pool(), seed=0)  # cluster 0 has 5 positions, cluster 1 has 4
    cases = [
        (0, [3], {3: -1}, [2]),  # one step down
        (0, [1, 2], {2: -1}, [0, 1]),  # 1 stays: 2 wants 1, goes to the free 0 (downward first), not back to 2
        (0, [2, 3], {2: 1}, [3, 4]),  # 3 stays: 2 wants 3, goes to the free 4 (upward first), not back to 1
        (1, [0, 1, 2], {0: 1, 1: 1, 2: -1}, [0, 1, 2]),  # down first (2 -> 1), then up from the top: 1 -> 2, 0 -> 0
        (1, [0, 1, 2, 3], {0: 1}, [0, 1, 2, 3]),  # a window over the whole cluster cannot move
        (0, [0, 4], {0: -1, 4: 1}, [0, 4]),  # at the ends: clamped
    ]
    for c, window, moves, expected in cases:
        s.windows[c] = list(window)
        s._move(c, moves)
        assert s.windows[c] == expected, (c, window, moves)


@given(
    desired=st.integers(-3, 9),
    direction=st.sampled_from([-1, 1]),
    occupied=st.sets(st.integers(0, 6)),
    size=st.integers(1, 7),
)
def test_nearest_free_is_the_closest_free_position_preferring_its_direction(
    desired: int, direction: int, occupied: set[int], size: int
) -> None:
    from schedsim.schedulers.ads import nearest_free

    d = min(max(desired, 0), size - 1)
    free = [p for p in range(size) if p not in occupied]
    expected = min(free, key=lambda p: (abs(p - d), (p - d) * direction < 0)) if free else -1
    assert nearest_free(desired, direction, occupied, size, -1) == expected


def test_band_edges_are_kept_and_rewards_outside_unit_are_refused() -> None:
    # band [0.5 - 0.25, 0.5 + 0.25] = [0.25, 0.75], exact in binary: rho = 0.25 and 0.5 are kept, 0 is too hard
    s = schedsim.make_scheduler(SPEC.replace("eps=0.1,center=0.4", "eps=0.25,center=0.5"), pool=pool(), seed=3)
    s.select(4)
    s.observe(feedback({3: 1, 8: 2, 9: 0}))
    m = s.metrics()
    assert (m["sched/band_too_hard"], m["sched/band_keep"], m["sched/band_too_easy"]) == (1.0, 2.0, 0.0)
    with pytest.raises(schedsim.FeedbackError, match=r"^ads needs rewards in \[0, 1\] \(pass/fail\); got 2.0$"):
        s.observe(schedsim.Feedback(prompt_ids=np.array([0]), rewards=np.array([[2.0, 0.0]])))


def test_ads_state_checks_its_shapes_and_loads_integer_lists_as_floats() -> None:
    s = schedsim.make_scheduler(SPEC, pool=pool(), seed=3)
    s.select(4)
    s.observe(feedback({3: 1, 0: 3}))
    state = s.state_dict()
    twin = schedsim.make_scheduler(SPEC, pool=pool(), seed=0)
    twin.load_state_dict(state)
    assert twin.metrics() == s.metrics()
    body = state["body"]
    ints = {**state, "body": {**body, "r": [0, 1, 0], "p": [1, 0, 0]}}  # as a JSON file may hold them
    twin.load_state_dict(ints)
    assert twin.r.dtype == twin.p.dtype == np.float64
    twin.observe(feedback({9: 1}))
    assert twin.r[2] == 0.25  # not truncated to 0
    for key, shapes in (
        ("cluster", "(11,) and an order of shape (12,)"),
        ("order", "(12,) and an order of shape (11,)"),
    ):
        bad = {**state, "body": {**body, key: np.asarray(body[key])[:11]}}
        message = f"ads state has cluster labels of shape {shapes}; accepted: (12,) each"
        with pytest.raises(schedsim.StateError, match="^" + re.escape(message) + "$"):
            twin.load_state_dict(bad)


def test_an_empty_batch_moves_nothing_but_counts_a_step() -> None:
    s = schedsim.make_scheduler(SPEC, pool=pool(), seed=3)
    s.select(4)
    before = (windows(s), s.r.copy(), s.cluster_weights())
    s.observe(schedsim.Feedback(prompt_ids=np.zeros(0, dtype=np.int64), rewards=np.zeros((0, 4))))
    assert windows(s) == before[0] and s.steps_in_epoch == 1
    np.testing.assert_array_equal(s.r, before[1])
    np.testing.assert_allclose(s.cluster_weights(), before[2])  # r unchanged: p moves toward r / Σr = p itself


def test_explicit_kmeans_window_and_reset_cadence() -> None:
    cross = np.array([[0.0, 10.0], [0.2, 10.0], [0.1, 10.2], [10.0, 0.0], [10.2, 0.0], [10.0, 0.1]])
    for seed in range(5):  # random clusters would split the blobs exactly with probability 1/10 per seed
        s = schedsim.make_scheduler(
            "ads:clustering=kmeans,clusters=2", pool=schedsim.PromptPool(n=6, features=cross), seed=seed
        )
        assert s.clustering == "kmeans" and s.cluster[0] == s.cluster[1] == s.cluster[2] != s.cluster[3]
    s = schedsim.make_scheduler("ads:window=3,active_clusters=2", pool=pool(), seed=0)
    assert s.select(1).size == 1 and s.width == 3  # the given window, not ceil(1 / 2)
    # reset every max(1, n // max(1, active x width)): 12 // (2 x 5) = 1; 12 // (1 x 1) = 12
    s = schedsim.make_scheduler("ads:active_clusters=2", pool=pool(), seed=0)
    s.select(10)
    assert s._reset_every() == 1
    s = schedsim.make_scheduler("ads:active_clusters=1", pool=pool(), seed=0)
    s.select(1)
    assert s._reset_every() == 12
    # reset_steps = 1: every batch puts the windows back
    s = schedsim.make_scheduler(SPEC.replace("reset_steps=0", "reset_steps=1"), pool=pool(), seed=3)
    s.select(4)
    start = windows(s)
    s.observe(feedback({3: 1, 0: 3, 8: 3, 7: 4}))
    assert windows(s) == start and s.steps_in_epoch == 0


def test_all_zero_success_rates_pull_the_weights_toward_uniform() -> None:
    # r_init = 0 and nothing solved: Σr = 0, so the target is uniform: p = 0.5 p + 0.5 / 3
    s = schedsim.make_scheduler(SPEC.replace("r_init=0.2", "r_init=0"), pool=pool(), seed=3)
    s.select(4)
    s.p = np.array([0.5, 0.3, 0.2])
    s.observe(feedback({3: 0, 8: 0}))
    np.testing.assert_allclose(s.cluster_weights(), 0.5 * np.array([0.5, 0.3, 0.2]) + 0.5 / 3)
