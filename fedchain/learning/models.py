"""Model specifications, a registry of architectures, and the three built-in models.

A :class:`ModelSpec` names an architecture and its parameters; it is what a task publishes (its
:meth:`ModelSpec.spec_hash` identifies the architecture, the weights travel separately as a
numpy state dict). :func:`make_spec` fills in the registered defaults, :func:`build_model`
builds a seeded ``torch.nn.Module``.

Built-in models:

- ``"cnn004"`` — 004's MNIST CNN: conv 5×5 with 30 channels, ReLU, max-pool 2; conv 5×5 with 80
  channels, ReLU, max-pool 2 (28 → 14 → 7, so 80·7·7 = 3920 features); the normalization layer
  (``norm``); then four fully connected layers 3920 → 24 → 24 → 24 → 10. 004 gives the conv
  widths, the 3920 input, "four hidden layers" down to 10 and a 617.8 KB model file; the hidden
  widths are ours, chosen so that the weights total 156,414 float32 values = 625.7 kB.
- ``"mlp_fdc"`` — FDC's (000) MLP: input → 1024 → 128 → classes with ReLU.
- ``"cnn_digits"`` — a small CNN for 8×8 digits: conv 3×3 ×16, pool, conv 3×3 ×32, pool
  (8 → 4 → 2: 128 features), normalization, FC 128 → 64 → 10 (13,706 weights); its
  ``norm_batch`` defaults to 16, the batch size recommended for the digits demo.

``norm`` on the CNNs: ``"bounded"`` (:class:`~fedchain.learning.layers.BoundedNorm`, 004),
``"batch"`` (:class:`~fedchain.learning.layers.PositionBatchNorm`, the baseline) or ``"none"``.
``norm_batch`` is the N of the bound √(N−1). The normalization module is ``model.feature_norm``:
the privacy boundary where feature-level DP adds its noise. The classifier then reads the
(noisy) features multiplied by 1/√(N−1). That is post-processing of the released features, so
the privacy guarantee does not change, and it is the same network up to a rescaling of the first
FC layer's weights. It matters for optimization: features of magnitude √(N−1) ≈ 7.9 plus
Laplace noise of scale 2√(N−1)/ε make the first layer's effective SGD step ~N times too large,
and at 004's lr 0.01 some clients' local training diverged (update norms 5-10× the others').
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from fedchain.learning.errors import ModelSpecError
from fedchain.learning.layers import BoundedNorm, PositionBatchNorm, bound_for_batch

__all__ = [
    "NORMS",
    "ConvNet",
    "ModelSpec",
    "build_model",
    "make_spec",
    "model_names",
    "register_model",
]

NORMS = ("bounded", "batch", "none")
ModelFactory = Callable[..., nn.Module]


def _canonical(obj: Any) -> Any:
    try:
        return json.loads(json.dumps(obj, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ModelSpecError(f"model parameters must be JSON-serializable: {exc}") from exc


@dataclass(frozen=True)
class ModelSpec:
    """An architecture name plus JSON-serializable parameters (tuples become lists)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ModelSpecError("a model spec needs a non-empty name")
        if not isinstance(self.params, Mapping):
            raise ModelSpecError("model spec params must be a mapping")
        object.__setattr__(self, "params", MappingProxyType(_canonical(dict(self.params))))

    def __hash__(self) -> int:
        return hash(self.canonical_json())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelSpec) and self.canonical_json() == other.canonical_json()

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., "params": {...}}`` (a fresh, JSON-ready dict)."""
        return {"name": self.name, "params": _canonical(dict(self.params))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping) or "name" not in data:
            raise ModelSpecError("a model spec dict needs a 'name' (and optional 'params')")
        extra = set(data) - {"name", "params"}
        if extra:
            raise ModelSpecError(f"unknown model spec fields: {sorted(extra)}")
        return cls(str(data["name"]), dict(data.get("params") or {}))

    def canonical_json(self) -> str:
        """Compact JSON with sorted keys: the bytes :meth:`spec_hash` digests."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def spec_hash(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`. Hash resolved specs (:func:`make_spec`)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


@dataclass(frozen=True)
class _Entry:
    factory: ModelFactory
    defaults: Mapping[str, Any]


_MODELS: dict[str, _Entry] = {}


def register_model(
    name: str, *, defaults: Mapping[str, Any]
) -> Callable[[ModelFactory], ModelFactory]:
    """Register ``factory(**params) -> nn.Module`` under ``name`` with its default parameters."""

    def deco(factory: ModelFactory) -> ModelFactory:
        if name in _MODELS:
            raise ModelSpecError(f"model {name!r} is already registered")
        _MODELS[name] = _Entry(factory, MappingProxyType(_canonical(dict(defaults))))
        return factory

    return deco


def model_names() -> list[str]:
    """Names of the registered models."""
    return sorted(_MODELS)


def _entry(name: str) -> _Entry:
    try:
        return _MODELS[name]
    except KeyError:
        raise ModelSpecError(f"unknown model {name!r}; known: {model_names()}") from None


def _resolve(spec: ModelSpec) -> dict[str, Any]:
    entry = _entry(spec.name)
    unknown = set(spec.params) - set(entry.defaults)
    if unknown:
        raise ModelSpecError(
            f"unknown parameters {sorted(unknown)} for model {spec.name!r}; "
            f"known: {sorted(entry.defaults)}"
        )
    return {**entry.defaults, **spec.params}


def make_spec(name: str, **params: Any) -> ModelSpec:
    """A fully resolved spec: the registered defaults overridden by ``params``."""
    spec = ModelSpec(name, params)
    return ModelSpec(name, _resolve(spec))


def build_model(spec: ModelSpec, *, seed: int | None = None) -> nn.Module:
    """Build the model a spec names; ``seed`` makes its initial weights reproducible.

    The global torch RNG is left as it was (the seeded draw happens in a forked RNG state).
    """
    params = _resolve(spec)
    factory = _entry(spec.name).factory
    if seed is None:
        return _call(factory, spec.name, params)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _call(factory, spec.name, params)


def _call(factory: ModelFactory, name: str, params: dict[str, Any]) -> nn.Module:
    try:
        return factory(**params)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ModelSpecError):
            raise
        raise ModelSpecError(f"invalid parameters for model {name!r}: {exc}") from exc


def _shape(input_shape: Any) -> tuple[int, int, int]:
    if not (isinstance(input_shape, list | tuple) and len(input_shape) == 3):
        raise ModelSpecError(f"input_shape must be [channels, height, width], got {input_shape!r}")
    c, h, w = (int(v) for v in input_shape)
    if min(c, h, w) < 1:
        raise ModelSpecError(f"input_shape must be positive, got {input_shape!r}")
    return c, h, w


class ConvNet(nn.Module):
    """Conv blocks (conv, ReLU, max-pool 2) → ``feature_norm`` → fully connected classifier."""

    def __init__(
        self,
        *,
        input_shape: tuple[int, int, int],
        channels: list[int],
        kernel: int,
        hidden: list[int],
        num_classes: int,
        norm: str,
        norm_batch: int,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ModelSpecError(f"norm must be one of {NORMS}, got {norm!r}")
        if kernel < 1 or kernel % 2 == 0:
            raise ModelSpecError(f"kernel must be a positive odd number, got {kernel}")
        if num_classes < 2:
            raise ModelSpecError(f"num_classes must be at least 2, got {num_classes}")
        c, h, w = input_shape
        blocks: list[nn.Module] = []
        for out in channels:
            if h < 2 or w < 2:
                raise ModelSpecError(f"input {input_shape} too small for {len(channels)} pools")
            blocks += [nn.Conv2d(c, out, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = out, h // 2, w // 2
        self.features = nn.Sequential(*blocks)
        self.num_features = c * h * w
        self.feature_norm: nn.Module
        if norm == "bounded":
            self.feature_norm = BoundedNorm(bound_for_batch(norm_batch))
        elif norm == "batch":
            bound_for_batch(norm_batch)  # validates norm_batch
            self.feature_norm = PositionBatchNorm(self.num_features)
        else:
            self.feature_norm = nn.Identity()
        self.norm = norm
        self.feature_bound = math.sqrt(norm_batch - 1) if norm != "none" else math.inf
        # The classifier reads the (noisy) features divided by the bound: post-processing, so
        # privacy is unchanged, but it keeps the first layer's step size independent of N.
        self.feature_scale = 1.0 / self.feature_bound if norm != "none" else 1.0
        layers: list[nn.Module] = []
        width = self.num_features
        for hdim in hidden:
            layers += [nn.Linear(width, hdim), nn.ReLU()]
            width = hdim
        layers.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.feature_norm(self.features(x)).flatten(1)
        return self.classifier(z * self.feature_scale)


_CNN004_DEFAULTS = {
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "channels": [30, 80],
    "kernel": 5,
    "hidden": [24, 24, 24],
    "norm": "bounded",
    "norm_batch": 64,
}
_DIGITS_DEFAULTS = {
    "input_shape": [1, 8, 8],
    "num_classes": 10,
    "channels": [16, 32],
    "kernel": 3,
    "hidden": [64],
    "norm": "bounded",
    "norm_batch": 16,
}


def _convnet(**p: Any) -> nn.Module:
    return ConvNet(
        input_shape=_shape(p["input_shape"]),
        channels=[int(v) for v in p["channels"]],
        kernel=int(p["kernel"]),
        hidden=[int(v) for v in p["hidden"]],
        num_classes=int(p["num_classes"]),
        norm=str(p["norm"]),
        norm_batch=int(p["norm_batch"]),
    )


register_model("cnn004", defaults=_CNN004_DEFAULTS)(_convnet)
register_model("cnn_digits", defaults=_DIGITS_DEFAULTS)(_convnet)


@register_model("mlp_fdc", defaults={"input_shape": [1, 28, 28], "num_classes": 10})
def _mlp_fdc(*, input_shape: Any, num_classes: int) -> nn.Module:
    c, h, w = _shape(input_shape)
    if int(num_classes) < 2:
        raise ModelSpecError(f"num_classes must be at least 2, got {num_classes}")
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(c * h * w, 1024),
        nn.ReLU(),
        nn.Linear(1024, 128),
        nn.ReLU(),
        nn.Linear(128, int(num_classes)),
    )
