"""Laplace perturbation of a whole model (M4c): m̂ = m + Lap(s/ε).

001 eq. 4 perturbs each local model before it is shared; 002 eq. 5 perturbs the global model
the requester receives. Both add i.i.d. zero-mean Laplace noise of scale s/ε to every weight,
with s the sensitivity max ‖f(D) − f(D′)‖₁ of the training function (001 eq. 5, 002 eq. 6).
Neither paper says how to obtain s for a neural network, so the caller states it (``sensitivity``
is required): the guarantee is exactly as good as that figure.

BatchNorm running statistics (``running_mean``/``running_var``) are not learned weights and a
negative variance would break the model, so they are left unperturbed by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fedchain.learning.privacy import (
    PrivacyMechanism,
    PrivateRun,
    StateDict,
    register_privacy,
    require_positive,
)

__all__ = ["UNPERTURBED_SUFFIXES", "ModelLaplace", "perturb_model"]

#: Suffixes of the BatchNorm running statistics that a perturbation leaves alone by default.
UNPERTURBED_SUFFIXES = ("running_mean", "running_var")


def perturb_model(
    state: Mapping[str, np.ndarray],
    *,
    epsilon: float,
    sensitivity: float,
    seed: int,
    perturb_statistics: bool = False,
) -> StateDict:
    """Return ``state`` with Laplace(0, sensitivity/epsilon) noise added to every float array.

    Pure: the input is not modified. Noise is drawn from ``numpy.random.default_rng(seed)`` in
    sorted key order, so the result is reproducible.

    Args:
        state: name → array (a local or a global model).
        epsilon: privacy budget ε > 0.
        sensitivity: L1 sensitivity s > 0 of the released model.
        seed: noise seed.
        perturb_statistics: also perturb BatchNorm running statistics (default ``False``).
    """
    eps = require_positive("epsilon", epsilon)
    sens = require_positive("sensitivity", sensitivity)
    scale = sens / eps
    rng = np.random.default_rng(seed)
    out: StateDict = {}
    for key in sorted(state):
        arr = np.asarray(state[key])
        skip = not perturb_statistics and key.endswith(UNPERTURBED_SUFFIXES)
        if skip or not np.issubdtype(arr.dtype, np.floating):
            out[key] = arr.copy()
            continue
        noise = rng.laplace(0.0, scale, size=arr.shape)
        out[key] = (arr + noise).astype(arr.dtype)
    return out


class _ModelLaplaceRun(PrivateRun):
    def __init__(self, model: nn.Module, *, mech: ModelLaplace, **kw: object) -> None:
        super().__init__(model, **kw)  # type: ignore[arg-type]
        self._mech = mech

    def epsilon(self) -> float:
        return self._mech.epsilon

    def delta(self) -> float:
        return 0.0

    def finish(self, state: StateDict, *, seed: int) -> StateDict:
        return perturb_model(
            state, epsilon=self._mech.epsilon, sensitivity=self._mech.sensitivity, seed=seed
        )


@register_privacy("model_laplace")
@dataclass(frozen=True, kw_only=True)
class ModelLaplace(PrivacyMechanism):
    """Train normally, then release m + Lap(sensitivity/epsilon) (001 eq. 4)."""

    epsilon: float
    sensitivity: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", require_positive("epsilon", self.epsilon))
        object.__setattr__(self, "sensitivity", require_positive("sensitivity", self.sensitivity))

    def start(
        self,
        model: nn.Module,
        *,
        optimizer: torch.optim.Optimizer,
        loader: torch.utils.data.DataLoader,
        epochs: int,
        generator: torch.Generator,
    ) -> PrivateRun:
        return _ModelLaplaceRun(model, mech=self, optimizer=optimizer, loader=loader)
