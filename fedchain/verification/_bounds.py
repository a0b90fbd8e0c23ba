"""Pairwise squared distances with rigorous error bounds (the fast tiers of Multi-KRUM).

Both tiers return an estimate ``est`` and a bound ``err`` such that, for every pair,
``|est[i, j] - D[i, j]| <= err[i, j]`` where ``D[i, j] = Σ_k (x_ik - x_jk)²`` is the *exact*
(real-number) squared distance of the input values. The bound is a worst-case bound that holds
for any summation order of the BLAS kernels (Higham, *Accuracy and Stability of Numerical
Algorithms*, §3.1: a length-K dot product computed in precision u errs by at most
``γ_K Σ|x_k y_k|`` with ``γ_K = K u / (1 - K u)``), plus absolute terms for underflow.

Tier 1 (:func:`float32_gram`) — all pairs, float32 BLAS:
    for every column block, subtract the block's column mean (distances are translation
    invariant, so a large common offset cancels before any product is formed), then compute the
    Gram matrix of the centred block with float32 GEMMs over chunks of ``chunk`` columns, and
    accumulate the chunk results in float64. With ``y`` the exactly centred values, ``c`` their
    float32 rounding (``|c - y| <= u_c |y| + η``), ``ν_i ≥ max(‖y_i‖, ‖c_i‖)`` per block::

        |D̃_ij - D_ij| <= Σ_blocks [ α (ν_i² + ν_j²) + β (ν_i + ν_j) + κ ]
        α = 2 γ_chunk + 2 (2 u_c + u_c²) + 2 (L + 3) u64      (GEMM, centring, float64 sums)
        β = 4 η √w (1 + u_c),  κ = 4 η² w + 4 w 2^-149           (underflow, w = block width)

    so the relative bound is about ``2 γ_chunk ≈ 6e-5`` for ``chunk = 512``.

Tier 2 (:func:`float64_rows`) — selected rows against all, float64 BLAS, the same argument
with ``u = 2^-53`` and ``γ_w`` for the block width: relative bound ≈ ``1e-12``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fedchain.verification._arrays import UpdateRows
from fedchain.verification.errors import NonFiniteUpdateError, VerificationError

__all__ = ["MAX_FLOAT64_MAGNITUDE", "float32_gram", "float64_rows"]

U32 = 2.0**-24
U64 = 2.0**-53
TINY32 = 2.0**-149
TINY64 = 2.0**-1074
#: float64 inputs must stay below this magnitude so that squared distances cannot overflow.
MAX_FLOAT64_MAGNITUDE = 2.0**480
_SLACK = 1.0 + 1e-6  # covers the rounding of the bound arithmetic itself


def _gamma(n: int, u: float) -> float:
    nu = n * u
    if nu >= 0.5:
        raise VerificationError(f"chunk of {n} columns too long for a rounding bound")
    return nu / (1.0 - nu)


def _raise_non_finite(block: np.ndarray, c0: int) -> None:
    bad = ~np.isfinite(block)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise NonFiniteUpdateError(
            f"update {int(rows[0])} holds a non-finite value at coordinate {c0 + int(cols[0])}",
            index=int(rows[0]),
        )


def _chunk_gram(c: np.ndarray, chunk: int, stack: np.ndarray) -> tuple[np.ndarray, int]:
    """Σ over column chunks of float32 ``c_ch @ c_ch.T``, summed in float64 (fixed order)."""
    w = c.shape[1]
    nq = 0
    for k0 in range(0, w, chunk):
        s = c[:, k0 : k0 + chunk]
        np.matmul(s, s.T, out=stack[nq])
        nq += 1
    return stack[:nq].sum(axis=0, dtype=np.float64), nq


class _Acc:
    """Per-row accumulators of the tier-1/tier-2 bound."""

    def __init__(self, R: int) -> None:
        self.A = np.zeros(R)  # Σ α ν²
        self.S = np.zeros(R)  # Σ β ν
        self.K = 0.0  # Σ κ

    def add(
        self,
        diag: np.ndarray,
        *,
        nq: int,
        w: int,
        gamma: float,
        u_c: float,
        eta: float,
        tiny: float,
        chain: int,
        scale: float,
    ) -> None:
        # diag: computed squared norms of the centred block rows, in scaled units.
        cn2 = (diag * (1.0 + 1.01 * (nq + 1) * U64) + w * tiny) / (1.0 - gamma)
        nu = (np.sqrt(cn2) * (1.0 + U64) + eta * math.sqrt(w)) / (1.0 - u_c) * scale
        alpha = 2.0 * gamma + 2.0 * (2.0 * u_c + u_c * u_c) + 2.02 * (chain + 3) * U64
        beta = 4.0 * eta * math.sqrt(w) * (1.0 + u_c) * scale
        kappa = (4.0 * eta * eta * w + 4.0 * w * tiny) * scale * scale
        self.A += alpha * nu * nu
        self.S += beta * nu
        self.K += kappa

    def pair_bound(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        a = self.A + self.S
        return (a[rows][:, None] + a[None, :] + self.K) * _SLACK


def _scaled_block_f32(
    xb: np.ndarray, c0: int, buf: np.ndarray
) -> tuple[np.ndarray, float, float, float]:
    """Centre a block in float64, scale it by a power of two, round to float32 into ``buf``.

    Returns the float32 block, the scale ``t`` (original = t · scaled), ``u_c`` and ``η``.
    """
    _raise_non_finite(xb, c0)
    x64 = xb.astype(np.float64)
    peak = float(np.max(np.abs(x64))) if x64.size else 0.0
    if peak >= MAX_FLOAT64_MAGNITUDE:
        raise VerificationError(
            f"update values reach {peak:.3g} at coordinates {c0}..; values must stay below 2^480"
        )
    x64 -= x64.mean(axis=0)
    m = float(np.max(np.abs(x64))) if x64.size else 0.0
    s = 0 if m == 0.0 else math.frexp(m)[1] - 20
    t = math.ldexp(1.0, s)
    if s:
        x64 *= math.ldexp(1.0, -s)
    w = xb.shape[1]
    out = buf[:, :w]
    np.copyto(out, x64, casting="same_kind")
    return out, t, U32 + 2.0 * U64, TINY32


def float32_gram(
    rows: UpdateRows, *, block_cols: int = 8192, chunk: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Tier 1: all-pairs squared distances ``(est, err)`` from a blocked, centred float32 Gram.

    Raises :class:`NonFiniteUpdateError` on NaN/inf input.
    """
    R, d = rows.R, rows.d
    block_cols = max(chunk, (block_cols // chunk) * chunk)
    gamma = _gamma(chunk, U32)
    nblocks = -(-d // block_cols)
    chain = -(-d // chunk) + nblocks  # longest float64 accumulation chain
    buf = np.empty((R, min(block_cols, d)), dtype=np.float32)
    stack = np.empty((-(-block_cols // chunk), R, R), dtype=np.float32)
    G = np.zeros((R, R))
    acc = _Acc(R)
    fast = rows.dtype == np.float32
    for c0 in range(0, d, block_cols):
        c1 = min(d, c0 + block_cols)
        w = c1 - c0
        xb = rows.block_into(c0, c1, buf)
        gb: np.ndarray | None = None
        if fast:
            c = buf[:, :w]
            with np.errstate(over="ignore", invalid="ignore"):
                mu = xb.mean(axis=0, dtype=np.float32)
                np.subtract(xb, mu, out=c)
                gb, nq = _chunk_gram(c, chunk, stack)
            diag = np.diagonal(gb)
            top = float(diag.max())
            if np.isfinite(gb).all() and (top == 0.0 or top >= 2.0**-40):
                acc.add(
                    diag, nq=nq, w=w, gamma=gamma, u_c=U32, eta=0.0, tiny=TINY32,
                    chain=chain, scale=1.0,
                )  # fmt: skip
            else:
                gb = None
                xb = rows.block(c0, c1)  # the fast path overwrote buf; re-read
        if gb is None:
            c, t, u_c, eta = _scaled_block_f32(xb, c0, buf)
            with np.errstate(over="ignore", invalid="ignore"):
                gb, nq = _chunk_gram(c, chunk, stack)
            diag = np.diagonal(gb)
            acc.add(
                diag, nq=nq, w=w, gamma=gamma, u_c=u_c, eta=eta, tiny=TINY32,
                chain=chain, scale=t,
            )  # fmt: skip
            if t != 1.0:
                gb = gb * (t * t)
        G += gb
    diag = np.diagonal(G).copy()
    est = diag[:, None] + diag[None, :] - 2.0 * G
    np.fill_diagonal(est, 0.0)
    err = acc.pair_bound()
    np.fill_diagonal(err, 0.0)
    return est, err


def float64_rows(
    rows: UpdateRows, idx: Sequence[int], *, block_cols: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Tier 2: squared distances of the rows ``idx`` to all rows, float64 BLAS, ``(est, err)``.

    Shapes ``(len(idx), R)``. Inputs were validated by tier 1 (finite, below 2^480).
    """
    R, d = rows.R, rows.d
    sel = np.asarray(list(idx), dtype=np.intp)
    gamma = _gamma(block_cols, U64)
    nblocks = -(-d // block_cols)
    norms = np.zeros(R)
    G = np.zeros((len(sel), R))
    acc = _Acc(R)
    for c0 in range(0, d, block_cols):
        c1 = min(d, c0 + block_cols)
        w = c1 - c0
        x = rows.block(c0, c1).astype(np.float64)  # always a fresh float64 copy
        x -= x.mean(axis=0)
        nb = np.einsum("ij,ij->i", x, x)
        norms += nb
        G += x[sel] @ x.T
        acc.add(
            nb, nq=1, w=w, gamma=gamma, u_c=U64, eta=0.0, tiny=TINY64, chain=nblocks,
            scale=1.0,
        )  # fmt: skip
    est = norms[sel][:, None] + norms[None, :] - 2.0 * G
    err = acc.pair_bound(sel)
    for k, i in enumerate(sel):
        est[k, i] = 0.0
        err[k, i] = 0.0
    return est, err
