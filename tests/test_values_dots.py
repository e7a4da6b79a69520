"""dots by value: a stub world of fixed rewards probed through the runner's meter, so the reference labels, the
predicted pass rates, the selection law, the chosen ids and the charged rollouts are exact numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fixed_world import FixedWorld

import schedsim
from schedsim.runner import RunConfig, run_unit
from schedsim.runner.loop import ProbeMeter
from schedsim.schedulers.dots import DOTSScheduler


def small_run(*schedulers: str) -> RunConfig:
    """A one-seed bandit run of 3,000 rollouts in batches of 16 groups of 4, evaluated every 1,000."""
    return RunConfig(
        schedulers=schedulers,
        env="bandit:n_train=200,n_test=100",
        seeds=1,
        budget=3000,
        batch=16,
        group=4,
        eval_every=1000,
    )


def build(spec: str, successes: list[int], pool: schedsim.PromptPool):
    world = FixedWorld(successes)
    meter = ProbeMeter(world)
    return schedsim.make_scheduler(spec, pool=pool, seed=0, probe=meter), meter, world


# 12 prompts in 4 categories of 3; G = 4 successes: category means 3/12, 11/12, 4/12, 6/12
CATEGORY = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
SUCCESSES = [0, 1, 2, 4, 4, 3, 1, 1, 2, 2, 2, 2]


def test_category_predictor_and_soft_target_probabilities() -> None:
    # every prompt is a reference (ref_size=12): p̂ = its category's mean label (the least-squares line of the
    # labels on their category means is y = x); law = softmax(−|p̂ − 0.3| / 0.05) over the 12 prompts
    pool = schedsim.PromptPool(n=12, category=CATEGORY)
    s, meter, world = build("dots:alpha=0.3,tau=0.05,mu=3,ref_size=12,probe_group=4", SUCCESSES, pool)
    s.select(2)
    assert sorted(world.calls[0]) == list(range(12)) and meter.spent == 48  # the reference set, charged
    np.testing.assert_allclose(s.estimates(), np.repeat([0.25, 11 / 12, 1 / 3, 0.5], 3), atol=1e-12)
    # |p̂ − 0.3| / 0.05 = 1, 37/3, 2/3, 4 per category
    e = np.exp(-np.array([1.0, 37 / 3, 2 / 3, 4.0]))
    np.testing.assert_allclose(s.distribution(), np.repeat(e / (3 * e.sum()), 3), rtol=1e-9)
    np.testing.assert_allclose(s.distribution()[[0, 6]], [0.13630971, 0.19023553], rtol=1e-6)
    m = s.metrics()
    assert m["sched/calib_slope"] == pytest.approx(1.0) and m["sched/calib_intercept"] == pytest.approx(0.0, abs=1e-12)
    # mean |p̂ − label| over the 12 references: (0.5 + 1/3 + 1/3 + 0) / 12
    assert m["sched/ref_abs_err"] == pytest.approx(7 / 72)
    assert m["sched/ref_rollouts"] == 48.0 and m["sched/rounds"] == 1.0


def test_near_greedy_round_serves_mu_steps_then_recalibrates() -> None:
    # tau = 1e-4: category 2 (|1/3 − 0.3| = 1/30) beats category 0 (0.05) by e^(−(0.05 − 1/30)/1e-4) = e^−166.7;
    # mu = 3 steps of k = 1 take exactly its 3 prompts; the 4th select starts a new round: 12 x 4 more charged
    pool = schedsim.PromptPool(n=12, category=CATEGORY)
    s, meter, world = build("dots:alpha=0.3,tau=0.0001,mu=3,ref_size=12,probe_group=4", SUCCESSES, pool)
    chosen = [int(s.select(1)[0]) for _ in range(3)]
    assert sorted(chosen) == [6, 7, 8] and meter.spent == 48 and len(world.calls) == 1
    s.select(1)
    assert meter.spent == 96 and len(world.calls) == 2 and s.metrics()["sched/rounds"] == 2.0


def test_attention_predictor_and_least_squares_line_by_hand() -> None:
    # features 0, 1, 2 standardise to z = (−√1.5, 0, √1.5); d = 1, temperature 2: scores z_i z_r / 2 =
    # ±0.75 or 0. Row 0 weights ∝ (e^.75, 1, e^−.75) = (.5898, .2786, .1316); labels y = (1, 2, 4)/4 give
    # base = (.418351, .583333, .761998) (row 2 mirrors row 0). The line of y on base: slope 2.190970,
    # intercept −0.704726, so p̂ = (.211870, .573340, .964790).
    pool = schedsim.PromptPool(n=3, features=np.array([[0.0], [1.0], [2.0]]))
    s, meter, _ = build("dots:alpha=0.3,tau=0.2,mu=1,ref_size=3,probe_group=4,temperature=2", [1, 2, 4], pool)
    s.select(1)
    assert s.predictor == "attention" and meter.spent == 12
    base = s.predict_base(np.arange(3), np.array([0.25, 0.5, 1.0]))
    np.testing.assert_allclose(base, [0.41835141, 0.58333333, 0.76199842], rtol=1e-7)
    m = s.metrics()
    assert m["sched/calib_slope"] == pytest.approx(2.19096979, rel=1e-7)
    assert m["sched/calib_intercept"] == pytest.approx(-0.70472551, rel=1e-7)
    np.testing.assert_allclose(s.estimates(), [0.21186979, 0.5733402, 0.96479001], rtol=1e-7)
    # softmax(−|p̂ − 0.3| / 0.2)
    np.testing.assert_allclose(s.distribution(), [0.68867432, 0.27279443, 0.03853125], rtol=1e-6)


def test_attention_without_recalibration_keeps_the_raw_prediction() -> None:
    pool = schedsim.PromptPool(n=3, features=np.array([[0.0], [1.0], [2.0]]))
    s, _, _ = build("dots:ref_size=3,probe_group=4,temperature=2,recalibrate=false", [1, 2, 4], pool)
    s.select(1)
    np.testing.assert_allclose(s.estimates(), [0.41835141, 0.58333333, 0.76199842], rtol=1e-7)


def test_table_predictor_uses_reference_and_training_groups() -> None:
    # no features, no categories: ref_size = 2 of 4; the references get their labels, the others the labels' mean
    pool = schedsim.PromptPool(n=4)
    s, meter, world = build("dots:alpha=0.7,mu=1,ref_size=2,probe_group=4", [4, 0, 2, 1], pool)
    s.select(1)
    refs = world.calls[0]
    labels = np.array([4, 0, 2, 1])[refs] / 4
    expect = np.full(4, labels.mean())
    expect[refs] = labels
    np.testing.assert_allclose(s.estimates(), expect, atol=1e-12)
    assert s.predictor == "table" and meter.spent == 8
    other = int(np.setdiff1d(np.arange(4), refs)[0])
    s.observe(schedsim.Feedback(prompt_ids=np.array([other]), rewards=np.array([[1.0, 1.0, 1.0, 0.0]])))
    assert s.last[other] == 0.75  # read at the next round as this prompt's base


def test_default_reference_size_scales_with_the_round() -> None:
    # ref_size None: max(2, round(0.25 x mu x k)) = round(0.25 x 2 x 16) = 8 prompts x G = 8 rollouts
    pool = schedsim.PromptPool(n=40, category=np.arange(40) % 4)
    s, meter, world = build("dots", [3] * 40, pool)
    assert s.select(16).size == 16 and len(world.calls[0]) == 8 and meter.spent == 64
    s.select(16)
    assert meter.spent == 64  # second step of the round: nothing probed
    s.select(16)
    assert meter.spent == 128


def test_selecting_without_a_probe_raises() -> None:
    s = schedsim.make_scheduler("dots", pool=schedsim.PromptPool(n=4), seed=0)
    message = (
        "dots rolls out a reference set each round; pass make_scheduler('dots', ..., probe=fn) with fn(ids, G) -> "
        "Feedback (the schedsim runner provides one and charges its rollouts)"
    )
    with pytest.raises(schedsim.SchedsimError, match="^" + re.escape(message) + "$"):
        s.select(1)


def test_the_probe_answer_is_checked_and_the_reference_size_has_a_floor_of_two() -> None:
    pool = schedsim.PromptPool(n=12, category=CATEGORY)
    s, _, world = build("dots", SUCCESSES, pool)
    s.select(2)  # round(0.25 x 2 x 2) = 1, floored at 2 references
    assert len(world.calls[0]) == 2
    message = "probe returned feedback that does not match the probed ids; accepted: one row per id"
    for bad in (lambda ids, g: FixedWorld(SUCCESSES).rollout(ids[::-1].copy(), g), lambda ids, g: "rows"):
        s = schedsim.make_scheduler("dots:ref_size=3", pool=pool, seed=0, probe=bad)
        with pytest.raises(schedsim.FeedbackError, match="^" + re.escape(message) + "$"):
            s.select(2)
    twice = lambda ids, g: schedsim.Feedback(prompt_ids=ids, rewards=np.full((ids.size, g), 2.0))  # noqa: E731
    s = schedsim.make_scheduler("dots", pool=pool, seed=0, probe=twice)
    with pytest.raises(schedsim.FeedbackError, match=r"^dots needs rewards in \[0, 1\] \(pass/fail\); got 2.0$"):
        s.select(2)
    with pytest.raises(schedsim.FeedbackError, match=r"^dots needs rewards in \[0, 1\]"):
        s.observe(schedsim.Feedback(prompt_ids=np.array([0]), rewards=np.array([[2.0, 0.0]])))


def test_least_squares_line_by_hand() -> None:
    from schedsim.schedulers.dots import least_squares_line

    assert least_squares_line(np.zeros(0), np.zeros(0)) == (1.0, 0.0)  # no reference: the identity
    assert least_squares_line(np.array([0.3]), np.array([0.6])) == (0.0, pytest.approx(0.6))  # flat x: the mean
    slope, intercept = least_squares_line(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 2.0]))
    assert (slope, intercept) == (pytest.approx(0.5), pytest.approx(1.5))


def test_predict_base_from_one_reference_and_from_categories_without_one() -> None:
    feats = schedsim.PromptPool(n=6, category=[0, 1, 0, 1, 2, 2], features=np.arange(12.0).reshape(6, 2) ** 1.5)
    for predictor in ("attention", "category"):
        s = schedsim.make_scheduler(f"dots:predictor={predictor}", pool=feats, seed=0)
        np.testing.assert_allclose(s.predict_base(np.array([2]), np.array([0.75])), np.full(6, 0.75))
    # categories: 0 has one reference (0.2), 1 has two (0.6, 1.0), 2 has none (the mean label, 0.6)
    s = schedsim.make_scheduler("dots:predictor=category", pool=feats, seed=0)
    base = s.predict_base(np.array([0, 1, 3]), np.array([0.2, 0.6, 1.0]))
    np.testing.assert_allclose(base, [0.2, 0.8, 0.2, 0.8, 0.6, 0.6])
    np.testing.assert_array_equal(s.predict_base(np.zeros(0, dtype=np.int64), np.zeros(0)), np.full(6, 0.5))
    # a sharp attention (temperature 1e-3): scores in the thousands, each row shifted by its own maximum
    sharp = schedsim.make_scheduler("dots:predictor=attention,temperature=0.001", pool=feats, seed=0)
    base = sharp.predict_base(np.array([0, 5]), np.array([0.1, 0.9]))
    assert np.isfinite(base).all() and base[0] == pytest.approx(0.1) and base[5] == pytest.approx(0.9)


def test_estimates_are_clipped_and_state_loads_integer_lists_as_floats() -> None:
    pool = schedsim.PromptPool(n=4)
    s = schedsim.make_scheduler("dots", pool=pool, seed=0)
    s.p = np.array([-0.2, 0.5, 1.3, 1.0])  # a calibration line may leave [0, 1]
    np.testing.assert_array_equal(s.estimates(), [0.0, 0.5, 1.0, 1.0])
    state = s.state_dict()
    body = {**state["body"], "p": [0, 1, 0, 1], "weights": [1, 0, 0, 0], "last": [0, 0, 1, 1], "replayed": 3}
    s.load_state_dict({**state, "body": body})
    assert s.p.dtype == s.weights.dtype == s.last.dtype == np.float64
    assert s.p.tolist() == [0.0, 1.0, 0.0, 1.0] and s.last.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert s.metrics()["sched/replayed"] == 3.0


def test_reference_rollouts_are_charged_in_a_real_run() -> None:
    spec = "dots:ref_size=8,sigma=1"  # no replay: every group fresh
    config = small_run(spec)
    last = run_unit(config, spec, 0).iloc[-1]
    # a round = 8 x 8 reference rollouts + 2 steps x 16 x 4 = 192: 15 rounds spend 2880; the 16th round's
    # references (64, 2944 in all) fit, its first step (64 more) would not: the run stops at 30 steps
    assert (int(last["step"]), last["sched/rounds"]) == (30, 16.0)
    assert last["selection_rollouts"] == last["sched/ref_rollouts"] == 16 * 64
    assert last["rollouts"] == 30 * 64 + 16 * 64 == 2944


def test_replay_serves_the_latest_mixed_group_of_each_prompt_after_the_first_round() -> None:
    # successes of 4 per prompt: groups with 0 or 4 (all-equal) are never replayed
    pool = schedsim.PromptPool(n=12, category=CATEGORY)
    spec = "dots:mu=2,ref_size=2,probe_group=4,sigma=0.25,buffer_size=5"
    s, _, world = build(spec, SUCCESSES, pool)
    assert s.replays and s.replay(4) is None  # nothing buffered, first round
    for step in range(2):  # the first round: mu = 2 steps of 4 fresh prompts, nothing replayed
        ids = s.select(4)
        fb = world.rollout(ids, 4)
        s.observe(fb)
        if step == 0:
            assert s.replay(4) is None  # still the first round
    assert s.buffer.size == 5  # 8 groups observed, the newest 5 kept
    kept_ids, kept_rows = s.buffer.ids.copy(), s.buffer.rewards.copy()
    latest = {int(pid): row for pid, row in zip(kept_ids, kept_rows, strict=True)}  # later rows overwrite
    eligible = {pid for pid, row in latest.items() if 0 < row.mean() < 1}
    stale = s.replay(4)  # k - max(1, round(0.25 * 4)) = 3 wanted
    assert stale.m == min(3, len(eligible)) and set(stale.prompt_ids.tolist()) <= eligible
    assert np.unique(stale.prompt_ids).size == stale.m
    for pid, row in zip(stale.prompt_ids, stale.rewards, strict=True):
        np.testing.assert_array_equal(row, latest[int(pid)])
    assert s.metrics()["sched/replayed"] == stale.m and s.metrics()["sched/buffer"] == 5.0
    # the state round-trips the buffer: a restored copy replays the same groups
    twin = schedsim.make_scheduler(spec, pool=pool, seed=1, probe=ProbeMeter(world))
    state = s.state_dict()
    again = s.replay(4)
    twin.load_state_dict(state)
    assert twin.replay(4).prompt_ids.tolist() == again.prompt_ids.tolist()


def test_replay_dedupes_by_prompt_keeping_the_latest_group() -> None:
    pool = schedsim.PromptPool(n=3)
    s = schedsim.make_scheduler("dots:buffer_size=8,sigma=0.5", pool=pool, seed=0)
    s.observe(schedsim.Feedback(prompt_ids=np.array([0, 1]), rewards=np.array([[1.0, 0.0], [1.0, 0.0]])))
    s.observe(schedsim.Feedback(prompt_ids=np.array([0]), rewards=np.array([[1.0, 1.0]])))  # 0 now all-correct
    s._last_stats["rounds"] = 2.0  # past the first round
    for _ in range(5):
        assert s.replay(4).prompt_ids.tolist() == [1]  # 0's latest group has p̂ = 1: not eligible


def test_replay_waits_for_the_first_round_to_end_and_counts_what_it_served() -> None:
    pool = schedsim.PromptPool(n=12, category=CATEGORY)
    s, _, world = build("dots:mu=1,ref_size=2,probe_group=4,sigma=0.5", SUCCESSES, pool)
    s.observe(world.rollout(s.select(3), 4))  # round 1: a queue of mu x k = 3, all served
    s.select(2)  # k = 2 > 1 left: round 2 starts, 2 of its 2 served
    s.observe(world.rollout(np.array([1, 2, 5]), 4))  # mixed groups buffered
    s._last_stats["rounds"] = 1.0  # as if still in round 1, with one prompt of its queue left
    s.queue = np.array([7], dtype=np.int64)
    assert s.replay(2) is None and s.metrics()["sched/replayed"] == 0.0  # one prompt left: still the first round
    s.queue = np.zeros(0, dtype=np.int64)
    stale = s.replay(4)  # the round is spent: 4 - round(0.5 x 4) = 2 replayed
    assert stale.m == 2 and s.metrics()["sched/replayed"] == 2.0
    s.buffer = type(s.buffer)(4)  # an empty buffer: nothing to serve, and the count goes back to 0
    assert s.replay(4) is None and s.metrics()["sched/replayed"] == 0.0


def test_replayed_groups_are_trained_on_for_free_in_a_real_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from schedsim.envs.bandit.env import BanditEnv
    from schedsim.schedulers.dots import DOTSScheduler

    learned, replayed = [], []
    real_learn, real_replay = BanditEnv.learn, DOTSScheduler.replay

    def learn(self, feedback, weights=None, reduction=None):
        learned.append(feedback.m)
        return real_learn(self, feedback, weights, reduction)

    def replay(self, k):
        out = real_replay(self, k)
        replayed.append(0 if out is None else out.m)
        return out

    monkeypatch.setattr(BanditEnv, "learn", learn)
    monkeypatch.setattr(DOTSScheduler, "replay", replay)
    spec = "dots:ref_size=8,sigma=0.5"
    config = small_run(spec)
    last = run_unit(config, spec, 0).iloc[-1]
    # round 0: 64 reference + 2 x 16 x 4 fresh = 192; then rounds of 64 reference + 2 steps of 8 fresh x 4 (8 of
    # the 16 groups replayed): 128 each. 21 such rounds reach 2880; the 22nd starts (64 + 32 = 2976) and the next
    # step could not afford a full batch (2976 + 64 > 3000): 45 steps, 23 rounds
    assert learned == [16] * 45 and replayed[:2] == [0, 0] and replayed[2:45] == [8] * 43
    assert (int(last["step"]), last["sched/rounds"]) == (45, 23.0)
    assert last["selection_rollouts"] == 23 * 64 and last["rollouts"] == 2976 == 23 * 64 + 2 * 64 + 43 * 32


def test_replay_needs_an_environment_that_learns_replayed_groups() -> None:
    from schedsim.integrations import refuse_replay

    with pytest.raises(schedsim.ParameterError, match="'dots' trains on replayed groups, which environment 'arith'"):
        RunConfig(schedulers=("dots",), env="arith", seeds=1)
    RunConfig(schedulers=("dots:sigma=1",), env="arith", seeds=1)  # no replay: accepted
    with pytest.raises(schedsim.SchedsimError, match="the TRL adapter cannot"):
        refuse_replay(schedsim.make_scheduler("dots", pool=schedsim.PromptPool(n=4), seed=0), "TRL")
    refuse_replay(schedsim.make_scheduler("dots:sigma=1", pool=schedsim.PromptPool(n=4), seed=0), "TRL")


def test_list_and_check_show_dots_and_ads() -> None:
    from typer.testing import CliRunner

    from schedsim.cli import app

    listed = CliRunner().invoke(app, ["list"]).output
    for name, paper in (("dots", "2506.05316"), ("ads", "2606.22305")):
        assert any(line.startswith(name) and paper in line for line in listed.splitlines())
    for spec in ("dots:ref_size=4,alpha=0.3", "ads:window=3,eps=0.1"):
        checked = CliRunner().invoke(app, ["check", spec])
        assert checked.exit_code == 0 and "passed 9 checks" in checked.output


REPLAY_CALLS: list[int] = []


class CountedDOTS(DOTSScheduler):
    def replay(self, k):
        out = super().replay(k)
        REPLAY_CALLS.append(0 if out is None else out.m)
        return out


class TooManyDOTS(DOTSScheduler):
    def replay(self, k):
        out = super().replay(k)
        if out is None:
            return None
        return schedsim.Feedback(prompt_ids=np.arange(k + 1), rewards=np.full((k + 1, 2), 0.5))


class UnseededDOTS(DOTSScheduler):
    def replay(self, k):
        out = super().replay(k)
        if out is None:
            return None
        pick = np.random.default_rng().permutation(out.m)  # not from the scheduler's generator
        return schedsim.Feedback(prompt_ids=out.prompt_ids[pick], rewards=out.rewards[pick])


def test_the_checker_runs_replay_and_catches_a_broken_one() -> None:
    from schedsim.checks import SyntheticProbe, check_scheduler, default_pool

    pool = default_pool()
    probe = SyntheticProbe(pool.n)
    REPLAY_CALLS.clear()
    assert len(check_scheduler(CountedDOTS(pool, seed=0, probe=probe))) == 9
    assert max(REPLAY_CALLS) == 4  # k = 8, sigma = 0.5: half of a batch replayed once the first round is over
    with pytest.raises(schedsim.ConformanceError, match=r"replay\(8\) returned Feedback; accepted: None or a Feedback"):
        check_scheduler(TooManyDOTS(pool, seed=0, probe=probe))
    with pytest.raises(schedsim.ConformanceError, match="replayed groups differ"):
        check_scheduler(UnseededDOTS(pool, seed=0, probe=probe), checks=["state_roundtrip"])


class GreedyReplayDOTS(DOTSScheduler):
    def replay(self, k):
        out = super().replay(k)
        if out is None:
            return None
        rows = np.resize(np.arange(out.m), k)  # k groups: nothing left to roll out
        return schedsim.Feedback(prompt_ids=out.prompt_ids[rows], rewards=out.rewards[rows])


def test_a_step_must_keep_one_fresh_group(monkeypatch: pytest.MonkeyPatch) -> None:
    import schedsim.runner.loop as loop

    monkeypatch.setattr(loop, "make_scheduler", lambda spec, **kw: GreedyReplayDOTS(kw.pop("pool"), **kw))
    config = small_run("dots")
    with pytest.raises(
        schedsim.SchedsimError, match="'dots' replayed 16 groups for a batch of 16; accepted: at most 15"
    ):
        run_unit(config, "dots", 0)


def test_uniform_replay_control_trains_half_replayed_batches_for_free() -> None:
    spec = "uniform-replay"
    config = small_run(spec, "uniform")
    last = run_unit(config, spec, 0).iloc[-1]
    # steps 1-2: 16 fresh (128 rollouts); then 8 fresh + 8 replayed (32 each) while a full batch (64) still fits
    # in the budget: 128 + 88 x 32 = 2944; 90 steps against uniform's 46 (46 x 64 = 2944)
    assert (int(last["step"]), last["rollouts"], last["sched/replayed"]) == (90, 2944, 8.0)
    assert int(run_unit(config, "uniform", 0).iloc[-1]["step"]) == 46
    s = schedsim.make_scheduler(
        "uniform-replay:sigma=0.25,start=1,buffer_size=3", pool=schedsim.PromptPool(n=8), seed=0
    )
    assert s.replay(8) is None  # the first step is fresh
    s.observe(schedsim.Feedback(prompt_ids=np.arange(5), rewards=np.array([[1.0, 0.0]] * 4 + [[1.0, 1.0]])))
    stale = s.replay(8)  # 8 - max(1, round(2)) = 6 wanted; buffer keeps ids 2, 3, 4; 4 is all-correct
    assert stale.prompt_ids.tolist() == [2, 3]


def test_uniform_replay_defaults_seed_counts_and_bad_values() -> None:
    pool = schedsim.PromptPool(n=8)
    s = schedsim.make_scheduler("uniform-replay", pool=pool, seed=0)
    assert (s.sigma, s.buffer_size, s.start, s.replays) == (0.5, 512, 2, True)
    m = s.metrics()
    assert (m["sched/replayed"], m["sched/buffer"]) == (0.0, 0.0)
    s.observe(schedsim.Feedback(prompt_ids=np.arange(4), rewards=np.array([[1.0, 0.0]] * 4)))
    assert s.replay(4) is None and s.metrics()["sched/replayed"] == 0.0  # within the first `start` steps
    picks = [schedsim.make_scheduler("uniform-replay", pool=pool, seed=seed).select(4).tolist() for seed in (1, 1, 2)]
    assert picks[0] == picks[1] != picks[2]  # the epoch shuffle comes from the scheduler's seed
    assert schedsim.make_scheduler("uniform-replay:sigma=1", pool=pool).replays is False
    s = schedsim.make_scheduler("uniform-replay:start=0,sigma=0.5", pool=pool, seed=0)  # replay from the first step
    assert s.replay(4) is None and s.metrics()["sched/replayed"] == 0.0  # nothing buffered yet
    s.observe(schedsim.Feedback(prompt_ids=np.arange(4), rewards=np.array([[1.0, 0.0]] * 4)))
    assert s.replay(4).m == 2 and s.metrics() == {**s.metrics(), "sched/replayed": 2.0, "sched/buffer": 4.0}
    state = s.state_dict()
    assert s.replay(1) is None and s.metrics()["sched/replayed"] == 0.0  # 1 - max(1, round(0.5)) = 0 wanted
    s.load_state_dict(state)
    assert s.metrics()["sched/replayed"] == 2.0
    for spec, message in [
        ("uniform-replay:sigma=0", "sigma=0.0 is out of range; accepted: a number in (0, 1]"),
        ("uniform-replay:sigma=1.5", "sigma=1.5 is out of range; accepted: a number in (0, 1]"),
        ("uniform-replay:start=-1", "start=-1 is out of range; accepted: an integer in [0, inf)"),
        ("uniform-replay:buffer_size=0", "buffer_size=0 is out of range; accepted: an integer in [1, inf)"),
    ]:
        with pytest.raises(schedsim.ParameterError, match="^" + re.escape(f"uniform-replay: {message}") + "$"):
            schedsim.make_scheduler(spec, pool=pool, seed=0)


# -- the replay buffer itself -----------------------------------------------------------------------------------
def test_group_buffer_pads_keeps_the_newest_and_refuses_a_bad_capacity() -> None:
    from schedsim.rules.replay import GroupBuffer

    with pytest.raises(schedsim.ParameterError, match="buffer_size=0"):
        GroupBuffer(0)
    buf = GroupBuffer(3)
    assert buf.size == 0 and buf.ids.dtype == np.int64 and buf.rewards.shape == (0, 0)
    assert buf.sample(2, np.random.default_rng(0)) is None  # empty
    buf.add(schedsim.Feedback(prompt_ids=np.empty(0, dtype=np.int64), rewards=np.empty((0, 2))))
    assert buf.size == 0 and buf.rewards.shape == (0, 0)  # an empty batch adds nothing
    buf.add(schedsim.Feedback(prompt_ids=np.array([7]), rewards=np.array([[1.0, 0.0]])))
    assert buf.ids.tolist() == [7] and buf.rewards.shape == (1, 2)  # a single group is kept
    buf.add(schedsim.Feedback(prompt_ids=np.array([5, 6]), rewards=np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])))
    np.testing.assert_array_equal(buf.rewards[0], [1.0, 0.0, np.nan])  # the older, narrower row padded with NaN
    buf.add(schedsim.Feedback(prompt_ids=np.array([9]), rewards=np.array([[0.0, 1.0]])))
    assert buf.ids.tolist() == [5, 6, 9]  # capacity 3: the oldest (7) dropped
    np.testing.assert_array_equal(buf.rewards[2], [0.0, 1.0, np.nan])  # the newer, narrower row padded too
    assert not np.isnan(buf.rewards[:2]).any()


def test_group_buffer_sample_law_and_state() -> None:
    from schedsim.rules.replay import GroupBuffer

    buf = GroupBuffer(10)
    rows = [[1, 0], [1, 1], [0, 0], [1, 0], [0, 1], [1, np.nan], [0, 1]]
    buf.add(schedsim.Feedback(prompt_ids=np.array([0, 1, 2, 3, 1, 4, 0]), rewards=np.array(rows, dtype=float)))
    # latest per prompt: 0 -> row 6 (0.5), 1 -> row 4 (0.5), 2 -> row 2 (0: out), 3 -> row 3 (0.5), 4 -> row 5 (1: out)
    assert buf.sample(0, np.random.default_rng(0)) is None
    everything = buf.sample(10, np.random.default_rng(0))
    assert everything.prompt_ids.tolist() == [3, 1, 0]  # buffer order of rows 3, 4, 6
    np.testing.assert_array_equal(everything.rewards, [[1, 0], [0, 1], [0, 1]])
    got = buf.sample(2, np.random.default_rng(5))
    expected_rows = np.sort(np.random.default_rng(5).choice(np.array([3, 4, 6]), size=2, replace=False))
    assert got.prompt_ids.tolist() == buf.ids[expected_rows].tolist()  # uniform without replacement, seeded
    only_one = GroupBuffer(4)
    only_one.add(schedsim.Feedback(prompt_ids=np.array([2]), rewards=np.array([[0.0, 1.0]])))
    assert only_one.sample(3, np.random.default_rng(0)).prompt_ids.tolist() == [2]  # one eligible group
    none_mixed = GroupBuffer(4)
    none_mixed.add(schedsim.Feedback(prompt_ids=np.array([2, 3]), rewards=np.array([[0.0, 0.0], [1.0, 1.0]])))
    assert none_mixed.sample(3, np.random.default_rng(0)) is None
    twin = GroupBuffer(10)
    state = buf.state_dict()
    twin.load_state_dict({"ids": state["ids"].tolist(), "rewards": state["rewards"].tolist()})  # as JSON would hold it
    assert twin.ids.dtype == np.int64 and twin.ids.tolist() == buf.ids.tolist()
    np.testing.assert_array_equal(twin.rewards, buf.rewards)
    empty = GroupBuffer(2)
    empty.load_state_dict({"ids": [], "rewards": []})
    assert empty.rewards.shape == (0, 0) and empty.size == 0


def test_group_buffer_edges_single_capacity_single_draw_and_newest_group() -> None:
    from schedsim.rules.replay import GroupBuffer

    one = GroupBuffer(1)  # the smallest buffer
    one.add(schedsim.Feedback(prompt_ids=np.array([3, 4]), rewards=np.array([[1.0, 0.0], [0.0, 1.0]])))
    assert one.ids.tolist() == [4]
    buf = GroupBuffer(5)
    # prompt 0's old group is all-correct, its newest mixed: the newest is the one that counts
    buf.add(schedsim.Feedback(prompt_ids=np.array([0, 0, 1]), rewards=np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])))
    assert buf.sample(5, np.random.default_rng(0)).prompt_ids.tolist() == [0, 1]
    assert buf.sample(1, np.random.default_rng(0)).m == 1  # one group asked, one given
    empty = GroupBuffer(3)
    empty.load_state_dict({"ids": [], "rewards": []})  # an empty JSON list stays an integer id array
    empty.add(schedsim.Feedback(prompt_ids=np.array([2]), rewards=np.array([[0.0, 1.0]])))
    assert empty.ids.dtype == np.int64 and empty.sample(1, np.random.default_rng(0)).prompt_ids.tolist() == [2]


def test_dots_defaults_predictor_choice_and_bad_values() -> None:
    bare = schedsim.PromptPool(n=8)
    s = schedsim.make_scheduler("dots", pool=bare, seed=0)
    assert (s.alpha, s.tau, s.mu, s.ref_size, s.ref_ratio, s.probe_group) == (0.5, 1e-3, 2, None, 0.25, 8)
    assert (s.predictor, s.temperature, s.recalibrate, s.sigma, s.buffer_size, s.replays) == (
        "table",
        1.0,
        True,
        0.5,
        512,
        True,
    )
    np.testing.assert_array_equal(s.p, np.full(8, 0.5))
    world = FixedWorld([2] * 8)
    picks = [
        schedsim.make_scheduler("dots", pool=bare, seed=seed, probe=world.rollout).select(2).tolist()
        for seed in (3, 3, 4)
    ]
    assert picks[0] == picks[1] != picks[2]  # references and draws from the scheduler's seed
    m = s.metrics()
    assert (m["sched/replayed"], m["sched/buffer"]) == (0.0, 0.0)
    assert (m["sched/rounds"], m["sched/ref_rollouts"], m["sched/calib_slope"], m["sched/calib_intercept"]) == (
        0.0,
        0.0,
        1.0,
        0.0,
    )
    cats = schedsim.PromptPool(n=8, category=[0, 1] * 4)
    feats = schedsim.PromptPool(n=8, category=[0, 1] * 4, features=np.arange(16.0).reshape(8, 2))
    assert schedsim.make_scheduler("dots", pool=cats).predictor == "category"
    assert schedsim.make_scheduler("dots", pool=feats).predictor == "attention"
    assert schedsim.make_scheduler("dots:predictor=table", pool=feats).predictor == "table"
    assert schedsim.make_scheduler("dots:sigma=1", pool=bare).replays is False
    # edges accepted
    schedsim.make_scheduler("dots:alpha=0,mu=1,ref_size=1,probe_group=1,sigma=1,buffer_size=1", pool=bare)
    schedsim.make_scheduler("dots:alpha=1", pool=bare)
    for spec, pool, message in [
        ("dots:alpha=-0.1", bare, "alpha=-0.1 is out of range; accepted: a number in [0, 1]"),
        ("dots:alpha=1.5", bare, "alpha=1.5 is out of range; accepted: a number in [0, 1]"),
        ("dots:tau=0", bare, "tau=0.0 is out of range; accepted: a number in (0, inf)"),
        ("dots:mu=0", bare, "mu=0 is out of range; accepted: an integer in [1, inf)"),
        ("dots:ref_size=0", bare, "ref_size=0 is out of range; accepted: an integer in [1, inf)"),
        ("dots:ref_ratio=0", bare, "ref_ratio=0.0 is out of range; accepted: a number in (0, inf)"),
        ("dots:probe_group=0", bare, "probe_group=0 is out of range; accepted: an integer in [1, inf)"),
        (
            "dots:predictor=mlp",
            bare,
            "predictor='mlp' is not accepted; accepted: 'auto', 'attention', 'category', 'table'",
        ),
        (
            "dots:predictor=attention",
            cats,
            "predictor 'attention' needs pool features; accepted: PromptPool(n, features=...)",
        ),
        (
            "dots:predictor=category",
            bare,
            "predictor 'category' needs pool categories; accepted: PromptPool(n, category=...)",
        ),
        ("dots:temperature=0", bare, "temperature=0.0 is out of range; accepted: a number in (0, inf)"),
        ("dots:sigma=0", bare, "sigma=0.0 is out of range; accepted: a number in (0, 1]"),
        ("dots:sigma=1.5", bare, "sigma=1.5 is out of range; accepted: a number in (0, 1]"),
        ("dots:buffer_size=0", bare, "buffer_size=0 is out of range; accepted: an integer in [1, inf)"),
    ]:
        with pytest.raises(schedsim.ParameterError, match="^" + re.escape(f"dots: {message}") + "$"):
            schedsim.make_scheduler(spec, pool=pool, seed=0)
    with pytest.raises(schedsim.ParameterError, match=r"^dots: probe=3 is not callable; accepted: a function probe"):
        schedsim.make_scheduler("dots", pool=bare, seed=0, probe=3)
