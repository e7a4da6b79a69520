"""Benchmark the arithmetic suite: rollouts/s for sampling and for a full training step.

    python analysis/bench_arith.py [--quick] [--device cpu|cuda]

For torch CPU threads 1 and 2 (and the device, when CUDA is present), with and without the KV cache:
- sampling: generate G = 8 completions for B = 32 prompts (7 new tokens each);
- training step: sampling + rewards + the GRPO update (one forward/backward over the 256 sequences).
Uses the default model (2 layers, 128 wide, 0.4 M parameters), randomly initialised: speed does not depend on
the weights.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from schedsim.envs.arith.config import ArithConfig
from schedsim.envs.arith.model import GPT, GPTConfig
from schedsim.envs.arith.tasks import EOS, PAD, VOCAB_SIZE, make_problems, verify
from schedsim.envs.arith.trainer import policy_loss


def bench(
    device: str, threads: int, use_cache: bool, seconds: float, batch: int = 32, group: int = 8
) -> tuple[float, float]:
    torch.set_num_threads(threads)
    train, _ = make_problems(("add",), 5, 200, 10, seed=0)
    model = GPT(GPTConfig(VOCAB_SIZE, 19)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    gen = torch.Generator(device=device).manual_seed(0)
    cfg = ArithConfig()
    prompts = torch.as_tensor(train.prompts[:batch], device=device).repeat_interleave(group, dim=0)
    answers = np.repeat(train.answers[:batch], group, axis=0)

    def sample():
        return model.generate(prompts, answers.shape[1], EOS, PAD, generator=gen, use_cache=use_cache)

    def step():
        tokens, _ = sample()
        rewards = torch.as_tensor(verify(tokens.cpu().numpy(), answers).reshape(batch, group), device=device)
        logp = model.sequence_logprob(prompts, tokens, EOS).reshape(batch, group)
        loss = policy_loss(logp, rewards.float(), torch.ones(batch, device=device), cfg, None, "all")
        opt.zero_grad()
        loss.backward()
        opt.step()

    rates = []
    for fn in (sample, step):
        fn()  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn()
            done += batch * group
        if device == "cuda":
            torch.cuda.synchronize()
        rates.append(done / (time.perf_counter() - t0))
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    seconds = 0.3 if args.quick else 5.0
    print(f"{'device':7s} {'threads':>7s} {'KV cache':>8s} {'sampling rollouts/s':>20s} {'train-step rollouts/s':>22s}")
    for threads in (1, 2):
        for use_cache in (True, False):
            s, t = bench("cpu", threads, use_cache, seconds)
            print(f"{'cpu':7s} {threads:7d} {use_cache!s:>8s} {s:20,.0f} {t:22,.0f}")
    if args.device == "cuda":
        for use_cache in (True, False):
            s, t = bench("cuda", 1, use_cache, seconds)
            print(f"{'cuda':7s} {'-':>7s} {use_cache!s:>8s} {s:20,.0f} {t:22,.0f}")


if __name__ == "__main__":
    main()
