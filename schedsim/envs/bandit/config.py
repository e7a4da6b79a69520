"""Configuration and presets of the bandit-style learner simulator."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from schedsim.core.errors import ParameterError
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.envs.heads import check_head_options
from schedsim.envs.spec import Preset, parse_config

ADVANTAGES = ("grpo", "mean", "rloo")
OPTIMIZERS = ("adam", "sgd")
REDUCTIONS = ("all", "mixed")
FEATURES = ("category", "onehot")
HEADS = ("mlp", "table", "none")


@dataclass(frozen=True)
class BanditConfig:
    """Every knob of the simulator (docs/theory.md §1, §6). Defaults are the ``default`` preset.

    Task:
        n_train / n_test: train pool and held-out pool sizes (same distribution).
        n_categories: difficulty levels / problem types (the arms of category schedulers).
        dim: skill dimension d of the features.
        features: ``"category"``: unit-norm features mixing a category direction (share ``category_share``)
            with a prompt-specific one, so training transfers within and, weakly, across categories;
            ``"onehot"``: one skill per train prompt (no transfer; held-out = train pool).
        category_share: weight of the category direction in each feature (transfer strength).
        level_offsets: difficulty offset b of each category (cycled if shorter than n_categories); the
            starting pass rate of a prompt is sigmoid(-b_i).
        offset_spread: std of the per-prompt offset around its category's.
    Learner:
        advantage: ``grpo`` (group-normalised, torch.std), ``mean`` (mean-centred, Dr.GRPO), ``rloo``
            (leave-one-out: the group gradient is unbiased for the true gradient of pass rate).
        score_noise: sigma_s, std per dimension of the reward-independent score noise.
        optimizer: ``adam`` or ``sgd``; lr its learning rate; clip the gradient-norm clip (0 = off).
        reduction: loss averaged over ``all`` groups, or over ``mixed`` (non-zero-variance) groups only.
        forget: per-step pull of theta back to its start (forgetting); drift: std of a per-step random walk.
    PACED-RL signal:
        head: log Z head: ``mlp`` (amortised over features + category, 3 layers), ``table`` (per prompt),
            ``none``.
        kl_coef: beta of the trajectory-balance loss; head_lr: AdamW lr of the MLP head; table_lr: SGD lr of
            the table head (1 = jump to the latest batch's target); head_hidden: MLP width.
        head_init: [choice] u = beta log Z of every prompt before any fit. Default 0.5: the default pool's
            starting mean pass rate (0.50: offsets symmetric around 0) and tau; 0 with ``head_output=linear``
            is a zero-output head (p_hat = 0 everywhere, which makes greedy selection re-pick what it has seen).
        head_output: [choice] bound of u: ``sigmoid`` (default; u in (0, 1), the range of a pass rate),
            ``softplus`` (u > 0, the range of beta log Z* = p + beta KL) or ``linear`` (unbounded); the table
            head projects onto [0, 1], [0, inf) or nothing.
        head_weight_decay: decoupled (AdamW) weight decay of the MLP head; default 0.1, the paper's.
        embed_visibility: [choice] correlation between one extra input of the MLP head (the "embedding" of the
            prompt) and the prompt's hidden within-category difficulty offset: 0 = the embedding says nothing
            about it (the head can only learn category-level difficulty), 1 = it reveals it. Default 0.5.
        replay: add PACED-RL's accuracy-error prioritized replay of successes to the update and the head fit.
        replay_weight: weight of a replayed success in the update, relative to a fresh group.
    """

    n_train: int = 2000
    n_test: int = 1000
    n_categories: int = 5
    dim: int = 16
    features: str = "category"
    category_share: float = 0.8
    level_offsets: tuple[float, ...] = (-2.0, -1.0, 0.0, 1.0, 2.0)
    offset_spread: float = 1.0
    advantage: str = "grpo"
    score_noise: float = 1.0
    optimizer: str = "adam"
    lr: float = 0.01
    clip: float = 1.0
    reduction: str = "all"
    forget: float = 0.0
    drift: float = 0.0
    head: str = "mlp"
    kl_coef: float = 0.05
    head_lr: float = 0.01
    table_lr: float = 0.5
    head_hidden: int = 32
    head_init: float = 0.5
    head_output: str = "sigmoid"
    head_weight_decay: float = 0.1
    embed_visibility: float = 0.5
    replay: bool = False
    replay_weight: float = 1.0

    def __post_init__(self) -> None:
        check_int("n_train", self.n_train, 1)
        check_int("n_test", self.n_test, 1)
        check_int("n_categories", self.n_categories, 1)
        check_int("dim", self.dim, 1)
        check_choice("features", self.features, FEATURES)
        check_range("category_share", self.category_share, 0.0, 1.0)
        if not self.level_offsets:
            raise ParameterError("level_offsets=() is empty; accepted: one or more numbers")
        check_range("offset_spread", self.offset_spread, 0.0, None)
        check_choice("advantage", self.advantage, ADVANTAGES)
        check_range("score_noise", self.score_noise, 0.0, None)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_range("lr", self.lr, 0.0, None, lo_open=True)
        check_range("clip", self.clip, 0.0, None)
        check_choice("reduction", self.reduction, REDUCTIONS)
        check_range("forget", self.forget, 0.0, 1.0)
        check_range("drift", self.drift, 0.0, None)
        check_choice("head", self.head, HEADS)
        check_range("kl_coef", self.kl_coef, 0.0, None, lo_open=True)
        check_range("head_lr", self.head_lr, 0.0, None, lo_open=True)
        check_range("table_lr", self.table_lr, 0.0, 1.0, lo_open=True)
        check_int("head_hidden", self.head_hidden, 1)
        check_head_options(self.head_init, self.head_output, self.head_weight_decay)
        check_range("embed_visibility", self.embed_visibility, 0.0, 1.0)
        check_range("replay_weight", self.replay_weight, 0.0, None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["level_offsets"] = list(self.level_offsets)
        return d


PRESETS = {
    p.name: p
    for p in (
        Preset("default", "5 difficulty levels, transfer within levels, GRPO advantages, Adam"),
        Preset(
            "independent",
            "one-hot features: no transfer between prompts (allocation matters most); held-out = train pool",
            {"features": "onehot", "n_train": 1000, "lr": 0.05},
        ),
        Preset(
            "hard-tail",
            "a large share of prompts start near p = 0 (levels 3-5 at sigmoid(-3..-6))",
            {"level_offsets": (-1.0, 0.0, 3.0, 4.5, 6.0)},
        ),
        Preset(
            "drift", "forgetting and drift: skills decay toward the start and wander", {"forget": 0.01, "drift": 0.02}
        ),
        Preset(
            "few-categories",
            "3 unrelated categories (easy, medium, hard): SEC's home ground",
            {"n_categories": 3, "level_offsets": (-1.0, 1.0, 3.0), "category_share": 0.95},
        ),
    )
}


def parse_bandit_spec(rest: str) -> tuple[str, BanditConfig]:
    """Parse ``"[preset][,key=value...]"`` (the part after ``bandit:``); tuples use ``/``: ``level_offsets=-1/0/3``."""
    return parse_config("bandit", BanditConfig, PRESETS, rest)
