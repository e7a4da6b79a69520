"""Run by test_integration_trl under torchrun (2 CPU processes): each rank writes what its scheduler saw.

torchrun --nproc_per_node 2 tests/trl_two_process.py OUT_DIR
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets
import numpy as np
import trl
from conftest import tiny_gpt2, tiny_tokenizer

import schedsim
from schedsim.integrations.trl import SchedSimGRPOTrainer


def reward(prompts, completions, prompt_id, **kwargs):
    """Prompts 0-11 always solved; others solved when the completion starts in the first half of the alphabet."""
    return [
        1.0 if pid < 12 else float(c[:1] in "abcdefghijklmnopqrs")
        for pid, c in zip(prompt_id, completions, strict=True)
    ]


def main(out: str) -> None:
    tok = tiny_tokenizer("abcdefghijklmnopqrstuvwxyz0123456789 ")
    ds = datasets.Dataset.from_dict(
        {"prompt": [f"q{i} {chr(97 + i % 26)}" for i in range(24)], "prompt_id": list(range(24))}
    )
    sched = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=24), seed=0)
    seen: list = []
    selected: list = []
    observe, select = sched.observe, sched.select
    sched.observe = lambda fb: seen.append((fb.prompt_ids.tolist(), fb.rewards.tolist())) or observe(fb)
    sched.select = lambda k: selected.append(select(k).tolist()) or np.array(selected[-1])
    args = trl.GRPOConfig(
        output_dir=out, per_device_train_batch_size=8, num_generations=4, max_completion_length=4, max_steps=4,
        report_to=[], use_cpu=True, save_strategy="no", seed=0, logging_steps=1,
    )  # fmt: skip
    trainer = SchedSimGRPOTrainer(
        model=tiny_gpt2(tok), reward_funcs=[reward], args=args, train_dataset=ds, processing_class=tok, scheduler=sched
    )
    trainer.train()
    rank = int(os.environ.get("RANK", 0))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as handle:
        json.dump({"seen": seen, "sel": selected}, handle)


if __name__ == "__main__":
    main(sys.argv[1])
