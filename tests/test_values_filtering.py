"""dapo, band and greso by value: a stub world of fixed rewards, the loader's order set by hand, so the rounds, the
kept ids, the padding and the charged rollouts are exact numbers; then the budget accounting of a real run."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fixed_world import FixedWorld

import schedsim
from schedsim.runner import RunConfig, run_unit
from schedsim.runner.loop import ProbeMeter

# 12 prompts, G = 4: successes per prompt (0 or 4: all equal, dropped by dapo)
SUCCESSES_4 = [4, 1, 0, 2, 4, 0, 3, 4, 1, 2, 0, 2]
# 12 prompts, G = 20: p̂ = 0, .1, .7, .75, 1, .8, .05, .4, .5, .15, .6, .95
SUCCESSES_20 = [0, 2, 14, 15, 20, 16, 1, 8, 10, 3, 12, 19]


def build(spec: str, successes: list[int], order: list[int] | None = None, epoch: int = 0):
    """The scheduler on a 12-prompt pool, probing through the runner's meter; its loader's epoch order set by hand."""
    world = FixedWorld(successes)
    meter = ProbeMeter(world)
    s = schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=12), seed=0, probe=meter)
    s.loader.order = np.array(range(12) if order is None else order, dtype=np.int64)
    s.loader.pos, s.loader.epoch = 0, epoch
    return s, meter, world


# -- the shared pieces: the loader, the mixed-group test, the probe checks --------------------------------------------
def test_epoch_loader_consumes_whole_permutations_and_counts_epochs() -> None:
    from schedsim.schedulers.filtering import EpochLoader

    loader, rng = EpochLoader(4), np.random.default_rng(7)
    assert (loader.epoch, loader.pos, loader.order.size) == (-1, 0, 0)
    first = loader.take(4, np.zeros(4, dtype=bool), rng)
    assert loader.epoch == 0 and sorted(first.tolist()) == [0, 1, 2, 3] and first.dtype == np.int64
    np.testing.assert_array_equal(first, loader.order)  # consumed in order
    second = loader.take(4, np.zeros(4, dtype=bool), rng)  # the next step: a fresh permutation, from its first id
    assert loader.epoch == 1 and loader.pos == 4 and second.tolist() == loader.order.tolist()
    loader.take(2, np.zeros(4, dtype=bool), rng)
    assert loader.epoch == 2 and loader.pos == 2
    assert loader.take(3, np.ones(4, dtype=bool), rng).size == 0  # everything offered this step: nothing more


def test_mixed_groups_on_ragged_single_and_pair_groups() -> None:
    from schedsim.schedulers.filtering import mixed_groups

    nan = float("nan")
    rows = [[1, 0, nan, nan], [1, 1, nan, nan], [0, 0, 0, 0], [1, nan, nan, nan], [nan, 0, 1, nan], [0, 0, 1, 1]]
    fb = schedsim.Feedback(prompt_ids=np.arange(6), rewards=np.array(rows, dtype=float))
    # mixed: a ragged pair 1/0, the 0/1 pair with gaps and 0011; a single rollout is kept (nothing to compare)
    np.testing.assert_array_equal(mixed_groups(fb), [True, False, False, True, True, True])


def test_probing_schedulers_check_their_probe_and_start_from_zero_metrics() -> None:
    pool = schedsim.PromptPool(n=12)
    s = schedsim.make_scheduler("dapo:probe_group=1", pool=pool, seed=0)  # a group of 1 is accepted
    m = s.metrics()
    assert [m[f"sched/{key}"] for key in ("filter_rounds", "probed_groups", "kept_groups", "padded_groups")] == [
        0.0
    ] * 4
    with pytest.raises(schedsim.ParameterError, match=r"^dapo: probe_group=True is out of range; accepted: an integer"):
        schedsim.make_scheduler("dapo", pool=pool, seed=0, probe_group=True)
    with pytest.raises(schedsim.ParameterError, match=r"^dapo: probe=3 is not callable; accepted: a function probe\("):
        schedsim.make_scheduler("dapo", pool=pool, seed=0, probe=3)
    message = (
        "dapo needs fresh rollouts to choose; pass make_scheduler('dapo', ..., probe=fn) with fn(ids, G) -> Feedback "
        "(the schedsim runner provides one and charges its rollouts)"
    )
    with pytest.raises(schedsim.MissingSignalError, match="^" + re.escape(message) + "$"):
        s.select(2)
    message = "probe returned feedback that does not match the probed ids; accepted: one row per id"
    reverse = lambda ids, g: FixedWorld(SUCCESSES_4).rollout(ids[::-1].copy(), g)  # noqa: E731
    for bad in (reverse, lambda ids, g: "rows"):
        s.set_probe(bad)
        with pytest.raises(schedsim.FeedbackError, match="^" + re.escape(message) + "$"):
            s.select(2)
    # state: the last step's counts come back
    s, _, _ = build("dapo:oversample=1.5,probe_group=4", SUCCESSES_4)
    s.select(4)
    twin, _, _ = build("dapo:probe_group=4", SUCCESSES_4)
    twin.load_state_dict(s.state_dict())
    assert twin.metrics() == s.metrics() and twin.metrics()["sched/probed_groups"] == 12.0


# -- dapo ---------------------------------------------------------------------------------------------------------
def test_dapo_recipe_refills_in_generation_batches_until_k_mixed_groups() -> None:
    # gen batch ceil(1.5 x 4) = 6: round 1 rolls 0-5 and keeps 1, 3; round 2 rolls 6-11 and keeps 6, 8, 9, 11;
    # the first 4 kept are trained on, the surplus (9, 11) and the 6 all-equal groups are discarded: 12 x 4 charged
    s, meter, world = build("dapo:oversample=1.5,probe_group=4", SUCCESSES_4)
    assert s.select(4).tolist() == [1, 3, 6, 8]
    assert world.calls == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    assert meter.spent == 48
    m = s.metrics()
    assert (m["sched/filter_rounds"], m["sched/probed_groups"], m["sched/kept_groups"]) == (2.0, 12.0, 4.0)
    # the runner trains each chosen prompt on its probed group: nothing is rolled out again
    assert all(k is not None for k in meter.match(np.array([1, 3, 6, 8]), 4))


def test_dapo_cap_pads_with_dropped_groups_or_raises() -> None:
    # one round allowed: 0-5 rolled out, 1 and 3 kept; padded with the first dropped ones, 0 and 2
    s, meter, _ = build("dapo:oversample=1.5,max_num_gen_batches=1,probe_group=4", SUCCESSES_4)
    assert s.select(4).tolist() == [1, 3, 0, 2]
    assert meter.spent == 24 and s.metrics()["sched/padded_groups"] == 2.0
    s, _, _ = build("dapo:oversample=1.5,probe_group=4,on_cap=error", SUCCESSES_4)
    assert s.select(2).tolist() == [1, 3]  # exactly k kept (after 2 rounds): no error
    s, _, _ = build("dapo:oversample=1.5,max_num_gen_batches=1,probe_group=4,on_cap=error", SUCCESSES_4)
    with pytest.raises(
        schedsim.SchedsimError,
        match=r"^dapo: 2 of 4 groups kept after 1 rollout rounds; accepted: on_cap=pad, or a larger "
        r"max_num_gen_batches \(0: no cap\)$",
    ):
        s.select(4)


def test_dapo_rolls_out_a_generation_batch_of_one() -> None:
    # k = 1, oversample 1: each round rolls out one prompt; 0 (4/4) is dropped, 1 (1/4) kept after 2 rounds
    s, meter, world = build("dapo:oversample=1,probe_group=4", SUCCESSES_4)
    assert s.select(1).tolist() == [1]
    assert world.calls == [[0], [1]] and meter.spent == 8
    assert s.metrics()["sched/filter_rounds"] == 2.0


def test_dapo_v1_gives_two_refill_credits_per_dropped_group() -> None:
    # round 1: k = 4 prompts 1, 3, 6, 0; only 0 dropped -> 2 credits -> round 2 rolls exactly 2 (2, 8): 8 kept
    s, meter, world = build("dapo:variant=v1,probe_group=4", SUCCESSES_4, order=[1, 3, 6, 0, 2, 8, 9, 11, 4, 5, 7, 10])
    assert s.select(4).tolist() == [1, 3, 6, 8]
    assert world.calls == [[1, 3, 6, 0], [2, 8]] and meter.spent == 24
    # identity order: round 1 (0-3) drops 2 -> 4 credits; round 2 (4-7) keeps 6, drops 3 -> 4 - 4 + 6 = 6 credits;
    # round 3 rolls min(6, 4) = 4 (8-11), keeps 4 more: the 4 oldest kept are trained on, 9 and 11 discarded
    s, meter, world = build("dapo:variant=v1,probe_group=4", SUCCESSES_4)
    assert s.select(4).tolist() == [1, 3, 6, 8]
    assert [len(c) for c in world.calls] == [4, 4, 4] and meter.spent == 48
    s, meter, _ = build("dapo:variant=v1,max_num_gen_batches=2,probe_group=4", SUCCESSES_4)
    assert s.select(4).tolist() == [1, 3, 6, 0] and meter.spent == 32  # capped after round 2, padded with 0


# -- band ---------------------------------------------------------------------------------------------------------
def test_band_keeps_an_asymmetric_inclusive_band_and_refills() -> None:
    # [0.1, 0.7] keeps p̂ = .1 (edge), .7 (edge), .4, .5, .15, .6 = ids 1, 2, 7, 8, 9, 10; gen batch 4:
    # round 1 (0-3) keeps 1, 2; round 2 (4-7) keeps 7; round 3 (8-11) keeps 8, 9, 10; 12 groups x 20 charged
    s, meter, world = build("band:tau_lo=0.1,tau_hi=0.7,oversample=1,probe_group=20", SUCCESSES_20)
    assert s.select(4).tolist() == [1, 2, 7, 8]
    assert len(world.calls) == 3 and meter.spent == 240
    # the default band [0.2, 0.8] on the same world keeps 2 (.7), 3 (.75), 5 (.8, edge), 7 instead
    s, _, _ = build("band:oversample=1,probe_group=20", SUCCESSES_20)
    assert s.select(4).tolist() == [2, 3, 5, 7]


def test_band_drop_pads_with_zero_weight_and_weight_mode_down_weights() -> None:
    s, meter, world = build(
        "band:tau_lo=0.1,tau_hi=0.7,oversample=1,max_num_gen_batches=2,probe_group=20", SUCCESSES_20
    )
    ids = s.select(4)
    assert ids.tolist() == [1, 2, 7, 0] and meter.spent == 160  # 2 rounds of 4; padded with 0 (p̂ = 0)
    fb = world.rollout(np.arange(12), 20)
    expected_in = [0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    np.testing.assert_array_equal(s.loss_weights(fb), expected_in)  # drop mode: out of band -> 0
    s, meter, world = build("band:tau_lo=0.1,tau_hi=0.7,mode=weight,weight_out=0.3,probe_group=20", SUCCESSES_20)
    assert s.select(4).tolist() == [0, 1, 2, 3] and world.calls == [[0, 1, 2, 3]]  # one round, nothing dropped
    assert meter.spent == 80
    np.testing.assert_allclose(s.loss_weights(fb), np.where(np.array(expected_in) == 1, 1.0, 0.3))
    np.testing.assert_array_equal(s.loss_weights(np.arange(3)), [1, 1, 1])  # bare ids: no rewards, no weighting


def test_dapo_defaults_are_the_recipe_and_bad_values_are_named() -> None:
    s = schedsim.make_scheduler("dapo", pool=schedsim.PromptPool(n=12), seed=0)
    assert (s.variant, s.oversample, s.max_num_gen_batches, s.probe_group, s.on_cap) == ("recipe", 3.0, 10, 8, "pad")
    v1 = schedsim.make_scheduler("dapo:variant=v1,oversample=1,max_num_gen_batches=0", pool=schedsim.PromptPool(n=12))
    assert (v1.variant, v1.oversample, v1.max_num_gen_batches) == ("v1", 1.0, 0)  # 0 = no cap (the v1 buffer's)
    for spec, message in [
        ("dapo:variant=x", "variant='x' is not accepted; accepted: 'recipe', 'v1'"),
        ("dapo:oversample=0.5", "oversample=0.5 is out of range; accepted: a number in [1, inf)"),
        ("dapo:max_num_gen_batches=-1", "max_num_gen_batches=-1 is out of range; accepted: an integer in [0, inf)"),
        ("dapo:on_cap=z", "on_cap='z' is not accepted; accepted: 'pad', 'error'"),
        ("dapo:probe_group=0", "probe_group=0 is out of range; accepted: an integer >= 1"),
    ]:
        with pytest.raises(schedsim.ParameterError, match=re.escape(message)):
            schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=12), seed=0)


def test_band_passes_its_defaults_and_seed_to_dapo_and_names_bad_values() -> None:
    s = schedsim.make_scheduler("band", pool=schedsim.PromptPool(n=12), seed=0)
    assert (s.oversample, s.max_num_gen_batches, s.probe_group, s.variant, s.on_cap) == (3.0, 10, 8, "recipe", "pad")
    assert (s.tau_lo, s.tau_hi, s.mode, s.weight_out) == (0.2, 0.8, "drop", 0.1)
    picks = []
    for seed in (3, 3, 4):  # the loader's shuffles come from the scheduler's seed
        band = schedsim.make_scheduler("band:mode=weight", pool=schedsim.PromptPool(n=12), seed=seed)
        band.set_probe(FixedWorld(SUCCESSES_4).rollout)
        picks.append(band.select(6).tolist())
    assert picks[0] == picks[1] != picks[2]
    custom = schedsim.make_scheduler("band:variant=v1,on_cap=error", pool=schedsim.PromptPool(n=12), seed=0)
    assert (custom.variant, custom.on_cap) == ("v1", "error")
    point = schedsim.make_scheduler("band:tau_lo=0.5,tau_hi=0.5", pool=schedsim.PromptPool(n=12), seed=0)
    assert point.in_band(np.array([0.45, 0.5, 0.55])).tolist() == [False, True, False]  # a one-point band
    for spec, message in [
        ("band:tau_lo=-0.1", "tau_lo=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("band:tau_lo=1.5,tau_hi=1.0", "tau_lo=1.5 is out of range; accepted: a number in [0, 1]"),
        ("band:tau_hi=-0.1", "tau_hi=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("band:tau_hi=1.2", "tau_hi=1.2"),
        ("band:weight_out=1.5", "weight_out=1.5"),
        ("band:weight_out=-0.5", "weight_out=-0.5 is out of range; accepted: a number in [0, 1]"),
        ("band:mode=soft", "mode='soft'"),
        ("band:tau_lo=0.6,tau_hi=0.4", "tau_lo=0.6 > tau_hi=0.4"),
    ]:
        with pytest.raises(schedsim.ParameterError, match=re.escape(message)):
            schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=12), seed=0)


def test_band_weight_mode_counts_one_round_even_for_a_single_prompt() -> None:
    s, meter, _ = build("band:mode=weight,probe_group=20", SUCCESSES_20)
    assert s.select(1).tolist() == [0] and meter.spent == 20
    assert s.metrics()["sched/filter_rounds"] == 1.0


# -- greso --------------------------------------------------------------------------------------------------------
def test_greso_keep_probability_follows_the_trailing_runs() -> None:
    s = schedsim.make_scheduler("greso:p_easy=0.6,p_hard=0.3,min_keep=0.05", pool=schedsim.PromptPool(n=8), seed=0)
    rounds = {  # rows of G = 4 for ids 0-5, one Feedback per round
        0: [[1] * 4, [1] * 4],  # easy twice: 0.6^2
        1: [[0] * 4, [0] * 4, [0] * 4],  # hard three times: 0.3^3 = 0.027 -> floor 0.05
        2: [[0] * 4, [1] * 4],  # hard then easy: the hard run is broken, easy once: 0.6
        3: [[1] * 4, [1, 0, 0, 0]],  # easy then mixed: 1
        5: [[0] * 4],  # hard once: 0.3
    }
    for r in range(3):
        ids = [i for i, rows in rounds.items() if r < len(rows)]
        s.record(schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array([rounds[i][r] for i in ids], float)))
    np.testing.assert_allclose(s.keep_probability(np.arange(6)), [0.36, 0.05, 0.6, 1.0, 1.0, 0.3])
    assert s.easy_run.tolist()[:6] == [2, 0, 1, 0, 0, 0] and s.hard_run.tolist()[:6] == [0, 3, 0, 0, 0, 1]


def test_greso_next_round_size_and_last_round() -> None:
    s = schedsim.make_scheduler("greso:presample=1.5,presample_min=0.25,margin=1.25", pool=schedsim.PromptPool(n=64))
    # k = 16, G = 8: cap ceil(1.5 x 16) = 24, floor ceil(0.25 x 16) = 4
    assert s.next_round_size(16, 10, 0.5) == (15, True)  # int(6 x 8 / 0.5 / 8 x 1.25) = 15 <= 24: the last
    assert s.next_round_size(16, 0, 0.75) == (24, False)  # int(16 / 0.25 x 1.25) = 80 > 24: capped, not last
    assert s.next_round_size(16, 15, 0.0) == (4, True)  # int(1.25) = 1, floored at 4
    assert s.next_round_size(16, 3, 1.0) == (24, False)  # nothing kept last round: unbounded estimate


def test_greso_adapts_p_toward_its_targets_after_epoch_0_only() -> None:
    s = schedsim.make_scheduler("greso:p_hard=0.94,target_zv=0.3,p_step=0.02", pool=schedsim.PromptPool(n=4))
    s._counts[:] = (2, 1, 10)  # easy share 0.2 >= 0.3 / 3; hard share 0.1 < 2 x 0.3 / 3
    s.loader.epoch = 0
    s.adapt()
    assert (s.p_easy, s.p_hard) == (0.5, 0.94) and s._counts.tolist() == [0, 0, 0]  # epoch 0: no change, reset
    s._counts[:] = (2, 1, 10)
    s.loader.epoch = 1
    s.adapt()
    assert s.p_easy == pytest.approx(0.48) and s.p_hard == 0.95  # 0.96 clipped to p_max


def test_greso_next_round_at_exactly_the_cap_is_the_last_and_adaptation_edges() -> None:
    s = schedsim.make_scheduler("greso:target_zv=0.75,p_step=0.02", pool=schedsim.PromptPool(n=64))
    assert s.next_round_size(16, 4, 0.375) == (24, True)  # int(12 / 0.625 x 1.25) = 24 = the cap: still the last
    s.loader.epoch = 1
    # easy share 1/4 = 0.75/3 and hard share 2/4 = 2 x 0.75/3, both exactly at their targets: both p decrease
    s._counts[:] = (1, 2, 4)
    s.adapt()
    assert (s.p_easy, s.p_hard) == (pytest.approx(0.48), pytest.approx(0.48))
    # easy share 4/20 = 0.2 < 0.25 and hard share 0 < 0.5: both increase
    s._counts[:] = (4, 0, 20)
    s.adapt()
    assert (s.p_easy, s.p_hard) == (pytest.approx(0.5), pytest.approx(0.5))
    s._counts[:] = (0, 2, 5)  # hard share 0.4 < 2 x 0.75/3 = 0.5: p_hard increases; easy share 0: p_easy too
    s.adapt()
    assert (s.p_easy, s.p_hard) == (pytest.approx(0.52), pytest.approx(0.52))
    s.p_easy = s.p_hard = 0.5
    s._counts[:] = (1, 0, 1)  # a step of one group, easy: p_easy decreases, p_hard increases
    s.adapt()
    assert (s.p_easy, s.p_hard) == (pytest.approx(0.48), pytest.approx(0.52))
    s.adapt()  # no group rolled out since: nothing moves
    assert (s.p_easy, s.p_hard) == (pytest.approx(0.48), pytest.approx(0.52))


def test_greso_defaults_seed_and_bad_values() -> None:
    pool = schedsim.PromptPool(n=64)
    s = schedsim.make_scheduler("greso", pool=pool, seed=0)
    assert s.metrics()["sched/skipped"] == 0.0
    body = s.state_dict()["body"]
    assert [body[key].dtype for key in ("easy_run", "hard_run", "counts")] == [np.int64] * 3  # counts, as integers
    assert (s.p_easy, s.p_hard, s.target_zv, s.p_step, s.p_min, s.p_max, s.min_keep) == (
        0.5,
        0.5,
        0.25,
        0.01,
        0.05,
        0.95,
        0.01,
    )
    assert (s.easy_at, s.hard_at, s.presample, s.presample_min, s.chunk, s.margin, s.probe_group) == (
        1.0,
        0.0,
        1.5,
        0.25,
        0.125,
        1.25,
        8,
    )
    # skip draws come from the scheduler's seeded generator: prompts 0-63 on an easy run of 1 are kept w.p. 0.5
    kept = []
    for seed in (1, 1, 2):
        g = schedsim.make_scheduler("greso:probe_group=4", pool=pool, seed=seed, probe=FixedWorld([4] * 64).rollout)
        g.easy_run[:] = 1
        g.loader.epoch = 1
        g.select(4)
        kept.append(g.metrics()["sched/skipped"])
    assert kept[0] == kept[1] != kept[2]
    # edges accepted: p_min = p_max, easy_at just above hard_at, presample_min = presample
    schedsim.make_scheduler("greso:p_min=0.3,p_max=0.3,easy_at=0.9,hard_at=0.8,presample=1,presample_min=1", pool=pool)
    for spec, message in [
        ("greso:p_easy=1.5", "p_easy=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_hard=-0.5", "p_hard=-0.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_hard=1.5", "p_hard=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:target_zv=-0.1", "target_zv=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("greso:target_zv=1.5", "target_zv=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_step=-0.1", "p_step=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_step=1.5", "p_step=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_min=-0.1", "p_min=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_min=1.5,p_max=1", "p_min=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_max=-0.1,p_min=0", "p_max=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_max=1.5", "p_max=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:p_min=0.6,p_max=0.5", "p_min=0.6 > p_max=0.5; accepted: p_min <= p_max"),
        ("greso:min_keep=-0.1", "min_keep=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("greso:min_keep=1.5", "min_keep=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:easy_at=-0.1", "easy_at=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("greso:easy_at=1.5", "easy_at=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:hard_at=-0.1", "hard_at=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("greso:hard_at=1.5", "hard_at=1.5 is out of range; accepted: a number in [0, 1]"),
        ("greso:hard_at=0.5,easy_at=0.5", "hard_at=0.5 >= easy_at=0.5; accepted: hard_at < easy_at"),
        ("greso:presample=0", "presample=0.0 is out of range; accepted: a number in (0, inf)"),
        ("greso:presample_min=0", "presample_min=0.0 is out of range; accepted: a number in (0, 1.5]"),
        ("greso:presample_min=2", "presample_min=2.0 is out of range; accepted: a number in (0, 1.5]"),
        ("greso:chunk=0", "chunk=0.0 is out of range; accepted: a number in (0, inf)"),
        ("greso:margin=0", "margin=0.0 is out of range; accepted: a number in (0, inf)"),
    ]:
        with pytest.raises(schedsim.ParameterError, match="^greso: " + re.escape(message) + "$"):
            schedsim.make_scheduler(spec, pool=pool, seed=0)


def test_greso_step_rolls_screened_rounds_sized_by_the_estimate() -> None:
    # k = 4, S = ceil(1.0 x 4) = 4 in chunks of 2; first epoch: nothing seen, nothing skipped
    spec = "greso:presample=1,chunk=0.5,margin=0.5,p_easy=0,p_hard=0,p_min=0,min_keep=0,probe_group=4"
    s, meter, world = build(spec, SUCCESSES_4)
    # round 1 (0-3) keeps 1, 3, zv = 0.5 -> int(2 x 4 / 0.5 / 4 x 0.5) = 2 <= 4: a last round of 2 (4, 5), which
    # keeps nothing; the step pads with the first dropped, 0 and 2
    assert s.select(4).tolist() == [1, 3, 0, 2]
    assert world.calls == [[0, 1, 2, 3], [4, 5]] and meter.spent == 24
    assert s.easy_run[[0, 4]].tolist() == [1, 1] and s.hard_run[[2, 5]].tolist() == [1, 1]
    # a later epoch: p_easy = p_hard = 0 and min_keep = 0 skip every prompt on an easy or hard run for sure: chunks
    # [0, 1] [2, 3] [4, 5] [6, 7] leave 1, 3, 6, 7 (7 was never rolled out: not skipped); 7 is all-correct, so 3
    # kept, zv = 1/4 -> int(1 x 4 / 0.75 / 4 x 0.5) = 0 <= 4: a last round of max(0, ceil(0.25 x 4)) = 1, i.e. one
    # chunk, 8 and 9, both kept; the first 4 kept are trained on
    s.loader.order, s.loader.pos, s.loader.epoch = np.arange(12), 0, 1
    assert s.select(4).tolist() == [1, 3, 6, 8]
    assert world.calls[2:] == [[1, 3, 6, 7], [8, 9]] and meter.spent == 24 + 24
    assert s.metrics()["sched/skipped"] == 4.0 and s.easy_run[7] == 1
    # adapted after the step (epoch 1): easy share 1/6 >= 0.25/3 -> p_easy 0 - 0.01, clipped at p_min = 0;
    # hard share 0 < 2 x 0.25/3 -> p_hard 0 + 0.01
    assert s.p_easy == 0.0 and s.p_hard == pytest.approx(0.01)


def test_greso_round_sizes_chunks_and_a_fully_skipped_step() -> None:
    # chunks of ceil(0.1 x 4) = 1: the first round stops at exactly S = ceil(0.75 x 4) = 3 survivors
    s, _, world = build("greso:presample=0.75,chunk=0.1,probe_group=4", SUCCESSES_4)
    s.select(4)
    assert world.calls[0] == [0, 1, 2]
    # a round that keeps exactly k ends the step: 0-3 keep 1 and 3 for k = 2
    s, _, world = build("greso:presample=2,probe_group=4", SUCCESSES_4)
    assert s.select(2).tolist() == [1, 3] and world.calls == [[0, 1, 2, 3]]
    assert s.metrics()["sched/filter_rounds"] == 1.0
    # the next round is sized by the zero-variance share zv = 1/4 (not the kept share 3/4): int(1 x 4 / 0.75 / 4)
    # = 1, so a last round of one prompt (2, all wrong); padded with the first dropped (0)
    order = [1, 3, 6, 0, 2, 8, 9, 11, 4, 5, 7, 10]
    s, _, world = build("greso:presample=1,chunk=0.25,margin=1,probe_group=4", SUCCESSES_4, order=order)
    assert s.select(4).tolist() == [1, 3, 6, 0] and world.calls == [[1, 3, 6, 0], [2]]
    m = s.metrics()
    assert (m["sched/filter_rounds"], m["sched/p_easy"], m["sched/p_hard"], m["sched/skipped"]) == (2.0, 0.5, 0.5, 0.0)
    # a later epoch in which every prompt is on an easy run and is skipped for sure: no rollout at all, the batch is
    # two distinct fresh prompts
    s, meter, world = build("greso:p_easy=0,p_min=0,min_keep=0,probe_group=4", SUCCESSES_4, epoch=1)
    s.easy_run[:] = 1
    ids = s.select(2).tolist()
    assert len(set(ids)) == 2 and world.calls == [] and meter.spent == 0
    assert s.metrics()["sched/skipped"] == 12.0 and s.metrics()["sched/filter_rounds"] == 0.0
    state = s.state_dict()
    twin, _, _ = build("greso:probe_group=4", SUCCESSES_4)
    twin.load_state_dict(state)
    assert twin.metrics()["sched/skipped"] == 12.0 and twin.easy_run.tolist() == [1] * 12


def test_greso_skips_each_prompt_of_a_chunk_on_its_own_draw() -> None:
    # chunks of ceil(4 x 4) = 16 prompts on an easy run of 1, kept w.p. 0.5 each: the number skipped is not a
    # multiple of 16 (as it would be if a chunk were kept or skipped whole)
    pool = schedsim.PromptPool(n=64)
    skipped = []
    for seed in range(5):
        g = schedsim.make_scheduler(
            "greso:chunk=4,probe_group=4", pool=pool, seed=seed, probe=FixedWorld([4] * 64).rollout
        )
        g.easy_run[:] = 1
        g.loader.epoch = 1
        g.select(4)
        skipped.append(int(g.metrics()["sched/skipped"]))
    assert any(n % 16 for n in skipped)


# -- the runner charges every probe rollout --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    [
        "dapo:probe_group=4",
        "dapo:probe_group=4,variant=v1",
        "band:probe_group=4",
        "band:probe_group=4,mode=weight",
        "greso:probe_group=4",
    ],
)
def test_the_runner_charges_every_probe_and_never_exceeds_the_budget(spec: str) -> None:
    config = RunConfig(
        schedulers=(spec,),
        env="bandit:n_train=200,n_test=100",
        seeds=1,
        budget=4000,
        batch=16,
        group=4,
        eval_every=1000,
    )
    table = run_unit(config, spec, 0)
    last = table.iloc[-1]
    assert 0 < last["selection_rollouts"] <= last["rollouts"] <= 4000
    # every trained group is a probed one: nothing else is rolled out, and no spent probe goes uncounted
    assert last["rollouts"] == last["selection_rollouts"]
    assert int(last["step"]) >= 1 and last["rollouts"] >= int(last["step"]) * 16 * 4


def test_list_and_check_show_the_filters() -> None:
    from typer.testing import CliRunner

    from schedsim.cli import app

    listed = CliRunner().invoke(app, ["list"]).output
    for name, paper in (("dapo", "2503.14476"), ("band", "2504.03380"), ("greso", "2506.02177")):
        assert any(line.startswith(name) and paper in line for line in listed.splitlines())
        checked = CliRunner().invoke(app, ["check", f"{name}:probe_group=4"])
        assert checked.exit_code == 0 and "passed 9 checks" in checked.output


def build_n(spec: str, successes: list[int]):
    """``build`` on a pool of len(successes) prompts, loader in identity order."""
    world = FixedWorld(successes)
    meter = ProbeMeter(world)
    s = schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=len(successes)), seed=0, probe=meter)
    s.loader.order = np.arange(len(successes), dtype=np.int64)
    s.loader.pos, s.loader.epoch = 0, 0
    return s, meter, world


def test_dapo_v1_credits_carry_over_between_rounds() -> None:
    # G = 4, k = 6. Round 1 (0-5) drops 5 -> 2 credits; round 2 rolls 2 (6, 7), both dropped: 2 - 2 + 4 = 4 credits;
    # round 3 rolls min(4, 6) = 4 (8-11)
    world_a = [1, 2, 3, 1, 2, 0, 4, 0, 2, 2, 2, 2] + [2] * 8
    s, meter, world = build_n("dapo:variant=v1,probe_group=4", world_a)
    assert s.select(6).tolist() == [0, 1, 2, 3, 4, 8]
    assert [len(c) for c in world.calls] == [6, 2, 4] and meter.spent == 48
    # k = 5. Round 1 (0-4) drops 4 -> 8 credits; round 2 rolls 5 (5-9), drops 2: 8 - 5 + 4 = 7 credits;
    # round 3 rolls min(7, 5) = 5 (10-14): the leftover credits count
    world_b = [0, 4, 0, 4, 2, 1, 2, 3, 4, 0] + [2] * 10
    s, meter, world = build_n("dapo:variant=v1,probe_group=4", world_b)
    assert s.select(5).tolist() == [4, 5, 6, 7, 10]
    assert [len(c) for c in world.calls] == [5, 5, 5]


def test_dapo_without_a_round_cap_refills_until_the_batch_is_full() -> None:
    # max_num_gen_batches = 0 means no cap: the recipe rolls 6 prompts a round until 6 mixed groups are kept (the
    # fourth round gets the last 2 unseen prompts of the pool)
    world = [0] * 14 + [2] * 6
    s, _, calls = build_n("dapo:max_num_gen_batches=0,oversample=1,probe_group=4", world)
    assert s.select(6).tolist() == [14, 15, 16, 17, 18, 19]
    assert [len(c) for c in calls.calls] == [6, 6, 6, 2] and s.metrics()["sched/filter_rounds"] == 4.0
