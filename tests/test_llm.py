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
    with pytest.raises(schedsim.SchedsimError, match="is not a directory"):
        make_env(f"llm:model={tmp_path / 'nope'},data={data_file}", seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(schedsim.SchedsimError, match="no usable tokenizer"):
        make_env(f"llm:model={tmp_path / 'empty'},data={data_file}", seed=0)


def test_env_face_and_determinism(model_dir: str, data_file: str) -> None:
    spec = f"llm:model={model_dir},data={data_file},max_new_tokens=4,eval_fraction=0.25"
    env = make_env(spec, seed=0)
    assert env.pool.n == 18 and env.pool.n_categories == 2
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
