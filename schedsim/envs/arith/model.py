"""A nanoGPT-sized character-level decoder with KV-cached sampling and left-padding support.

Reading order: config, attention, MLP, block, GPT (forward, sequence log-probs, prompt embeddings, generation).
Left-padded prompts get a key mask on pad positions and position ids counted from the first real token; a pad
query attends to itself so SDPA never sees an all-masked row (docs/arith.md, pitfalls).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

Cache = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    block_size: int = 32
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None):
        b, t, c = x.shape  # (B, T, C) new positions only
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))  # (B, H, T, hd)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # mask (B, 1, T, T_total) bool
        return self.proj(y.transpose(1, 2).reshape(b, t, c)), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None):
        a, kv = self.attn(self.ln1(x), mask, past)
        x = x + a
        return x + self.mlp(self.ln2(x)), kv


def attention_mask(real: torch.Tensor, n_new: int) -> torch.Tensor:
    """``(B, 1, n_new, T)`` causal mask over keys ``real`` (B, T) for the last ``n_new`` queries; pads see themselves."""
    t = real.shape[1]
    q_pos = torch.arange(t - n_new, t, device=real.device)
    causal = torch.arange(t, device=real.device)[None, :] <= q_pos[:, None]  # (n_new, T)
    mask = causal[None] & real[:, None, :]  # (B, n_new, T)
    mask |= torch.eye(t, dtype=torch.bool, device=real.device)[None, t - n_new :]  # pad queries: self only
    return mask[:, None]


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.wte.weight  # weight tying, as nanoGPT
        self.apply(self._init_weights)
        for name, param in self.named_parameters():  # scaled residual projections (GPT-2)
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / (2 * cfg.n_layer) ** 0.5)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, real: torch.Tensor, past: Cache | None = None) -> tuple[torch.Tensor, Cache]:
        """Logits ``(B, T_new, V)`` for new tokens ``idx`` given the realness mask of *all* tokens so far."""
        n_new = idx.shape[1]
        pos = (real.long().cumsum(dim=1) - 1).clamp(min=0)[:, -n_new:]  # positions from the first real token
        x = self.wte(idx) + self.wpe(pos)
        mask = attention_mask(real, n_new)
        cache: Cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, mask, None if past is None else past[i])
            cache.append(kv)
        return self.head(self.ln_f(x)), cache

    def hidden(self, idx: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Final-layer hidden states ``(B, T, C)`` (for prompt embeddings)."""
        x = self.wte(idx) + self.wpe((real.long().cumsum(dim=1) - 1).clamp(min=0))
        mask = attention_mask(real, idx.shape[1])
        for block in self.blocks:
            x, _ = block(x, mask, None)
        return self.ln_f(x)

    def sequence_logprob(self, prompts: torch.Tensor, completions: torch.Tensor, eos: int) -> torch.Tensor:
        """Differentiable ``log pi(completion | prompt)`` summed up to and including the first EOS. ``(B,)``.

        The pad token must be the last vocabulary id (it is never generated). Prompts are not padded here.
        """
        seq = torch.cat([prompts, completions], dim=1)
        real = torch.ones_like(seq, dtype=torch.bool)
        logits, _ = self(seq[:, :-1], real[:, :-1])
        logits = logits[:, prompts.shape[1] - 1 :].clone()
        logits[..., self.cfg.vocab_size - 1] = float("-inf")  # the pad token (last id) is never generated
        logp = F.log_softmax(logits, dim=-1)  # predicts the completion tokens
        token_logp = logp.gather(2, completions[:, :, None])[:, :, 0]  # (B, A); -inf at pads after EOS
        return torch.where(completion_mask(completions, eos) > 0, token_logp, 0.0).sum(dim=1)

    @torch.no_grad()
    def generate(
        self,
        prompts: torch.Tensor,
        max_new: int,
        eos: int,
        pad: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample ``max_new`` tokens per prompt; after EOS every token is ``pad``. Returns (tokens, log-probs)."""
        b = prompts.shape[0]
        real = prompts != pad
        seq, out = prompts, []
        logp_total = torch.zeros(b, device=prompts.device)
        done = torch.zeros(b, dtype=torch.bool, device=prompts.device)
        logits, cache = self(prompts, real)
        for _ in range(max_new):
            last = logits[:, -1] / temperature
            last[:, pad] = float("-inf")  # never generate padding
            logp = F.log_softmax(last, dim=-1)
            token = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
            logp_total += torch.where(done, 0.0, logp.gather(1, token[:, None])[:, 0])
            token = torch.where(done, torch.full_like(token, pad), token)
            out.append(token)
            done |= token == eos
            seq = torch.cat([seq, token[:, None]], dim=1)
            real = torch.cat([real, torch.ones(b, 1, dtype=torch.bool, device=real.device)], dim=1)
            if use_cache:
                logits, cache = self(token[:, None], real, cache)
            else:
                logits, _ = self(seq, real)
        return torch.stack(out, dim=1), logp_total


def completion_mask(completions: torch.Tensor, eos: int) -> torch.Tensor:
    """``(B, A)`` float mask: 1 up to and including the first EOS, 0 after it."""
    is_eos = (completions == eos).long()
    after = (is_eos.cumsum(dim=1) - is_eos) > 0
    return (~after).float()
