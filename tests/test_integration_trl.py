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


GRPO_KEYS = ("success_threshold", "reward_range", "category_column")


def make_trainer(tmp_path, scheduler, max_steps=16, reward_fn=reward, eval_dataset=None, **extra):
    model, tok = tiny_model_and_tokenizer()
    ours = {k: extra.pop(k) for k in GRPO_KEYS if k in extra}
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
        **{"save_strategy": "steps", "save_steps": 8, **extra},
    )
    return SchedSimGRPOTrainer(
        model=model,
        reward_funcs=[reward_fn],
        args=args,
        train_dataset=ds_ids,
        eval_dataset=eval_dataset,
        processing_class=tok,
        scheduler=scheduler,
        **ours,
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


# -- training rewards only, sync and async ---------------------------------------------------------------------------


def recording_reward(calls, trainer_ref, *, asynchronous=False):
    """The test reward, recording (training?, ids, rewards) of every call; sync or async."""

    def score(prompt_id, completions):
        return [1.0 if pid in EASY else float(c[:1] in HALF) for pid, c in zip(prompt_id, completions, strict=True)]

    def note(prompt_id, rewards):
        calls.append((trainer_ref[0].model.training, list(prompt_id), list(rewards)))
        return rewards

    if asynchronous:

        async def reward_async(prompts, completions, prompt_id, **kwargs):
            return note(prompt_id, score(prompt_id, completions))

        return reward_async

    def reward_sync(prompts, completions, prompt_id, **kwargs):
        return note(prompt_id, score(prompt_id, completions))

    return reward_sync


def observing(scheduler):
    """Record every Feedback the scheduler observes (ids and rewards)."""
    seen: list = []
    original = scheduler.observe
    scheduler.observe = lambda fb: seen.append((fb.prompt_ids.copy(), fb.rewards.copy())) or original(fb)  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("asynchronous", [False, True])
def test_only_training_rewards_reach_the_scheduler(tmp_path, asynchronous) -> None:
    scheduler = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=24), seed=0)
    seen = observing(scheduler)
    calls: list = []
    ref: list = []
    evals = datasets.Dataset.from_dict(
        {"prompt": [f"e{i} x" for i in range(4)], "prompt_id": [6000 + i for i in range(4)]}
    )
    trainer = make_trainer(
        tmp_path,
        scheduler,
        max_steps=6,
        reward_fn=recording_reward(calls, ref, asynchronous=asynchronous),
        eval_dataset=evals,
        eval_strategy="steps",
        eval_steps=3,
        num_generations_eval=2,
        per_device_eval_batch_size=4,
    )
    ref.append(trainer)
    trainer.train()
    train_calls = [c for c in calls if c[0]]
    eval_calls = [c for c in calls if not c[0]]
    assert len(train_calls) == 6 and eval_calls and all(min(ids) >= 6000 for _, ids, _ in eval_calls)
    assert len(seen) == 6  # one Feedback per training round, none for evaluation
    for (ids_seen, rewards_seen), (_, ids, rewards) in zip(seen, train_calls, strict=True):
        assert ids_seen.tolist() == ids[::4]  # groups of num_generations=4 consecutive rows
        np.testing.assert_array_equal(rewards_seen, np.array(rewards).reshape(-1, 4))


# -- loss weights and the mixed reduction reach the advantages -------------------------------------------------------


def advantages_before_and_after(monkeypatch, trainer):
    """(TRL's own advantages, the ones the loss sees) for every training round."""
    before, after = [], []
    base = trl.GRPOTrainer._generate_and_score_completions

    def spy_base(self, inputs):
        out = base(self, inputs)
        if self.model.training:
            before.append(out["advantages"].clone())
        return out

    monkeypatch.setattr(trl.GRPOTrainer, "_generate_and_score_completions", spy_base)
    ours = SchedSimGRPOTrainer._generate_and_score_completions

    def spy_ours(self, inputs):
        out = ours(self, inputs)
        if self.model.training:
            after.append(out["advantages"].clone())
        return out

    monkeypatch.setattr(SchedSimGRPOTrainer, "_generate_and_score_completions", spy_ours)
    return before, after


def test_beta_weight_mode_scales_each_group_advantage_by_its_kernel_weight(tmp_path, monkeypatch) -> None:
    spec = "beta:mode=weight,alpha=2,beta=1,floor=0,weight_norm=none"
    scheduler = schedsim.make_scheduler(spec, pool=schedsim.PromptPool(n=24), seed=0)
    seen = observing(scheduler)
    trainer = make_trainer(tmp_path, scheduler, max_steps=3, save_strategy="no")
    before, after = advantages_before_and_after(monkeypatch, trainer)
    trainer.train()
    assert len(before) == len(after) == len(seen) == 3
    for (_, rewards), a0, a1 in zip(seen, before, after, strict=True):
        p = rewards.mean(axis=1)
        w = np.repeat(p**2 * (1 - p), 4)  # p^alpha (1-p)^beta with alpha=2, beta=1, no floor, no normalisation
        np.testing.assert_allclose(a1.numpy(), a0.numpy() * w, rtol=1e-6, atol=1e-7)
    assert any(float(a.abs().sum()) > 0 for a in before)  # the check above is not vacuous


def test_uniform_mixed_rescales_advantages_to_the_mixed_groups(tmp_path, monkeypatch) -> None:
    scheduler = schedsim.make_scheduler("uniform-mixed", pool=schedsim.PromptPool(n=24), seed=0)
    seen = observing(scheduler)
    trainer = make_trainer(tmp_path, scheduler, max_steps=3, save_strategy="no")
    before, after = advantages_before_and_after(monkeypatch, trainer)
    trainer.train()
    factors = []
    for (_, rewards), a0, a1 in zip(seen, before, after, strict=True):
        mixed = int((rewards.max(axis=1) != rewards.min(axis=1)).sum())
        factor = len(rewards) / max(mixed, 1)
        factors.append(factor)
        np.testing.assert_allclose(a1.numpy(), a0.numpy() * factor, rtol=1e-6)
    assert max(factors) > 1  # some round had all-correct groups (the EASY prompts)


# -- exact resume ----------------------------------------------------------------------------------------------------


def test_mid_epoch_resume_trains_exactly_what_an_uninterrupted_run_does(tmp_path) -> None:
    def rounds(scheduler):
        """The prompt ids and rewards of every training round, in order (what was trained on)."""
        out: list = []
        original = scheduler.observe
        scheduler.observe = lambda fb: out.append((fb.prompt_ids.tolist(), fb.rewards.tolist())) or original(fb)  # type: ignore[method-assign]
        return out

    whole = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=24), seed=3)
    full = rounds(whole)
    make_trainer(tmp_path / "a", whole, max_steps=10, save_steps=4).train()  # 6 rounds per epoch: step 4 is mid-epoch
    resumed = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=24), seed=99)
    rest = rounds(resumed)
    trainer = make_trainer(tmp_path / "b", resumed, max_steps=10, save_steps=4)
    trainer.train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-4"))
    assert len(full) == 10 and rest == full[4:]


# -- loud failures and ergonomics ------------------------------------------------------------------------------------


def test_rewards_outside_unit_interval_need_an_explicit_mapping(tmp_path) -> None:
    def pm_one(prompts, completions, prompt_id, **kwargs):
        return [1.0 if pid in EASY else -1.0 for pid in prompt_id]

    scheduler = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=24), seed=0)
    with pytest.raises(schedsim.SchedsimError, match=r"reward -1\.0 is outside \[0, 1\].*success_threshold"):
        make_trainer(tmp_path / "a", scheduler, max_steps=1, reward_fn=pm_one, save_strategy="no").train()
    scheduler = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=24), seed=0)
    seen = observing(scheduler)
    make_trainer(
        tmp_path / "b", scheduler, max_steps=2, reward_fn=pm_one, save_strategy="no", success_threshold=0.0
    ).train()
    for ids, rewards in seen:
        np.testing.assert_array_equal(rewards, np.repeat(np.isin(ids, list(EASY)).astype(float)[:, None], 4, axis=1))
    scheduler = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=24), seed=0)
    seen = observing(scheduler)
    make_trainer(
        tmp_path / "c", scheduler, max_steps=1, reward_fn=pm_one, save_strategy="no", reward_range=(-1.0, 3.0)
    ).train()
    ids, rewards = seen[0]
    np.testing.assert_allclose(rewards[:, 0], np.where(np.isin(ids, list(EASY)), 0.5, 0.0))


def test_spec_string_positional_dataset_and_scheduler_metrics_in_logs(tmp_path) -> None:
    model, tok = tiny_model_and_tokenizer()
    ds = datasets.Dataset.from_dict(
        {"prompt": [f"q{i} a" for i in range(24)], "prompt_id": list(range(24)), "level": [i % 3 for i in range(24)]}
    )
    args = trl.GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=16, num_generations=4, max_completion_length=4,
        max_steps=2, report_to=[], use_cpu=True, logging_steps=1, save_strategy="no", seed=5,
    )  # fmt: skip
    trainer = SchedSimGRPOTrainer(
        model, [reward], args, ds, processing_class=tok, scheduler="sec", category_column="level"
    )
    assert trainer.scheduler.name == "sec" and trainer.scheduler.pool.category.tolist()[:4] == [0, 1, 2, 0]
    trainer.train()
    logged = {k for row in trainer.state.log_history for k in row}
    assert any(k.startswith("sched/q/") for k in logged), sorted(logged)
    with pytest.raises(schedsim.SchedsimError, match="holds no checkpoint-N folder"):
        trainer.train(resume_from_checkpoint=True)


def test_refusals_name_the_value_and_the_fix(tmp_path) -> None:
    model, tok = tiny_model_and_tokenizer()
    rows = {"prompt": [f"q{i}" for i in range(8)], "prompt_id": list(range(8))}
    stream = datasets.Dataset.from_dict(rows).to_iterable_dataset()
    args = trl.GRPOConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True, max_steps=2)
    sched = schedsim.make_scheduler("uniform", pool=schedsim.PromptPool(n=8), seed=0)
    with pytest.raises(schedsim.SchedsimError, match="IterableDataset"):
        SchedSimGRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=stream, scheduler=sched)
    ds = datasets.Dataset.from_dict(rows)
    cut = trl.GRPOConfig(
        output_dir=str(tmp_path), report_to=[], use_cpu=True, max_steps=4, num_iterations=2, save_steps=3,
        per_device_train_batch_size=8, num_generations=4,
    )  # fmt: skip
    with pytest.raises(schedsim.SchedsimError, match=r"save_steps=3 cuts a generation round \(2 optimizer steps"):
        SchedSimGRPOTrainer(
            model=model, reward_funcs=[reward], args=cut, train_dataset=ds, processing_class=tok, scheduler=sched
        )


def test_two_processes_observe_and_select_identically(tmp_path) -> None:
    """torchrun, 2 CPU processes (gloo): rewards and ids gathered in the same order, so the two schedulers agree."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    torchrun = Path(sys.executable).with_name("torchrun")
    script = Path(__file__).with_name("trl_two_process.py")
    cmd = [str(torchrun), "--nproc_per_node", "2", str(script), str(tmp_path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    a, b = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert a == b and len(a["seen"]) == 4
    assert all(len(ids) == 4 for ids, _ in a["seen"])  # 2 processes x 8 rows = 16 completions = 4 groups of 4
    assert [ids for ids, _ in a["seen"]] == a["sel"][:4]  # trained on what was selected, in order
