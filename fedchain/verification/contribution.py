"""Contribution of each client to the global update (002 eq. 7-9, MISSION M10b).

- eq. 7: ``θ_k = arccos(<Δ_k, Δ> / (‖Δ_k‖ ‖Δ‖))`` — the angle between client k's actual update
  ``Δ_k`` (its local model minus the model it started from, 002's ``∇F_k − ∇F_{k−1}``) and the
  global update ``Δ`` (new global model minus the previous one);
- eq. 8: the mapping ``f(θ)``. The paper prints ``f = 1 − e^(−θ)``, which *grows* with the angle
  and contradicts its own text ("a small angle means ... the contribution to the global model is
  greater"). We use ``f(θ) = e^(−θ)``, decreasing on ``[0, π]``, as MISSION M10b states;
- eq. 9: ``W_k = e^(f(θ_k)) / Σ_j e^(f(θ_j))`` (a softmax).

A zero update (a free-rider resubmitting the global model) or a zero global update has no
direction; its cosine is taken as 0, i.e. ``θ = π/2``.

On chain the weights travel as basis points (:func:`weights_to_bps`, ``Σ ≤ 10,000``). They come
from floating-point transcendental functions, so two committee members may differ by one basis
point in rare boundary cases; compare them with a tolerance of 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fedchain.verification._arrays import UpdateRows, to_numpy
from fedchain.verification.errors import ShapeMismatchError, VerificationError, WeightError

__all__ = [
    "BPS_DENOMINATOR",
    "contribution_angles",
    "contribution_bps",
    "contribution_values",
    "contribution_weights",
    "softmax",
    "weights_to_bps",
]

#: Basis points in one whole (the contract's denominator for contribution weights).
BPS_DENOMINATOR = 10_000


def contribution_angles(
    local_updates: Any, global_update: Any, *, block: int = 65536
) -> np.ndarray:
    """θ_k ∈ [0, π] between each local update and the global update (002 eq. 7), float64."""
    rows = UpdateRows(local_updates, name="local_updates")
    g = to_numpy(global_update).reshape(-1)
    if g.size != rows.d:
        raise ShapeMismatchError(
            f"global_update has {g.size} coordinates, the local updates have {rows.d}"
        )
    if not np.issubdtype(g.dtype, np.floating):
        raise ShapeMismatchError(f"global_update has dtype {g.dtype}; expected a float dtype")
    dots = np.zeros(rows.R)
    norms = np.zeros(rows.R)
    gnorm = 0.0
    for c0 in range(0, rows.d, block):
        c1 = min(rows.d, c0 + block)
        x = rows.block(c0, c1).astype(np.float64)
        gb = g[c0:c1].astype(np.float64)
        dots += x @ gb
        norms += np.einsum("ij,ij->i", x, x)
        gnorm += float(gb @ gb)
    if not (np.isfinite(dots).all() and np.isfinite(norms).all() and np.isfinite(gnorm)):
        raise VerificationError("updates must be finite to compute contribution angles")
    denom = np.sqrt(norms) * np.sqrt(gnorm)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(denom > 0.0, dots / np.where(denom > 0.0, denom, 1.0), 0.0)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def contribution_values(angles: Sequence[float] | np.ndarray) -> np.ndarray:
    """``f(θ) = e^(−θ)`` (our reading of 002 eq. 8; see the module docstring)."""
    theta = np.asarray(angles, dtype=np.float64)
    if not np.isfinite(theta).all() or (theta < 0).any() or (theta > np.pi + 1e-12).any():
        raise VerificationError("angles must lie in [0, π]")
    return np.exp(-theta)


def softmax(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Numerically stable softmax (002 eq. 9)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise VerificationError("softmax of an empty vector")
    e = np.exp(v - v.max())
    return e / e.sum()


def contribution_weights(
    local_updates: Any = None,
    global_update: Any = None,
    *,
    angles: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """``W_k = softmax(e^(−θ_k))`` from the updates, or from precomputed ``angles``."""
    if angles is None:
        if local_updates is None or global_update is None:
            raise VerificationError("give local_updates and global_update, or angles=")
        angles = contribution_angles(local_updates, global_update)
    return softmax(contribution_values(angles))


def weights_to_bps(weights: Sequence[float] | np.ndarray) -> list[int]:
    """Weights summing to 1 → integer basis points ``floor(W_k · 10,000)``, ``Σ ≤ 10,000``.

    The unassigned remainder (at most one basis point per client) is not paid: it stays in the
    task escrow and is refunded to the requester (see ``docs/incentives.md``).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any():
        raise WeightError("weights must be a 1-D vector of finite non-negative numbers")
    if abs(float(w.sum()) - 1.0) > 1e-9:
        raise WeightError(f"weights must sum to 1, got {float(w.sum())!r}")
    bps = [int(np.floor(x * BPS_DENOMINATOR)) for x in w]
    while sum(bps) > BPS_DENOMINATOR:  # only if rounding pushed a product up to an integer
        k = max(range(len(bps)), key=lambda i: (bps[i], -i))
        bps[k] -= 1
    return bps


def contribution_bps(
    angles: Sequence[float] | np.ndarray, *, accepted: Sequence[bool]
) -> list[int]:
    """Verdict weights: softmax of ``e^(−θ)`` over the *accepted* updates, in basis points.

    Rejected updates get 0 (the contract refuses a weight on a rejected update).
    """
    theta = np.asarray(angles, dtype=np.float64)
    mask = np.asarray(accepted, dtype=bool)
    if theta.shape != mask.shape or theta.ndim != 1:
        raise WeightError("one angle and one verdict per update")
    out = [0] * theta.size
    idx = np.flatnonzero(mask)
    if idx.size:
        for i, b in zip(idx, weights_to_bps(softmax(contribution_values(theta[idx]))), strict=True):
            out[int(i)] = b
    return out
