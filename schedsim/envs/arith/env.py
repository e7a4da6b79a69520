"""The arithmetic environment: a tiny transformer learning padded, reversed-answer arithmetic by RL.

Same face as the bandit simulator: ``pool``, ``rollout(ids, G) -> Feedback``, ``learn(feedback, weights,
reduction)``, ``evaluate()``, ``log_z(ids)`` for ``paced``, plus ``reference_pass_rates()`` (a fixed probe of train
prompts, for estimator calibration) and ``gradient_moments`` (real per-prompt policy gradients, for SNR).
True pass rates are unknown here: they are estimated by sampling, and those rollouts are measurement, not
training budget.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from schedsim.core.errors import SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.seeding import make_rng
from schedsim.envs.arith.config import ArithConfig
from schedsim.envs.arith.model import GPT, GPTConfig
from schedsim.envs.arith.tasks import EOS, PAD, VOCAB_SIZE, make_problems, verify
from schedsim.envs.arith.trainer import (
    MLPHead,
    TableHead,
    batch_tensors,
    check_warm_start,
    fit_head,
    head_baseline,
    head_optimizer,
    optimise,
    policy_loss,
    sampled_accuracy,
    warm_start,
)
from schedsim.schedulers.paced import AccuracyErrorReplay


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SchedsimError(f"device={name!r} but CUDA is not available here; accepted: 'auto' or 'cpu'")
    return torch.device(name)


def cache_root(cfg: ArithConfig) -> Path:
    return Path(cfg.cache_dir or os.environ.get("SCHEDSIM_CACHE") or Path.home() / ".cache" / "schedsim")


CACHE_VERSION = 1  # bump when task generation or the warm start changes meaning
WARM_KEYS = (
    "families",
    "width",
    "n_train_per_level",
    "n_eval_per_level",
    "task_seed",
    "n_layer",
    "n_head",
    "n_embd",
    "warm_lr",
    "warm_batch",
    "warm_threshold",
    "warm_check_every",
    "warm_max_steps",
)


class ArithEnv:
    """GRPO or trajectory-balance RL of a 2-layer transformer on synthetic arithmetic, from a cached warm start.

    Args:
        config: an :class:`ArithConfig`.
        seed: seeds the model initialisation, the warm start and every sample; the problem sets depend only on
            ``config.task_seed``, so every seed is evaluated on the same held-out problems.
    """

    name = "arith"

    def __init__(self, config: ArithConfig | None = None, *, seed: int = 0) -> None:
        self.config = cfg = config or ArithConfig()
        self.device = resolve_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.train, self.held = make_problems(
            cfg.families, cfg.width, cfg.n_train_per_level, cfg.n_eval_per_level, cfg.task_seed
        )
        length = self.train.prompts.shape[1] + self.train.answers.shape[1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = GPT(GPTConfig(VOCAB_SIZE, length, cfg.n_layer, cfg.n_head, cfg.n_embd)).to(self.device)
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.warm_info = self._cached_warm_start(seed)
        self.gen.manual_seed(seed + 1)  # the RL stream does not depend on whether the warm start was cached
        self.embedding = self._embedding()
        # the pool carries the embedding, so amortised schedulers (pcl, dots, ads) see what the log Z head sees
        self.pool = PromptPool(n=self.train.n, category=self.train.level, features=self.embedding.cpu().numpy())
        self.head = self._build_head(seed)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
        self.head_opt = head_optimizer(self.head, cfg)
        self.replay = AccuracyErrorReplay(seed=seed) if cfg.replay and cfg.trainer == "tb" else None
        probe_rng = make_rng(cfg.task_seed + 1)
        self.probe_ids = np.sort(
            probe_rng.choice(self.train.n, size=min(cfg.probe_prompts, self.train.n), replace=False)
        )
        self._probe: np.ndarray | None = None
        self._pending: tuple | None = None
        self.steps = 0

    # -- set-up ----------------------------------------------------------------------------------------------
    def _cached_warm_start(self, seed: int) -> dict[str, float]:
        """Warm-start once per (configuration, seed) and cache the weights; a file lock serialises workers."""
        cfg = self.config
        key = json.dumps(
            {k: cfg.to_dict()[k] for k in WARM_KEYS} | {"seed": seed, "torch": torch.__version__, "v": CACHE_VERSION},
            sort_keys=True,
        )
        root = cache_root(cfg)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SchedsimError(f"cannot create the warm-start cache {str(root)!r}: {exc.strerror}") from None
        path = root / f"arith-warm-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            loaded = False
            if path.exists():
                initial = {k: v.clone() for k, v in self.model.state_dict().items()}
                try:
                    saved = torch.load(path, map_location=self.device, weights_only=True)
                    self.model.load_state_dict(saved["model"])
                    info = {k: float(v) for k, v in saved["info"].items()}
                    loaded = True
                except Exception as exc:  # a damaged cache entry is recomputed from the seeded start, never trusted
                    self.model.load_state_dict(initial)
                    warnings.warn(
                        f"warm-start cache {path} unreadable ({type(exc).__name__}); recomputing", stacklevel=2
                    )
            if loaded:
                check_warm_start(info, cfg)
                return info | {"warm/cached": 1.0}
            info = warm_start(self.model, self.train, cfg, self.gen, self.device)
            check_warm_start(info, cfg)  # a start that missed its threshold is never cached
            fd, tmp = tempfile.mkstemp(dir=root, suffix=".pt")
            os.close(fd)
            torch.save({"model": {k: v.cpu() for k, v in self.model.state_dict().items()}, "info": info}, tmp)
            os.replace(tmp, path)
            return info | {"warm/cached": 0.0}

    def _embedding(self) -> torch.Tensor:
        """Frozen prompt embeddings of the reference (warm-start) model: mean final hidden state per train prompt."""
        with torch.no_grad():
            prompts = torch.as_tensor(self.train.prompts, device=self.device)
            return self.model.hidden(prompts, torch.ones_like(prompts, dtype=torch.bool)).mean(dim=1)

    def _build_head(self, seed: int) -> torch.nn.Module | None:
        cfg = self.config
        if cfg.head == "none":
            return None
        if cfg.head == "table":
            return TableHead(self.train.n, cfg.head_init, cfg.head_output).to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 2)
            return MLPHead(self.embedding, cfg.head_hidden, cfg.head_init, cfg.head_output).to(self.device)

    # -- the environment face -----------------------------------------------------------------------------------
    def log_z(self, ids: np.ndarray) -> np.ndarray:
        """log Z_phi(x) = u(x) / beta for any train prompt ids (the ``paced`` source)."""
        if self.head is None:
            raise SchedsimError("this arith env has head='none'; accepted: head='mlp' or head='table' for log Z")
        with torch.no_grad():
            u = self.head(torch.as_tensor(np.array(ids, dtype=np.int64), device=self.device))
        return u.cpu().numpy().astype(np.float64) / self.config.kl_coef

    def rollout(self, ids: np.ndarray, group: int) -> Feedback:
        """Sample ``group`` completions per prompt at the configured temperature; binary exact-match rewards."""
        ids = np.asarray(ids, dtype=np.int64)
        prompts = torch.as_tensor(self.train.prompts[ids], device=self.device).repeat_interleave(group, dim=0)
        self.model.eval()
        tokens, logp_old = self.model.generate(
            prompts, self.train.answers.shape[1], EOS, PAD, temperature=self.config.temperature, generator=self.gen
        )
        rewards = verify(tokens.cpu().numpy(), np.repeat(self.train.answers[ids], group, axis=0)).reshape(-1, group)
        fb = Feedback(prompt_ids=ids, rewards=rewards, log_z=None if self.head is None else self.log_z(ids))
        self._pending = (fb, prompts, tokens, logp_old.reshape(-1, group))
        return fb

    def learn(
        self, feedback: Feedback, weights: np.ndarray | None = None, reduction: str | None = None
    ) -> dict[str, float]:
        """One optimiser step on the last rollout's samples (and the head's fit); ``feedback`` must be that one."""
        if self._pending is None or self._pending[0] is not feedback:
            raise SchedsimError(
                "arith learn() needs the Feedback returned by the last rollout(); accepted: that object"
            )
        cfg = self.config
        fb, prompts, tokens, logp_old = self._pending
        self._pending = None
        m, group = fb.rewards.shape
        ids, rewards, w = batch_tensors(fb, weights, self.device)
        self.model.train()
        logp = self.model.sequence_logprob(prompts, tokens, EOS).reshape(m, group)  # (m, G)
        u, baseline = head_baseline(self.head, ids, cfg)
        loss = policy_loss(logp, rewards, w, cfg, baseline, reduction or cfg.reduction)
        head_ids, head_targets = ids, rewards.mean(dim=1)  # on-policy: logratio = 0 at the update
        if self.replay is not None:
            loss, head_ids, head_targets = self._with_replay(fb, tokens, logp_old, u, loss, head_ids, head_targets)
        norm = optimise(loss, list(self.model.parameters()), self.opt, cfg, self.steps)
        fit_head(self.head, self.head_opt, head_ids, head_targets)
        self.steps += 1
        return {"train/grad_norm": norm, "train/loss": float(loss.detach())}

    def _with_replay(self, fb, tokens, logp_old, u, loss, head_ids, head_targets):
        """PACED-RL replay (TB only): store correct trajectories by |p_emp - p_hat|; add replayed ones to the loss."""
        cfg, group = self.config, fb.rewards.shape[1]
        toks = tokens.reshape(fb.m, group, -1).cpu().numpy()
        lp = logp_old.cpu().numpy()
        payloads = [[(toks[i, j], float(lp[i, j])) for j in range(group)] for i in range(fb.m)]
        p_hat = np.clip(u.detach().cpu().numpy(), 0, 1)
        self.replay.add(fb.prompt_ids, fb.rewards, p_hat, payloads)
        items = self.replay.sample()
        if not items:
            return loss, head_ids, head_targets
        r_ids = torch.as_tensor([it.prompt_id for it in items], device=self.device)
        r_tok = torch.as_tensor(np.stack([it.payload[0] for it in items]), device=self.device)
        r_old = torch.as_tensor([it.payload[1] for it in items], device=self.device)
        r_w = torch.as_tensor([it.weight for it in items], device=self.device)
        prompts = torch.as_tensor(self.train.prompts[r_ids.cpu().numpy()], device=self.device)
        r_logp = self.model.sequence_logprob(prompts, r_tok, EOS)
        logratio = (r_logp - r_old).detach()
        coef = 1.0 - self.head(r_ids).detach().clamp(0, 1) - cfg.kl_coef * logratio  # r = 1, off-policy residual
        loss = loss - (r_w * coef * r_logp).mean() * len(items) / (fb.m * group)
        return loss, torch.cat([head_ids, r_ids]), torch.cat([head_targets, 1.0 - cfg.kl_coef * logratio])

    def evaluate(self) -> dict[str, float]:
        """Held-out sampled accuracy (macro mean over categories, and per category) and the calibration probe."""
        cfg = self.config
        self.model.eval()
        acc = sampled_accuracy(self.model, self.held, cfg.eval_samples, self.gen, self.device, cfg.temperature)
        per_cat = np.bincount(self.held.level, weights=acc) / np.bincount(self.held.level)
        out = {"heldout_acc": float(per_cat.mean())}
        out.update({f"heldout_acc_c{c}": float(v) for c, v in enumerate(per_cat)})
        self._probe = sampled_accuracy(
            self.model, self.train.subset(self.probe_ids), cfg.probe_samples, self.gen, self.device, cfg.temperature
        )
        out["train_acc"] = float(self._probe.mean())
        if self.head is not None:
            err = np.clip(self.log_z(self.probe_ids) * cfg.kl_coef, 0, 1) - self._probe
            out.update({"head/calib_abs_err": float(np.abs(err).mean()), "head/bias": float(err.mean())})
        return out

    def reference_pass_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """(probe ids, their sampled pass rates at the last evaluation): the yardstick for calibration."""
        if self._probe is None:
            self.evaluate()
        return self.probe_ids, self._probe

    def estimate_pass_rates(self, ids: np.ndarray, samples: int) -> np.ndarray:
        """Sampled pass rates of train prompts (measurement rollouts, not training budget)."""
        self.model.eval()
        return sampled_accuracy(
            self.model, self.train.subset(np.asarray(ids)), samples, self.gen, self.device, self.config.temperature
        )

    def gradient_moments(self, ids: np.ndarray, group: int, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Per prompt, from ``n_samples`` independent group-gradient estimates (GRPO loss, all parameters):
        unbiased ``||E g||^2`` and ``tr Cov g``. Streams the samples: memory is two parameter vectors."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        cfg = self.config
        signal, trace = np.zeros(len(ids)), np.zeros(len(ids))
        for k, i in enumerate(np.asarray(ids, dtype=np.int64)):
            total = sum_sq = None
            for _ in range(n_samples):
                prompts = torch.as_tensor(self.train.prompts[[i]], device=self.device).repeat(group, 1)
                self.model.eval()
                tokens, _ = self.model.generate(
                    prompts, self.train.answers.shape[1], EOS, PAD, temperature=cfg.temperature, generator=self.gen
                )
                r = verify(tokens.cpu().numpy(), np.repeat(self.train.answers[[i]], group, axis=0)).reshape(1, group)
                rewards = torch.as_tensor(r, dtype=torch.float32, device=self.device)
                logp = self.model.sequence_logprob(prompts, tokens, EOS).reshape(1, group)
                loss = policy_loss(logp, rewards, torch.ones(1, device=self.device), cfg, None, "all")
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                flat = torch.cat(
                    [
                        (g if g is not None else torch.zeros_like(p)).reshape(-1)
                        for g, p in zip(grads, params, strict=True)
                    ]
                ).double()
                total = flat.clone() if total is None else total + flat
                sum_sq = flat**2 if sum_sq is None else sum_sq + flat**2
            mean = total / n_samples
            var = (sum_sq - n_samples * mean**2) / (n_samples - 1)
            trace[k] = float(var.sum())
            signal[k] = float((mean**2).sum()) - trace[k] / n_samples
        return signal, trace
