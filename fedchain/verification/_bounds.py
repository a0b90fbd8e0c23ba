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
from typing import Any

import numpy as np

from fedchain.verification._arrays import UpdateRows
from fedchain.verification.errors import NonFiniteUpdateError, VerificationError

__all__ = [
    "MAX_FLOAT64_MAGNITUDE",
    "Float32Gram",
    "check_finite_tail",
    "float32_gram",
    "float64_rows",
]

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
        idx: np.ndarray | slice,
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
        # diag: computed squared norms of the centred block rows ``idx``, in scaled units.
        cn2 = (diag * (1.0 + 1.01 * (nq + 1) * U64) + w * tiny) / (1.0 - gamma)
        nu = (np.sqrt(cn2) * (1.0 + U64) + eta * math.sqrt(w)) / (1.0 - u_c) * scale
        alpha = 2.0 * gamma + 2.0 * (2.0 * u_c + u_c * u_c) + 2.02 * (chain + 3) * U64
        beta = 4.0 * eta * math.sqrt(w) * (1.0 + u_c) * scale
        kappa = (4.0 * eta * eta * w + 4.0 * w * tiny) * scale * scale
        self.A[idx] += alpha * nu * nu
        self.S[idx] += beta * nu
        self.K += kappa

    def pair_bound(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        a = self.A + self.S
        return (a[rows][:, None] + a[None, :] + self.K) * _SLACK


def _scaled_block_f32(
    xb: np.ndarray, c0: int, out: np.ndarray, idx: np.ndarray
) -> tuple[float, float, float]:
    """Centre a block in float64, scale it by a power of two, round to float32 into ``out``.

    Returns the scale ``t`` (original = t · scaled), ``u_c`` and ``η``.
    """
    bad = ~np.isfinite(xb)
    if bad.any():
        r, col = np.nonzero(bad)
        raise NonFiniteUpdateError(
            f"update {int(idx[r[0]])} holds a non-finite value at coordinate {c0 + int(col[0])}",
            index=int(idx[r[0]]),
        )
    x64 = xb.astype(np.float64)
    peak = float(np.max(np.abs(x64))) if x64.size else 0.0
    if peak >= MAX_FLOAT64_MAGNITUDE:
        raise VerificationError(
            f"update values reach {peak:.3g} at coordinates {c0}..; values must stay below 2^480"
        )
    x64 -= x64.mean(axis=0)
    m = float(np.max(np.abs(x64))) if x64.size else 0.0
    s = 0 if m == 0.0 else math.frexp(m)[1] - 20
    if s:
        x64 *= math.ldexp(1.0, -s)
    np.copyto(out, x64, casting="same_kind")
    return math.ldexp(1.0, s), U32 + 2.0 * U64, TINY32


class Float32Gram:
    """Tier 1: a blocked, centred float32 Gram matrix with a rigorous bound per distance.

    :meth:`run` processes columns up to ``c_end`` for a subset of rows (all by default), so a
    caller can stop computing distances of rows it has already ruled out; :meth:`snapshot`
    returns ``(est, err)`` over the columns processed so far. Partial distances are rigorous
    *lower* bounds of the full ones (every column adds a non-negative term).

    Centring: each block subtracts the column mean of the active rows, or — once
    :attr:`centre` names a few central rows — the mean of those rows, which is fused with the
    gather into one pass. Any centre is exact in real arithmetic (translation invariance); its
    choice only affects the size of the bound.
    """

    def __init__(self, rows: UpdateRows, *, block_cols: int = 8192, chunk: int = 512) -> None:
        self.rows = rows
        R, d = rows.R, rows.d
        self.chunk = chunk
        self.block_cols = max(chunk, (block_cols // chunk) * chunk)
        self.gamma = _gamma(chunk, U32)
        nblocks = -(-d // self.block_cols)
        self.chain = -(-d // chunk) + nblocks  # longest float64 accumulation chain
        self.buf = np.empty((R, min(self.block_cols, d)), dtype=np.float32)
        self._stacks: dict[int, np.ndarray] = {}
        self.G = np.zeros((R, R))
        self.acc = _Acc(R)
        self.done = 0
        self._sub: tuple[np.ndarray, np.ndarray] | None = None  # (rows, partial Gram) pending
        self.centre: list[int] | None = None
        self.fast = rows.dtype == np.float32

    def _stack(self, n: int) -> np.ndarray:
        if n not in self._stacks:
            self._stacks[n] = np.empty((-(-self.block_cols // self.chunk), n, n), np.float32)
        return self._stacks[n]

    def run(self, c_end: int, active: np.ndarray | None = None) -> None:
        """Process columns ``done .. c_end`` for the rows ``active`` (ascending; all if None)."""
        idx = np.arange(self.rows.R) if active is None else np.asarray(active, dtype=np.intp)
        for c0 in range(self.done, c_end, self.block_cols):
            self._block(c0, min(c_end, c0 + self.block_cols), idx)
        self.done = max(self.done, c_end)

    def _block(self, c0: int, c1: int, idx: np.ndarray) -> None:
        n, w = len(idx), c1 - c0
        full = n == self.rows.R
        c = self.buf[:n, :w]
        stack = self._stack(n)
        gb: np.ndarray | None = None
        common: dict[str, Any] = {
            "nq": 0,
            "w": w,
            "gamma": self.gamma,
            "tiny": TINY32,
            "chain": self.chain,
        }
        if self.fast:
            with np.errstate(over="ignore", invalid="ignore"):
                if self.centre is None:
                    self.rows.gather(idx, c0, c1, c)
                    c -= c.mean(axis=0, dtype=np.float32)
                else:
                    mu = self.rows.mean_of(self.centre, c0, c1, np.dtype(np.float32))
                    self.rows.gather_minus(idx, c0, c1, mu, c)
                gb, nq = _chunk_gram(c, self.chunk, stack)
            diag = np.diagonal(gb)
            top = float(diag.max())
            # Rescale blocks that overflowed, or whose products underflow (tiny, nonzero data).
            if np.isfinite(gb).all() and (top >= 2.0**-40 or (top == 0.0 and not c.any())):
                common["nq"] = nq
                self.acc.add(idx, diag, u_c=U32, eta=0.0, scale=1.0, **common)
            else:
                gb = None
        if gb is None:
            xb = self.rows.block(c0, c1)[idx]
            t, u_c, eta = _scaled_block_f32(xb, c0, c, idx)
            with np.errstate(over="ignore", invalid="ignore"):
                gb, nq = _chunk_gram(c, self.chunk, stack)
            common["nq"] = nq
            self.acc.add(idx, np.diagonal(gb), u_c=u_c, eta=eta, scale=t, **common)
            if t != 1.0:
                gb = gb * (t * t)
        if full:
            self.G += gb
        elif self._sub is not None and np.array_equal(self._sub[0], idx):
            np.add(self._sub[1], gb, out=self._sub[1])
        else:
            self._flush()
            self._sub = (idx.copy(), np.array(gb, dtype=np.float64))

    def _flush(self) -> None:
        # Blocks over the same subset of rows are summed densely, then scattered once: one more
        # float64 addition per entry, well inside the ``chain`` of the bound.
        if self._sub is not None:
            idx, g = self._sub
            self.G[np.ix_(idx, idx)] += g
            self._sub = None

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """``(est, err)`` of the squared distances over the columns processed so far."""
        self._flush()
        diag = np.diagonal(self.G).copy()
        est = diag[:, None] + diag[None, :] - 2.0 * self.G
        np.fill_diagonal(est, 0.0)
        err = self.acc.pair_bound()
        np.fill_diagonal(err, 0.0)
        return est, err


def float32_gram(
    rows: UpdateRows, *, block_cols: int = 8192, chunk: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Tier 1 over all rows and columns: ``(est, err)`` for every pair.

    Raises :class:`NonFiniteUpdateError` on NaN/inf input.
    """
    g = Float32Gram(rows, block_cols=block_cols, chunk=chunk)
    g.run(rows.d)
    return g.snapshot()


def check_finite_tail(rows: UpdateRows, idx: Sequence[int], c0: int) -> None:
    """Raise :class:`NonFiniteUpdateError` if a row of ``idx`` is not finite from column c0 on.

    Used for rows whose remaining columns tier 1 skipped. One summing pass per row; a
    non-finite sum (NaN/inf, or an overflow of huge finite values) triggers the exact check.
    """
    for i in idx:
        tail = rows.row(i)[c0:]
        if tail.size == 0:
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            quick = np.add.reduce(tail)
        if tail.dtype == np.float64 or not np.isfinite(quick):
            bad = ~np.isfinite(tail)
            if bad.any():
                col = int(np.flatnonzero(bad)[0])
                raise NonFiniteUpdateError(
                    f"update {i} holds a non-finite value at coordinate {c0 + col}", index=int(i)
                )
            if tail.dtype == np.float64 and float(np.max(np.abs(tail))) >= MAX_FLOAT64_MAGNITUDE:
                raise VerificationError(
                    f"update {i} holds values of magnitude >= 2^480 beyond coordinate {c0}"
                )


def float64_rows(
    rows: UpdateRows,
    idx: Sequence[int],
    *,
    block_cols: int = 4096,
    centre: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Tier 2: squared distances of the rows ``idx`` to all rows, float64 BLAS, ``(est, err)``.

    Shapes ``(len(idx), R)``. Inputs were validated by tier 1 (finite, below 2^480). Each block
    is centred on the column mean of the rows ``centre`` (all rows if None), converted and
    centred in one pass.
    """
    R, d = rows.R, rows.d
    sel = np.asarray(list(idx), dtype=np.intp)
    gamma = _gamma(block_cols, U64)
    nblocks = -(-d // block_cols)
    norms = np.zeros(R)
    G = np.zeros((len(sel), R))
    acc = _Acc(R)
    all_rows = np.arange(R)
    middle = list(centre) if centre else list(range(R))
    buf = np.empty((R, min(block_cols, d)))
    for c0 in range(0, d, block_cols):
        c1 = min(d, c0 + block_cols)
        w = c1 - c0
        x = buf[:, :w]
        mu = rows.mean_of(middle, c0, c1, np.dtype(np.float64))
        rows.gather_minus(all_rows, c0, c1, mu, x)
        nb = np.einsum("ij,ij->i", x, x)
        norms += nb
        G += x[sel] @ x.T
        acc.add(
            slice(None), nb, nq=1, w=w, gamma=gamma, u_c=U64, eta=0.0, tiny=TINY64,
            chain=nblocks, scale=1.0,
        )  # fmt: skip
    est = norms[sel][:, None] + norms[None, :] - 2.0 * G
    err = acc.pair_bound(sel)
    for k, i in enumerate(sel):
        est[k, i] = 0.0
        err[k, i] = 0.0
    return est, err
