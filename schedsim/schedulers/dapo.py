"""DAPO dynamic sampling: over-sample, roll out, drop the groups whose rewards are all equal, refill until full."""

from __future__ import annotations

import math

import numpy as np

from schedsim.core.errors import SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.schedulers.filtering import ProbeSource, ProbingScheduler, mixed_groups


class DAPOScheduler(ProbingScheduler):
    """DAPO's dynamic sampling: roll candidates out (charged), keep the groups with mixed rewards, refill to k.

    ``variant="recipe"`` (default; the verl DAPO recipe): each round rolls out a generation batch of
    ``ceil(oversample x k)`` prompts from an epoch-shuffled loader and keeps a group iff its rewards are not all
    equal (p̂ ∉ {0, 1}; a group of one rollout is kept); rounds repeat while fewer than k are kept, at most
    ``max_num_gen_batches`` of them (0: no cap). The first k kept groups are trained on their probed rollouts;
    the surplus and the dropped groups are discarded, all of them charged.

    ``variant="v1"`` (verl's v1 ReplayBuffer, synchronous mode): the first round rolls out k prompts; every dropped
    group earns two refill credits, and each later round rolls out min(credits, k) prompts (at most k in flight),
    spending the credits; once k groups are kept, the k oldest are trained on and the surplus discarded. The
    buffer has no round cap; here ``max_num_gen_batches`` bounds its rounds too [choice].

    When the cap is hit (or the pool runs out within a step) with fewer than k kept: ``on_cap="pad"`` (default)
    fills the batch with groups already probed this step that were dropped, first-probed first: charged once, they
    have zero advantage, so they add no gradient (the trainer's group count includes them) [choice];
    ``on_cap="error"`` raises, as the recipe does (ValueError: no partial batch).

    Args:
        pool: the prompt pool.
        seed: seed of the private generator (loader shuffles).
        probe: the rollout source; settable later with :meth:`set_probe`; selecting without one raises.
        variant: ``recipe`` (default) or ``v1``.
        oversample: generation batch = ceil(oversample x k) prompts per round, recipe only; 3.0 (the recipe's
            32B script: gen batch 3B) [code].
        max_num_gen_batches: most rollout rounds per step; 10 (the recipe's 32B script; its config default 0 means
            no cap) [code]. 0: no cap (a step then stops only when every prompt was rolled out once).
        probe_group: rollouts per group; 8 (must equal the trainer's group size).
        on_cap: ``pad`` (default) or ``error``, see above.

    References:
        DAPO, arXiv 2503.14476, section 3.2, Eq. 11 [paper]; verl-recipe ``dapo/dapo_ray_trainer.py`` and verl's
        ``verl/trainer/ppo/v1/replay_buffer.py`` [code]; docs/schedulers.md, section ``dapo``.
    """

    name = "dapo"
    summary = "DAPO dynamic sampling: roll out 3k, drop all-equal groups, refill until k kept (rollouts charged)"
    paper = "DAPO, arXiv 2503.14476"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        probe: ProbeSource | None = None,
        variant: str = "recipe",
        oversample: float = 3.0,
        max_num_gen_batches: int = 10,
        probe_group: int = 8,
        on_cap: str = "pad",
    ) -> None:
        super().__init__(pool, seed=seed, probe=probe, probe_group=probe_group)
        self.variant = check_choice("variant", variant, ("recipe", "v1"))
        self.oversample = float(check_range("oversample", oversample, 1.0))
        self.max_num_gen_batches = check_int("max_num_gen_batches", max_num_gen_batches, 0)
        self.on_cap = check_choice("on_cap", on_cap, ("pad", "error"))

    def _keep(self, fb: Feedback) -> np.ndarray:
        """``bool[m]``: which probed groups are kept."""
        return mixed_groups(fb)

    def _capped(self, rounds: int) -> bool:
        return self.max_num_gen_batches > 0 and rounds >= self.max_num_gen_batches

    def _choose(self, k: int, seen: np.ndarray) -> tuple[list[int], list[int], int]:
        kept: list[int] = []
        dropped: list[int] = []
        rounds, credits = 0, 0
        size = math.ceil(self.oversample * k) if self.variant == "recipe" else k
        while len(kept) < k and not self._capped(rounds):
            if self.variant == "v1" and rounds > 0:
                size = min(credits, k)
                if size == 0:
                    break
            ids = self.loader.take(size, seen, self._rng)
            if ids.size == 0:
                break
            credits -= ids.size if rounds > 0 else 0
            keep = self._keep(self._roll(ids))
            rounds += 1
            kept += ids[keep].tolist()
            dropped += ids[~keep].tolist()
            credits += 2 * int((~keep).sum())
        return kept, dropped, rounds

    def _on_short(self, k: int, kept: int) -> None:
        if self.on_cap == "error":
            raise SchedsimError(
                f"{self.name}: {kept} of {k} groups kept after {self.max_num_gen_batches} rollout rounds; "
                "accepted: on_cap=pad, or a larger max_num_gen_batches (0: no cap)"
            )
