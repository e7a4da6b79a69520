"""Prioritized Level Replay: ordinal ranks with random tie-breaks, the mixture by value, the staleness share."""

from __future__ import annotations

import numpy as np
import pytest

import schedsim
from schedsim.checks import check_scheduler
from schedsim.core.scheduler import Estimator
from schedsim.core.seeding import make_rng
from schedsim.rules.priority import RankPrioritized, ordinal_ranks


def fb(ids: list[int], rewards: list[list[float]]) -> schedsim.Feedback:
    return schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array(rewards, dtype=float))


class Fixed(Estimator):
    """A hand-made estimator with fixed p-hat."""

    name = "fixed"

    def __init__(self, pool: schedsim.PromptPool, p: list[float]) -> None:
        super().__init__(pool)
        self.p = np.array(p)

    def observe(self, feedback: schedsim.Feedback) -> None:
        del feedback

    def estimate(self, ids: np.ndarray | None = None) -> np.ndarray:
        return self.p if ids is None else self.p[ids]


def test_ordinal_ranks_break_ties_by_the_keys_then_index() -> None:
    score = np.array([0.25, 0.25, 0.16, 0.16, 0.25, 0.0])
    keys = np.array([0.3, 0.1, 0.9, 0.2, 0.5, 0.0])
    # tied top {0, 1, 4}: keys 0.3, 0.1, 0.5 -> 1, 0, 4; tied {2, 3}: keys 0.9, 0.2 -> 3, 2; then 5
    assert ordinal_ranks(score, keys).tolist() == [2, 1, 5, 4, 3, 6]
    assert ordinal_ranks(score, np.zeros(6)).tolist() == [1, 2, 4, 5, 3, 6]  # equal keys: index order


def test_rule_ranks_ties_with_keys_from_the_schedulers_generator() -> None:
    pool = schedsim.PromptPool(n=6)
    est = Fixed(pool, [0.5, 0.5, 0.25, 0.75, 0.5, 0.0])  # scores .25 .25 .1875 .1875 .25 0 (exact ties)
    rule = RankPrioritized(pool, temperature=1.0, staleness=0.0)
    rule.select(1, est, make_rng(7))
    keys = make_rng(7).random(6)  # the first draw of the same generator
    top = np.array([0, 1, 4])[np.argsort(keys[[0, 1, 4]])]
    mid = np.array([2, 3])[np.argsort(keys[[2, 3]])]
    rank = np.empty(6)
    rank[np.concatenate([top, mid, [5]])] = np.arange(1, 7)
    np.testing.assert_allclose(rule.distribution(est), (1 / rank) / (1 / rank).sum())  # ordinal, not averaged
    a = schedsim.make_scheduler("plr", pool=schedsim.PromptPool(n=50), seed=3)
    b = schedsim.make_scheduler("plr", pool=schedsim.PromptPool(n=50), seed=3)
    for _ in range(4):
        np.testing.assert_array_equal(a.select(5), b.select(5))  # every prompt tied at p = 0.5: keys decide
        np.testing.assert_array_equal(a.distribution(), b.distribution())


def test_distribution_at_temperature_half_and_staleness_point_three_by_hand() -> None:
    pool = schedsim.PromptPool(n=4)
    s = schedsim.make_scheduler("plr:temperature=0.5,staleness=0.3", pool=pool, seed=0)
    s.observe(fb([0], [[1, 0] * 5]))  # p 0.5: score .25
    s.observe(fb([1], [[1] + [0] * 9]))  # p 0.1: score .09
    s.observe(fb([2], [[1, 1, 1] + [0] * 7]))  # p 0.3: score .21
    s.observe(fb([3], [[1] * 4]))  # p 1: score 0; ranks 1, 3, 2, 4
    p_score = np.array([1.0, 3.0**-2, 2.0**-2, 4.0**-2])  # (1/rank)^(1/0.5)
    p_score /= p_score.sum()
    np.testing.assert_allclose(s.distribution(), 0.7 * p_score + 0.3 * np.full(4, 0.25))  # clock 0: uniform
    (first,) = s.select(1)
    stale = np.ones(4)  # clock 1; the chosen prompt was last selected at 1
    stale[first] = 0.0
    np.testing.assert_allclose(s.distribution(), 0.7 * p_score + 0.3 * stale / 3)
    dist, p_stale = s.distribution(), stale / 3
    ids = s.select(2)
    share = np.mean(0.3 * p_stale[ids] / dist[ids])
    assert s.metrics()["sched/staleness_share"] == pytest.approx(share)
    stale = 3.0 - np.where(np.isin(np.arange(4), ids), 3.0, np.where(np.arange(4) == first, 1.0, 0.0))
    np.testing.assert_allclose(s.distribution(), 0.7 * p_score + 0.3 * stale / stale.sum())


@pytest.mark.parametrize(("rho", "share"), [(0.0, 0.0), (1.0, 1.0)])
def test_staleness_share_at_the_ends(rho: float, share: float) -> None:
    s = schedsim.make_scheduler(f"plr:staleness={rho}", pool=schedsim.PromptPool(n=30), seed=0)
    s.select(4)
    s.select(4)
    assert s.metrics()["sched/staleness_share"] == share


def test_replace_batches_draw_iid_and_distinct_batches_do_not_repeat() -> None:
    pool = schedsim.PromptPool(n=40)
    rewards = [[1.0] * 8 if i % 2 else [1.0, 0.0] * 4 for i in range(40)]
    iid = schedsim.make_scheduler("plr:batch=replace", pool=pool, seed=0)
    distinct = schedsim.make_scheduler("plr", pool=pool, seed=0)
    for s in (iid, distinct):
        s.observe(fb(list(range(40)), rewards))
        s.select(16)
    ids = iid.select(32)
    assert not iid.distinct and np.bincount(ids).max() > 10  # the rank-1 prompt takes ~ (1 - rho) of the draws
    assert distinct.distinct and len(set(distinct.select(32).tolist())) == 32
    assert distinct.metrics()["sched/staleness_share"] > iid.metrics()["sched/staleness_share"]
    assert check_scheduler("plr:batch=replace") and check_scheduler("plr:temperature=0.5,staleness=0.3")


def test_bad_batch_names_the_choices() -> None:
    with pytest.raises(schedsim.ParameterError, match="batch='iid' is not accepted; accepted: 'distinct', 'replace'"):
        schedsim.make_scheduler("plr:batch=iid", pool=schedsim.PromptPool(n=4), seed=0)


def test_defaults_and_bad_values_name_themselves() -> None:
    from schedsim.rules.priority import ThompsonTopK

    pool = schedsim.PromptPool(n=4)
    mopps, plr = ThompsonTopK(pool), RankPrioritized(pool)
    assert (mopps.tau, mopps.pool_factor, plr.temperature, plr.staleness, plr.batch) == (0.5, 8, 0.1, 0.1, "distinct")
    assert ThompsonTopK(pool, tau=1.0, pool_factor=1).tau == 1.0 and ThompsonTopK(pool, tau=0.0).tau == 0.0
    for build, message in (
        (lambda: ThompsonTopK(pool, tau=-0.1), r"^tau=-0.1 is out of range; accepted: a number in \[0, 1\]$"),
        (lambda: ThompsonTopK(pool, tau=1.5), r"^tau=1.5 is out of range; accepted: a number in \[0, 1\]$"),
        (lambda: ThompsonTopK(pool, pool_factor=0), r"^pool_factor=0 is out of range; accepted: an integer in \[1, inf\)$"),
        (lambda: RankPrioritized(pool, temperature=0.0), r"^temperature=0.0 is out of range; accepted: a number in \(0, inf\)$"),
    ):  # fmt: skip
        with pytest.raises(schedsim.ParameterError, match=message):
            build()
    assert ordinal_ranks(np.array([0.2, 0.5]), np.zeros(2)).dtype == np.int64


class Sharp(Estimator):
    """Posterior Beta(1e9 p, 1e9 (1 - p)): Thompson draws equal p to ~1e-5."""

    name = "sharp"

    def __init__(self, pool: schedsim.PromptPool, p: np.ndarray) -> None:
        super().__init__(pool)
        self.p = p

    def observe(self, feedback: schedsim.Feedback) -> None:
        del feedback

    def estimate(self, ids: np.ndarray | None = None) -> np.ndarray:
        return self.p if ids is None else self.p[ids]

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        return 1e9 * self.p, 1e9 * (1 - self.p)


def test_thompson_top_k_takes_the_closest_of_a_random_candidate_pool() -> None:
    from schedsim.rules.priority import ThompsonTopK

    pool = schedsim.PromptPool(n=20)
    est = Sharp(pool, np.linspace(0.02, 0.97, 20))
    rule = ThompsonTopK(pool, tau=0.3, pool_factor=2)
    got = rule.select(3, est, make_rng(5))
    cand = make_rng(5).choice(20, size=6, replace=False)  # 2 x 3 candidates, the generator's first draw
    closest = cand[np.argsort(np.abs(est.p[cand] - 0.3))[:3]]
    assert sorted(got.tolist()) == sorted(closest.tolist())
    everyone = ThompsonTopK(pool, tau=0.3, pool_factor=8).select(3, est, make_rng(5))  # 24 >= 20: all
    assert sorted(everyone.tolist()) == sorted(np.argsort(np.abs(est.p - 0.3))[:3].tolist())


def test_staleness_of_one_selection_and_the_replace_law() -> None:
    pool = schedsim.PromptPool(n=2)
    rule = RankPrioritized(pool, temperature=1.0, staleness=0.5)
    est = Fixed(pool, [0.5, 0.2])
    (first,) = rule.select(1, est, make_rng(0))
    np.testing.assert_array_equal(rule.components(est)[1], np.eye(2)[1 - first])  # stale total 1: one-hot
    pool = schedsim.PromptPool(n=4)
    est = Fixed(pool, [0.5, 0.1, 0.3, 0.9])  # scores .25 .09 .21 .09: ranks 1, 3, 2, 4 (ties by index)
    iid = RankPrioritized(pool, temperature=1.0, staleness=0.0, batch="replace")
    ids = iid.select(6000, est, make_rng(1))
    assert ids.dtype == np.int64
    law = np.array([1, 1 / 3, 1 / 2, 1 / 4]) / (1 + 1 / 3 + 1 / 2 + 1 / 4)
    np.testing.assert_allclose(np.bincount(ids, minlength=4) / 6000, law, atol=0.02)


def test_prompts_with_no_mass_add_no_staleness_share_and_no_warning() -> None:
    import warnings

    pool = schedsim.PromptPool(n=3000)
    rule = RankPrioritized(pool, temperature=0.01, staleness=0.0)  # rank^-100 underflows to 0 past rank ~1700
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = rule.select(3000, Fixed(pool, [0.5] * 3000), make_rng(0))
    assert len(set(ids.tolist())) == 3000 and rule.staleness_share == 0.0
