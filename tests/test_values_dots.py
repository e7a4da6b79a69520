"""dots by value: a stub world of fixed rewards probed through the runner's meter, so the reference labels, the
predicted pass rates, the selection law, the chosen ids and the charged rollouts are exact numbers."""

from __future__ import annotations

import numpy as np
import pytest

import schedsim
from schedsim.runner import RunConfig, run_unit
from schedsim.runner.loop import ProbeMeter


class FixedWorld:
    """An environment whose prompt i always gets ``successes[i]`` ones then zeros; records every rollout call."""

    def __init__(self, successes: list[int]) -> None:
        self.successes = np.array(successes)
        self.calls: list[list[int]] = []

    def rollout(self, ids: np.ndarray, group: int) -> schedsim.Feedback:
        self.calls.append(ids.tolist())
        rewards = (np.arange(group)[None, :] < self.successes[ids][:, None]).astype(float)
        return schedsim.Feedback(prompt_ids=ids, rewards=rewards)


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
    with pytest.raises(schedsim.SchedsimError, match="probe"):
        s.select(1)


def test_reference_rollouts_are_charged_in_a_real_run() -> None:
    spec = "dots:ref_size=8"
    config = RunConfig(
        schedulers=(spec,),
        env="bandit:n_train=200,n_test=100",
        seeds=1,
        budget=3000,
        batch=16,
        group=4,
        eval_every=1000,
    )
    last = run_unit(config, spec, 0).iloc[-1]
    # a round = 8 x 8 reference rollouts + 2 steps x 16 x 4 = 192: 15 rounds spend 2880; the 16th round's
    # references (64, 2944 in all) fit, its first step (64 more) would not: the run stops at 30 steps
    assert (int(last["step"]), last["sched/rounds"]) == (30, 16.0)
    assert last["selection_rollouts"] == last["sched/ref_rollouts"] == 16 * 64
    assert last["rollouts"] == 30 * 64 + 16 * 64 == 2944


def test_list_and_check_show_dots_and_ads() -> None:
    from typer.testing import CliRunner

    from schedsim.cli import app

    listed = CliRunner().invoke(app, ["list"]).output
    for name, paper in (("dots", "2506.05316"), ("ads", "2606.22305")):
        assert any(line.startswith(name) and paper in line for line in listed.splitlines())
    for spec in ("dots:ref_size=4,alpha=0.3", "ads:window=3,eps=0.1"):
        checked = CliRunner().invoke(app, ["check", spec])
        assert checked.exit_code == 0 and "passed 9 checks" in checked.output
