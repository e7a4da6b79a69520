from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import schedsim
from schedsim.core.registry import signals

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download models or datasets
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# hypothesis: `ci` (default) runs 200 examples per property; HYPOTHESIS_PROFILE=thorough runs 2000; `mutation`
# (set by `make mutation`, which reruns the covering tests once per mutant) runs 25 fixed examples. No deadline:
# the machine is shared, and a test never asserts on time.
_PROFILE = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}
settings.register_profile("ci", max_examples=200, **_PROFILE)
settings.register_profile("thorough", max_examples=2000, **_PROFILE)
settings.register_profile("mutation", max_examples=25, derandomize=True, database=None, **_PROFILE)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def pool() -> schedsim.PromptPool:
    return schedsim.PromptPool(n=200, category=np.arange(200) % 5)


def builtin_kwargs(name: str, n: int) -> dict:
    """Trainer-side signals a registered scheduler needs to run in tests (paced: a log Z table)."""
    if "probe" in signals(name):  # lilo, dapo, band, greso: a deterministic synthetic rollout source
        from schedsim.checks import SyntheticProbe

        return {"probe": SyntheticProbe(n)}
    if name == "paced":
        rng = np.random.default_rng(0)
        table = schedsim.LogZTable(n)
        table.update(np.arange(n), rng.uniform(0, 20, n))  # p-hat = 0.05 * log Z spans [0, 1]
        return {"log_z": table}
    return {}


def tiny_tokenizer(chars: str):
    """A character-level Hugging Face tokenizer built on the fly (no download): one token per character."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {c: i for i, c in enumerate(chars)} | {"<eos>": len(chars), "<pad>": len(chars) + 1}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")


def tiny_gpt2(tokenizer):
    """A randomly initialised 1-layer, 32-wide GPT-2 for ``tokenizer`` (seeded)."""
    import transformers

    transformers.set_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return transformers.GPT2LMHeadModel(config)
