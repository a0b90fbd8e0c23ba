"""FedAvg weighted by sample count (003 eq. 5): ``θ̄ = Σ_i (n_i / n) θ_i``.

The sum runs in a fixed order (input order), accumulates in float64 and is cast back to the
inputs' dtype, so the same inputs give the same bits on every machine (element-wise IEEE
operations only; no BLAS, no reduction whose order depends on the CPU). Committee members still
compare aggregated models with a tolerance (DESIGN.md), because clients' float32 updates reach
them identically but a member may use a different build of this code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fedchain.verification._arrays import UpdateRows, to_numpy
from fedchain.verification.errors import ShapeMismatchError, VerificationError, WeightError

__all__ = ["fedavg", "fedavg_state_dicts", "normalized_weights"]


def normalized_weights(weights: Sequence[float] | np.ndarray, count: int) -> np.ndarray:
    """Validate aggregation weights (sample counts) and return them divided by their sum.

    Raises :class:`WeightError` for a wrong count, negative or non-finite weights, or a zero
    total.
    """
    w = np.asarray(to_numpy(weights), dtype=np.float64).reshape(-1)
    if w.size != count:
        raise WeightError(f"got {w.size} weights for {count} updates")
    if not np.isfinite(w).all() or (w < 0).any():
        raise WeightError("weights must be finite and >= 0")
    total = float(w.sum())
    if total <= 0.0:
        raise WeightError("the weights sum to zero: nothing to average")
    return w / total


def fedavg(updates: Any, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Weighted average of R equally shaped arrays (models or updates).

    Args:
        updates: a sequence of arrays / torch tensors of one shape, or a 2-D ``(R, d)`` array
            (then each row is one update).
        weights: one non-negative weight per update, e.g. its sample count ``n_i``.

    Returns:
        ``Σ_i (w_i / Σw) · x_i`` with the shape of one input and the inputs' float dtype
        (float64 if any input is float64, else float32).
    """
    rows = UpdateRows(updates)
    p = normalized_weights(weights, rows.R)
    acc = np.zeros(rows.d, dtype=np.float64)
    for i in range(rows.R):
        if p[i] != 0.0:
            acc += p[i] * rows.row(i).astype(np.float64, copy=False)
    shape = _shape_of(updates)
    return acc.astype(rows.dtype).reshape(shape)


def _shape_of(updates: Any) -> tuple[int, ...]:
    if isinstance(updates, np.ndarray) or (type(updates).__module__ or "").startswith("torch"):
        return tuple(to_numpy(updates).shape[1:])
    return tuple(to_numpy(updates[0]).shape)


def fedavg_state_dicts(
    state_dicts: Sequence[Mapping[str, Any]], weights: Sequence[float] | np.ndarray
) -> dict[str, np.ndarray]:
    """Weighted average of state dicts (name → array) that share keys and shapes.

    The result keeps the key order of the first state dict; each entry keeps its shape and
    float dtype. Non-float entries (integer buffers such as a step counter) are not averaged:
    they must be equal in every state dict and are copied. Raises :class:`ShapeMismatchError`
    when keys or shapes differ, or when non-float entries disagree.
    """
    if not state_dicts:
        raise VerificationError("no state dicts to average")
    keys = list(state_dicts[0].keys())
    for i, sd in enumerate(state_dicts[1:], start=1):
        if set(sd.keys()) != set(keys):
            missing = sorted(set(keys) - set(sd.keys()))
            extra = sorted(set(sd.keys()) - set(keys))
            raise ShapeMismatchError(
                f"state dict {i} has different keys (missing {missing}, extra {extra})"
            )
    normalized_weights(weights, len(state_dicts))  # validate once, with a clear message
    out: dict[str, np.ndarray] = {}
    for key in keys:
        parts = [to_numpy(sd[key]) for sd in state_dicts]
        if not np.issubdtype(parts[0].dtype, np.floating):
            if any(p.shape != parts[0].shape or not np.array_equal(p, parts[0]) for p in parts[1:]):
                raise ShapeMismatchError(f"non-float entry {key!r} differs between state dicts")
            out[key] = np.array(parts[0], copy=True)
            continue
        try:
            out[key] = fedavg(parts, weights)
        except ShapeMismatchError as exc:
            raise ShapeMismatchError(f"entry {key!r}: {exc}") from exc
    return out
