"""Online difficulty filtering: keep the groups whose fresh pass rate lies in a band, refill as DAPO does."""

from __future__ import annotations

import numpy as np

from schedsim.core.errors import ParameterError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_range
from schedsim.core.pool import PromptPool
from schedsim.schedulers.dapo import DAPOScheduler
from schedsim.schedulers.filtering import ProbeSource

_EPS = 1e-9  # band edges are inclusive; p̂ = 7/10 counts as 0.7 despite rounding


class BandScheduler(DAPOScheduler):
    """Online difficulty filtering: roll candidates out (charged) and keep a group iff tau_lo <= p̂ <= tau_hi.

    ``mode="drop"`` (default): as ``dapo`` with the band test in place of the all-equal test: rounds of
    ``ceil(oversample x k)`` prompts (``variant="recipe"``) or credit refills (``variant="v1"``) until k groups
    in the band are kept, at most ``max_num_gen_batches`` rounds, then padded with dropped groups as ``dapo``
    does; :meth:`loss_weights` gives a padded (out-of-band) group weight 0, so it adds no gradient.

    ``mode="weight"``: no filtering and no refill: one round of k prompts is rolled out and trained on, and
    :meth:`loss_weights` down-weights the groups outside the band to ``weight_out`` (the alternative verl #2791
    proposes).

    Args:
        pool: the prompt pool.
        seed: seed of the private generator (loader shuffles).
        probe: the rollout source; settable later with :meth:`set_probe`; selecting without one raises.
        tau_lo, tau_hi: the band, inclusive; 0.2 and 0.8 [secondary] (at G = 8: 2-6 correct of 8).
        mode: ``drop`` (default) or ``weight``.
        weight_out: loss weight of an out-of-band group in ``weight`` mode; 0.1 [choice].
        variant, oversample, max_num_gen_batches, probe_group, on_cap: as ``dapo`` (recipe, 3.0, 10, 8, pad).

    References:
        Bae et al., online difficulty filtering, arXiv 2504.03380 [paper]; verl issue #2791 (a band instead of
        DAPO's {0, 1} test, drop or down-weight; not implemented there); docs/schedulers.md, section ``band``.
    """

    name = "band"
    summary = "online difficulty filtering: keep groups with 0.2 <= p̂ <= 0.8, refill as dapo (rollouts charged)"
    paper = "Bae et al., arXiv 2504.03380"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        probe: ProbeSource | None = None,
        tau_lo: float = 0.2,
        tau_hi: float = 0.8,
        mode: str = "drop",
        weight_out: float = 0.1,
        variant: str = "recipe",
        oversample: float = 3.0,
        max_num_gen_batches: int = 10,
        probe_group: int = 8,
        on_cap: str = "pad",
    ) -> None:
        super().__init__(
            pool,
            seed=seed,
            probe=probe,
            variant=variant,
            oversample=oversample,
            max_num_gen_batches=max_num_gen_batches,
            probe_group=probe_group,
            on_cap=on_cap,
        )
        self.tau_lo = float(check_range("tau_lo", tau_lo, 0.0, 1.0))
        self.tau_hi = float(check_range("tau_hi", tau_hi, 0.0, 1.0))
        if self.tau_lo > self.tau_hi:
            raise ParameterError(f"tau_lo={tau_lo!r} > tau_hi={tau_hi!r}; accepted: tau_lo <= tau_hi")
        self.mode = check_choice("mode", mode, ("drop", "weight"))
        self.weight_out = float(check_range("weight_out", weight_out, 0.0, 1.0))

    def in_band(self, p_hat: np.ndarray) -> np.ndarray:
        """``bool[m]``: p̂ inside [tau_lo, tau_hi] (NaN, a group with no rollouts, is outside)."""
        return (p_hat >= self.tau_lo - _EPS) & (p_hat <= self.tau_hi + _EPS)

    def _keep(self, fb: Feedback) -> np.ndarray:
        return self.in_band(fb.means())

    def _choose(self, k: int, seen: np.ndarray) -> tuple[list[int], list[int], int]:
        if self.mode == "drop":
            return super()._choose(k, seen)
        ids = self.loader.take(k, seen, self._rng)
        if ids.size:
            self._roll(ids)
        return ids.tolist(), [], int(ids.size > 0)

    def loss_weights(self, groups: Feedback | np.ndarray) -> np.ndarray:
        """1 for a group in the band, else 0 (``drop``: only padding) or ``weight_out`` (``weight``); from the
        groups' own rewards. Given bare ids (no rewards), ones."""
        ids = self._group_ids(groups)
        if not isinstance(groups, Feedback):
            return np.ones(ids.shape[0])
        out = 0.0 if self.mode == "drop" else self.weight_out
        return np.where(self.in_band(groups.means()), 1.0, out)
