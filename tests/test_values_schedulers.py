"""LILO and the Beta scheduler by value: candidate pools, picks, learnability, weights, state."""

from __future__ import annotations

import numpy as np
import pytest

import schedsim
from schedsim.core.seeding import make_rng


class Counting:
    """A probe: prompt i passes the first ``i % (G + 1)`` of its G rollouts; row ``nan_id`` is all missing."""

    def __init__(self, nan_id: int = -1) -> None:
        self.calls: list[tuple[list[int], int]] = []
        self.nan_id = nan_id

    def __call__(self, ids: np.ndarray, group: int) -> schedsim.Feedback:
        self.calls.append((ids.tolist(), group))
        rewards = (np.arange(group)[None, :] < (ids[:, None] % (group + 1))).astype(float)
        rewards[ids == self.nan_id] = np.nan
        return schedsim.Feedback(prompt_ids=ids, rewards=rewards)


def lilo(spec: str, n: int, probe: object, seed: int = 4) -> schedsim.Scheduler:
    return schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=n), seed=seed, probe=probe)


def test_lilo_probes_pool_factor_times_k_random_prompts_and_keeps_the_most_learnable() -> None:
    probe = Counting()
    s = lilo("lilo:pool_factor=3,probe_group=5", 40, probe)
    ids = s.select(2)
    cand = make_rng(4).choice(40, size=6, replace=False)  # the scheduler's generator, first draw
    assert probe.calls == [(cand.tolist(), 5)]
    p = (cand % 6) / 5  # pass rates 0, .2, .4, .6, .8, 1 by id % 6
    score = p * (1 - p)
    best = np.sort(score)[::-1][:2]
    assert sorted(score[np.isin(cand, ids)].tolist(), reverse=True) == pytest.approx(best.tolist())
    assert s.metrics()["sched/chosen_learnability"] == pytest.approx(best.mean())
    assert s.select(0).tolist() == [] and len(probe.calls) == 1  # nothing to choose: no probe
    assert s.metrics()["sched/selected"] == 2.0


def test_lilo_candidate_pool_sizes_and_the_whole_pool_in_order() -> None:
    probe = Counting()
    lilo("lilo:pool_factor=1,probe_group=3", 30, probe).select(4)
    assert len(probe.calls[0][0]) == 4 and len(set(probe.calls[0][0])) == 4  # k candidates, all kept
    probe = Counting()
    s = lilo("lilo:pool_factor=5,probe_group=3", 12, probe)
    ids = s.select(3)  # 15 > 12: the whole pool, in order
    assert probe.calls == [(list(range(12)), 3)]
    # pass rates (i % 4) / 3: ids 1, 2, 5, 6, 9, 10 at 1/3 or 2/3 (learnability 2/9), the rest 0
    assert set(ids.tolist()) <= {1, 2, 5, 6, 9, 10} and s.metrics()["sched/chosen_learnability"] == pytest.approx(2 / 9)


def test_lilo_unknown_groups_count_as_half_and_proportional_skips_zero_learnability() -> None:
    s = lilo("lilo:pool_factor=4,probe_group=2", 8, Counting(nan_id=3))
    # G = 2: ids 1, 4, 7 pass 1 of 2 (score 1/4); id 3 has no rollout, p-hat 0.5 (1/4); the rest 0
    assert sorted(s.select(4).tolist()) == [1, 3, 4, 7]
    prop = lilo("lilo:pool_factor=4,probe_group=2,rule=proportional", 8, Counting())
    for _ in range(5):
        assert set(prop.select(3).tolist()) == {1, 4, 7}  # the only prompts with non-zero learnability
    assert prop.metrics()["sched/chosen_learnability"] == pytest.approx(0.25)
    flat = lilo("lilo:pool_factor=4,probe_group=1,rule=proportional", 8, Counting())
    assert len(set(flat.select(5).tolist())) == 5  # all learnability 0: uniform, still distinct
    assert flat.metrics()["sched/chosen_learnability"] == 0.0


WRONG_ROWS = r"^probe returned feedback that does not match the probed ids; accepted: one row per id$"


def test_lilo_state_probe_checks_and_flags() -> None:
    s = lilo("lilo:pool_factor=2,probe_group=4", 20, Counting())
    s.select(3)
    chosen = s.metrics()["sched/chosen_learnability"]
    twin = lilo("lilo:pool_factor=2,probe_group=4", 20, Counting(), seed=9)
    twin.load_state_dict(s.state_dict())
    assert twin.metrics()["sched/chosen_learnability"] == chosen
    np.testing.assert_array_equal(twin.select(3), s.select(3))
    assert s.trains_on_probes and not lilo("lilo:train_on_probes=False", 4, None).trains_on_probes
    assert np.isnan(lilo("lilo", 4, None).metrics()["sched/chosen_learnability"])
    with pytest.raises(schedsim.ParameterError, match="probe=3 is not callable; accepted: a function probe"):
        lilo("lilo", 4, 3)
    s.set_probe(lambda ids, g: schedsim.Feedback(prompt_ids=ids[::-1].copy(), rewards=np.ones((ids.size, g))))
    with pytest.raises(schedsim.FeedbackError, match=WRONG_ROWS):
        s.select(3)
    s.set_probe(lambda ids, g: schedsim.Feedback(prompt_ids=ids[:-1].copy(), rewards=np.ones((ids.size - 1, g))))
    with pytest.raises(schedsim.FeedbackError, match="does not match the probed ids"):
        s.select(3)
    s.set_probe(lambda ids, g: ids)
    with pytest.raises(schedsim.FeedbackError, match="does not match the probed ids"):
        s.select(3)
    s.observe(schedsim.Feedback(prompt_ids=np.array([0]), rewards=np.ones((1, 2))))  # stateless: accepted
    assert s.metrics()["sched/observed_groups"] == 1.0


def beta(spec: str, n: int = 6) -> schedsim.Scheduler:
    return schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=n), seed=0)


def groups(ids: list[int], rewards: list[list[float]]) -> schedsim.Feedback:
    return schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array(rewards, dtype=float))


NAN = float("nan")
GROUPS = groups([0, 1, 2, 3], [[1, 1, 0, 1], [1, 0, NAN, NAN], [0, 0, 0, 0], [NAN] * 4])


def test_beta_group_weights_unbiased_with_plug_in_below_alpha_plus_beta() -> None:
    s = beta("beta:mode=weight,alpha=2,beta=1,floor=0.1,unbiased=True,weight_norm=none")
    floor = 0.1 * 4 / 27  # the peak of p^2 (1 - p) is at 2/3: 4/27
    # K = 4, 3 successes: (3)_2 (1)_1 / (4)_3 = 6 / 24; K = 2 < 3: plug-in at 0.5; all fail: 0; empty: plug-in 0.5
    np.testing.assert_allclose(s.loss_weights(GROUPS), np.array([0.25, 0.125, 0.0, 0.125]) + floor)
    mean = beta("beta:mode=weight,alpha=2,beta=1,floor=0.1,unbiased=True")
    w = np.array([0.25, 0.125, 0.0, 0.125]) + floor
    np.testing.assert_allclose(mean.loss_weights(GROUPS), w / w.mean())
    with pytest.raises(schedsim.FeedbackError, match=r"beta \(unbiased=True\) needs binary rewards; got 0.5"):
        s.loss_weights(groups([0], [[0.5, 1, 1]]))
    with pytest.raises(schedsim.FeedbackError, match=r"beta \(unbiased=True\) needs binary rewards; got 0.5"):
        s.observe(groups([0], [[0.5, 1, 1]]))


def test_beta_group_weights_plug_in_normalised_and_all_zero() -> None:
    s = beta("beta:mode=weight,alpha=2,beta=1,floor=0.1")
    p = np.array([0.75, 0.5, 0.0, 0.5])  # the empty group reads 0.5
    w = p**2 * (1 - p) + 0.1 * 4 / 27
    np.testing.assert_allclose(s.loss_weights(GROUPS), w / w.mean())
    with pytest.raises(schedsim.FeedbackError, match=r"beta \(mode=weight\) needs rewards in \[0, 1\]"):
        s.loss_weights(groups([0], [[1.5, 0]]))
    s.observe(groups([0], [[0.5, 0.5]]))  # non-binary rewards are fine for the plug-in kernel
    assert s.loss_weights(np.array([], dtype=np.int64)).shape == (0,)


def test_beta_weights_from_the_estimate_and_sample_mode() -> None:
    s = beta("beta:mode=weight,alpha=2,beta=1,floor=0,weight_source=estimate,weight_norm=none,init=0.4")
    s.observe(groups([1], [[1, 1, 1, 0]]))
    np.testing.assert_allclose(s.loss_weights(np.array([1, 2])), [0.75**2 * 0.25, 0.4**2 * 0.6])
    np.testing.assert_allclose(s.loss_weights(groups([1], [[0, 0]])), [0.75**2 * 0.25])  # not the group's 0
    assert sorted(s.select(6).tolist()) == list(range(6))  # weight mode: epoch shuffle
    sampler = beta("beta:alpha=2,beta=1,floor=0")
    np.testing.assert_array_equal(sampler.loss_weights(GROUPS), np.ones(4))
    sampler.observe(groups([0, 1, 2, 3, 4, 5], [[1, 1]] * 5 + [[1, 0]]))
    assert sampler.select(1).tolist() == [5]  # only prompt 5 (p 0.5) has weight
    with_replacement = beta("beta:alpha=2,beta=1,floor=0,replace=True")
    with_replacement.observe(groups([0, 1, 2, 3, 4, 5], [[1, 1]] * 5 + [[1, 0]]))
    assert with_replacement.select(4).tolist() == [5, 5, 5, 5]


def test_lilo_topk_is_greedy_and_proportional_is_not() -> None:
    # G = 4, the whole pool of 10 probed: ids 2, 7 at p 0.5 (learnability 1/4), 1, 3, 6, 8 at 3/16, the rest 0
    top = lilo("lilo:pool_factor=5,probe_group=4", 10, Counting())
    assert all(set(top.select(2).tolist()) == {2, 7} for _ in range(5))
    prop = lilo("lilo:pool_factor=5,probe_group=4,rule=proportional", 10, Counting())
    picked = set().union(*(prop.select(2).tolist() for _ in range(5)))
    assert picked - {2, 7} and picked <= {1, 2, 3, 6, 7, 8}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("lilo:pool_factor=0", r"^lilo: pool_factor=0 is out of range; accepted: an integer in \[1, inf\)$"),
        ("lilo:probe_group=0", r"^lilo: probe_group=0 is out of range; accepted: an integer in \[1, inf\)$"),
        ("lilo:rule=best", r"^lilo: rule='best' is not accepted; accepted: 'topk', 'proportional'$"),
    ],
)
def test_lilo_bad_parameters_name_themselves(spec: str, message: str) -> None:
    with pytest.raises(schedsim.ParameterError, match=message):
        lilo(spec, 4, None)


def test_lilo_without_a_probe_says_how_to_give_one() -> None:
    with pytest.raises(schedsim.MissingSignalError) as info:
        lilo("lilo", 4, None).select(1)
    assert str(info.value) == (
        "lilo needs fresh rollouts to choose; pass make_scheduler('lilo', ..., probe=fn) with "
        "fn(ids, G) -> Feedback (the schedsim runner provides one and charges its rollouts)"
    )


def test_beta_defaults_choices_and_rules() -> None:
    pool = schedsim.PromptPool(n=6)
    assert schedsim.make_scheduler("beta:estimator=logz", pool=pool, seed=0).estimator.kl_coef == 0.05
    assert schedsim.make_scheduler("beta:estimator=ema,ema_decay=0.7", pool=pool, seed=0).estimator.decay == 0.7
    assert schedsim.make_scheduler("beta", pool=pool, seed=0).rule.pool is pool
    for key, choices in (("weight_norm", "'mean', 'none'"), ("weight_source", "'group', 'estimate'")):
        with pytest.raises(schedsim.ParameterError, match=rf"^beta: {key}='x' is not accepted; accepted: {choices}$"):
            beta(f"beta:mode=weight,{key}=x")
    # weight mode walks epochs whatever the weights: prompts 0-4 always pass (weight 0), yet each comes once
    s = beta("beta:mode=weight,alpha=2,beta=1,floor=0")
    s.observe(groups([0, 1, 2, 3, 4, 5], [[1, 1]] * 5 + [[1, 0]]))
    assert sorted(int(s.select(1)[0]) for _ in range(6)) == list(range(6))
    bare = beta("beta:mode=weight,alpha=2,beta=1,floor=0")
    assert bare.loss_weights(groups([0, 1], [[0, 0], [1, 1]])).tolist() == [1.0, 1.0]  # all zero: ones, per group
