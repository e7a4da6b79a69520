"""Configuration and presets of the tiny-transformer arithmetic suite."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from schedsim.core.params import check_choice, check_int, check_range
from schedsim.envs.heads import check_head_options
from schedsim.envs.spec import Preset, parse_config

TRAINERS = ("grpo", "tb")
ADVANTAGES = ("grpo", "mean")
HEADS = ("mlp", "table", "none")
REDUCTIONS = ("all", "mixed")


def check_rl_knobs(cfg: Any) -> None:
    """Validate the RL-update knobs the arith and llm environments share (trainer, schedule, head, device)."""
    for name in ("horizon", "head_hidden", "eval_samples"):
        check_int(name, getattr(cfg, name), 1)
    check_int("warmup", cfg.warmup, 0)
    check_int("threads", cfg.threads, 0)
    for name in ("lr", "head_lr", "kl_coef", "temperature"):
        check_range(name, getattr(cfg, name), 0.0, None, lo_open=True)
    check_range("clip", cfg.clip, 0.0, None)
    check_range("decay_to", cfg.decay_to, 0.0, 1.0)
    check_choice("trainer", cfg.trainer, TRAINERS)
    check_choice("advantage", cfg.advantage, ADVANTAGES)
    check_choice("head", cfg.head, HEADS)
    check_choice("reduction", cfg.reduction, REDUCTIONS)
    check_choice("device", cfg.device.split(":")[0], ("auto", "cpu", "cuda"))
    check_head_options(cfg.head_init, cfg.head_output, cfg.head_weight_decay)


@dataclass(frozen=True)
class ArithConfig:
    """Every knob of the arithmetic suite. Defaults follow docs/arith.md (what learned on a 2-core CPU).

    Tasks: ``families`` (``add``, ``sub``), ``width`` (operand digits = number of levels), problems per level in
        the train pool and the held-out set, ``task_seed`` (the problem sets are fixed across run seeds).
    Model: ``n_layer``, ``n_head``, ``n_embd`` (2 x 4 x 128: 0.4 M parameters).
    Warm start (supervised, on a uniform mix of all levels, cached on disk per configuration and seed): stop at
        the first check where sampled accuracy >= ``warm_threshold`` (stopping on accuracy, not steps: it jumps
        quickly); ``warm_lr``, ``warm_batch``, ``warm_check_every``, ``warm_max_steps``. A start that reaches
        ``warm_max_steps`` below the threshold raises ``WarmStartError`` naming the numbers (and is not cached).
    RL: ``trainer`` ``grpo`` or ``tb`` (trajectory balance anchored at pi_old, raw reward / kl_coef);
        ``advantage`` ``grpo`` or ``mean`` (GRPO trainer); Adam(0.9, 0.99) ``lr`` (3e-4 learned fastest; 1e-3
        collapsed), ``clip``, linear ``warmup`` steps then cosine decay to ``decay_to`` x lr over ``horizon``
        steps; ``reduction`` ``all`` or ``mixed``; ``temperature`` of sampling.
    log Z head (the ``paced`` signal): ``head`` ``mlp`` (3 layers over frozen warm-start prompt embeddings) or
        ``table`` (per prompt) or ``none``; ``kl_coef`` beta; ``head_lr`` (AdamW); ``head_hidden``; ``replay`` (TB
        only: PACED-RL's error-prioritized replay of correct trajectories). [choice]s of :mod:`schedsim.envs.heads`:
        ``head_init`` u = beta log Z of every prompt before any fit, default 0.5 (near the pool's starting pass
        rate: the warm start stops once sampled accuracy reaches ``warm_threshold``; held-out accuracy started at
        0.54 in the default world, 0.30 in ``tiny``; 0 with ``head_output=linear`` is a zero-output head, p_hat = 0
        everywhere); ``head_output`` ``sigmoid`` (default, u in (0, 1)), ``softplus``
        (u > 0, the range of beta log Z* = p + beta KL) or ``linear`` (unbounded); ``head_weight_decay`` AdamW's
        decoupled weight decay, default 0.1 (the paper's).
    Measurement: ``eval_samples`` per held-out problem; ``probe_prompts`` x ``probe_samples`` rollouts on fixed
        train prompts to measure estimator calibration.
    Compute: ``device`` (``auto``: CUDA when present), ``threads`` (torch CPU threads per process; 1 suits
        parallel workers), ``cache_dir`` (None: $SCHEDSIM_CACHE or ~/.cache/schedsim).
    """

    families: tuple[str, ...] = ("add",)
    width: int = 5
    n_train_per_level: int = 1000
    n_eval_per_level: int = 100
    task_seed: int = 0
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    warm_lr: float = 5e-4
    warm_batch: int = 256
    warm_threshold: float = 0.4
    warm_check_every: int = 50
    warm_max_steps: int = 3000
    trainer: str = "grpo"
    advantage: str = "grpo"
    lr: float = 3e-4
    clip: float = 1.0
    warmup: int = 20
    decay_to: float = 0.1
    horizon: int = 400
    reduction: str = "all"
    temperature: float = 1.0
    head: str = "mlp"
    kl_coef: float = 0.05
    head_lr: float = 1e-3
    head_hidden: int = 64
    head_init: float = 0.5
    head_output: str = "sigmoid"
    head_weight_decay: float = 0.1
    replay: bool = False
    eval_samples: int = 2
    probe_prompts: int = 64
    probe_samples: int = 8
    device: str = "auto"
    threads: int = 1
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        check_int("width", self.width, 1, 9)
        for name in (
            "n_train_per_level",
            "n_eval_per_level",
            "n_layer",
            "n_head",
            "n_embd",
            "warm_batch",
            "warm_check_every",
            "warm_max_steps",
            "probe_prompts",
            "probe_samples",
        ):
            check_int(name, getattr(self, name), 1)
        check_range("warm_threshold", self.warm_threshold, 0.0, 1.0)
        check_range("warm_lr", self.warm_lr, 0.0, None, lo_open=True)
        check_rl_knobs(self)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["families"] = list(self.families)
        return d


PRESETS = {
    p.name: p
    for p in (
        Preset("default", "padded, reversed-answer addition, levels 1-5 digits; GRPO, Adam 3e-4"),
        Preset(
            "tb", "the same task trained by trajectory balance (GFlowNet), PACED-RL's own trainer", {"trainer": "tb"}
        ),
        Preset("add-sub", "addition and subtraction, 5 levels each (10 categories)", {"families": ("add", "sub")}),
        Preset(
            "tiny",
            "3-digit addition, a 1-layer 64-wide model, small pools; warm start to 0.4 in ~250 steps (~5 s). "
            "Smoke runs: budget 25600, eval every 6400; a 3-scheduler 1-seed compare took 25 s on 2 cores",
            {
                "width": 3,
                "n_train_per_level": 100,
                "n_eval_per_level": 30,
                "n_layer": 1,
                "n_embd": 64,
                "warm_lr": 2e-3,
                "warm_max_steps": 1000,
                "warm_check_every": 25,
                "warm_batch": 128,
                "warm_threshold": 0.4,
                "probe_prompts": 16,
                "probe_samples": 4,
                "eval_samples": 4,
            },
        ),
    )
}


def parse_arith_spec(rest: str) -> tuple[str, ArithConfig]:
    """Parse ``"[preset][,key=value...]"`` (the part after ``arith:``); tuples use ``/``: ``families=add/sub``."""
    return parse_config("arith", ArithConfig, PRESETS, rest)
