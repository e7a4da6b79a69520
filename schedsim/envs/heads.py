"""Options of the partition-function heads that every environment's PACED-RL signal shares.

A trajectory-balance head learns u(x) = beta log Z_phi(x), whose squared-loss optimum is
``p_old(x) + beta KL(pi_old || pi_theta) >= 0`` (docs/schedulers.md (paced)). Three [choice] knobs, named the same
in the bandit, arith and llm configs:

- ``head_init``: u of every prompt before any fit. A zero-output head reads as p_hat = 0 for every prompt (the
  farthest point from tau = 0.5), so greedy selection re-picks whatever it has seen; a prior at the pool's
  starting pass rate does not.
- ``head_output``: the map f in ``u = f(offset + raw)``: ``sigmoid`` keeps u in (0, 1), the range of a pass
  rate (the beta KL excess, reported below 4e-3, is given up); ``softplus`` keeps u in (0, inf), exactly the
  range of beta log Z*; ``linear`` leaves it unbounded. ``offset = f^-1(head_init)``.
- ``head_weight_decay``: decoupled (AdamW) weight decay of the MLP heads; the paper's 0.1. It shrinks the MLP
  toward the prior ``head_init``.

References:
    Kim et al., Beyond Normalization: Rethinking the Partition Function as a Difficulty Scheduler for RLVR,
    arXiv 2602.12642 (2026): 3-layer MLP head, AdamW, weight decay 0.1.
"""

from __future__ import annotations

import math

from schedsim.core.errors import ParameterError
from schedsim.core.params import check_choice, check_range

OUTPUTS = ("sigmoid", "softplus", "linear")


def output_bounds(output: str) -> tuple[float, float]:
    """The interval u = beta log Z stays in under each output map (closed for the table's projection)."""
    return {"sigmoid": (0.0, 1.0), "softplus": (0.0, math.inf), "linear": (-math.inf, math.inf)}[output]


def output_offset(output: str, init: float) -> float:
    """The pre-activation ``f^-1(init)`` a fresh head adds so that it predicts ``init`` for every prompt."""
    if output == "sigmoid":
        return math.log(init) - math.log1p(-init)
    if output == "softplus":
        return init + math.log(-math.expm1(-init))  # log(e^init - 1) without overflow
    return init


def check_head_options(head_init: float, head_output: str, head_weight_decay: float) -> None:
    """Validate the three head knobs together: ``head_init`` must lie strictly inside the output's range."""
    check_choice("head_output", head_output, OUTPUTS)
    check_range("head_weight_decay", head_weight_decay, 0.0, None)
    check_range("head_init", head_init)
    lo, hi = output_bounds(head_output)
    if not (head_init > lo or lo == -math.inf) or not (head_init < hi or hi == math.inf):
        raise ParameterError(
            f"head_init={head_init!r} is outside head_output={head_output!r}'s open range ({lo:g}, {hi:g}); "
            f"accepted: a number strictly inside it (or head_output='linear')"
        )
