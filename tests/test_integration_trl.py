"""A real trl.GRPOTrainer on CPU, a tiny random GPT-2 and a tokenizer built here, driven by a schedsim scheduler."""

from __future__ import annotations

import numpy as np
import pytest

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
transformers = pytest.importorskip("transformers")

from conftest import tiny_gpt2, tiny_tokenizer  # noqa: E402

import schedsim  # noqa: E402
from schedsim.integrations.trl import SchedSimGRPOTrainer, check_trl_version, pool_from_dataset  # noqa: E402

EASY = set(range(12))  # prompts whose every completion is rewarded: all-correct groups


def tiny_model_and_tokenizer():
    tok = tiny_tokenizer("abcdefghijklmnopqrstuvwxyz0123456789 ")
    return tiny_gpt2(tok), tok


HALF = set("abcdefghijklmnopqrs")  # about half of a random model's first characters


def reward(prompts, completions, prompt_id, **kwargs):
    """Easy prompts: always correct. Others: correct when the completion starts in HALF (p about 0.5)."""
    return [1.0 if pid in EASY else float(c[:1] in HALF) for pid, c in zip(prompt_id, completions, strict=True)]


def make_trainer(tmp_path, scheduler, max_steps=16, **extra):
    model, tok = tiny_model_and_tokenizer()
    ds = datasets.Dataset.from_dict(
        {"prompt": [f"q{i} {chr(97 + i % 26)}" for i in range(24)], "prompt_id": [1000 + i for i in range(24)]}
    )
    ds_ids = ds.map(lambda row: {"prompt_id": row["prompt_id"] - 1000})  # ids 0..23, as the reward expects
    args = trl.GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=16,
        num_generations=4,
        max_completion_length=4,
        max_steps=max_steps,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        logging_steps=1,
        seed=0,
        save_strategy="steps",
        save_steps=8,
        **extra,
    )
    return SchedSimGRPOTrainer(
        model=model, reward_funcs=[reward], args=args, train_dataset=ds_ids, processing_class=tok, scheduler=scheduler
    )


def test_grpo_trainer_is_driven_by_the_scheduler_and_feeds_it(tmp_path) -> None:
    pool = schedsim.PromptPool(n=24)
    scheduler = schedsim.make_scheduler("beta", pool=pool, seed=0)
    selected: list[np.ndarray] = []
    observed: list[int] = []
    original_select, original_observe = scheduler.select, scheduler.observe
    scheduler.select = lambda k: selected.append(original_select(k)) or selected[-1]  # type: ignore[method-assign]
    scheduler.observe = lambda fb: observed.extend(fb.prompt_ids.tolist()) or original_observe(fb)  # type: ignore[method-assign]
    trainer = make_trainer(tmp_path, scheduler)
    trainer.train()
    chosen = np.concatenate(selected)
    assert set(observed) <= set(chosen.tolist()) and len(observed) >= 16 * 4 - 4  # rewards for what it chose
    early = np.mean([i in EASY for i in chosen[:16]])
    late = np.mean([i in EASY for i in chosen[-20:]])
    assert late < early and late < 0.35, (early, late)  # all-correct prompts stop being selected
    assert any("sched/selected" in row for row in trainer.state.log_history)
    d = scheduler.distribution()
    assert d[sorted(EASY)].mean() < d[12:].mean() / 3


def test_scheduler_state_saved_with_checkpoints_and_restored(tmp_path) -> None:
    scheduler = schedsim.make_scheduler("gaussian", pool=schedsim.PromptPool(n=24), seed=0)
    make_trainer(tmp_path, scheduler, max_steps=8).train()
    saved = scheduler.state_dict()
    fresh = schedsim.make_scheduler("gaussian", pool=schedsim.PromptPool(n=24), seed=99)
    trainer = make_trainer(tmp_path, fresh, max_steps=9)
    before_rng = fresh.state_dict()["rng"]
    trainer.train(resume_from_checkpoint=True)
    assert before_rng != saved["rng"] and fresh.metrics()["sched/observed_groups"] > saved["counters"][1]


def test_loud_failures(tmp_path) -> None:
    with pytest.raises(schedsim.SchedsimError, match=r"TRL 0\.10\.0 is not supported"):
        check_trl_version("0.10.0")
    scheduler = schedsim.make_scheduler("uniform", pool=schedsim.PromptPool(n=5), seed=0)
    model, tok = tiny_model_and_tokenizer()
    ds = datasets.Dataset.from_dict({"prompt": ["a"] * 5})
    with pytest.raises(schedsim.SchedsimError, match="train_dataset has no 'prompt_id' column"):
        SchedSimGRPOTrainer(
            model=model,
            reward_funcs=[reward],
            train_dataset=ds,
            processing_class=tok,
            scheduler=scheduler,
            args=trl.GRPOConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True),
        )
    pool = pool_from_dataset(datasets.Dataset.from_dict({"level": ["hard", "easy", "hard"]}), category_column="level")
    assert pool.category.tolist() == [1, 0, 1]
