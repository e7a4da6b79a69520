"""Real-LLM mode: a local Hugging Face causal LM trained by GRPO or trajectory balance on verifiable problems.

Same face as the other environments. Nothing is downloaded: the model directory must hold the weights and the
tokenizer (``local_files_only``). Generation is batched with left padding; sampling randomness is drawn from the
environment's own seeded generator (torch's global state is restored after each call).
"""

from __future__ import annotations

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


class LLMEnv:
    """RL of a local causal LM on a JSONL problem set; see :class:`~schedsim.envs.llm.config.LLMConfig`."""

    name = "llm"

    def __init__(self, config: LLMConfig | None = None, *, seed: int = 0) -> None:
        self.config = cfg = config or LLMConfig()
        if not cfg.model or not Path(cfg.model).is_dir():
            raise SchedsimError(
                f"model path {cfg.model!r} is not a directory; accepted: a local Hugging Face model dir"
            )
        if not cfg.data:
            raise SchedsimError("no problem file; accepted: --data FILE.jsonl (fields prompt, answer, id, category)")
        problems = load_jsonl(cfg.data)
        self.device = resolve_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.tokenizer = self._load_tokenizer(cfg.model)
        self.model = self._load_model(cfg, seed)
        train_idx, held_idx = split_problems(problems, cfg.eval_fraction, cfg.data_seed)
        if len(held_idx) == 0:
            raise SchedsimError("no held-out problem: every category needs at least two problems")
        texts = [self._render(p) for p in problems.prompts]
        self.train_text = [texts[i] for i in train_idx]
        self.train_answers = [problems.answers[i] for i in train_idx]
        self.held_text = [texts[i] for i in held_idx]
        self.held_answers = [problems.answers[i] for i in held_idx]
        self.held_category = problems.category[held_idx]
        self.pool = PromptPool(n=len(train_idx), category=problems.category[train_idx])
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
    def _load_tokenizer(path: str):
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
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
            model = AutoModelForCausalLM.from_pretrained(cfg.model, local_files_only=True).to(self.device)
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
        states = []
        with torch.no_grad():  # frozen mean-pooled prompt states of the initial model: the "embedding"
            for start in range(0, self.pool.n, 16):
                enc = self._encode(self.train_text[start : start + 16])
                out = self.model(**enc, output_hidden_states=True)
                mask = enc["attention_mask"].unsqueeze(-1).float()
                states.append((out.hidden_states[-1] * mask).sum(1) / mask.sum(1))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 2)
            return MLPHead(torch.cat(states).float(), cfg.head_hidden, cfg.head_init, cfg.head_output).to(self.device)

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
                eos_token_id=self.tokenizer.eos_token_id,
            )
        return enc, out[:, enc["input_ids"].shape[1] :]

    def _completion_mask(self, completions: torch.Tensor) -> torch.Tensor:
        is_eos = (completions == self.tokenizer.eos_token_id).long()
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

    def _rewards(self, completions: torch.Tensor, answers: list[str]) -> np.ndarray:
        texts = self.tokenizer.batch_decode(completions, skip_special_tokens=True)
        return np.array([verify(t, a, self.config.verifier) for t, a in zip(texts, answers, strict=True)])

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
        rewards = self._rewards(completions, [self.train_answers[i] for i in ids for _ in range(group)])
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

    def _accuracy(self, texts: list[str], answers: list[str], samples: int) -> np.ndarray:
        out = np.zeros(len(texts))
        for start in range(0, len(texts), 16):
            chunk = slice(start, start + 16)
            rep = [t for t in texts[chunk] for _ in range(samples)]
            _, completions = self._generate(rep)
            r = self._rewards(completions, [a for a in answers[chunk] for _ in range(samples)])
            out[chunk] = r.reshape(-1, samples).mean(axis=1)
        return out

    def evaluate(self) -> dict[str, float]:
        """Held-out sampled accuracy (macro mean over categories, and per category) and the calibration probe."""
        acc = self._accuracy(self.held_text, self.held_answers, self.config.eval_samples)
        cats = np.unique(self.held_category)
        per_cat = np.array([acc[self.held_category == c].mean() for c in cats])
        out = {"heldout_acc": float(per_cat.mean())} | {
            f"heldout_acc_c{c}": float(v) for c, v in zip(cats, per_cat, strict=True)
        }
        self._probe = self._accuracy(
            [self.train_text[i] for i in self.probe_ids], [self.train_answers[i] for i in self.probe_ids], 4
        )
        out["train_acc"] = float(self._probe.mean())
        return out

    def reference_pass_rates(self) -> tuple[np.ndarray, np.ndarray]:
        if self._probe is None:
            self.evaluate()
        return self.probe_ids, self._probe
