"""Synthetic arithmetic problems with graded difficulty and verifiable answers (character level).

Format (docs/arith.md: what let RL move on a 2-core CPU): operands zero-padded to ``width`` digits, the answer
zero-padded to ``width + 1`` digits and written least-significant digit first, then an end-of-sequence token:

    00012+00345=   ->   753000<eos>        (12 + 345 = 357 -> "000357" reversed)

Levels are the operand length in digits (1 .. width): harder levels need longer carry chains. Families: ``add``
(a + b) and ``sub`` (a - b with a >= b). Every prompt has the same length, and so does every answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schedsim.core.errors import ParameterError, accepted
from schedsim.core.seeding import make_rng

CHARS = "0123456789+-="
EOS, PAD = len(CHARS), len(CHARS) + 1
VOCAB_SIZE = len(CHARS) + 2
FAMILIES = {"add": "+", "sub": "-"}
_INDEX = {c: i for i, c in enumerate(CHARS)}


def encode(text: str) -> list[int]:
    """Characters to token ids."""
    return [_INDEX[c] for c in text]


def decode(tokens: np.ndarray) -> str:
    """Token ids to text, ``<eos>`` and ``<pad>`` spelled out."""
    return "".join(CHARS[t] if t < len(CHARS) else ("<eos>" if t == EOS else "<pad>") for t in np.asarray(tokens))


@dataclass(frozen=True)
class ProblemSet:
    """Problems as arrays: prompt tokens ``(n, P)``, answer tokens ``(n, A)`` (with EOS), level and family ids."""

    prompts: np.ndarray
    answers: np.ndarray
    level: np.ndarray
    family: np.ndarray

    @property
    def n(self) -> int:
        return int(self.prompts.shape[0])

    def subset(self, idx: np.ndarray) -> ProblemSet:
        return ProblemSet(self.prompts[idx], self.answers[idx], self.level[idx], self.family[idx])


def _operands(level: int, count: int, rng: np.random.Generator) -> np.ndarray:
    lo = 0 if level == 1 else 10 ** (level - 1)
    return rng.integers(lo, 10**level, size=count)


def _render(family: str, a: np.ndarray, b: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    if family == "sub":
        a, b = np.maximum(a, b), np.minimum(a, b)
    result = a + b if family == "add" else a - b
    op = FAMILIES[family]
    prompts = [encode(f"{x:0{width}d}{op}{y:0{width}d}=") for x, y in zip(a, b, strict=True)]
    answers = [[*encode(f"{r:0{width + 1}d}"[::-1]), EOS] for r in result]
    return np.array(prompts, dtype=np.int64), np.array(answers, dtype=np.int64)


def _distinct_pairs(family: str, level: int, need: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``need`` distinct operand pairs of a level in random order (``sub`` pairs are ordered a >= b)."""
    lo = 0 if level == 1 else 10 ** (level - 1)
    if (10**level - lo) ** 2 <= 40_000:  # small level: enumerate every pair
        a, b = np.meshgrid(np.arange(lo, 10**level), np.arange(lo, 10**level))
        a, b = a.ravel(), b.ravel()
    else:
        a, b = _operands(level, 4 * need, rng), _operands(level, 4 * need, rng)
    if family == "sub":
        a, b = np.maximum(a, b), np.minimum(a, b)
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return pairs[rng.permutation(len(pairs))[:need]]


def make_problems(
    families: tuple[str, ...], width: int, n_train: int, n_eval: int, seed: int
) -> tuple[ProblemSet, ProblemSet]:
    """Disjoint train and held-out sets: per (family, level), ``n_train`` and ``n_eval`` distinct problems.

    A level with fewer distinct problems than ``n_train + n_eval`` (level 1 has 100) is split: held-out gets
    ``min(n_eval, space // 2)`` and train the rest. Deterministic in ``seed``. Category of a problem =
    ``family_index * width + level - 1``.
    """
    bad = [f for f in families if f not in FAMILIES]
    if bad or not families:
        raise ParameterError(
            f"families={families!r} is not accepted; accepted: a non-empty subset of {accepted(FAMILIES)}"
        )
    rng = make_rng(seed)
    parts: list[tuple[ProblemSet, ProblemSet]] = []
    for f_idx, family in enumerate(families):
        for level in range(1, width + 1):
            chosen = _distinct_pairs(family, level, n_train + n_eval, rng)
            n_tr, n_ev = n_train, n_eval
            if len(chosen) < n_train + n_eval:  # small levels: split what exists
                n_ev = min(n_eval, len(chosen) // 2)
                n_tr = min(n_train, len(chosen) - n_ev)
            need = n_tr + n_ev
            chosen = chosen[:need]
            prompts, answers = _render(family, chosen[:, 0], chosen[:, 1], width)
            cat = np.full(need, f_idx * width + level - 1)
            fam = np.full(need, f_idx)
            whole = ProblemSet(prompts, answers, cat, fam)
            parts.append((whole.subset(np.arange(n_tr)), whole.subset(np.arange(n_tr, need))))
    train = ProblemSet(
        *(np.concatenate([getattr(p[0], k) for p in parts]) for k in ("prompts", "answers", "level", "family"))
    )
    held = ProblemSet(
        *(np.concatenate([getattr(p[1], k) for p in parts]) for k in ("prompts", "answers", "level", "family"))
    )
    return train, held


def verify(completions: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Binary reward: 1 iff the completion equals the answer up to and including EOS. ``(m, A)`` vs ``(m, A)``."""
    return (completions[:, : answers.shape[1]] == answers).all(axis=1).astype(np.float64)
