"""Normalization layers at the privacy boundary of a CNN's feature extractor (004, Sec. IV-C).

004 perturbs the conv feature extractor's outputs with Laplace noise; the noise scale needs a bound
on each feature value. Two layers give one:

- :class:`BoundedNorm` — 004's "bounded normalization": every value is mapped into
  [−√(N−1), √(N−1)] (N = batch size) with no constraint on mean or variance. The paper states
  only the range, not the map. Our reading: per sample and per channel, a min–max rescaling
  over the channel's L_f × W_f positions,

      X̂_{i,j,k} = √(N−1) · (2 · (X_{i,j,k} − min_{i,j} X_{·,·,k}) / (max − min) − 1),

  clamped to the bound. It uses only image k's own features, so changing one image changes only
  that image's normalized features (the sensitivity argument of 004 holds per image, and
  evaluation does not depend on the batch). A constant channel maps to −√(N−1).
  The divisor max − min is floored at ``min_range`` (0.01): after ReLU and max-pooling a nearly
  dead channel (zeros and one tiny positive value) would otherwise have its gradient amplified
  by up to 1/(max − min); we saw local training diverge from it (digits, 10 clients: test
  accuracy falling from 0.94 to 0.30 in one round). Values stay within the bound either way.
- :class:`PositionBatchNorm` — the baseline of Jiang et al. [45] as 004 describes it: for each
  position ⟨i, j⟩ (and channel), the N values of the batch get mean 0 and variance 1 (no affine
  part), which bounds them by √(N−1) through Cauchy–Schwarz. Note that ``nn.BatchNorm2d``
  pools statistics over N·H·W values and would not give that bound, so this layer normalizes
  the flattened features with ``nn.BatchNorm1d(affine=False)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["BoundedNorm", "PositionBatchNorm", "bound_for_batch"]


def bound_for_batch(batch_size: int) -> float:
    """√(N − 1): the feature bound of 004 for batch size N."""
    if batch_size < 2:
        raise ValueError(f"the normalization bound needs a batch size ≥ 2, got {batch_size}")
    return math.sqrt(batch_size - 1)


class BoundedNorm(nn.Module):
    """004's bounded normalization: per-sample, per-channel min–max into [−bound, bound]."""

    def __init__(self, bound: float, min_range: float = 0.01) -> None:
        super().__init__()
        if not bound > 0:
            raise ValueError(f"bound must be positive, got {bound}")
        if not min_range > 0:
            raise ValueError(f"min_range must be positive, got {min_range}")
        self.bound = float(bound)
        self.min_range = float(min_range)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(2, x.dim())) if x.dim() > 2 else (1,)
        lo = x.amin(dim=dims, keepdim=True)
        hi = x.amax(dim=dims, keepdim=True)
        unit = (x - lo) / (hi - lo).clamp_min(self.min_range)
        return (self.bound * (2.0 * unit - 1.0)).clamp(-self.bound, self.bound)

    def extra_repr(self) -> str:
        return f"bound={self.bound:.4g}, min_range={self.min_range:g}"


class PositionBatchNorm(nn.Module):
    """Batch normalization per feature position (mean 0, variance 1 over the batch, no affine)."""

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(num_features, affine=False, momentum=momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.flatten(1)).view_as(x)
