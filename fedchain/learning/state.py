"""Model state as numpy: state dicts, flat vectors, updates.

A state dict maps parameter/buffer names to ``float32`` numpy arrays (BatchNorm's integer
``num_batches_tracked`` counter is left out: it does not influence the model with a fixed
momentum). Flat vectors concatenate the arrays in sorted key order, so the order is a function of
the key set alone. No torch type leaves this module's public functions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from fedchain.learning.errors import ModelSpecError
from fedchain.learning.models import ModelSpec, build_model

__all__ = [
    "StateDict",
    "apply_update",
    "flatten_state",
    "get_state",
    "model_update",
    "num_parameters",
    "set_state",
    "state_shapes",
    "unflatten_state",
]

StateDict = dict[str, np.ndarray]
_SKIP_SUFFIX = "num_batches_tracked"


def _unwrap(model: nn.Module) -> nn.Module:
    # Opacus' GradSampleModule keeps the real model in ``_module``.
    inner = getattr(model, "_module", None)
    return inner if isinstance(inner, nn.Module) else model


def get_state(model: nn.Module) -> StateDict:
    """The model's parameters and float buffers as fresh ``float32`` numpy arrays."""
    return {
        k: v.detach().cpu().numpy().astype(np.float32, copy=True)
        for k, v in _unwrap(model).state_dict().items()
        if not k.endswith(_SKIP_SUFFIX)
    }


def set_state(model: nn.Module, state: Mapping[str, np.ndarray]) -> None:
    """Load a numpy state dict into ``model``; keys and shapes must match exactly."""
    model = _unwrap(model)
    own = {k: v for k, v in model.state_dict().items() if not k.endswith(_SKIP_SUFFIX)}
    _check_keys(set(state), set(own))
    tensors = {}
    for k, ref in own.items():
        arr = np.asarray(state[k])
        if arr.shape != tuple(ref.shape):
            raise ModelSpecError(
                f"state[{k!r}] has shape {arr.shape}, the model expects {tuple(ref.shape)}"
            )
        if not np.issubdtype(arr.dtype, np.floating):
            raise ModelSpecError(f"state[{k!r}] must be a float array, got {arr.dtype}")
        tensors[k] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    model.load_state_dict(tensors, strict=False)


def _check_keys(got: set[str], want: set[str]) -> None:
    if got != want:
        missing, extra = sorted(want - got), sorted(got - want)
        raise ModelSpecError(
            f"state keys do not match the model: missing {missing}, unexpected {extra}"
        )


@functools.lru_cache(maxsize=64)
def _shapes_cached(canonical_json: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    import json

    spec = ModelSpec.from_dict(json.loads(canonical_json))
    state = get_state(build_model(spec, seed=0))
    return tuple((k, state[k].shape) for k in sorted(state))


def state_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Name → shape of every array in the model's state, in flat-vector (sorted) order."""
    return dict(_shapes_cached(spec.canonical_json()))


def num_parameters(spec: ModelSpec) -> int:
    """Length of the model's flat state vector."""
    return sum(int(np.prod(s)) for s in state_shapes(spec).values())


def flatten_state(state: Mapping[str, np.ndarray]) -> np.ndarray:
    """Concatenate the arrays of ``state`` in sorted key order into one ``float32`` vector."""
    if not state:
        raise ModelSpecError("cannot flatten an empty state")
    return np.concatenate(
        [np.asarray(state[k], dtype=np.float32).ravel() for k in sorted(state)]
    ).astype(np.float32, copy=False)


def unflatten_state(vec: np.ndarray, spec: ModelSpec) -> StateDict:
    """Split a flat vector into the state dict of ``spec`` (inverse of :func:`flatten_state`)."""
    vec = np.asarray(vec)
    if vec.ndim != 1:
        raise ModelSpecError(f"a flat state must be one-dimensional, got shape {vec.shape}")
    shapes = state_shapes(spec)
    total = sum(int(np.prod(s)) for s in shapes.values())
    if vec.size != total:
        raise ModelSpecError(f"flat state has {vec.size} values, {spec.name} needs {total}")
    out: StateDict = {}
    offset = 0
    for k, shape in shapes.items():
        n = int(np.prod(shape))
        out[k] = vec[offset : offset + n].astype(np.float32).reshape(shape)
        offset += n
    return out


def model_update(local: Mapping[str, np.ndarray], global_: Mapping[str, np.ndarray]) -> np.ndarray:
    """The flat update Δ = flatten(local) − flatten(global) (same key sets required)."""
    _check_keys(set(local), set(global_))
    return flatten_state(local) - flatten_state(global_)


def apply_update(
    global_: Mapping[str, np.ndarray], update: np.ndarray, spec: ModelSpec
) -> StateDict:
    """The state dict of ``flatten(global) + update``."""
    return unflatten_state(flatten_state(global_) + np.asarray(update, dtype=np.float32), spec)
