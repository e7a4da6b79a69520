"""The bandit environment around the learner, by value: the world's construction, held-out evaluation per category,
replay in the update (clipping of p-hat, no head, importance weights, an empty buffer) and the one-hot probe."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_values_learner import RecordingHead, fb, sgd_env

import schedsim
from schedsim.envs.bandit import BanditConfig, BanditEnv


def test_hidden_is_the_standardised_within_category_offset() -> None:
    env = BanditEnv(BanditConfig(n_train=50, n_test=10, offset_spread=0.7, head="none"), seed=1)
    levels = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_allclose(env.train.offsets, levels[env.train.category] + 0.7 * env.train.hidden)


def test_features_share_their_category_direction() -> None:
    # f = normalise(s u_c + sqrt(1 - s^2) o) with unit u_c and a random unit o: the category mean of f has squared
    # norm s^2 (+ (1 - s^2) / n_c from the own parts), and every feature has norm 1
    env = BanditEnv(BanditConfig(n_train=2000, n_test=10, category_share=0.8, head="none"), seed=3)
    f, cat = env.train.features, env.train.category
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0)
    for c in range(5):
        mean = f[cat == c].mean(axis=0)
        assert mean @ mean == pytest.approx(0.64 + 0.36 / 400, abs=0.03)


def test_heldout_accuracy_per_category() -> None:
    env = BanditEnv(BanditConfig(n_train=30, n_test=20, n_categories=3, level_offsets=(-1.0, 0.0, 2.0)), seed=0)
    ev = env.evaluate()
    p = env.pass_rates(pool="test")
    for c in range(3):
        assert ev[f"heldout_acc_c{c}"] == pytest.approx(p[env.test.category == c].mean())
    assert ev["heldout_acc"] == pytest.approx(p.mean()) and ev["train_acc"] == pytest.approx(env.pass_rates().mean())


def one_replayed_step(u3: float | None) -> tuple[BanditEnv, float, float]:
    """One SGD step on prompt 3 (3 of 4 correct) with a one-item buffer replayed at once; head u = u3 or none."""
    env = sgd_env(advantage="mean", score_noise=0.0, replay=True, head="none" if u3 is None else "table")
    if u3 is not None:
        env.head = RecordingHead(np.full(12, u3))
    env.replay = schedsim.AccuracyErrorReplay(capacity=1, add_per_step=1, replay_per_step=4, seed=0)
    p = env.pass_rates(np.array([3]))[0]
    env.learn(fb([3], [[1, 1, 1, 0]]))
    return env, p, 0.75 * 0.25  # the fresh group's a = r̄(1 - r̄)


@pytest.mark.parametrize(("u3", "p_hat"), [(-0.4, 0.0), (1.3, 1.0), (0.6, 0.6)])
def test_replay_clips_the_head_estimate(u3: float, p_hat: float) -> None:
    env, p, a_fresh = one_replayed_step(u3)
    assert env.replay.state_dict()["priority"] == [pytest.approx(abs(0.75 - p_hat))]  # |p_emp - clip(u)|
    a_replay = (1 - p_hat) * (1 - p)  # replay_weight 1, IS weight 1
    np.testing.assert_allclose(env.theta, (a_fresh + a_replay) * env.train.features[3] / 2, rtol=1e-10)


def test_replay_without_a_head_uses_the_true_pass_rate() -> None:
    env, p, a_fresh = one_replayed_step(None)
    assert env.replay.state_dict()["priority"] == [pytest.approx(abs(0.75 - p))]
    np.testing.assert_allclose(env.theta, (a_fresh + (1 - p) ** 2) * env.train.features[3] / 2, rtol=1e-10)


def test_replay_importance_weights_scale_the_replayed_coefficients() -> None:
    env = sgd_env(advantage="mean", score_noise=0.0, replay=True, replay_weight=2.0)
    u = np.full(12, 0.5)
    u[7] = 0.75
    env.head = RecordingHead(u)
    env.replay = schedsim.AccuracyErrorReplay(capacity=2, add_per_step=2, replay_per_step=2, is_exponent=1.0, seed=0)
    p = env.pass_rates(np.array([2, 7]))
    env.learn(fb([2, 7], [[1, 0, 0, 0], [1, 0, 0, 0]]))  # priorities |.25-.5| = .25, |.25-.75| = .5: P = 1/3, 2/3
    w = np.array([1.0, 0.5])  # (2P)^-1 / max: (1.5, 0.75) / 1.5
    a_replay = 2.0 * w * (1 - u[[2, 7]]) * (1 - p)  # replay_weight * IS weight * (1 - p_hat) * (1 - p)
    f = env.train.features
    want = (0.1875 * (f[2] + f[7]) + a_replay[0] * f[2] + a_replay[1] * f[7]) / 4  # 2 fresh + 2 replayed groups
    np.testing.assert_allclose(env.theta, want, rtol=1e-5)  # the 1e-6 priority floor moves w by < 1e-5


def test_replay_with_nothing_to_replay_is_a_plain_step() -> None:
    env = sgd_env(advantage="mean", score_noise=0.0, replay=True)
    env.head = RecordingHead(np.full(12, 0.5))
    env.learn(fb([4, 5], [[0, 0, 0, 0], [0, 0, 0, 0]]))  # no success: the buffer stays empty
    assert len(env.replay) == 0 and (env.theta == 0).all()
    assert len(env.head.calls) == 1 and env.head.calls[0][0].tolist() == [4, 5]


def test_replay_bias_metric_is_the_error_on_buffered_prompts() -> None:
    env, _, _ = one_replayed_step(0.6)
    err = 0.6 - env.pass_rates()  # clip(u) - p over the pool after the step
    ev = env.evaluate()
    assert ev["head/replay_bias"] == pytest.approx(err[3]) and ev["head/bias"] == pytest.approx(err.mean())


def test_one_hot_gradient_samples_move_only_their_own_skill() -> None:
    env = BanditEnv(BanditConfig(features="onehot", n_train=6, n_test=6, head="none", score_noise=0.0), seed=0)
    samples = env.gradient_samples(np.array([4, 1]), 4, 50)  # (2, 50, 6)
    assert samples.shape == (2, 50, 6)
    assert (np.delete(samples[0], 4, axis=1) == 0).all() and (np.delete(samples[1], 1, axis=1) == 0).all()
    assert (samples[0, :, 4] >= 0).all() and samples[0, :, 4].max() > 0  # a = A·r / G >= 0 for binary rewards


def test_pass_rates_start_at_sigmoid_of_minus_offset() -> None:
    env = BanditEnv(BanditConfig(n_train=20, n_test=10, head="none"), seed=2)
    np.testing.assert_allclose(env.pass_rates(), 1 / (1 + np.exp(env.train.offsets)))  # theta = 0: p = sigmoid(-b)
    np.testing.assert_allclose(env.pass_rates(pool="test"), 1 / (1 + np.exp(env.test.offsets)))


def test_without_a_head_rollouts_carry_no_log_z_and_log_z_says_why() -> None:
    env = BanditEnv(BanditConfig(n_train=20, n_test=10, head="none"), seed=2)
    assert env.rollout(np.array([1, 2]), 3).log_z is None
    with pytest.raises(
        schedsim.ParameterError,
        match=r"^this bandit env has head='none'; accepted: head='mlp' or head='table' for log Z$",
    ):
        env.log_z(np.array([1]))


def test_one_hot_probe_values_are_the_closed_form_coefficients() -> None:
    env = BanditEnv(BanditConfig(features="onehot", n_train=6, n_test=6, head="none", score_noise=0.0), seed=0)
    samples = env.gradient_samples(np.array([4]), 4, 200)[0, :, 4]
    # grpo, G = 4: a(s) = v / (s_u + 1e-6) with v = s(4-s)/16, s_u = sqrt(4/3 v): 0, 0.3750, 0.4330 (s = 0..4)
    s = np.arange(5)
    v = s * (4 - s) / 16
    allowed = v / (np.sqrt(4 / 3 * v) + 1e-6)
    assert np.isin(np.round(samples, 9), np.round(allowed, 9)).all() and len(set(np.round(samples, 9))) >= 2


def test_default_seed_test_pool_replay_seed_and_initial_kl() -> None:
    cfg = BanditConfig(n_train=30, n_test=20, replay=True, head="table")
    a, b = BanditEnv(cfg), BanditEnv(cfg, seed=0)
    np.testing.assert_array_equal(a.pass_rates(), b.pass_rates())  # the default seed is 0
    assert a.test.n == 20 and a.train.n == 30  # a separate held-out pool of n_test prompts
    assert a.evaluate()["train/kl"] == 0.0  # nothing learned yet
    for env in (a, b):  # replay draws from a seeded buffer: same seed, same trajectory
        for _ in range(3):
            env.learn(env.rollout(np.arange(30), 4))
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.replay.state_dict() == b.replay.state_dict()


BAD_CONFIGS = [
    ({"n_train": 0}, "n_train=0 is out of range; accepted: an integer in [1, inf)"),
    ({"n_test": 0}, "n_test=0 is out of range; accepted: an integer in [1, inf)"),
    ({"n_categories": 0}, "n_categories=0 is out of range; accepted: an integer in [1, inf)"),
    ({"dim": 0}, "dim=0 is out of range; accepted: an integer in [1, inf)"),
    ({"features": "dense"}, "features='dense' is not accepted; accepted: 'category', 'onehot'"),
    ({"category_share": 1.5}, "category_share=1.5 is out of range; accepted: a number in [0, 1]"),
    ({"category_share": -0.1}, "category_share=-0.1 is out of range; accepted: a number in [0, 1]"),
    ({"level_offsets": ()}, "level_offsets=() is empty; accepted: one or more numbers"),
    ({"offset_spread": -1.0}, "offset_spread=-1.0 is out of range; accepted: a number in [0, inf)"),
    ({"advantage": "ppo"}, "advantage='ppo' is not accepted; accepted: 'grpo', 'mean', 'rloo'"),
    ({"score_noise": -1.0}, "score_noise=-1.0 is out of range; accepted: a number in [0, inf)"),
    ({"lr": 0.0}, "lr=0.0 is out of range; accepted: a number in (0, inf)"),
    ({"clip": -1.0}, "clip=-1.0 is out of range; accepted: a number in [0, inf)"),
    ({"reduction": "sum"}, "reduction='sum' is not accepted; accepted: 'all', 'mixed'"),
    ({"forget": 1.5}, "forget=1.5 is out of range; accepted: a number in [0, 1]"),
    ({"forget": -0.5}, "forget=-0.5 is out of range; accepted: a number in [0, 1]"),
    ({"drift": -1.0}, "drift=-1.0 is out of range; accepted: a number in [0, inf)"),
    ({"head": "rnn"}, "head='rnn' is not accepted; accepted: 'mlp', 'table', 'none'"),
    ({"kl_coef": 0.0}, "kl_coef=0.0 is out of range; accepted: a number in (0, inf)"),
    ({"head_lr": 0.0}, "head_lr=0.0 is out of range; accepted: a number in (0, inf)"),
    ({"table_lr": 0.0}, "table_lr=0.0 is out of range; accepted: a number in (0, 1]"),
    ({"table_lr": 1.5}, "table_lr=1.5 is out of range; accepted: a number in (0, 1]"),
    ({"head_hidden": 0}, "head_hidden=0 is out of range; accepted: an integer in [1, inf)"),
    ({"head_init": 0.0}, "head_init=0.0 is outside head_output='sigmoid'"),
    ({"head_output": "tanh"}, "head_output='tanh' is not accepted"),
    ({"head_weight_decay": -0.1}, "head_weight_decay=-0.1 is out of range"),
    ({"embed_visibility": 1.5}, "embed_visibility=1.5 is out of range; accepted: a number in [0, 1]"),
    ({"embed_visibility": -0.5}, "embed_visibility=-0.5 is out of range; accepted: a number in [0, 1]"),
    ({"replay_weight": -1.0}, "replay_weight=-1.0 is out of range; accepted: a number in [0, inf)"),
]


@pytest.mark.parametrize(("over", "message"), BAD_CONFIGS)
def test_bandit_config_rejects_each_bad_value_by_name(over: dict, message: str) -> None:
    with pytest.raises(schedsim.ParameterError, match="^" + re.escape(message)):
        BanditConfig(**over)


def test_bandit_config_defaults_boundaries_and_presets() -> None:
    from schedsim.envs.bandit import PRESETS, parse_bandit_spec

    cfg = BanditConfig()
    assert cfg.to_dict() == {
        "n_train": 2000, "n_test": 1000, "n_categories": 5, "dim": 16, "features": "category",
        "category_share": 0.8, "level_offsets": [-2.0, -1.0, 0.0, 1.0, 2.0], "offset_spread": 1.0,
        "advantage": "grpo", "score_noise": 1.0, "optimizer": "adam", "lr": 0.01, "clip": 1.0, "reduction": "all",
        "forget": 0.0, "drift": 0.0, "head": "mlp", "kl_coef": 0.05, "head_lr": 0.01, "table_lr": 0.5,
        "head_hidden": 32, "head_init": 0.5, "head_output": "sigmoid", "head_weight_decay": 0.1,
        "embed_visibility": 0.5, "replay": False, "replay_weight": 1.0,
    }  # fmt: skip
    for over in (
        {"n_train": 1, "n_test": 1, "n_categories": 1, "dim": 1, "head_hidden": 1, "category_share": 0.0},
        {"category_share": 1.0, "offset_spread": 0.0, "score_noise": 0.0, "clip": 0.0, "forget": 1.0},
        {"forget": 0.0, "drift": 0.0, "table_lr": 1.0, "embed_visibility": 0.0, "replay_weight": 0.0},
        {"embed_visibility": 1.0, "features": "onehot", "advantage": "rloo", "reduction": "mixed", "head": "table"},
        {"optimizer": "sgd", "advantage": "mean", "head": "none"},
    ):
        assert BanditConfig(**over).to_dict().items() >= over.items()
    assert {name: p.overrides for name, p in PRESETS.items()} == {
        "default": {},
        "independent": {"features": "onehot", "n_train": 1000, "lr": 0.05},
        "hard-tail": {"level_offsets": (-1.0, 0.0, 3.0, 4.5, 6.0)},
        "drift": {"forget": 0.01, "drift": 0.02},
        "few-categories": {"n_categories": 3, "level_offsets": (-1.0, 1.0, 3.0), "category_share": 0.95},
    }
    assert all(p.description for p in PRESETS.values())
    preset, parsed = parse_bandit_spec("drift,lr=0.02")
    assert preset == "drift" and (parsed.forget, parsed.drift, parsed.lr) == (0.01, 0.02, 0.02)


def test_bandit_pool_features_are_the_embedding_the_log_z_head_sees() -> None:
    cfg = BanditConfig(n_train=400, n_test=50, dim=6, n_categories=4, embed_visibility=0.8)
    env = BanditEnv(cfg, seed=3)
    feats = env.pool.features
    assert feats.shape == (400, 6 + 4 + 1)
    np.testing.assert_allclose(feats[:, :6], env.train.features)
    np.testing.assert_array_equal(feats[:, 6:10], np.eye(4)[env.train.category])
    r = np.corrcoef(feats[:, 10], env.train.hidden)[0, 1]
    assert 0.72 < r < 0.88  # the clue's correlation with the hidden difficulty is embed_visibility = 0.8
    # clue = 0.8 * hidden + sqrt(1 - 0.8**2) * noise: the residual's std is 0.6 (0.699 if the noise scale were
    # sqrt(1 - 0.8**3), 0.8 if it were sqrt(1 - 0.8)); at n = 400 its sampling sd is about 0.02
    assert 0.55 < np.std(feats[:, 10] - 0.8 * env.train.hidden) < 0.65
    twin = BanditEnv(cfg, seed=3)
    np.testing.assert_array_equal(twin.pool.features, feats)  # part of the world: same seed, same embedding
    for spec, attr, value in (("pcl", "estimator.model", "linear"), ("dots", "predictor", "attention")):
        s = schedsim.make_scheduler(spec, pool=env.pool, seed=0)
        obj = s
        for part in attr.split("."):
            obj = getattr(obj, part)
        assert obj == value
    onehot = BanditEnv(BanditConfig(features="onehot", n_train=6, n_test=6, n_categories=2), seed=0)
    assert onehot.pool.features.shape == (6, 2 + 1)  # one-hot worlds: no identity block in the pool
    np.testing.assert_array_equal(onehot.head.x, np.hstack([np.eye(6), onehot.pool.features]))  # the head adds it
    np.testing.assert_array_equal(env.head.x, feats)  # category worlds: the head's inputs are the pool's features
