"""Benchmark: the real pretrained model (SmolLM2-135M-Instruct, GGUF from the registry) in the real-LLM mode on CPU.

Measures: load time (tokenizer, weights), rollouts per second, a full RL step's time (rollout + learn) with full
fine-tuning and with LoRA, peak resident memory, and the base model's pass rate per difficulty level on the
arithmetic JSONL (analysis/data/arith_levels.jsonl) and on reasoning-gym tasks.

    python analysis/bench_llm.py [--threads 2] [--samples 8] [--tasks basic_arithmetic+leg_counting] [--quick]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch

from schedsim.envs.llm.config import LLMConfig
from schedsim.envs.llm.env import LLMEnv
from schedsim.envs.llm.fetch import fetch_model
from schedsim.envs.llm.rgym import load_rgym

DATA = Path(__file__).parent / "data" / "arith_levels.jsonl"


def pass_rates(
    env: LLMEnv, texts: list[str], scorers: list, categories: np.ndarray, names: list[str], samples: int
) -> dict[str, float]:
    """Mean sampled accuracy per category over ``samples`` completions of every problem."""
    acc = env._accuracy(texts, scorers, samples)
    return {names[c]: float(acc[categories == c].mean()) for c in np.unique(categories)}


def step_time(env: LLMEnv, batch: int, group: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    fb = env.rollout(np.arange(batch), group)
    t1 = time.perf_counter()
    env.learn(fb)
    return t1 - t0, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8, help="completions per problem for the pass rates")
    parser.add_argument("--tasks", default="basic_arithmetic+leg_counting", help="reasoning-gym tasks, '+'-joined")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--rg-extract", default="line", help="reasoning-gym answer: line or number")
    parser.add_argument("--quick", action="store_true", help="few problems and samples (smoke test)")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    model = fetch_model("smollm2")
    per_level = 2 if a.quick else 20
    base = dict(model=str(model), data=str(DATA), max_new_tokens=a.max_new_tokens, head="table", threads=a.threads)
    t0 = time.perf_counter()
    env = LLMEnv(LLMConfig(**base), seed=0)
    load = time.perf_counter() - t0
    print(f"SmolLM2-135M-Instruct (GGUF Q4_1 -> float32), {a.threads} thread(s), max_new_tokens={a.max_new_tokens}")
    print(f"load (tokenizer + config + weights) {load:.1f} s; stop tokens {env.stop_ids}")
    batch, group = (2, 2) if a.quick else (8, 8)
    sample_s, full_s = step_time(env, batch, group)
    print(
        f"full fine-tuning step ({batch} prompts x {group}): rollout {sample_s:.1f} s ({batch * group / sample_s:.2f} "
        f"rollouts/s), rollout + learn {full_s:.1f} s"
    )
    from schedsim.envs.llm.data import load_jsonl

    problems = load_jsonl(DATA)
    keep = np.concatenate([np.flatnonzero(problems.category == c)[:per_level] for c in np.unique(problems.category)])
    texts = [env._render(problems.prompts[i]) for i in keep]
    from schedsim.envs.llm.data import verify

    scorers = [lambda t, a=problems.answers[i]: verify(t, a) for i in keep]
    samples = 2 if a.quick else a.samples
    rates = pass_rates(env, texts, scorers, problems.category[keep], problems.category_names, samples)
    print(f"base pass rate, arithmetic JSONL ({per_level} problems x {samples} samples per level): "
          + ", ".join(f"{k} {v:.3f}" for k, v in rates.items()))  # fmt: skip
    for task in a.tasks.split("+"):
        rg, rg_scorers = load_rgym(
            f"reasoning-gym:{task}", per_level=per_level, levels=3, seed=0, threshold=1.0, extract=a.rg_extract
        )
        rates = pass_rates(
            env, [env._render(p) for p in rg.prompts], rg_scorers, rg.category, rg.category_names, samples
        )
        print(f"base pass rate, reasoning-gym {task} ({per_level} x {samples} per level, answer={a.rg_extract}): "
              + ", ".join(f"{k.split(':')[1]} {v:.3f}" for k, v in rates.items()))  # fmt: skip
    del env
    lora = LLMEnv(LLMConfig(**base, lora=True), seed=0)
    sample_s, full_s = step_time(lora, batch, group)
    print(
        f"LoRA (r=8, all linear) step ({batch} prompts x {group}): rollout {sample_s:.1f} s, rollout + learn {full_s:.1f} s"
    )
    print(f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
