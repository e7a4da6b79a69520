"""The bandit simulator's training path checked against its closed forms (docs/theory.md §1, §6).

Every expected value here is computed from the binary-reward algebra, not from ``gradient_terms``: for a full group of
G rewards with mean r̄ and v = r̄(1 − r̄), the reward coefficient a = (1/G) Σ_j A_j r_j and the noise scale
c² = Σ_j A_j² / G² are

    mean: a = v,                       c² = v / G
    rloo: a = G/(G−1) v,               c² = (G/(G−1))² v / G
    grpo: a = v / (s_u + 1e-6),        c² = v / (G (s_u + 1e-6)²),   s_u = sqrt(G/(G−1) v)  (torch.std, unbiased)

and one SGD step without clipping moves theta by lr · (Σ_i w_i a_i φ_i + σ_s sqrt(Σ_i w_i² c_i²) z) / groups, with
z the standard-normal draw the environment makes and groups = m (``all``) or the number of mixed groups (``mixed``).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

import schedsim
from schedsim.analysis.snr import analytic_moments, analytic_snr
from schedsim.envs.bandit import BanditConfig, BanditEnv
from schedsim.envs.bandit.learner import Optimiser

EPS = 1e-6  # verl's std epsilon


def closed_form(rewards: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(a, c²)`` per full binary group, from r̄ alone (see the module docstring)."""
    g = rewards.shape[1]
    v = rewards.mean(axis=1) * (1 - rewards.mean(axis=1))
    if kind == "mean":
        return v, v / g
    if kind == "rloo":
        k = g / (g - 1)
        return k * v, k * k * v / g
    sd = np.sqrt(g / (g - 1) * v)
    return v / (sd + EPS), v / (g * (sd + EPS) ** 2)


def sgd_env(**overrides) -> BanditEnv:
    """A small simulator with plain SGD (lr 1), no clipping, no head: one step is the closed form exactly."""
    kw = {"n_train": 12, "n_test": 4, "optimizer": "sgd", "lr": 1.0, "clip": 0.0, "head": "none"} | overrides
    return BanditEnv(BanditConfig(**kw), seed=5)


def fb(ids: list[int], rewards: list[list[float]]) -> schedsim.Feedback:
    return schedsim.Feedback(prompt_ids=np.array(ids), rewards=np.array(rewards, dtype=float))


def expected_step(env: BanditEnv, feedback: schedsim.Feedback, weights: np.ndarray, reduction: str) -> np.ndarray:
    """Closed-form theta change of one SGD step (lr, no clip), using the z the env's generator will draw next."""
    cfg = env.config
    a, c2 = closed_form(feedback.rewards, cfg.advantage)
    z = copy.deepcopy(env.rng).standard_normal(env.theta.shape[0])  # learn() draws its score noise first
    phi = env.train.features[feedback.prompt_ids]
    direction = (weights * a) @ phi + cfg.score_noise * np.sqrt(np.sum(weights**2 * c2)) * z
    r = feedback.rewards
    groups = (r.min(axis=1) != r.max(axis=1)).sum() if reduction == "mixed" else r.shape[0]
    return cfg.lr * direction / max(groups, 1)


# -- hand-computed single-prompt steps (one-hot features: theta[i] moves by lr * w * a / groups) ----------------
@pytest.mark.parametrize(
    ("advantage", "a_one_of_four"),
    [
        ("mean", 0.1875),  # r̄ = 1/4: v = 3/16
        ("rloo", 0.25),  # 4/3 * 3/16
        ("grpo", 0.1875 / (0.5 + EPS)),  # s_u = sqrt(4/3 * 3/16) = 1/2 (population std would be 0.433)
    ],
)
def test_one_hot_step_is_lr_times_weight_times_a_over_groups(advantage: str, a_one_of_four: float) -> None:
    env = sgd_env(features="onehot", n_train=4, score_noise=0.0, advantage=advantage)
    feedback = fb([0, 1, 2], [[1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])  # one mixed group of three
    env.learn(feedback, weights=np.array([2.0, 1.0, 1.0]), reduction="all")
    np.testing.assert_allclose(env.theta, [2 * a_one_of_four / 3, 0, 0, 0], rtol=1e-12, atol=1e-15)
    mixed = sgd_env(features="onehot", n_train=4, score_noise=0.0, advantage=advantage)
    mixed.learn(feedback, weights=np.array([2.0, 1.0, 1.0]), reduction="mixed")
    np.testing.assert_allclose(mixed.theta, [2 * a_one_of_four / 1, 0, 0, 0], rtol=1e-12, atol=1e-15)


def test_one_hot_repeated_ids_add_up() -> None:
    env = sgd_env(features="onehot", n_train=4, score_noise=0.0, advantage="mean")
    env.learn(fb([3, 3, 1], [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]]))  # a = 1/4, 3/16, 3/16
    np.testing.assert_allclose(env.theta, [0, 0.1875 / 3, 0, (0.25 + 0.1875) / 3])


# -- the closed form with features, noise, weights and both reductions --------------------------------------------
@pytest.mark.parametrize("advantage", ["grpo", "mean", "rloo"])
@pytest.mark.parametrize("reduction", ["all", "mixed"])
def test_learn_matches_closed_form_with_noise_and_weights(advantage: str, reduction: str) -> None:
    env = sgd_env(advantage=advantage, score_noise=0.7)
    feedback = fb(
        [0, 4, 4, 7, 9], [[1, 0, 0, 0, 0], [1, 1, 1, 0, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 1, 0, 0, 0]]
    )
    weights = np.array([0.5, 2.0, 1.0, 3.0, 1.5])  # weights on unmixed groups scale nothing: a = c = 0 there
    expected = expected_step(env, feedback, weights, reduction)
    before = env.theta.copy()
    out = env.learn(feedback, weights=weights, reduction=reduction)
    np.testing.assert_allclose(env.theta - before, expected, rtol=1e-10)
    assert out["train/mixed_frac"] == pytest.approx(3 / 5)
    assert out["train/grad_norm"] == pytest.approx(np.linalg.norm(expected))  # lr = 1: the averaged direction


def test_config_reduction_is_the_default_and_an_explicit_one_overrides_it() -> None:
    feedback = fb([0, 1, 2, 3], [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])  # 2 mixed of 4
    steps = {}
    for cfg_red, arg in [("mixed", None), ("all", None), ("mixed", "all"), ("all", "mixed")]:
        env = sgd_env(advantage="mean", score_noise=0.0, reduction=cfg_red)
        env.learn(feedback, reduction=arg)
        steps[cfg_red, arg] = env.theta.copy()
    np.testing.assert_allclose(steps["mixed", None], 2 * steps["all", None])  # divided by 2 groups, not 4
    np.testing.assert_allclose(steps["mixed", "all"], steps["all", None])
    np.testing.assert_allclose(steps["all", "mixed"], steps["mixed", None])


def test_uniform_mixed_control_asks_for_the_mixed_reduction() -> None:
    pool = schedsim.PromptPool(n=4)
    assert schedsim.make_scheduler("uniform-mixed", pool=pool).loss_reduction == "mixed"
    assert getattr(schedsim.make_scheduler("uniform", pool=pool), "loss_reduction", None) in (None, "all")


def test_mixed_reduction_with_no_mixed_group_takes_no_step() -> None:
    env = sgd_env(advantage="grpo", score_noise=1.0, reduction="mixed")
    env.learn(fb([0, 1], [[1, 1, 1], [0, 0, 0]]))  # A = 0 everywhere: no signal, no noise, nothing to divide
    np.testing.assert_array_equal(env.theta, 0.0)


def test_configured_score_noise_and_lr_scale_the_step() -> None:
    feedback = fb([2, 5], [[1, 0, 0, 0], [1, 1, 0, 0]])
    env = sgd_env(advantage="mean", score_noise=2.5, lr=0.3)
    expected = expected_step(env, feedback, np.ones(2), "all")
    env.learn(feedback)
    np.testing.assert_allclose(env.theta, expected, rtol=1e-10)


def test_clipping_rescales_the_mean_direction_to_the_clip_norm() -> None:
    feedback = fb([2, 5], [[1, 0, 0, 0], [1, 1, 0, 0]])
    free = sgd_env(advantage="mean", score_noise=1.0)
    raw = expected_step(free, feedback, np.ones(2), "all")
    clipped = sgd_env(advantage="mean", score_noise=1.0, clip=0.25 * np.linalg.norm(raw))
    out = clipped.learn(feedback)
    np.testing.assert_allclose(clipped.theta, raw / 4, rtol=1e-10)  # same direction, a quarter of the norm
    assert out["train/grad_norm"] == pytest.approx(np.linalg.norm(raw))  # reported before clipping


def test_drift_and_forgetting_in_that_order() -> None:
    env = sgd_env(advantage="mean", score_noise=0.0, forget=0.2, drift=0.05)
    env.theta[:] = 2.0
    rng = copy.deepcopy(env.rng)
    rng.standard_normal(env.theta.shape[0])  # the (zero-scaled) score-noise draw comes first
    drift = rng.standard_normal(env.theta.shape[0])
    env.learn(fb([0], [[1, 1]]))  # no signal
    np.testing.assert_allclose(env.theta, 0.8 * 2.0 + 0.05 * drift)  # theta0 = 0: pulled back 20 %, then drift


# -- the log Z head's target (trajectory balance) ------------------------------------------------------------------
class RecordingHead:
    """Stands in for the log Z head: predicts fixed u = beta log Z values and records every fit call."""

    def __init__(self, u: np.ndarray) -> None:
        self.u = np.asarray(u, dtype=float)
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def predict(self, ids: np.ndarray) -> np.ndarray:
        return self.u[ids]

    def fit(self, ids: np.ndarray, targets: np.ndarray) -> None:
        self.calls.append((np.array(ids), np.array(targets)))


def logratio(y: np.ndarray, p_new: np.ndarray, p_old: np.ndarray) -> np.ndarray:
    """log π_new(y) − log π_old(y) for outcome policies Bernoulli(p)."""
    return np.where(y == 1, np.log(p_new / p_old), np.log((1 - p_new) / (1 - p_old)))


def test_head_target_is_mean_reward_minus_kl_coef_times_logratio() -> None:
    env = sgd_env(advantage="mean", score_noise=0.0, lr=20.0, kl_coef=0.03)
    env.head = RecordingHead(np.linspace(0.1, 0.9, 12))
    ids = np.array([1, 6, 6, 10])
    rewards = np.array([[1, 0, 0, 0], [1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 0]], dtype=float)
    p_old = env.pass_rates(ids)
    env.learn(schedsim.Feedback(prompt_ids=ids, rewards=rewards))
    p_new = env.pass_rates(ids)
    assert np.abs(p_new - p_old).max() > 0.05  # the policy moved, so the KL term matters
    target = (rewards - 0.03 * logratio(rewards, p_new[:, None], p_old[:, None])).mean(axis=1)
    assert len(env.head.calls) == 1
    fit_ids, fit_targets = env.head.calls[0]
    np.testing.assert_array_equal(fit_ids, ids)
    np.testing.assert_allclose(fit_targets, target, rtol=1e-9)
    assert np.abs(fit_targets - rewards.mean(axis=1)).max() > 1e-3  # dropping the KL term would be seen
    kl = p_old * np.log(p_old / p_new) + (1 - p_old) * np.log((1 - p_old) / (1 - p_new))
    assert env.evaluate()["train/kl"] == pytest.approx(kl.mean(), rel=1e-9)


def test_log_z_reads_the_head_divided_by_kl_coef_and_rides_along_rollouts() -> None:
    env = sgd_env(kl_coef=0.03)
    env.head = RecordingHead(np.linspace(0.0, 0.33, 12))
    np.testing.assert_allclose(env.log_z(np.array([0, 11])), [0.0, 11.0])  # 0.33 / 0.03
    out = env.rollout(np.array([11, 0, 11]), 3)
    np.testing.assert_allclose(out.log_z, [11.0, 0.0, 11.0])
    assert out.rewards.shape == (3, 3)


def test_head_calibration_metrics_clip_the_estimate() -> None:
    env = sgd_env(kl_coef=0.03)
    p = env.pass_rates()
    env.head = RecordingHead(0.5 * p + 0.25)  # error 0.25 - 0.5 p, inside [0, 1]
    ev = env.evaluate()
    assert ev["head/bias"] == pytest.approx(0.25 - 0.5 * p.mean())
    assert ev["head/calib_abs_err"] == pytest.approx(np.abs(0.25 - 0.5 * p).mean())
    env.head = RecordingHead(np.where(np.arange(12) < 6, 3.0, -1.0))  # clipped to 1 and to 0
    ev = env.evaluate()
    assert ev["head/bias"] == pytest.approx(((1 - p[:6]).sum() - p[6:].sum()) / 12)


def test_replayed_successes_enter_the_update_and_the_head_fit() -> None:
    env = sgd_env(advantage="mean", score_noise=0.0, replay=True, replay_weight=0.5)
    env.head = RecordingHead(np.full(12, 0.2))  # p_hat = 0.2 for every prompt
    env.replay = schedsim.AccuracyErrorReplay(capacity=1, add_per_step=1, replay_per_step=4, seed=0)
    feedback = fb([3], [[1, 1, 1, 0]])  # priority |0.75 - 0.2|; the one success kept is replayed at once
    p = env.pass_rates(np.array([3]))[0]
    phi = env.train.features[3]
    env.learn(feedback)
    a_fresh = 0.75 * 0.25
    a_replay = 0.5 * 1.0 * (1 - 0.2) * (1 - p)  # replay_weight * IS weight * (1 - p_hat) * (1 - p)
    np.testing.assert_allclose(env.theta, (a_fresh + a_replay) * phi / 2, rtol=1e-10)  # 2 groups: fresh + replay
    fit_ids, fit_targets = env.head.calls[0]
    np.testing.assert_array_equal(fit_ids, [3, 3])
    assert fit_targets[1] == 1.0  # a replayed success has r = 1


# -- the optimiser -------------------------------------------------------------------------------------------------
def test_sgd_clip_and_adam_two_steps_by_hand() -> None:
    sgd = Optimiser(2, "sgd", 0.1, clip=1.0)
    step, norm = sgd.step(np.array([3.0, 4.0]))
    np.testing.assert_allclose(step, [0.06, 0.08])  # clipped to norm 1, times lr
    assert norm == 5.0
    step, _ = Optimiser(2, "sgd", 0.1, clip=0.0).step(np.array([3.0, 4.0]))
    np.testing.assert_allclose(step, [0.3, 0.4])
    adam = Optimiser(2, "adam", 0.1, clip=0.0)
    d1, d2 = np.array([1.0, -2.0]), np.array([3.0, 1.0])
    np.testing.assert_allclose(adam.step(d1)[0], 0.1 * d1 / (np.abs(d1) + 1e-8))  # first step: lr * sign
    m = (0.9 * 0.1 * d1 + 0.1 * d2) / (1 - 0.9**2)  # betas 0.9 / 0.99 with bias correction
    v = (0.99 * 0.01 * d1**2 + 0.01 * d2**2) / (1 - 0.99**2)
    np.testing.assert_allclose(adam.step(d2)[0], 0.1 * m / (np.sqrt(v) + 1e-8))


# -- the exact SNR curve against an independent formula --------------------------------------------------------------
def independent_moments(p: np.ndarray, g: int, d: int, sigma: float, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(‖E g‖², tr Cov g) with ‖φ‖ = 1 by summing the closed forms over s ~ Binomial(G, p)."""
    s = np.arange(g + 1)
    groups = (np.arange(g)[None, :] < s[:, None]).astype(float)
    a, c2 = closed_form(groups, kind)
    pmf = binom.pmf(s[None, :], g, p[:, None])
    mean_a = pmf @ a
    return mean_a**2, pmf @ a**2 - mean_a**2 + d * sigma**2 * (pmf @ c2)


@pytest.mark.parametrize("kind", ["grpo", "rloo", "mean"])
@pytest.mark.parametrize(("g", "sigma"), [(4, 1.0), (8, 0.3), (8, 0.0)])
def test_exact_snr_curve_matches_an_independent_formula(kind: str, g: int, sigma: float) -> None:
    p = np.linspace(0.03, 0.97, 17)
    signal, trace = analytic_moments(p, group=g, dim=16, score_noise=sigma, advantage=kind)
    want_signal, want_trace = independent_moments(p, g, 16, sigma, kind)
    np.testing.assert_allclose(signal, want_signal, rtol=1e-9)
    np.testing.assert_allclose(trace, want_trace, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(
        analytic_snr(p, group=g, dim=16, score_noise=sigma, advantage=kind), want_signal / want_trace, rtol=1e-9
    )


def test_grpo_gradient_samples_have_the_closed_form_mean_and_trace() -> None:
    env = BanditEnv(BanditConfig(n_train=40, n_test=4, head="none", score_noise=0.5), seed=2)
    ids = np.array([0, 7, 13])
    samples = env.gradient_samples(ids, 6, 20_000)  # (3, n, d)
    p = env.pass_rates(ids)
    signal, trace = independent_moments(p, 6, env.theta.shape[0], 0.5, "grpo")
    truth = np.sqrt(signal)[:, None] * env.train.features[ids]  # E a > 0, ‖φ‖ = 1
    se = samples.std(axis=1, ddof=1) / np.sqrt(samples.shape[1])
    assert (np.abs(samples.mean(axis=1) - truth) / se).max() < 5.0
    measured_trace = samples.var(axis=1, ddof=1).sum(axis=1)
    np.testing.assert_allclose(measured_trace, trace, rtol=0.05)  # 20k samples: relative s.e. ~ 1-2 %


# -- property: any batch, any kind, any reduction, with or without clipping ---------------------------------------------
@st.composite
def batches(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = draw(st.integers(2, 6))
    m = draw(st.integers(1, 6))
    ids = np.array(draw(st.lists(st.integers(0, 11), min_size=m, max_size=m)))  # repeats allowed
    rewards = np.array(
        draw(st.lists(st.lists(st.sampled_from([0.0, 1.0]), min_size=g, max_size=g), min_size=m, max_size=m))
    )
    weights = np.array(draw(st.lists(st.floats(0.0, 4.0), min_size=m, max_size=m)))
    return ids, rewards, weights


@given(
    batches(),
    st.sampled_from(["grpo", "mean", "rloo"]),
    st.sampled_from(["all", "mixed"]),
    st.floats(0.0, 2.0),
    st.sampled_from([0.0, 0.05, 10.0]),  # off, reached by most batches, never reached
)
def test_any_batch_steps_by_the_closed_form(
    batch: tuple, advantage: str, reduction: str, noise: float, clip: float
) -> None:
    ids, rewards, weights = batch
    env = sgd_env(advantage=advantage, score_noise=noise, clip=clip, lr=0.5)
    feedback = schedsim.Feedback(prompt_ids=ids, rewards=rewards)
    expected = expected_step(env, feedback, weights, reduction) / 0.5  # the direction before the lr
    norm = np.linalg.norm(expected)
    if clip and norm > clip:
        expected = expected * clip / norm
    env.learn(feedback, weights=weights, reduction=reduction)
    np.testing.assert_allclose(env.theta, 0.5 * expected, rtol=1e-9, atol=1e-12)


def test_rloo_with_two_and_with_one_rollout() -> None:
    # G = 2, rewards (1, 0): leave-one-out A = (1 - 0, 0 - 1) = (1, -1), a = (1/2)(1 * 1) = 1/2 (mean-centred: 1/4)
    env = sgd_env(features="onehot", n_train=4, score_noise=0.0, advantage="rloo")
    env.learn(fb([2], [[1, 0]]))
    np.testing.assert_allclose(env.theta, [0, 0, 0.5, 0])
    for kind, scale in (("rloo", 1.0), ("mean", 1.0), ("grpo", 1 / (1 + EPS))):
        # G = 1: no group baseline (verl keeps A = r), so a = r: plain REINFORCE; two groups, lr 1
        one = sgd_env(features="onehot", n_train=4, score_noise=0.0, advantage=kind)
        one.learn(fb([1, 2], [[1], [0]]))
        np.testing.assert_allclose(one.theta, [0, scale / 2, 0, 0], rtol=1e-12)


def test_adam_epsilon_is_added_to_the_root() -> None:
    adam = Optimiser(2, "adam", 0.1, clip=0.0)
    step, _ = adam.step(np.array([1.0, 1e-8]))  # first step: d / (|d| + 1e-8): 1/(1 + 1e-8) and 1/2
    np.testing.assert_allclose(step, [0.1 / (1 + 1e-8), 0.05])
