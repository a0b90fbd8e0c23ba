"""Feature-level differential privacy (004, Sec. IV-C; M4b).

The conv feature extractor's outputs pass through a normalization that bounds every value by
B = √(N−1) (N = batch size): 004's bounded normalization, or the batch-normalization baseline
of Jiang et al. (see :mod:`fedchain.learning.layers`). Changing one value moves it by at most
2B, so 004 adds i.i.d. Laplace noise of scale 2B/ε = 2√(N−1)/ε to every normalized feature value
during training; the classifier (and, through the unchanged gradient, the conv layers) learn
from the noisy features. Evaluation adds no noise.

What the guarantee covers (our reading of 004): each release of a feature value is ε-DP with
respect to that value (004's adjacency: "one value in the feature varies"); a sample's features
are released once per epoch, so we report ``epochs · ε`` by sequential composition. It protects
the features that 004 sends to the edge server; the conv weights in the uploaded model are
trained on raw data and are not covered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fedchain.learning.errors import PrivacyConfigError
from fedchain.learning.layers import BoundedNorm, PositionBatchNorm
from fedchain.learning.privacy import (
    PrivacyMechanism,
    PrivateRun,
    StateDict,
    laplace_noise,
    register_privacy,
    require_positive,
)

__all__ = ["FeatureDp", "feature_noise_scale"]


def feature_noise_scale(*, epsilon: float, bound: float) -> float:
    """004's Laplace scale 2·B/ε for features bounded by B (B = √(N−1))."""
    return 2.0 * bound / epsilon


class _FeatureDpRun(PrivateRun):
    def __init__(
        self,
        model: nn.Module,
        *,
        epsilon: float,
        epochs: int,
        generator: torch.Generator,
        **kw: Any,
    ) -> None:
        super().__init__(model, **kw)
        self._epsilon = epsilon
        self._epochs = epochs
        self._generator = generator
        layer = getattr(model, "feature_norm", None)
        if isinstance(layer, BoundedNorm):
            fixed: float | None = layer.bound
        elif isinstance(layer, PositionBatchNorm):
            fixed = None  # √(n−1) of the actual batch (Cauchy–Schwarz)
        else:
            raise PrivacyConfigError(
                "feature_dp needs a model whose feature_norm bounds its features: build the CNN "
                "with norm='bounded' (004) or norm='batch' (baseline), not "
                f"{type(layer).__name__ if layer is not None else 'a model without feature_norm'}"
            )
        self._fixed_bound = fixed
        self._handle = layer.register_forward_hook(self._add_noise)

    def _add_noise(self, module: nn.Module, _inp: Any, out: torch.Tensor) -> torch.Tensor | None:
        if not module.training:
            return None
        bound = self._fixed_bound
        if bound is None:
            bound = math.sqrt(max(out.shape[0] - 1, 0))
        scale = feature_noise_scale(epsilon=self._epsilon, bound=bound)
        return out + laplace_noise(out.shape, scale=scale, generator=self._generator)

    def epsilon(self) -> float:
        return self._epochs * self._epsilon

    def delta(self) -> float:
        return 0.0

    def finish(self, state: StateDict, *, seed: int) -> StateDict:
        self._handle.remove()
        return state


@register_privacy("feature_dp")
@dataclass(frozen=True, kw_only=True)
class FeatureDp(PrivacyMechanism):
    """004's feature-level DP: Laplace(2√(N−1)/ε) on every bounded feature while training.

    Args:
        epsilon: ε of one release of the features (004's default 2, range [1, 10]).
    """

    epsilon: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", require_positive("epsilon", self.epsilon))

    def start(
        self,
        model: nn.Module,
        *,
        optimizer: torch.optim.Optimizer,
        loader: torch.utils.data.DataLoader,
        epochs: int,
        generator: torch.Generator,
    ) -> PrivateRun:
        return _FeatureDpRun(
            model,
            epsilon=self.epsilon,
            epochs=epochs,
            generator=generator,
            optimizer=optimizer,
            loader=loader,
        )
