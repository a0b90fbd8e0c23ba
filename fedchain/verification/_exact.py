"""Exact squared distances in integer arithmetic (the last tier of Multi-KRUM).

Every float is a dyadic rational ``M · 2^e`` with an integer significand ``M`` (24 bits for
float32, 53 for float64). With ``E0`` the smallest exponent among the rows involved, each value
is the integer ``n = M · 2^(e - E0)`` times ``2^E0``. ``n`` is split into signed limbs of
``LIMB`` bits, ``n = Σ_l a_l 2^(LIMB·l)``, so a coordinate difference has limbs in
``(-2^LIMB, 2^LIMB)`` and

    Σ_k (n_ik - n_jk)² = Σ_{l,m} 2^(LIMB(l+m)) Σ_k δ_lk δ_mk,

where each inner sum is an exact int64 dot product (|δ_l δ_m| < 2^40, at most 2^12 terms per
column block, flushed into Python integers well before int64 could overflow). The result is a
Python ``int`` ``I`` with ``D = I · 2^(2·E0)``: exact, identical on every machine.

This path is slow (tens of milliseconds per pair for d = 10^6) and only runs for rows whose
scores cannot be ordered by the float64 tier: exact or sub-1e-12 ties between different rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fedchain.verification._arrays import UpdateRows

__all__ = ["exact_distances"]

LIMB = 20
_MASK = (1 << LIMB) - 1
_BLOCK = 4096  # columns per block: |dot| < 2^40 · 2^12 = 2^52
_FLUSH = 256  # blocks accumulated in int64 before flushing: 2^52 · 2^8 = 2^60 < 2^63


def _significand_bits(arr: np.ndarray) -> int:
    return 53 if arr.dtype == np.float64 else 24


def _exponent_range(rows: UpdateRows, idx: Sequence[int]) -> tuple[int, int]:
    """(E0, top): smallest ulp exponent and largest frexp exponent over the nonzero values."""
    lo, hi = None, None
    for i in idx:
        r = rows.row(i)
        p = _significand_bits(r)
        for c0 in range(0, rows.d, 1 << 16):
            v = r[c0 : c0 + (1 << 16)].astype(np.float64)
            nz = v != 0
            if not nz.any():
                continue
            _, ex = np.frexp(v[nz])
            b_lo, b_hi = int(ex.min()) - p, int(ex.max())
            lo = b_lo if lo is None else min(lo, b_lo)
            hi = b_hi if hi is None else max(hi, b_hi)
    if lo is None or hi is None:
        return 0, 0
    return lo, hi


def _limbs(v: np.ndarray, p: int, e0: int, nl: int) -> np.ndarray:
    """Signed limbs ``(nl, len(v))`` of the integers ``v / 2^e0`` (exact for dyadic ``v``)."""
    mant, ex = np.frexp(v)
    m = np.ldexp(mant, p).astype(np.int64)  # exact: |mant| < 1 has at most p bits
    sign = np.sign(m)
    m = np.abs(m)
    shift = ex.astype(np.int64) - p - e0  # value = m · 2^(shift) in units of 2^e0
    out = np.zeros((nl, v.size), dtype=np.int64)
    for limb in range(nl):
        r = LIMB * limb - shift  # bit of m that lands on this limb's lowest bit
        right = np.clip(r, 0, 63)
        left = np.clip(-r, 0, LIMB - 1)
        part_r = (m >> right) & _MASK
        part_l = ((m & (_MASK >> left)) << left) & _MASK
        out[limb] = np.where(r >= 0, part_r, np.where(-r < LIMB, part_l, 0))
    out *= sign
    return out


def exact_distances(
    rows: UpdateRows, pairs: Sequence[tuple[int, int]]
) -> tuple[dict[tuple[int, int], int], int]:
    """Exact ``D[i, j]`` for the given pairs as ``({(i, j): I}, E0)`` with ``D = I · 2^(2·E0)``."""
    if not pairs:
        return {}, 0
    involved = sorted({i for pair in pairs for i in pair})
    e0, top = _exponent_range(rows, involved)
    nl = max(1, -(-(top - e0 + 1) // LIMB))
    pos = {r: k for k, r in enumerate(involved)}
    bits = [_significand_bits(rows.row(i)) for i in involved]
    a_idx = np.array([pos[i] for i, _ in pairs], dtype=np.intp)
    b_idx = np.array([pos[j] for _, j in pairs], dtype=np.intp)
    tri = [(lm, mm) for lm in range(nl) for mm in range(lm, nl)]
    weights = [(1 if lm == mm else 2) << (LIMB * (lm + mm)) for lm, mm in tri]
    totals = [0] * len(pairs)
    partial = np.zeros((len(pairs), len(tri)), dtype=np.int64)
    pending = 0

    def flush() -> None:
        for k in range(len(pairs)):
            row = partial[k]
            totals[k] += sum(int(row[t]) * weights[t] for t in range(len(tri)) if row[t])
        partial[:] = 0

    for c0 in range(0, rows.d, _BLOCK):
        c1 = min(rows.d, c0 + _BLOCK)
        limbs = np.stack(
            [
                _limbs(rows.row(i)[c0:c1].astype(np.float64), bits[k], e0, nl)
                for k, i in enumerate(involved)
            ]
        )  # (n_rows, nl, w)
        delta = limbs[a_idx] - limbs[b_idx]  # (n_pairs, nl, w), entries in (-2^20, 2^20)
        for t, (lm, mm) in enumerate(tri):
            partial[:, t] += np.einsum("pw,pw->p", delta[:, lm], delta[:, mm])
        pending += 1
        if pending == _FLUSH:
            flush()
            pending = 0
    flush()
    return {pair: totals[k] for k, pair in enumerate(pairs)}, e0
