"""Benchmark the bandit simulator (issue 3): compare wall time, throughput vs a per-prompt Python loop, scaling.

    python analysis/bench_simulator.py [--quick]

1. Wall time of the README's default ``schedsim compare --schedulers paced,sec,uniform`` (goal < 60 s).
2. Simulated rollouts per second of rollout + learn, against a straightforward per-prompt, per-rollout Python
   implementation of the same model written below (goal >= 50x).
3. Step time (select + rollout + learn + observe, uniform and paced) as N and B grow.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time

import numpy as np

import schedsim
from schedsim.envs import make_env


def scalar_loop_step(env, ids: list[int], group: int, rnd: random.Random) -> None:
    """The same model in pure Python: one prompt, one rollout, one coordinate at a time (SGD step)."""
    cfg, feats, offsets = env.config, env.train.features.tolist(), env.train.offsets.tolist()
    theta = env.theta.tolist()
    direction = [0.0] * len(theta)
    noise_var = 0.0
    for i in ids:
        logit = sum(f * t for f, t in zip(feats[i], theta, strict=True)) - offsets[i]
        p = 1 / (1 + math.exp(-logit))
        rewards = [1.0 if rnd.random() < p else 0.0 for _ in range(group)]
        mean = sum(rewards) / group
        sd = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (group - 1))
        adv = [(r - mean) / (sd + 1e-6) for r in rewards]
        a = sum(x * r for x, r in zip(adv, rewards, strict=True)) / group
        noise_var += (cfg.score_noise * math.sqrt(sum(x * x for x in adv)) / group) ** 2
        direction = [d + a * f for d, f in zip(direction, feats[i], strict=True)]
    scale = math.sqrt(noise_var)
    env.theta[:] = [
        t + cfg.lr * (d + scale * rnd.gauss(0, 1)) / len(ids) for t, d in zip(theta, direction, strict=True)
    ]


def numpy_loop_step(env, ids: np.ndarray, group: int, rng: np.random.Generator) -> None:
    """The same model looping over prompts with numpy inside (the usual first implementation; SGD step)."""
    cfg = env.config
    direction = np.zeros_like(env.theta)
    for i in ids:
        phi = env.train.features[i]
        p = 1 / (1 + np.exp(-(phi @ env.theta - env.train.offsets[i])))
        rewards = (rng.random(group) < p).astype(float)
        adv = (rewards - rewards.mean()) / (rewards.std(ddof=1) + 1e-6)
        noise = cfg.score_noise * np.sqrt((adv**2).sum()) / group * rng.standard_normal(phi.shape[0])
        direction += (adv * rewards).mean() * phi + noise
    env.theta += cfg.lr * direction / len(ids)


def rate(step, batch: int, group: int, seconds: float) -> float:
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        done += batch * group
    return done / (time.perf_counter() - t0)


def throughput(batch: int, group: int, seconds: float) -> tuple[float, float, float]:
    """Rollouts/s of the vectorised env (no log Z head: the loops have none) and of the two loop versions."""
    env = make_env("bandit:head=none", seed=0)
    sched = schedsim.make_scheduler("uniform", pool=env.pool, seed=0)
    fast = rate(lambda: env.learn(env.rollout(sched.select(batch), group)), batch, group, seconds)
    slow_env, rnd, rng = make_env("bandit:head=none", seed=0), random.Random(0), np.random.default_rng(0)
    scalar = rate(lambda: scalar_loop_step(slow_env, list(sched.select(batch)), group, rnd), batch, group, seconds)
    loop = rate(lambda: numpy_loop_step(slow_env, sched.select(batch), group, rng), batch, group, seconds)
    return fast, scalar, loop


def step_time(spec: str, n: int, batch: int, steps: int = 20) -> float:
    env = make_env(f"bandit:n_train={n},n_test=100", seed=0)
    kw = {"log_z": env.log_z} if spec == "paced" else {}
    sched = schedsim.make_scheduler(spec, pool=env.pool, seed=0, **kw)
    t0 = time.perf_counter()
    for _ in range(steps):
        ids = sched.select(batch)
        fb = env.rollout(ids, 8)
        env.learn(fb)
        sched.observe(fb)
    return (time.perf_counter() - t0) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    if not args.quick:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            cmd = [sys.executable, "-m", "schedsim.cli", "compare", "--schedulers", "paced,sec,uniform", "--out", out]
            subprocess.run(cmd, check=True, capture_output=True)
            print(f"1. default compare (paced,sec,uniform; 5 seeds; 200k rollouts): {time.perf_counter() - t0:.1f} s")
    print("2. rollouts/s (rollout + learn), vectorised vs per-prompt loops of the same model")
    for batch, group in [(64, 8)] if args.quick else [(64, 8), (256, 16), (1024, 16)]:
        fast, scalar, loop = throughput(batch, group, 0.3 if args.quick else 2.0)
        print(
            f"   B={batch:5d} G={group:3d}: vectorised {fast:12,.0f} | pure-Python loop {scalar:10,.0f} "
            f"({fast / scalar:5.1f}x) | numpy-per-prompt loop {loop:10,.0f} ({fast / loop:5.1f}x)"
        )
    sizes = [1000, 10000] if args.quick else [1000, 10_000, 100_000, 1_000_000]
    print("3. ms per step (select + rollout + learn + observe), B = 64, G = 8")
    print(f"   {'N':>9s} {'uniform':>9s} {'paced':>9s}")
    for n in sizes:
        print(f"   {n:9,d} {step_time('uniform', n, 64):9.3f} {step_time('paced', n, 64):9.3f}")
    print(f"   {'B':>9s} {'uniform':>9s} {'paced':>9s}   (N = 2000)")
    for b in [16, 64, 256] if args.quick else [16, 64, 256, 1024]:
        print(f"   {b:9d} {step_time('uniform', 2000, b):9.3f} {step_time('paced', 2000, b):9.3f}")


if __name__ == "__main__":
    main()
