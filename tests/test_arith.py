"""The arithmetic suite on the tiny preset: tasks, model invariants, warm-start cache, trainers, the TB identity."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import schedsim  # noqa: E402
from schedsim.envs import make_env, parse_env_spec  # noqa: E402
from schedsim.envs.arith.model import GPT, GPTConfig, completion_mask  # noqa: E402
from schedsim.envs.arith.tasks import EOS, PAD, VOCAB_SIZE, decode, make_problems, verify  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("warm"))


@pytest.fixture(scope="module")
def env(cache: str):
    return make_env(f"arith:tiny,cache_dir={cache}", seed=0)


def test_problems_are_deterministic_disjoint_and_verifiable() -> None:
    train, held = make_problems(("add", "sub"), 3, 200, 20, seed=0)
    again, _ = make_problems(("add", "sub"), 3, 200, 20, seed=0)
    np.testing.assert_array_equal(train.prompts, again.prompts)
    assert not {tuple(r) for r in train.prompts} & {tuple(r) for r in held.prompts}
    assert np.bincount(held.level).tolist() == [20] * 6 and np.bincount(train.level)[0] == 80  # level 1: 100 problems
    i = int(np.flatnonzero(train.family == 1)[0])
    text = decode(train.prompts[i])
    a, b = int(text[:3]), int(text[4:7])
    assert text[3] == "-" and decode(train.answers[i]) == f"{a - b:04d}"[::-1] + "<eos>"
    assert verify(train.answers[:3], train.answers[:3]).tolist() == [1.0, 1.0, 1.0]
    wrong = train.answers[:1].copy()
    wrong[0, 0] = (wrong[0, 0] + 1) % 10
    assert verify(wrong, train.answers[:1])[0] == 0.0


def test_model_kv_cache_logprobs_and_left_padding() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(VOCAB_SIZE, 16, 1, 2, 32))
    train, _ = make_problems(("add",), 3, 50, 10, seed=0)
    prompts = torch.as_tensor(train.prompts[:16])
    a, la = model.generate(prompts, 5, EOS, PAD, generator=torch.Generator().manual_seed(1), use_cache=True)
    b, lb = model.generate(prompts, 5, EOS, PAD, generator=torch.Generator().manual_seed(1), use_cache=False)
    assert torch.equal(a, b) and torch.allclose(la, lb, atol=1e-5)
    assert not (a[completion_mask(a, EOS).bool()] == PAD).any()  # padding is never generated
    assert torch.allclose(model.sequence_logprob(prompts, a, EOS), la, atol=1e-4)
    padded = torch.cat([torch.full((16, 3), PAD), prompts], dim=1)
    plain, _ = model(prompts, torch.ones_like(prompts, dtype=torch.bool))
    shifted, _ = model(padded, padded != PAD)
    assert torch.allclose(plain, shifted[:, 3:], atol=1e-5) and torch.isfinite(shifted).all()


def test_warm_start_is_cached_and_reused(env, cache: str) -> None:
    assert env.warm_info["warm/cached"] == 0.0 and env.warm_info["warm/steps"] >= 25
    again = make_env(f"arith:tiny,cache_dir={cache}", seed=0)
    assert again.warm_info["warm/cached"] == 1.0
    for p, q in zip(env.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_corrupt_cache_is_recomputed_identically(tmp_path) -> None:
    fresh = make_env(f"arith:tiny,cache_dir={tmp_path}", seed=4)
    (entry,) = tmp_path.glob("arith-warm-*.pt")
    entry.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable"):
        again = make_env(f"arith:tiny,cache_dir={tmp_path}", seed=4)
    assert again.warm_info["warm/cached"] == 0.0
    for p, q in zip(fresh.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_every_level_starts_strictly_inside_after_warm_start(cache: str) -> None:
    env = make_env(f"arith:tiny,cache_dir={cache},warm_threshold=0.35,warm_max_steps=600,eval_samples=8", seed=1)
    result = env.evaluate()
    per_level = [result[f"heldout_acc_c{c}"] for c in range(3)]
    assert all(0.0 < p < 1.0 for p in per_level), per_level


def test_rollout_learn_evaluate_and_errors(env) -> None:
    # the pool's features are the head's frozen embedding: one row per train prompt, so pcl/dots/ads use them
    assert env.pool.features.shape == (env.train.n, env.config.n_embd)
    np.testing.assert_allclose(env.pool.features, env.embedding.cpu().numpy())
    assert schedsim.make_scheduler("dots", pool=env.pool, seed=0).predictor == "attention"
    sched = schedsim.make_scheduler("paced", pool=env.pool, seed=0, log_z=env.log_z)
    ids = sched.select(8)
    fb = env.rollout(ids, 4)
    assert fb.rewards.shape == (8, 4) and set(np.unique(fb.rewards)) <= {0.0, 1.0} and fb.log_z.shape == (8,)
    env.learn(fb, sched.loss_weights(ids))
    sched.observe(fb)
    easy = np.flatnonzero(env.train.level == 0)[:16]  # level 1 problems: some groups are mixed
    before = [p.detach().clone() for p in env.model.parameters()]
    fb = env.rollout(easy, 8)
    assert 0 < fb.rewards.mean() < 1
    stats = env.learn(fb)
    assert np.isfinite(stats["train/grad_norm"])
    assert any(not torch.equal(p, q) for p, q in zip(before, env.model.parameters(), strict=True))
    with pytest.raises(schedsim.SchedsimError, match="needs the Feedback returned by the last rollout"):
        env.learn(fb)
    result = env.evaluate()
    assert 0.0 <= result["heldout_acc"] <= 1.0 and "head/calib_abs_err" in result
    ids_ref, p_ref = env.reference_pass_rates()
    assert ids_ref.shape == p_ref.shape == (16,)


@pytest.mark.parametrize("extra", ["trainer=tb", "trainer=tb,replay=true,head=table", "advantage=mean,reduction=mixed"])
def test_trainer_variants_update_the_policy(cache: str, extra: str) -> None:
    env = make_env(f"arith:tiny,cache_dir={cache},{extra}", seed=0)
    before = [p.detach().clone() for p in env.model.parameters()]
    easy = np.flatnonzero(env.train.level == 0)[:16]  # level 1: mixed groups, so GRPO has a gradient too
    for _ in range(3):
        stats = env.learn(env.rollout(easy, 8))
        assert np.isfinite(stats["train/grad_norm"])
    assert any(not torch.equal(p, q) for p, q in zip(before, env.model.parameters(), strict=True))
    assert 0.0 <= env.evaluate()["heldout_acc"] <= 1.0


def test_same_seed_same_samples(cache: str) -> None:
    a = make_env(f"arith:tiny,cache_dir={cache}", seed=3)
    b = make_env(f"arith:tiny,cache_dir={cache}", seed=3)
    ids = np.arange(10)
    np.testing.assert_array_equal(a.rollout(ids, 4).rewards, b.rollout(ids, 4).rewards)


def test_partition_function_identity_on_the_real_model(env) -> None:
    """Fixed pi_old and a different fixed pi_theta; on-policy samples from pi_old. The per-prompt intercept fitted
    by SGD on the TB residual matches p_old + beta * KL(pi_old || pi_theta), estimated from independent samples."""
    beta, ids, group = 0.05, np.array([0, 30, 60, 90, 120, 150]), 64
    old = env.model
    theta = GPT(old.cfg)
    theta.load_state_dict(old.state_dict())
    with torch.no_grad():
        for p in theta.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(5)))
    prompts = torch.as_tensor(env.train.prompts[ids]).repeat_interleave(group, dim=0)
    answers = np.repeat(env.train.answers[ids], group, axis=0)
    gen = torch.Generator().manual_seed(11)

    def draw():
        y, logp_old = old.generate(prompts, answers.shape[1], EOS, PAD, generator=gen)
        with torch.no_grad():
            logp_theta = theta.sequence_logprob(prompts, y, EOS)
        r = torch.as_tensor(verify(y.numpy(), answers), dtype=torch.float32)
        return r.reshape(-1, group), (logp_theta - logp_old).reshape(-1, group)

    u = torch.zeros(len(ids), requires_grad=True)  # beta log Z per prompt
    opt = torch.optim.SGD([u], lr=0.05)
    for _ in range(200):
        r, logratio = draw()
        loss = ((u[:, None] - (r - beta * logratio)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    samples = [draw() for _ in range(20)]
    r = torch.cat([s[0] for s in samples], dim=1)
    neg_logratio = -torch.cat([s[1] for s in samples], dim=1)  # log pi_old - log pi_theta, mean = KL
    target = (r + beta * neg_logratio).mean(dim=1)
    se = (r + beta * neg_logratio).std(dim=1) / (r.shape[1] ** 0.5)
    sgd_noise = 0.05 * (r + beta * neg_logratio).std(dim=1)  # SGD at lr 0.05 averages ~40 batches of 64
    assert (neg_logratio.mean(dim=1) > 0).all()  # the KL term is real
    assert ((u.detach() - target).abs() < 4 * (se + sgd_noise)).all(), (u, target)


def test_arith_runs_through_the_runner_and_snr(cache: str, tmp_path) -> None:
    from schedsim.analysis.snr import snr_table
    from schedsim.runner import RunConfig, run_unit

    config = RunConfig(
        schedulers=("paced", "uniform"),
        env=f"arith:tiny,cache_dir={cache}",
        seeds=1,
        budget=640,
        batch=16,
        group=4,
        eval_every=320,
    )
    table = run_unit(config, "paced", 0)
    assert table["rollouts"].tolist() == [0, 320, 640] and table["calib_abs_err"].notna().all()
    table_snr = snr_table(
        make_env(f"arith:tiny,cache_dir={cache}", seed=0), group=4, n_prompts=6, n_samples=3, n_bins=3
    )
    assert (table_snr["snr_hi"] >= table_snr["snr_lo"]).all() and table_snr["snr_analytic"].isna().all()


def test_a_warm_start_below_its_threshold_is_an_error_naming_the_numbers(tmp_path) -> None:
    from schedsim.envs.arith.trainer import WarmStartError

    pattern = (
        r"warm start stopped after 25 steps \(warm_max_steps=25\) at sampled accuracy 0\.\d{3} < "
        r"warm_threshold=0\.95; accepted: .*raise warm_max_steps or warm_lr=0\.002"
    )
    with pytest.raises(WarmStartError, match=pattern):
        make_env(f"arith:tiny,cache_dir={tmp_path},warm_max_steps=25,warm_threshold=0.95", seed=0)
    assert not list(tmp_path.glob("arith-warm-*.pt"))  # a failed start is never cached
    assert issubclass(WarmStartError, schedsim.SchedsimError)


def test_arith_heads_start_at_the_prior_and_train_with_adamw(cache: str) -> None:
    for head in ("mlp", "table"):
        env = make_env(f"arith:tiny,cache_dir={cache},head={head},head_init=0.3,kl_coef=0.03", seed=0)
        np.testing.assert_allclose(env.log_z(np.arange(env.pool.n)), 0.3 / 0.03, rtol=1e-5)  # u / beta = 10
        assert isinstance(env.head_opt, torch.optim.AdamW)
        assert env.head_opt.param_groups[0]["weight_decay"] == 0.1


def test_arith_spec_errors() -> None:
    with pytest.raises(schedsim.SpecError, match="unknown arith preset 'huge'"):
        parse_env_spec("arith:huge")
    with pytest.raises(schedsim.ParameterError, match="trainer='ppo' is not accepted; accepted: 'grpo', 'tb'"):
        parse_env_spec("arith:trainer=ppo")
    with pytest.raises(schedsim.ParameterError, match=r"families=.*not accepted"):
        make_env("arith:tiny,families=mul", seed=0)
