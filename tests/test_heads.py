"""PACED-RL's partition-function heads: prior start, bounded output, AdamW weight decay, kl_coef in the targets."""

from __future__ import annotations

import numpy as np
import pytest

import schedsim
from schedsim.core.seeding import make_rng
from schedsim.envs import make_env
from schedsim.envs.bandit.logz import MLPHead, TableHead, tb_targets
from schedsim.envs.heads import check_head_options, output_offset
from schedsim.runner.loop import build_scheduler

SMALL = "bandit:n_train=300,n_test=50"


@pytest.mark.parametrize("output", ["sigmoid", "softplus", "linear"])
@pytest.mark.parametrize("head", ["mlp", "table"])
def test_a_fresh_bandit_head_predicts_its_configured_start_everywhere(head: str, output: str) -> None:
    env = make_env(f"{SMALL},head={head},head_output={output},head_init=0.3,kl_coef=0.03", seed=0)
    np.testing.assert_allclose(env.log_z(np.arange(300)), 0.3 / 0.03, rtol=1e-12)  # log Z = u / beta = 10


@pytest.mark.parametrize("output", ["softplus", "linear"])
def test_the_bandit_builds_its_head_with_the_configured_output(output: str) -> None:
    from schedsim.envs.heads import output_bounds

    table = make_env(f"{SMALL},head=table,head_output={output},kl_coef=0.03", seed=0)
    assert (table.head.lo, table.head.hi) == output_bounds(output)  # not the sigmoid's (0, 1)
    assert make_env(f"{SMALL},head=mlp,head_output={output},kl_coef=0.03", seed=0).head.output == output


def test_output_offsets_invert_the_output_maps() -> None:
    assert output_offset("sigmoid", 0.3) == pytest.approx(np.log(0.3 / 0.7))
    assert output_offset("softplus", 0.3) == pytest.approx(np.log(np.expm1(0.3)))
    assert output_offset("linear", -0.2) == -0.2
    with pytest.raises(schedsim.ParameterError, match=r"head_init=1\.0 is outside head_output='sigmoid'"):
        check_head_options(1.0, "sigmoid", 0.1)
    with pytest.raises(schedsim.ParameterError, match="head_output='tanh' is not accepted; accepted: 'sigmoid'"):
        check_head_options(0.5, "tanh", 0.1)
    with pytest.raises(schedsim.ParameterError, match=r"head_weight_decay=-0\.1 is out of range"):
        make_env(f"{SMALL},head_weight_decay=-0.1", seed=0)


@pytest.mark.parametrize(("output", "lo", "hi"), [("sigmoid", 0.0, 1.0), ("softplus", 0.0, np.inf)])
def test_bounded_outputs_never_leave_their_range_on_targets_outside_it(output: str, lo: float, hi: float) -> None:
    x = make_rng(0).standard_normal((40, 6))
    mlp = MLPHead(x, 16, 0.05, make_rng(1), init=0.4, output=output, weight_decay=0.0)
    table = TableHead(40, 1.0, init=0.4, output=output)
    ids = np.arange(40)
    targets = np.where(ids % 2 == 0, 3.0, -2.0)  # far above and below the range
    for _ in range(500):
        mlp.fit(ids, targets)
        table.fit(ids, targets)
        for head in (mlp, table):
            u = head.predict(ids)
            assert (u >= lo).all() and (u <= hi).all()
    assert np.median(mlp.predict(ids)[1::2]) < 0.05  # pushed to the lower bound, not through it
    np.testing.assert_array_equal(table.predict(ids)[1::2], 0.0)  # the table projects onto the bound
    expected_hi = 1.0 if output == "sigmoid" else 3.0
    np.testing.assert_array_equal(table.predict(ids)[::2], expected_hi)


def test_linear_output_is_unbounded_as_documented() -> None:
    table = TableHead(2, 1.0, init=0.5, output="linear")
    table.fit(np.array([0, 1]), np.array([1.7, -0.4]))
    np.testing.assert_allclose(table.predict(np.array([0, 1])), [1.7, -0.4])


def test_adamw_zero_gradient_step_shrinks_weights_by_lr_times_decay() -> None:
    head = MLPHead(make_rng(0).standard_normal((10, 4)), 8, 0.02, make_rng(1), init=0.5, weight_decay=0.3)
    head.params = [p + 0.7 for p in head.params]  # non-zero everywhere, the last layer included
    before = [p.copy() for p in head.params]
    head.step(tuple(np.zeros_like(p) for p in head.params))
    for p, q in zip(head.params, before, strict=True):
        np.testing.assert_allclose(p, q * (1 - 0.02 * 0.3), rtol=1e-12)  # p (1 - lr wd), Adam term 0


def test_bandit_env_builds_its_mlp_head_with_the_configured_decay() -> None:
    env = make_env(f"{SMALL},head_lr=0.02,head_weight_decay=0.25", seed=0)
    assert env.head.weight_decay == 0.25 and env.head.lr == 0.02


def test_tb_targets_use_kl_coef_by_value() -> None:
    rewards = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    p_old, p_new = np.array([0.5, 0.8]), np.array([0.6, 0.7])
    got = tb_targets(rewards, p_new, p_old, 0.03)
    first = (1 - 0.03 * np.log(0.6 / 0.5) + 2 * (0 - 0.03 * np.log(0.4 / 0.5))) / 3
    second = 1 - 0.03 * np.log(0.7 / 0.8)
    np.testing.assert_allclose(got, [first, second], rtol=1e-9)
    assert got[1] - tb_targets(rewards, p_new, p_old, 0.05)[1] == pytest.approx(
        0.02 * np.log(0.7 / 0.8)
    )  # -0.03 L + 0.05 L


def test_bandit_learn_fits_the_table_head_to_the_kl_coef_target() -> None:
    env = make_env(f"{SMALL},head=table,table_lr=1,head_output=linear,kl_coef=0.03", seed=2)
    ids = np.arange(0, 60, 3)
    fb = env.rollout(ids, 8)
    p_old = env.pass_rates(ids)
    env.learn(fb)
    expected = tb_targets(fb.rewards, env.pass_rates(ids), p_old, 0.03)
    np.testing.assert_allclose(env.head.predict(ids), expected, rtol=1e-12)
    np.testing.assert_allclose(env.log_z(ids), expected / 0.03, rtol=1e-12)


def test_paced_on_the_table_head_does_not_re_pick_its_first_batch() -> None:
    """The zero-start table head re-picked one batch forever (67 prompts in 390 steps); a prior start sweeps."""
    env = make_env("bandit:head=table", seed=0)
    sched, _ = build_scheduler("paced", env, 0)
    seen = np.zeros(env.pool.n, dtype=bool)
    for _ in range(150):
        ids = sched.select(64)
        seen[ids] = True
        fb = env.rollout(ids, 8)
        env.learn(fb)
        sched.observe(fb)
    assert seen.sum() > env.pool.n / 2, seen.sum()


torch = pytest.importorskip("torch")


def test_torch_heads_start_at_the_prior_stay_bounded_and_decay_by_adamw() -> None:
    from schedsim.envs.arith.config import ArithConfig
    from schedsim.envs.arith.trainer import MLPHead as TorchMLP
    from schedsim.envs.arith.trainer import TableHead as TorchTable
    from schedsim.envs.arith.trainer import fit_head, head_optimizer

    torch.manual_seed(0)
    ids = torch.arange(12)
    mlp = TorchMLP(torch.randn(12, 5), 8, init=0.3, output="sigmoid")
    table = TorchTable(12, init=0.3, output="softplus")
    for head in (mlp, table):
        torch.testing.assert_close(head(ids), torch.full((12,), 0.3), rtol=1e-6, atol=1e-6)
    cfg = ArithConfig(head_lr=0.05, head_weight_decay=0.0)
    targets = torch.where(ids % 2 == 0, 4.0, -3.0)
    for head in (mlp, table):
        opt = head_optimizer(head, cfg)
        for _ in range(300):
            fit_head(head, opt, ids, targets)
        with torch.no_grad():
            assert (head(ids) >= 0).all()
    with torch.no_grad():
        assert (mlp(ids) <= 1).all()
    decayed = TorchMLP(torch.randn(12, 5), 8)
    opt = head_optimizer(decayed, ArithConfig(head_lr=0.02, head_weight_decay=0.3))
    assert isinstance(opt, torch.optim.AdamW)
    with torch.no_grad():
        for p in decayed.parameters():
            p.add_(0.7)
    before = [p.detach().clone() for p in decayed.parameters()]
    for p in decayed.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for p, q in zip(decayed.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), q * (1 - 0.02 * 0.3))


def test_bernoulli_logratio_kl_and_output_maps_by_value() -> None:
    from schedsim.envs.bandit.logz import apply_output, bernoulli_kl, bernoulli_logratio

    assert bernoulli_logratio(np.array(1.0), 0.6, 0.5) == pytest.approx(np.log(0.6 / 0.5))
    assert bernoulli_logratio(np.array(0.0), 0.6, 0.2) == pytest.approx(np.log(0.4 / 0.8))
    # at p = 0 the 1e-12 guard sets the value: log(1e-12 / (0.5 + 1e-12))
    assert bernoulli_logratio(np.array(1.0), 0.0, 0.5) == pytest.approx(np.log(1e-12 / (0.5 + 1e-12)), rel=1e-12)
    assert bernoulli_logratio(np.array(0.0), 1.0, 0.25) == pytest.approx(np.log(1e-12 / (0.75 + 1e-12)), rel=1e-12)
    assert bernoulli_kl(np.array(0.2), np.array(0.6)) == pytest.approx(0.2 * np.log(0.2 / 0.6) + 0.8 * np.log(2.0))
    z = np.array([0.3, -1.2])
    sig = 1 / (1 + np.exp(-z))
    for output, u, du in (
        ("sigmoid", sig, sig * (1 - sig)),
        ("softplus", np.log1p(np.exp(z)), sig),
        ("linear", z, np.ones(2)),
    ):
        got_u, got_du = apply_output(output, z)
        np.testing.assert_allclose(got_u, u, rtol=1e-12)
        np.testing.assert_allclose(got_du, du, rtol=1e-12)


def test_table_head_averages_repeated_ids_and_steps_by_lr() -> None:
    table = TableHead(3, 0.5, init=0.3)
    table.fit(np.array([0, 0, 1]), np.array([0.2, 0.6, 0.9]))
    np.testing.assert_allclose(table.predict(np.array([0, 1, 2])), [0.35, 0.6, 0.3])  # mean target 0.4 for id 0
    assert (table.lo, table.hi, table.lr) == (0.0, 1.0, 0.5)
    soft = TableHead(2, 1.0, init=0.7, output="softplus")
    soft.fit(np.array([0, 1]), np.array([2.5, -0.5]))
    np.testing.assert_allclose(soft.predict(np.array([0, 1])), [2.5, 0.0])


def test_mlp_head_gradient_is_that_of_the_mean_squared_residual() -> None:
    x = make_rng(3).standard_normal((5, 3))
    ids, targets = np.array([0, 2, 4, 2]), np.array([0.1, 0.9, 0.4, 0.6])
    for output in ("sigmoid", "softplus", "linear"):
        head = MLPHead(x, 4, 0.01, make_rng(4), init=0.3, output=output)
        np.testing.assert_allclose(head.predict(np.arange(5)), 0.3, rtol=1e-12)  # the prior everywhere
        head.params = [p + make_rng(i).normal(0, 0.5, p.shape) for i, p in enumerate(head.params)]
        grads: list = []
        head.step = grads.extend  # capture instead of stepping

        def loss(head: MLPHead = head) -> float:
            return float(np.mean((head.predict(ids) - targets) ** 2))

        head.fit(ids, targets)
        for p, g in zip(head.params, grads, strict=True):
            numeric = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                p[i] += 1e-6
                up = loss()
                p[i] -= 2e-6
                down = loss()
                p[i] += 1e-6
                numeric[i] = (up - down) / 2e-6
            np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_adamw_two_steps_by_hand() -> None:
    head = MLPHead(np.ones((1, 1)), 1, 0.1, make_rng(0), weight_decay=0.2)
    head.params = [np.array([0.5]) for _ in range(6)]
    g1, g2 = 0.3, -0.1
    head.step(tuple(np.array([g1]) for _ in range(6)))
    p1 = 0.5 * (1 - 0.02) - 0.1 * g1 / (abs(g1) + 1e-8)  # first step: m_hat = g, v_hat = g^2
    np.testing.assert_allclose(head.params[0], p1, rtol=1e-12)
    head.step(tuple(np.array([g2]) for _ in range(6)))
    m = (0.9 * 0.1 * g1 + 0.1 * g2) / (1 - 0.81)
    v = (0.999 * 0.001 * g1**2 + 0.001 * g2**2) / (1 - 0.999**2)
    np.testing.assert_allclose(head.params[5], p1 * (1 - 0.02) - 0.1 * m / (np.sqrt(v) + 1e-8), rtol=1e-12)
    assert head.t == 2


def test_table_head_default_start_is_one_half() -> None:
    np.testing.assert_array_equal(TableHead(3, 0.5).predict(np.arange(3)), 0.5)


def test_mlp_head_defaults_and_initial_weights_by_value() -> None:
    x = make_rng(0).standard_normal((6, 5))
    head = MLPHead(x, 3, 0.01, make_rng(7))
    assert (head.output, head.weight_decay, head.lr, head.t) == ("sigmoid", 0.1, 0.01, 0)
    twin = make_rng(7)
    np.testing.assert_array_equal(head.params[0], twin.normal(0, 1 / np.sqrt(5), (5, 3)))  # N(0, 1/d_in)
    np.testing.assert_array_equal(head.params[2], twin.normal(0, 1 / np.sqrt(3), (3, 3)))  # N(0, 1/H)
    for i in (1, 3, 4, 5):
        assert not head.params[i].any()
