"""The named presets, one module per paper family; importing this module registers them."""

from __future__ import annotations

from schedsim.core.registry import register
from schedsim.schedulers.baselines import MoPPSScheduler, PLRScheduler, SPOScheduler
from schedsim.schedulers.beta import BetaScheduler
from schedsim.schedulers.gaussian import GaussianScheduler
from schedsim.schedulers.lilo import LILOScheduler
from schedsim.schedulers.paced import AccuracyErrorReplay, PacedScheduler, ReplayItem
from schedsim.schedulers.sec import SECScheduler
from schedsim.schedulers.uniform import UniformMixedScheduler, UniformReplayScheduler, UniformScheduler

for _cls in (
    UniformScheduler,
    UniformMixedScheduler,
    UniformReplayScheduler,
    PacedScheduler,
    BetaScheduler,
    GaussianScheduler,
    SECScheduler,
    MoPPSScheduler,
    SPOScheduler,
    PLRScheduler,
    LILOScheduler,
):
    register(_cls)

__all__ = [
    "AccuracyErrorReplay",
    "BetaScheduler",
    "GaussianScheduler",
    "LILOScheduler",
    "MoPPSScheduler",
    "PLRScheduler",
    "PacedScheduler",
    "ReplayItem",
    "SECScheduler",
    "SPOScheduler",
    "UniformMixedScheduler",
    "UniformReplayScheduler",
    "UniformScheduler",
]

from schedsim.schedulers.bots import BOTSScheduler  # noqa: E402
from schedsim.schedulers.pcl import PCLScheduler  # noqa: E402
from schedsim.schedulers.pools import DifficultyPoolScheduler  # noqa: E402
from schedsim.schedulers.tscl import Exp3SScheduler, TSCLScheduler  # noqa: E402

for _cls in (PCLScheduler, TSCLScheduler, Exp3SScheduler, DifficultyPoolScheduler, BOTSScheduler):
    register(_cls)

__all__ += ["BOTSScheduler", "DifficultyPoolScheduler", "Exp3SScheduler", "PCLScheduler", "TSCLScheduler"]
# filtering schedulers (roll candidates out through the probe signal, keep some groups, refill)
from schedsim.schedulers.band import BandScheduler  # noqa: E402
from schedsim.schedulers.dapo import DAPOScheduler  # noqa: E402
from schedsim.schedulers.greso import GRESOScheduler  # noqa: E402

for _cls in (DAPOScheduler, BandScheduler, GRESOScheduler):
    register(_cls)
__all__ += ["BandScheduler", "DAPOScheduler", "GRESOScheduler"]
# dots: a charged reference set each round and a predictor of pass rates
from schedsim.schedulers.dots import DOTSScheduler  # noqa: E402

register(DOTSScheduler)
__all__ += ["DOTSScheduler"]
# ads: cluster weights ∝ success and per-cluster windows sliding toward a success band
from schedsim.schedulers.ads import ADSScheduler  # noqa: E402

register(ADSScheduler)
__all__ += ["ADSScheduler"]
