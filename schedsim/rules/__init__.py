"""Selection rules: the "which prompts go into the batch" half of a scheduler."""

from __future__ import annotations

from schedsim.rules.arms import ArmQueues, softmax
from schedsim.rules.epoch import EpochShuffle
from schedsim.rules.kernels import (
    BetaKernel,
    GaussianKernel,
    beta_kernel,
    beta_kernel_peak,
    gaussian_kernel,
    unbiased_beta_kernel,
)
from schedsim.rules.sampling import KernelSampling, TopKClosest, sample_distinct, smallest_k

__all__ = [
    "ArmQueues",
    "BetaKernel",
    "EpochShuffle",
    "GaussianKernel",
    "KernelSampling",
    "TopKClosest",
    "beta_kernel",
    "beta_kernel_peak",
    "gaussian_kernel",
    "sample_distinct",
    "smallest_k",
    "softmax",
    "unbiased_beta_kernel",
]
