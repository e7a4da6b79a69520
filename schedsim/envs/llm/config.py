"""Configuration of the real-LLM mode."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from schedsim.core.params import check_choice, check_int, check_range
from schedsim.envs.arith.config import check_rl_knobs
from schedsim.envs.llm.data import VERIFIERS
from schedsim.envs.spec import Preset, parse_config


@dataclass(frozen=True)
class LLMConfig:
    """A local Hugging Face causal LM trained by RL on a JSONL problem file.

    ``model``: local directory of a causal LM and its tokenizer, or a ``.gguf`` file (never downloaded;
    ``schedsim fetch-model smollm2`` puts a real one in the cache); ``gguf_file``: the GGUF file's name when
    ``model`` is the directory holding it. ``data``: JSONL problems (``prompt``, ``answer``, optional ``id``,
    ``category``), or ``reasoning-gym:TASK[+TASK...]`` (:mod:`schedsim.envs.llm.rgym`: ``rg_per_level`` problems per
    difficulty level, ``rg_levels`` levels, success when reasoning-gym's score >= ``rg_threshold``; the answer is the
    completion's last line, or its last number with ``rg_extract=number``);
    ``eval_fraction`` of them (per category, at least one) is held out. ``verifier``: ``numeric`` | ``exact`` | ``math-verify``. Sampling: ``max_new_tokens``,
    ``temperature``; the tokenizer's chat template is applied when it has one and ``chat_template`` is true.
    Training: ``trainer`` ``grpo`` | ``tb``, ``advantage`` ``grpo`` | ``mean``, ``lr`` (AdamW), ``clip``,
    ``warmup``/``decay_to``/``horizon`` (schedule), ``reduction``; ``lora`` (via peft) with ``lora_r``.
    log Z head for ``paced``: ``head`` ``mlp`` (over frozen mean-pooled prompt states of the initial model) |
    ``table`` | ``none``; ``kl_coef``, ``head_lr`` (AdamW), ``head_hidden``; ``head_init`` (default 0.5: u = beta log Z
    of every prompt before any fit, a prior at a mid-range starting pass rate; set it to the model's measured
    starting accuracy when known), ``head_output`` ``sigmoid`` (default, u in (0, 1)) | ``softplus`` (u > 0) |
    ``linear`` (unbounded), ``head_weight_decay`` (AdamW, default 0.1 as the paper); see :mod:`schedsim.envs.heads`. ``eval_samples`` per held-out problem;
    ``device`` ``auto`` | ``cpu`` | ``cuda``; ``threads`` (0 = torch default).
    """

    model: str | None = None
    gguf_file: str | None = None
    data: str | None = None
    rg_per_level: int = 40
    rg_levels: int = 3
    rg_threshold: float = 1.0
    rg_extract: str = "line"
    eval_fraction: float = 0.1
    data_seed: int = 0
    verifier: str = "numeric"
    max_new_tokens: int = 64
    temperature: float = 1.0
    chat_template: bool = True
    trainer: str = "grpo"
    advantage: str = "grpo"
    lr: float = 1e-6
    clip: float = 1.0
    warmup: int = 0
    decay_to: float = 1.0
    horizon: int = 1000
    reduction: str = "all"
    lora: bool = False
    lora_r: int = 8
    head: str = "mlp"
    kl_coef: float = 0.05
    head_lr: float = 1e-3
    head_hidden: int = 64
    head_init: float = 0.5
    head_output: str = "sigmoid"
    head_weight_decay: float = 0.1
    eval_samples: int = 1
    device: str = "auto"
    threads: int = 0

    def __post_init__(self) -> None:
        check_range("eval_fraction", self.eval_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
        check_choice("verifier", self.verifier, VERIFIERS)
        for name in ("max_new_tokens", "lora_r", "rg_per_level", "rg_levels"):
            check_int(name, getattr(self, name), 1)
        check_range("rg_threshold", self.rg_threshold, 0.0, 1.0)
        check_choice("rg_extract", self.rg_extract, ("line", "number"))
        check_rl_knobs(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS = {"default": Preset("default", "a local HF causal LM on a JSONL problem file (set model= and data=)")}


def parse_llm_spec(rest: str) -> tuple[str, LLMConfig]:
    """Parse ``"[preset][,key=value...]"`` (the part after ``llm:``), e.g. ``model=/models/qwen,data=gsm8k.jsonl``."""
    return parse_config("llm", LLMConfig, PRESETS, rest)
