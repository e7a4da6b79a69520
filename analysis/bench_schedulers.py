"""Benchmark: one select + observe step of each scheduler, as a ratio to one np.argpartition pass over N floats.

Goal (issue 2): every scheduler <= 5x at N = 1e6 with B = 256, G = 8, and memory O(N).

    python analysis/bench_schedulers.py [--sizes 1000,10000,100000,1000000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import pickle
import time

import numpy as np

import schedsim

SPECS = [
    "uniform",
    "paced",
    "beta",
    "gaussian",
    "sec",
    "mopps",
    "spo",
    "plr",
    "beta:unbiased=true",
    "paced:estimator=ema",
    "pcl",
    "tscl",
    "exp3s",
    "pools",
    "bots",
    "dots",
    "ads",
]


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench(n: int, batch: int, group: int, repeats: int) -> list[tuple[str, float, float, float]]:
    rng = np.random.default_rng(0)
    pool = schedsim.PromptPool(n=n, category=np.arange(n) % 8)
    p_true = rng.uniform(0, 1, n)
    values = rng.uniform(0, 20, n)
    base = best_time(lambda: np.argpartition(values, batch), repeats)
    rows = []
    for spec in SPECS:
        kwargs = {}
        if spec.startswith("paced") and "estimator" not in spec:
            table = schedsim.LogZTable(n)
            table.update(np.arange(n), values)
            kwargs["log_z"] = table
        if spec.startswith("dots"):  # its reference set is rolled out through the probe signal

            def probe(ids: np.ndarray, g: int) -> schedsim.Feedback:
                return schedsim.Feedback(prompt_ids=ids, rewards=(rng.random((ids.size, g)) < p_true[ids, None]) * 1.0)

            kwargs["probe"] = probe
        s = schedsim.make_scheduler(spec, pool=pool, seed=0, **kwargs)

        def step(s: schedsim.Scheduler = s) -> None:
            ids = s.select(batch)
            rewards = (rng.random((batch, group)) < p_true[ids, None]).astype(float)
            s.observe(schedsim.Feedback(prompt_ids=ids, rewards=rewards))

        step()  # warm-up
        t = best_time(step, repeats)
        state_bytes = len(pickle.dumps(s.state_dict()))
        rows.append((spec, t * 1e3, t / base, state_bytes / n))
    return [("argpartition", base * 1e3, 1.0, 0.0), *rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for n in (int(x) for x in args.sizes.split(",")):
        print(f"\nN = {n:,}  (B = {args.batch}, G = {args.group}; median of {args.repeats})")
        print(f"{'scheduler':22s} {'ms/step':>9s} {'ratio':>7s} {'state B/prompt':>15s}")
        for spec, ms, ratio, per_prompt in bench(n, args.batch, args.group, args.repeats):
            print(f"{spec:22s} {ms:9.3f} {ratio:7.2f} {per_prompt:15.1f}")


if __name__ == "__main__":
    main()
