"""Benchmark: what the TRL and verl adapters add to a training step.

TRL: a real ``SchedSimGRPOTrainer`` (tiny random GPT-2 on CPU, the test suite's model); the time spent in the
scheduler's ``select`` and in the adapter's per-round work (reward mapping, loss weights, ``observe``) is measured
directly and reported per step and as a share of the step (an upper bound: a real model's step is far longer).

verl: the adapter's per-step work on a synthetic post-rollout ``DataProto`` of verl's real class
(``feedback_from_batch`` + ``row_factors`` + ``observe``), for a batch of B prompts x n rollouts x T tokens.

    python analysis/bench_adapters.py [--steps 16] [--prompts 256] [--rollouts 8] [--tokens 1024]

Needs the [trl] and [verl] extras (``make test`` installs both).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import schedsim

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


class Timed:
    """Wraps methods of objects (``(obj, name)`` pairs) and accumulates their wall time."""

    def __init__(self, *targets) -> None:
        self.seconds = 0.0
        for obj, name in targets:
            setattr(obj, name, self._wrap(getattr(obj, name)))

    def _wrap(self, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        return timed


def bench_trl(steps: int, spec: str) -> dict[str, float]:
    import datasets
    import trl
    from conftest import tiny_gpt2, tiny_tokenizer

    from schedsim.integrations.trl import SchedSimGRPOTrainer

    tok = tiny_tokenizer("abcdefghijklmnopqrstuvwxyz0123456789 ")
    ds = datasets.Dataset.from_dict(
        {"prompt": [f"q{i} {chr(97 + i % 26)}" for i in range(64)], "prompt_id": list(range(64))}
    )

    def reward(prompts, completions, prompt_id, **kwargs):
        return [float(c[:1] in "abcdefghijklmnopqrs") for c in completions]

    with tempfile.TemporaryDirectory() as out:
        args = trl.GRPOConfig(
            output_dir=out, per_device_train_batch_size=32, num_generations=8, max_completion_length=8,
            max_steps=steps, report_to=[], use_cpu=True, save_strategy="no", seed=0, logging_steps=steps,
        )  # fmt: skip
        sched = schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=64), seed=0)
        trainer = SchedSimGRPOTrainer(
            model=tiny_gpt2(tok),
            reward_funcs=[reward],
            args=args,
            train_dataset=ds,
            processing_class=tok,
            scheduler=sched,
        )
        # select, and the adapter's per-round work: reward mapping, loss weights, observe
        timer = Timed((sched, "select"), (trainer.schedsim_hub, "record"))
        t0 = time.perf_counter()
        trainer.train()
        total = time.perf_counter() - t0
    return {"step_ms": 1e3 * total / steps, "adapter_ms_per_step": 1e3 * timer.seconds / steps}


def bench_verl(prompts: int, rollouts: int, tokens: int, spec: str, repeats: int = 5) -> dict[str, float]:
    import torch
    from verl import DataProto

    from schedsim.integrations.verl import ID_KEY, feedback_from_batch, row_factors

    rng = np.random.default_rng(0)
    n = prompts * rollouts
    ids = np.repeat(rng.choice(4 * prompts, prompts, replace=False), rollouts)
    scores = torch.zeros(n, tokens)
    scores[:, -1] = torch.as_tensor(rng.random(n) < 0.4, dtype=torch.float32)
    batch = DataProto.from_dict(
        tensors={"token_level_scores": scores, "response_mask": torch.ones(n, tokens), "advantages": scores.clone()},
        non_tensors={
            "uid": np.repeat(np.arange(prompts).astype(str), rollouts).astype(object),
            "extra_info": np.array([{ID_KEY: int(i)} for i in ids], dtype=object),
        },
    )
    sched = schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=4 * prompts), seed=0)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fb = feedback_from_batch(batch)
        row_factors(sched, batch, fb)
        sched.observe(fb)
        sched.select(prompts)
        times.append(time.perf_counter() - t0)
    return {"adapter_ms_per_step": 1e3 * float(np.median(times))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--spec", default="beta")
    a = parser.parse_args()
    trl_row = bench_trl(a.steps, a.spec)
    print(
        f"TRL  {a.spec}: adapter (select + reward mapping + loss weights + observe) {trl_row['adapter_ms_per_step']:.2f} "
        f"ms per step of {trl_row['step_ms']:.0f} ms ({100 * trl_row['adapter_ms_per_step'] / trl_row['step_ms']:.2f} %; "
        f"{a.steps} steps of 4 prompts x 8 generations, tiny GPT-2 on CPU: a real model's step is far longer)"
    )
    verl_row = bench_verl(a.prompts, a.rollouts, a.tokens, a.spec)
    print(
        f"verl {a.spec}: feedback_from_batch + row_factors + observe + select {verl_row['adapter_ms_per_step']:.1f} ms "
        f"per step ({a.prompts} prompts x {a.rollouts} rollouts x {a.tokens} tokens)"
    )


if __name__ == "__main__":
    main()
