"""The numeric claims of the theory notebooks, as plain tests (docs/theory.md §2–§4)."""

from __future__ import annotations

import numpy as np
import pytest

from schedsim.analysis import theory
from schedsim.analysis.snr import analytic_moments

P = np.linspace(0.02, 0.98, 49)
SIGNAL, TRACE = analytic_moments(P, group=8, dim=16, score_noise=1.0, advantage="mean")
MU = np.sqrt(SIGNAL)  # the mean gradient's component along its direction


def test_efficiency_is_one_exactly_at_optimal_weights_and_scale_free() -> None:
    w_star = theory.optimal_weights(MU, TRACE)
    assert theory.efficiency(w_star, MU, TRACE) == pytest.approx(1.0)
    assert theory.efficiency(3.7 * w_star, MU, TRACE) == pytest.approx(1.0)
    assert theory.efficiency(np.ones_like(P), MU, TRACE) < 1.0
    assert theory.one_step_progress(w_star, MU, TRACE) == pytest.approx(np.sum(MU**2 / TRACE))


@pytest.mark.parametrize("delta", [0.05, 0.1, 0.3, 0.6])
def test_misspecification_loss_never_exceeds_delta_squared_and_reaches_it(delta: float) -> None:
    cloud = theory.misspecification_cloud(delta, MU, TRACE, draws=100, seed=1)
    assert cloud.max() <= delta**2 + 1e-12
    # the Kantorovich extreme: values 1 - δ and 1 + δ with u-weights (1+δ)/2 and (1-δ)/2, u = μ²/σ²
    u = MU**2 / TRACE
    order = np.argsort(u)
    cum = np.cumsum(u[order]) / u.sum()
    eps = np.where(cum <= (1 + delta) / 2, -delta, delta)[np.argsort(order)]
    w_star = theory.optimal_weights(MU, TRACE)
    loss = 1 - theory.efficiency(w_star * (1 + eps), MU, TRACE)
    assert loss == pytest.approx(delta**2, abs=0.02 * delta**2 + 1e-3 * delta)
    log_loss = 1 - theory.efficiency(w_star * np.exp(eps), MU, TRACE)
    assert log_loss <= theory.worst_case_loss(delta, band="log") + 1e-12


def test_pointwise_progress_loss_is_epsilon_squared() -> None:
    w_star = theory.optimal_weights(MU, TRACE)
    q_star = theory.one_step_progress(w_star, MU, TRACE)
    for eps in (0.1, -0.3, 0.5):
        assert theory.one_step_progress(w_star * (1 + eps), MU, TRACE) == pytest.approx(q_star * (1 - eps**2))


def test_beta_fit_recovers_a_beta_shape_and_optimal_weights_vanish_at_both_ends() -> None:
    assert theory.fit_beta_kernel(P, 2.5 * P**1.5 * (1 - P) ** 0.5) == pytest.approx((1.5, 0.5, 2.5))
    w_star = theory.optimal_weights(MU, TRACE)
    assert w_star[0] < w_star[24] and w_star[-1] < w_star[24]


def test_finite_k_plugin_bias_and_zero_weight_probability() -> None:
    for k in (4, 8, 16):
        np.testing.assert_allclose(theory.expected_plugin_weight(P, k), P * (1 - P) * (1 - 1 / k))
    assert theory.zero_weight_probability(np.array([0.05]), 8)[0] == pytest.approx(0.05**8 + 0.95**8)
    assert theory.zero_weight_probability(np.array([0.05]), 8)[0] == pytest.approx(0.66, abs=0.01)


def test_weight_shapes_are_normalised_and_pools_rank_weights() -> None:
    shapes = theory.weight_shapes(P)
    assert all(v.max() == pytest.approx(1.0) for v in shapes.values())
    w_star = theory.optimal_weights(MU, TRACE)
    effs = theory.pool_efficiencies({"w*": w_star, **shapes}, P, MU, TRACE, {"uniform": np.ones_like(P)})
    assert effs["uniform"]["w*"] == pytest.approx(1.0)
    assert all(v <= 1.0 + 1e-12 for v in effs["uniform"].values())


def test_partition_function_identity_exact_and_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    pi_old, pi_theta = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    reward = np.array([1, 0, 1, 0, 0, 1.0])
    beta_log_z, p_old, kl = theory.tb_identity(pi_old, pi_theta, reward, beta=0.05)
    assert beta_log_z == pytest.approx(p_old + 0.05 * kl)
    fitted, se = theory.tb_intercept_fit(pi_old, pi_theta, reward, 0.05, 200_000, seed=3)
    assert abs(fitted - beta_log_z) < 4 * se


def test_bae_kl_approximation() -> None:
    p = np.linspace(0.05, 0.95, 19)
    for beta in (2.0, 5.0, 20.0):
        ratio = theory.tilted_kl(p, beta) / theory.tilted_kl_approx(p, beta)
        error = np.abs(ratio - 1)
        # the relative error is first order in 1/beta (measured 0.61/beta to 0.70/beta on this grid): a wrong
        # constant in the approximation (e.g. p(1-p)/beta^2) would be off by 100 % and fail
        assert error.max() < 0.75 / beta
        assert error.max() > 0.5 / beta  # and the exact KL is not the approximation itself
