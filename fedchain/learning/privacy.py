"""Differential-privacy mechanisms for local training: configuration, registry, common parts.

A mechanism is a frozen, keyword-only dataclass registered by name (:func:`register_privacy`);
its fields are the validated parameters. A task names one with a :class:`PrivacyConfig`
(``{"mechanism": "feature_dp", "params": {"epsilon": 2.0}}``), which :func:`train_local
<fedchain.learning.train.train_local>` turns into a :class:`PrivateRun` for one training call.

Registered mechanisms (see ``docs/learning.md`` for formulas, sources and our readings):

=================  ===========================================  =================================
name               what is noised                               ``TrainResult.epsilon``
=================  ===========================================  =================================
``dp_sgd``         Opacus DP-SGD: clipped per-sample gradients  (ε, δ) from Opacus' RDP accountant
                   + Gaussian noise (M4a)
``dp_sgd_laplace`` 003's GD-DP: clipped per-sample gradients    ``epochs · ε`` (pure DP)
                   + Laplace(Δf/ε) (M4a)
``feature_dp``     004: bounded features + Laplace(2√(N−1)/ε)   ``epochs · ε`` (004's per-value
                   (M4b)                                        adjacency)
``model_laplace``  the trained model: m + Lap(s/ε) (M4c)        ``ε``
=================  ===========================================  =================================
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

from fedchain.learning.errors import PrivacyConfigError
from fedchain.registry import Registry

__all__ = [
    "PRIVACY_MECHANISMS",
    "PrivacyConfig",
    "PrivacyMechanism",
    "PrivateRun",
    "laplace_noise",
    "make_privacy",
    "privacy_mechanisms",
    "register_privacy",
    "require_positive",
]

StateDict = dict[str, np.ndarray]
M = TypeVar("M", bound="type[PrivacyMechanism]")
#: The registered DP mechanisms (see :func:`register_privacy`).
PRIVACY_MECHANISMS: Registry[Any] = Registry("privacy mechanism", error=PrivacyConfigError)


def require_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a float, or :class:`PrivacyConfigError` unless it is finite and > 0 (≥ 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PrivacyConfigError(f"{name} must be a number, got {value!r}")
    v = float(value)
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = "≥ 0" if allow_zero else "> 0"
        raise PrivacyConfigError(f"{name} must be finite and {bound}, got {value!r}")
    return v


def laplace_noise(
    shape: Iterable[int] | torch.Size, *, scale: float, generator: torch.Generator
) -> torch.Tensor:
    """i.i.d. Laplace(0, ``scale``) samples as the difference of two Exp(1) draws, times scale.

    (Exp(1) − Exp(1) is Laplace(0, 1); ``exponential_`` never returns ∞, unlike a naive inverse
    CDF at the edge of ``rand``'s range.)
    """
    size = tuple(shape)
    a = torch.empty(size).exponential_(1.0, generator=generator)
    b = torch.empty(size).exponential_(1.0, generator=generator)
    return (a - b) * scale


class PrivateRun:
    """One local training run under a mechanism: the objects to train with and the step.

    The base class is the non-private run: plain SGD steps, no epsilon.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        optimizer: torch.optim.Optimizer,
        loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
        criterion: Callable[[torch.Tensor, torch.Tensor], Any] | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loader = loader
        self.criterion = criterion if criterion is not None else nn.CrossEntropyLoss()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """One optimizer step on a batch; returns the batch's mean loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.criterion(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def epsilon(self) -> float | None:
        """Privacy spent by the run so far (``None`` for non-private training)."""
        return None

    def delta(self) -> float | None:
        """The δ that goes with :meth:`epsilon` (``None`` or 0 for pure DP)."""
        return None

    def finish(self, state: StateDict, *, seed: int) -> StateDict:
        """Post-process the trained state (e.g. perturb it) and release hooks."""
        return state


class PrivacyMechanism(ABC):
    """A DP mechanism: a frozen keyword-only dataclass whose fields are its parameters."""

    name: ClassVar[str] = ""

    @abstractmethod
    def start(
        self,
        model: nn.Module,
        *,
        optimizer: torch.optim.Optimizer,
        loader: torch.utils.data.DataLoader,
        epochs: int,
        generator: torch.Generator,
    ) -> PrivateRun:
        """Wrap the training objects for one run (``generator`` drives the noise)."""

    def params(self) -> dict[str, Any]:
        """The mechanism's parameters as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


def register_privacy(name: str) -> Callable[[M], M]:
    """Class decorator: register a :class:`PrivacyMechanism` subclass under ``name``."""
    return PRIVACY_MECHANISMS.register(name)


def privacy_mechanisms() -> list[str]:
    """Names of the registered mechanisms."""
    return PRIVACY_MECHANISMS.names()


def make_privacy(name: str, **params: Any) -> PrivacyMechanism:
    """Build a validated mechanism by name; unknown names or parameters raise."""
    mechanism: PrivacyMechanism = PRIVACY_MECHANISMS.build(name, **params)
    return mechanism


@dataclass(frozen=True)
class PrivacyConfig:
    """A mechanism name plus its parameters, validated on construction; JSON-serializable."""

    mechanism: str
    params: Mapping[str, Any]

    def __post_init__(self) -> None:
        try:
            canonical = json.loads(json.dumps(dict(self.params), sort_keys=True, allow_nan=False))
        except (TypeError, ValueError) as exc:
            msg = f"privacy parameters must be JSON-serializable: {exc}"
            raise PrivacyConfigError(msg) from exc
        object.__setattr__(self, "params", MappingProxyType(canonical))
        self.build()  # validate now, not in the middle of training

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    @classmethod
    def create(cls, mechanism: str, /, **params: Any) -> PrivacyConfig:
        """``PrivacyConfig.create("feature_dp", epsilon=2.0)``."""
        return cls(mechanism, params)

    def build(self) -> PrivacyMechanism:
        """The validated mechanism object."""
        return make_privacy(self.mechanism, **dict(self.params))

    def to_dict(self) -> dict[str, Any]:
        """``{"mechanism": ..., "params": {...}}``."""
        return {"mechanism": self.mechanism, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrivacyConfig:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping) or "mechanism" not in data:
            raise PrivacyConfigError("a privacy config needs a 'mechanism' (and 'params')")
        return cls(str(data["mechanism"]), dict(data.get("params") or {}))
