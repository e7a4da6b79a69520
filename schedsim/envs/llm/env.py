"""Real-LLM mode: a local Hugging Face causal LM trained by GRPO or trajectory balance on verifiable problems.

Same face as the other environments. Nothing is downloaded: the model directory must hold the weights and the
tokenizer (``local_files_only``). Generation is batched with left padding; sampling randomness is drawn from the
environment's own seeded generator (torch's global state is restored after each call).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from schedsim.core.errors import SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.seeding import make_rng
from schedsim.envs.arith.env import resolve_device
from schedsim.envs.arith.trainer import (
    MLPHead,
    TableHead,
    batch_tensors,
    fit_head,
    head_baseline,
    head_optimizer,
    optimise,
    policy_loss,
)
from schedsim.envs.llm.config import LLMConfig
from schedsim.envs.llm.data import Problems, load_jsonl, verify
from schedsim.envs.llm.rgym import is_rgym, load_rgym


def split_problems(problems: Problems, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / held-out positions: ``fraction`` of each category held out (at least one when it has two)."""
    rng = make_rng(seed)
    train, held = [], []
    for c in np.unique(problems.category):
        idx = rng.permutation(np.flatnonzero(problems.category == c))
        k = min(len(idx) - 1, max(1, round(fraction * len(idx)))) if len(idx) > 1 else 0
        held.extend(idx[:k].tolist())
        train.extend(idx[k:].tolist())
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(held, dtype=np.int64))


def model_location(cfg: LLMConfig) -> tuple[str, str | None]:
    """(directory, GGUF file name or None) of ``cfg.model``: a model directory, a ``.gguf`` file, or a directory plus
    ``gguf_file``."""
    path = Path(cfg.model) if cfg.model else None
    if path is not None and path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if path is None or not path.is_dir():
        raise SchedsimError(
            f"model path {cfg.model!r} is neither a directory nor a .gguf file; accepted: a local Hugging Face model "
            "dir or a GGUF file (schedsim fetch-model smollm2 prints one)"
        )
    if cfg.gguf_file is not None and not (path / cfg.gguf_file).is_file():
        raise SchedsimError(f"gguf_file {cfg.gguf_file!r} is not in {str(path)!r}; accepted: a file in the model dir")
    return str(path), cfg.gguf_file


def _gguf(name: str | None) -> dict[str, str]:
    return {} if name is None else {"gguf_file": name}


def load_problems(cfg: LLMConfig) -> tuple[Problems, list[Callable[[str], float]]]:
    """The problems and one scorer per problem (completion -> 0/1): a JSONL file or a reasoning-gym spec."""
    if is_rgym(cfg.data):
        return load_rgym(
            cfg.data,
            per_level=cfg.rg_per_level,
            levels=cfg.rg_levels,
            seed=cfg.data_seed,
            threshold=cfg.rg_threshold,
            extract=cfg.rg_extract,
        )
    problems = load_jsonl(cfg.data)
    return problems, [functools.partial(verify, answer=a, kind=cfg.verifier) for a in problems.answers]


def check_context(tokenizer, texts: list[str], max_new_tokens: int, context: int | None) -> None:
    """SchedsimError before any weight is loaded when the longest prompt plus ``max_new_tokens`` exceeds the
    model's context (generation would otherwise fail deep inside ``generate`` after minutes of work)."""
    if context is None:
        return
    longest = max(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    if longest + max_new_tokens > context:
        raise SchedsimError(
            f"the longest prompt has {longest} tokens and max_new_tokens={max_new_tokens}: {longest + max_new_tokens} "
            f"> the model's context of {context} tokens; accepted: max_new_tokens <= {max(context - longest, 0)}, "
            "shorter prompts, or a model with a longer context"
        )


#: end-of-turn markers of common chat templates: generation also stops at any of them that the tokenizer knows as
#: one token (a GGUF tokenizer may declare another EOS, e.g. SmolLM2's ``<|im_start|>``, while its turns end with
#: ``<|im_end|>``)
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


def stop_token_ids(tokenizer) -> list[int]:
    """The tokenizer's EOS id plus the ids of the :data:`END_OF_TURN` markers it has as single special tokens."""
    ids = [tokenizer.eos_token_id]
    special = set(getattr(tokenizer, "all_special_tokens", [])) | set(tokenizer.get_added_vocab())
    for marker in END_OF_TURN:
        if marker in special:
            token = tokenizer.convert_tokens_to_ids(marker)
            if isinstance(token, int) and token not in ids and token != tokenizer.unk_token_id:
                ids.append(token)
    return ids


class LLMEnv:
    """RL of a local causal LM on a JSONL problem set; see :class:`~schedsim.envs.llm.config.LLMConfig`."""

    name = "llm"

    def __init__(self, config: LLMConfig | None = None, *, seed: int = 0) -> None:
        self.config = cfg = config or LLMConfig()
        self.model_dir, self.gguf_file = model_location(cfg)
        if not cfg.data:
            raise SchedsimError(
                "no problem file; accepted: --data FILE.jsonl (fields prompt, answer, id, category) or "
                "--data reasoning-gym:TASK"
            )
        problems, scorers = load_problems(cfg)
        self.device = resolve_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.tokenizer = self._load_tokenizer(self.model_dir, self.gguf_file)
        self.stop_ids = stop_token_ids(self.tokenizer)
        train_idx, held_idx = split_problems(problems, cfg.eval_fraction, cfg.data_seed)
        if len(held_idx) == 0:
            raise SchedsimError("no held-out problem: every category needs at least two problems")
        texts = [self._render(p) for p in problems.prompts]
        check_context(self.tokenizer, texts, cfg.max_new_tokens, self._context_length())  # before loading weights
        self.model = self._load_model(cfg, seed)
        self.train_text = [texts[i] for i in train_idx]
        self.train_answers = [problems.answers[i] for i in train_idx]
        self.train_score = [scorers[i] for i in train_idx]
        self.held_text = [texts[i] for i in held_idx]
        self.held_answers = [problems.answers[i] for i in held_idx]
        self.held_score = [scorers[i] for i in held_idx]
        self.held_category = problems.category[held_idx]
        self.embedding = self._embedding()
        # the pool carries the embedding, so amortised schedulers (pcl, dots, ads) see what the log Z head sees
        self.pool = PromptPool(
            n=len(train_idx), category=problems.category[train_idx], features=self.embedding.cpu().numpy()
        )
        self.rng = make_rng(seed + 1)
        self.opt = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=cfg.lr)
        self.head = self._build_head(seed)
        self.head_opt = head_optimizer(self.head, cfg)
        self._pending: tuple | None = None
        self._probe: np.ndarray | None = None
        self.probe_ids = np.sort(
            make_rng(cfg.data_seed + 1).choice(self.pool.n, size=min(32, self.pool.n), replace=False)
        )
        self.steps = 0

    # -- loading -----------------------------------------------------------------------------------------------
    @staticmethod
    def _load_tokenizer(path: str, gguf_file: str | None = None):
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True, **_gguf(gguf_file))
        except (OSError, ValueError) as exc:
            raise SchedsimError(
                f"no usable tokenizer in {path!r} ({type(exc).__name__}); accepted: a model dir with its tokenizer"
            ) from None
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        if tok.eos_token is None:
            raise SchedsimError(f"the tokenizer in {path!r} has no EOS token; accepted: a tokenizer with eos_token")
        tok.padding_side = "left"
        return tok

    def _load_model(self, cfg: LLMConfig, seed: int):
        from transformers import AutoModelForCausalLM

        try:
            model = AutoModelForCausalLM.from_pretrained(
                self.model_dir, local_files_only=True, **_gguf(self.gguf_file)
            ).to(self.device)
        except (OSError, ValueError) as exc:
            raise SchedsimError(f"cannot load a causal LM from {cfg.model!r} ({type(exc).__name__}: {exc})") from None
        if cfg.lora:
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                raise SchedsimError("lora=true needs the peft package; pip install peft") from None
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = get_peft_model(model, LoraConfig(r=cfg.lora_r, target_modules="all-linear"))
        return model

    def _context_length(self) -> int | None:
        """The model's maximum sequence length from its configuration (no weights loaded), if it states one."""
        from transformers import AutoConfig

        try:
            conf = AutoConfig.from_pretrained(self.model_dir, local_files_only=True, **_gguf(self.gguf_file))
        except (OSError, ValueError) as exc:
            raise SchedsimError(f"cannot read the model configuration in {self.model_dir!r} ({exc})") from None
        for key in ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length"):
            value = getattr(conf, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    def _render(self, prompt: str) -> str:
        if self.config.chat_template and getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        return prompt

    def _encode(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}

    def _build_head(self, seed: int) -> torch.nn.Module | None:
        cfg = self.config
        if cfg.head == "none":
            return None
        if cfg.head == "table":
            return TableHead(self.pool.n, cfg.head_init, cfg.head_output).to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 2)
            return MLPHead(self.embedding, cfg.head_hidden, cfg.head_init, cfg.head_output).to(self.device)

    def _embedding(self) -> torch.Tensor:
        """Frozen mean-pooled final hidden states of the initial model, one row per train prompt (float32)."""
        states = []
        with torch.no_grad():
            for start in range(0, len(self.train_text), 16):
                enc = self._encode(self.train_text[start : start + 16])
                out = self.model(**enc, output_hidden_states=True)
                mask = enc["attention_mask"].unsqueeze(-1).float()
                states.append((out.hidden_states[-1] * mask).sum(1) / mask.sum(1))
        return torch.cat(states).float()

    # -- sampling and log-probs --------------------------------------------------------------------------------
    def _generate(self, texts: list[str]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        enc = self._encode(texts)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(int(self.rng.integers(0, 2**31)))
            self.model.eval()
            out = self.model.generate(
                **enc,
                do_sample=True,
                temperature=self.config.temperature,
                top_k=0,
                top_p=1.0,
                max_new_tokens=self.config.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.stop_ids,
            )
        return enc, out[:, enc["input_ids"].shape[1] :]

    def _completion_mask(self, completions: torch.Tensor) -> torch.Tensor:
        is_eos = torch.isin(completions, torch.as_tensor(self.stop_ids, device=completions.device)).long()
        return ((is_eos.cumsum(dim=1) - is_eos) == 0).float()  # up to and including the first EOS

    def _logprob(self, enc: dict[str, torch.Tensor], completions: torch.Tensor) -> torch.Tensor:
        """Differentiable ``log pi(completion | prompt)`` per sequence, up to and including EOS."""
        mask = self._completion_mask(completions)
        ids = torch.cat([enc["input_ids"], completions], dim=1)
        attn = torch.cat([enc["attention_mask"], mask.long()], dim=1)
        pos = (attn.cumsum(dim=1) - 1).clamp(min=0)
        logits = self.model(input_ids=ids, attention_mask=attn, position_ids=pos).logits
        logits = logits[:, enc["input_ids"].shape[1] - 1 : -1].float()
        token_logp = torch.log_softmax(logits, dim=-1).gather(2, completions[:, :, None])[:, :, 0]
        return torch.where(mask > 0, token_logp, 0.0).sum(dim=1)

    def _rewards(self, completions: torch.Tensor, scorers: list[Callable[[str], float]]) -> np.ndarray:
        texts = self.tokenizer.batch_decode(completions, skip_special_tokens=True)
        return np.array([score(t) for t, score in zip(texts, scorers, strict=True)])

    # -- the environment face --------------------------------------------------------------------------------
    def log_z(self, ids: np.ndarray) -> np.ndarray:
        """log Z_phi(x) = u(x) / beta for train prompt ids (the ``paced`` source)."""
        if self.head is None:
            raise SchedsimError("this llm env has head='none'; accepted: head='mlp' or head='table' for log Z")
        with torch.no_grad():
            u = self.head(torch.as_tensor(np.array(ids, dtype=np.int64), device=self.device))
        return u.float().cpu().numpy().astype(np.float64) / self.config.kl_coef

    def rollout(self, ids: np.ndarray, group: int) -> Feedback:
        ids = np.asarray(ids, dtype=np.int64)
        texts = [self.train_text[i] for i in ids for _ in range(group)]
        enc, completions = self._generate(texts)
        rewards = self._rewards(completions, [self.train_score[i] for i in ids for _ in range(group)])
        fb = Feedback(
            prompt_ids=ids, rewards=rewards.reshape(-1, group), log_z=None if self.head is None else self.log_z(ids)
        )
        self._pending = (fb, enc, completions)
        return fb

    def learn(
        self, feedback: Feedback, weights: np.ndarray | None = None, reduction: str | None = None
    ) -> dict[str, float]:
        if self._pending is None or self._pending[0] is not feedback:
            raise SchedsimError("llm learn() needs the Feedback returned by the last rollout(); accepted: that object")
        cfg = self.config
        fb, enc, completions = self._pending
        self._pending = None
        m, group = fb.rewards.shape
        ids, rewards, w = batch_tensors(fb, weights, self.device)
        self.model.train()
        logp = self._logprob(enc, completions).reshape(m, group)
        _, baseline = head_baseline(self.head, ids, cfg)
        loss = policy_loss(logp, rewards, w, cfg, baseline, reduction or cfg.reduction)
        params = [p for p in self.model.parameters() if p.requires_grad]
        norm = optimise(loss, params, self.opt, cfg, self.steps)
        fit_head(self.head, self.head_opt, ids, rewards.mean(dim=1))  # on-policy TB target: r
        self.steps += 1
        return {"train/grad_norm": norm, "train/loss": float(loss.detach())}

    def _accuracy(self, texts: list[str], scorers: list[Callable[[str], float]], samples: int) -> np.ndarray:
        out = np.zeros(len(texts))
        for start in range(0, len(texts), 16):
            chunk = slice(start, start + 16)
            rep = [t for t in texts[chunk] for _ in range(samples)]
            _, completions = self._generate(rep)
            r = self._rewards(completions, [a for a in scorers[chunk] for _ in range(samples)])
            out[chunk] = r.reshape(-1, samples).mean(axis=1)
        return out

    def evaluate(self) -> dict[str, float]:
        """Held-out sampled accuracy (macro mean over categories, and per category) and the calibration probe."""
        acc = self._accuracy(self.held_text, self.held_score, self.config.eval_samples)
        cats = np.unique(self.held_category)
        per_cat = np.array([acc[self.held_category == c].mean() for c in cats])
        out = {"heldout_acc": float(per_cat.mean())} | {
            f"heldout_acc_c{c}": float(v) for c, v in zip(cats, per_cat, strict=True)
        }
        self._probe = self._accuracy(
            [self.train_text[i] for i in self.probe_ids], [self.train_score[i] for i in self.probe_ids], 4
        )
        out["train_acc"] = float(self._probe.mean())
        return out

    def reference_pass_rates(self) -> tuple[np.ndarray, np.ndarray]:
        if self._probe is None:
            self.evaluate()
        return self.probe_ids, self._probe
