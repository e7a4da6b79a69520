"""Boltzmann selection over arms (categories) with per-arm shuffled queues (SEC's batch construction)."""

from __future__ import annotations

import numpy as np

from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Stateful


def softmax(q: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(q / temperature)``, computed stably."""
    z = q / temperature
    z = np.exp(z - z.max())
    return z / z.sum()


class ArmQueues(Stateful):
    """Draw an arm per batch slot from given probabilities, then pop the next prompt from that arm's queue.

    Each arm's queue is a shuffled list of its prompts, consumed without replacement and reshuffled when empty.
    Ids already taken in the current batch are skipped, and a slot whose arm has no untaken prompt left falls
    back to a draw among arms that still have one, so a batch never repeats an id.

    Args:
        pool: a pool with ``category``; arm c holds the prompts of category c (empty categories get no slots).

    References:
        Chen et al., Self-Evolving Curriculum for LLM Reasoning (SEC), arXiv 2505.14970; ServiceNow code.
    """

    _state_keys = ("queues", "heads")

    def __init__(self, pool: PromptPool) -> None:
        category = pool.require_categories("SEC-style arm selection")
        self.n_arms = pool.n_categories
        order = np.argsort(category, kind="stable")
        bounds = np.searchsorted(category[order], np.arange(self.n_arms + 1))
        self.members = [order[bounds[c] : bounds[c + 1]] for c in range(self.n_arms)]
        self.sizes = np.diff(bounds)
        self.queues = [m.copy() for m in self.members]
        self.heads = np.array([m.size for m in self.members], dtype=np.int64)  # all empty: shuffle on first use

    def _pop(self, arm: int, rng: np.random.Generator) -> int:
        if self.heads[arm] >= self.sizes[arm]:
            self.queues[arm] = rng.permutation(self.members[arm])
            self.heads[arm] = 0
        item = int(self.queues[arm][self.heads[arm]])
        self.heads[arm] += 1
        return item

    def select(self, k: int, arm_prob: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``k`` distinct ids; ``arm_prob`` is ``float[n_arms]`` (renormalised over non-empty arms)."""
        prob = np.where(self.sizes > 0, arm_prob, 0.0)
        left = self.sizes.astype(np.int64).copy()  # untaken prompts per arm in this batch
        arms = rng.choice(self.n_arms, size=k, p=prob / prob.sum())
        taken: set[int] = set()
        out = np.empty(k, dtype=np.int64)
        for slot in range(k):  # loop over batch slots, never over prompts
            arm = int(arms[slot])
            if left[arm] == 0:
                fallback = np.where(left > 0, prob, 0.0)
                if fallback.sum() <= 0:
                    fallback = (left > 0).astype(np.float64)
                arm = int(rng.choice(self.n_arms, p=fallback / fallback.sum()))
            item = self._pop(arm, rng)
            while item in taken:
                item = self._pop(arm, rng)
            taken.add(item)
            out[slot] = item
            left[arm] -= 1
        return out

    def prompt_distribution(self, arm_prob: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Per-prompt probability of one slot: ``P(arm) / |arm|`` over non-empty arms."""
        prob = np.where(self.sizes > 0, arm_prob, 0.0)
        prob = prob / prob.sum()
        per_prompt = np.divide(prob, self.sizes, out=np.zeros(self.n_arms), where=self.sizes > 0)
        return per_prompt[category]
