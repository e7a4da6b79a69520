"""Real-LLM mode: local Hugging Face causal LMs on JSONL problems (needs torch and transformers)."""

from __future__ import annotations

from schedsim.envs.llm.config import LLMConfig, parse_llm_spec
from schedsim.envs.llm.data import load_jsonl, verify

__all__ = ["LLMConfig", "load_jsonl", "parse_llm_spec", "verify"]
