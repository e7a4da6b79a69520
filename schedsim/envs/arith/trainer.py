"""Training for the arithmetic suite: supervised warm start, GRPO and trajectory-balance updates, log Z heads.

Trajectory balance anchored at pi_old (PACED-RL, arXiv 2602.12642), per rollout:
    residual = log Z(x) + log pi_theta(y|x) - log pi_old(y|x) - r / beta.
On-policy with one update per batch, log pi_theta = log pi_old at the update, so the gradient of
beta * residual^2 / 2 with respect to theta is ``(beta log Z - r) grad log pi_theta``: REINFORCE with the
baseline u = beta log Z. The head u(x) regresses on ``r - beta (log pi_theta - log pi_old)`` (= r on-policy),
whose optimum is ``p_old + beta KL``. Both are implemented below in those terms.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from schedsim.core.errors import SchedsimError
from schedsim.core.seeding import make_rng
from schedsim.envs.arith.model import GPT
from schedsim.envs.arith.tasks import EOS, PAD, ProblemSet, verify
from schedsim.envs.heads import output_offset


def sampled_accuracy(
    model: GPT,
    problems: ProblemSet,
    samples: int,
    gen: torch.Generator,
    device: torch.device,
    temperature: float = 1.0,
    batch: int = 512,
) -> np.ndarray:
    """Per-problem mean reward over ``samples`` sampled completions (no gradient). ``(n,)``."""
    out = np.zeros(problems.n)
    answer_len = problems.answers.shape[1]
    for start in range(0, problems.n, batch):
        sl = slice(start, start + batch)
        prompts = torch.as_tensor(problems.prompts[sl], device=device).repeat_interleave(samples, dim=0)
        tokens, _ = model.generate(prompts, answer_len, EOS, PAD, temperature=temperature, generator=gen)
        rewards = verify(tokens.cpu().numpy(), np.repeat(problems.answers[sl], samples, axis=0))
        out[sl] = rewards.reshape(-1, samples).mean(axis=1)
    return out


def warm_start(model: GPT, train: ProblemSet, cfg, gen: torch.Generator, device: torch.device) -> dict[str, float]:
    """Supervised next-token training on answers, uniform over levels, until sampled accuracy >= threshold."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.warm_lr)
    rng = make_rng(int(torch.randint(0, 2**31, (1,), generator=gen).item()))
    check = train.subset(rng.choice(train.n, size=min(256, train.n), replace=False))
    acc, step = 0.0, 0
    for step in range(1, cfg.warm_max_steps + 1):
        idx = rng.integers(0, train.n, cfg.warm_batch)
        prompts = torch.as_tensor(train.prompts[idx], device=device)
        answers = torch.as_tensor(train.answers[idx], device=device)
        loss = -model.sequence_logprob(prompts, answers, EOS).mean()  # teacher forcing on the answer tokens
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % cfg.warm_check_every == 0:
            model.eval()
            acc = float(sampled_accuracy(model, check, 1, gen, device).mean())
            model.train()
            if acc >= cfg.warm_threshold:
                break
    return {"warm/steps": float(step), "warm/check_acc": acc}


class WarmStartError(SchedsimError):
    """The supervised warm start ended below its accuracy threshold: RL from it would be meaningless."""


def check_warm_start(info: dict[str, float], cfg) -> None:
    """Raise :class:`WarmStartError` naming the numbers when ``info`` ended below ``cfg.warm_threshold``.

    Below the threshold most groups are all-fail, so GRPO has no gradient and every scheduler ties at ~0:
    stopping with a warning would still print confidence intervals over noise.
    """
    if info["warm/check_acc"] < cfg.warm_threshold:
        raise WarmStartError(
            f"warm start stopped after {int(info['warm/steps'])} steps (warm_max_steps={cfg.warm_max_steps}) at "
            f"sampled accuracy {info['warm/check_acc']:.3f} < warm_threshold={cfg.warm_threshold:g}; accepted: "
            f"a configuration that reaches it (raise warm_max_steps or warm_lr={cfg.warm_lr:g}, or lower "
            "warm_threshold)"
        )


def output_map(output: str, z: torch.Tensor) -> torch.Tensor:
    """u = f(z) for the head's output map (:mod:`schedsim.envs.heads`): sigmoid, softplus or identity."""
    if output == "sigmoid":
        return torch.sigmoid(z)
    if output == "softplus":
        return nn.functional.softplus(z)
    return z


class MLPHead(nn.Module):
    """u(x) = beta log Z_phi(x) = f(offset + MLP(emb(x))): a 3-layer MLP over frozen prompt embeddings.

    The embeddings are those of the reference (warm-start) model. The last layer starts at zero, so a fresh head
    predicts ``init`` for every prompt; ``f`` bounds u (``sigmoid``: (0, 1), ``softplus``: (0, inf), ``linear``:
    none). Train it with AdamW (weight decay 0.1, the paper's), which shrinks it toward the prior ``init``.

    References:
        Kim et al., arXiv 2602.12642 (2026).
    """

    def __init__(self, embeddings: torch.Tensor, hidden: int, init: float = 0.5, output: str = "sigmoid") -> None:
        super().__init__()
        self.register_buffer("emb", embeddings)
        d = embeddings.shape[1]
        self.net = nn.Sequential(
            nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.output = output
        self.offset = output_offset(output, init)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return output_map(self.output, self.offset + self.net(self.emb[ids])[:, 0])


class TableHead(nn.Module):
    """u(x) = f(offset + a_x) per prompt (the PACED-RL ablation): one free parameter per prompt, starting at 0,
    so every prompt starts at ``init``; ``f`` bounds u as in :class:`MLPHead`."""

    def __init__(self, n: int, init: float = 0.5, output: str = "sigmoid") -> None:
        super().__init__()
        self.u = nn.Parameter(torch.zeros(n))
        self.output = output
        self.offset = output_offset(output, init)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return output_map(self.output, self.offset + self.u[ids])


def head_optimizer(head: nn.Module | None, cfg) -> torch.optim.Optimizer | None:
    """AdamW over the head's parameters at ``head_lr`` with decoupled ``head_weight_decay`` (the paper: 0.1)."""
    if head is None:
        return None
    return torch.optim.AdamW(head.parameters(), lr=cfg.head_lr, weight_decay=cfg.head_weight_decay)


def lr_factor(step: int, cfg) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``decay_to`` over ``horizon`` steps."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.horizon - cfg.warmup))
    return cfg.decay_to + (1 - cfg.decay_to) * 0.5 * (1 + math.cos(math.pi * t))


def group_advantages(rewards: torch.Tensor, kind: str) -> torch.Tensor:
    """``(m, G)``: GRPO ``(r - mean) / (std + 1e-6)`` (unbiased std) or mean-centred."""
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if kind == "mean" or rewards.shape[1] < 2:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True) + 1e-6)


def policy_loss(
    logp: torch.Tensor, rewards: torch.Tensor, weights: torch.Tensor, cfg, baseline: torch.Tensor | None, reduction: str
) -> torch.Tensor:
    """Scalar loss whose gradient is the update direction (descent). logp, rewards: ``(m, G)``; weights ``(m,)``.

    GRPO: ``-w A log pi`` averaged over all rollouts or over rollouts of mixed groups. TB: ``-w (r - u) log pi``
    averaged over all rollouts (every group carries a residual, all-fail ones included).
    """
    if cfg.trainer == "tb":
        adv = rewards - baseline[:, None]
        return -(weights[:, None] * adv * logp).mean()
    adv = group_advantages(rewards, cfg.advantage)
    total = -(weights[:, None] * adv * logp).sum()
    if reduction == "mixed":
        mixed = (rewards.max(dim=1).values != rewards.min(dim=1).values).float()
        return total / max(1.0, float(mixed.sum()) * rewards.shape[1])
    return total / rewards.numel()


# -- one RL update, shared by the arith and llm environments -------------------------------------------------------


def batch_tensors(feedback, weights, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(ids (m,), rewards (m, G), loss weights (m,))`` tensors of a feedback batch (copies, never views)."""
    ids = torch.as_tensor(np.array(feedback.prompt_ids), device=device)
    rewards = torch.as_tensor(np.array(feedback.rewards), dtype=torch.float32, device=device)
    w = (
        torch.ones(feedback.m, device=device)
        if weights is None
        else torch.as_tensor(np.array(weights), dtype=torch.float32, device=device)
    )
    return ids, rewards, w


def head_baseline(head: nn.Module | None, ids: torch.Tensor, cfg) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The head's u = beta log Z for ``ids`` (with grad) and the detached baseline the TB update uses."""
    u = None if head is None else head(ids)
    baseline = None if u is None else u.detach().clamp(0.0, 1.0)
    if cfg.trainer == "tb" and baseline is None:
        baseline = torch.zeros(ids.shape[0], device=ids.device)  # TB without a head: log Z = 0
    return u, baseline


def optimise(loss: torch.Tensor, params: list[torch.Tensor], opt: torch.optim.Optimizer, cfg, step: int) -> float:
    """Scheduled learning rate, backward, gradient-norm clip, step; returns the norm before clipping."""
    for group in opt.param_groups:
        group["lr"] = cfg.lr * lr_factor(step, cfg)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, cfg.clip if cfg.clip > 0 else float("inf"))
    opt.step()
    return float(norm)


def fit_head(
    head: nn.Module | None, opt: torch.optim.Optimizer | None, ids: torch.Tensor, targets: torch.Tensor
) -> None:
    """One step of the head's regression on the TB residual target (``r - beta logratio``; = r on-policy)."""
    if head is None:
        return
    loss = ((head(ids) - targets) ** 2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
