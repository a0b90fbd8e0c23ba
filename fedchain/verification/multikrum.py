"""Multi-KRUM (Blanchard et al. 2017; paper 004 eq. 1) with an exact, machine-independent selection.

For R updates and Byzantine bound f, update i scores ``s(i) = Σ ‖Δw_i − Δw_j‖²`` over the
``R − f − 2`` updates closest to it; the ``m = R − f`` lowest scores are accepted, ties broken by
the lower index. Committee members on different machines must select the *same* set, so the
selection here is the one exact real arithmetic on the input values gives — not whatever the
local BLAS happens to round to.

Three tiers, each with a rigorous error bound (see :mod:`fedchain.verification._bounds`):

1. all pairs: centred float32 Gram matrix in blocks (fast: about one ``X @ X.T``), giving an
   interval for every squared distance, hence for every score;
2. only the rows whose score interval overlaps the cut-off: float64 BLAS against all rows;
3. only rows still tied at float64 resolution (exact ties between *different* updates, or gaps
   below ~1e-12 relative): exact integer arithmetic (:mod:`fedchain.verification._exact`).
   Bit-identical duplicates (colluding copies) tie exactly and are resolved by index without it.

A row is *certainly accepted* when fewer than ``m`` other rows could possibly beat it, and
*certainly rejected* when at least ``m`` rows certainly beat it; only the rest are refined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from fedchain.verification._arrays import UpdateRows
from fedchain.verification._bounds import U64, Float32Gram, check_finite_tail, float64_rows
from fedchain.verification._exact import exact_distances
from fedchain.verification.errors import ByzantineBoundError

__all__ = ["MultiKrumResult", "multikrum", "multikrum_params"]


@dataclass(frozen=True)
class MultiKrumResult:
    """Outcome of :func:`multikrum`.

    Attributes:
        selected: accepted update indices, ascending (exactly ``m`` of them).
        rejected: the other indices, ascending.
        scores: float64 estimates of ``s(i)``; each lies within ``score_bounds[i]``.
        score_bounds: ``(R, 2)`` rigorous lower/upper bounds of the exact score of each update
            (equal when the score was computed exactly).
        f: the Byzantine bound used.
        m: the number of accepted updates.
        neighbours: ``R − f − 2``, the number of nearest updates summed in each score.
        refined_float64: rows whose distances were recomputed in float64 (tier 2).
        refined_exact: rows whose scores were computed in exact arithmetic (tier 3).
        pruned: rows whose distances stopped after the first slice of columns (``prune``).
    """

    selected: list[int]
    rejected: list[int]
    scores: np.ndarray
    score_bounds: np.ndarray
    f: int
    m: int
    neighbours: int
    refined_float64: tuple[int, ...] = ()
    refined_exact: tuple[int, ...] = ()
    pruned: tuple[int, ...] = ()

    @property
    def accepted_mask(self) -> list[bool]:
        """``accepted_mask[i]`` is true when update ``i`` was selected."""
        chosen = set(self.selected)
        return [i in chosen for i in range(len(self.scores))]


def multikrum_params(R: int, *, f: int, m: int | None = None) -> tuple[int, int]:
    """Validate ``(R, f, m)`` and return ``(m, neighbours)``.

    Raises :class:`ByzantineBoundError` when ``f < 0``, ``R <= f + 2`` or ``m`` is not in
    ``1..R``.
    """
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)):
        raise ByzantineBoundError(f"f must be an integer, not {type(f).__name__}")
    f = int(f)
    if f < 0:
        raise ByzantineBoundError(f"the Byzantine bound f must be >= 0, got {f}")
    if f + 2 >= R:
        raise ByzantineBoundError(
            f"Multi-KRUM needs R > f + 2 updates (each score sums R - f - 2 >= 1 distances); "
            f"got R={R}, f={f}"
        )
    if m is None:
        m = R - f
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= int(m) <= R:
        raise ByzantineBoundError(f"m must be an integer in 1..R={R}, got {m!r}")
    return int(m), R - f - 2


def _score_bounds(lo: np.ndarray, hi: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of ``sum of the k smallest off-diagonal entries`` per row, rounding included."""
    R = lo.shape[0]
    eye = np.eye(R, dtype=bool)
    lo_s = np.partition(np.where(eye, np.inf, lo), k - 1, axis=1)[:, :k].sum(axis=1)
    hi_s = np.partition(np.where(eye, np.inf, hi), k - 1, axis=1)[:, :k].sum(axis=1)
    slack = 2.0 * (k + 1) * U64
    return lo_s * (1.0 - slack), hi_s * (1.0 + slack)


def _classify(lo_s: np.ndarray, hi_s: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks (certainly selected, certainly rejected) from score intervals."""
    # j may beat i (lower score, or equal score and lower index) only if lo_s[j] <= hi_s[i].
    may_beat = np.searchsorted(np.sort(lo_s), hi_s, side="right") - 1
    # j surely beats i when hi_s[j] < lo_s[i].
    surely_beat = np.searchsorted(np.sort(hi_s), lo_s, side="left")
    return may_beat < m, surely_beat >= m


def _point_estimates(est: np.ndarray, k: int, lo_s: np.ndarray, hi_s: np.ndarray) -> np.ndarray:
    R = est.shape[0]
    masked = np.where(np.eye(R, dtype=bool), np.inf, np.maximum(est, 0.0))
    s = np.partition(masked, k - 1, axis=1)[:, :k].sum(axis=1)
    return np.clip(s, lo_s, hi_s)


class _Groups:
    """Union-find of bit-identical updates (identical updates have identical exact scores)."""

    def __init__(self, members: Sequence[int]) -> None:
        self.parent = {i: i for i in members}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def multikrum(
    updates: Any,
    *,
    f: int,
    m: int | None = None,
    block_cols: int = 8192,
    chunk: int = 512,
    prune: bool = True,
) -> MultiKrumResult:
    """Run Multi-KRUM on R updates and return the exact selection.

    Args:
        updates: a 2-D ``(R, d)`` float array, or a sequence of R equally shaped float arrays or
            torch tensors (flattened). float32 stays float32 (no ``R × d`` upcast); memory beyond
            the input is one column block plus ``O(R²)``.
        f: the Byzantine bound (number of updates that may be malicious), ``f >= 0``.
        m: how many updates to accept; default ``R − f``.
        block_cols: columns per block (tuning only; the result does not depend on it).
        chunk: columns per float32 GEMM; the tier-1 error bound grows with it (tuning only).
        prune: after a first slice of the columns (about 10 %), stop computing the distances of
            updates whose partial score already rules them out (partial distances are rigorous
            lower bounds). Their ``scores`` are then extrapolated estimates (``score_bounds``
            stay rigorous, with an infinite upper bound); pass False to compute every score.
            The selection does not depend on it.

    Returns:
        A :class:`MultiKrumResult`; ``selected`` is what exact arithmetic on the inputs selects,
        ties broken by the lower index.

    Raises:
        ByzantineBoundError: ``f < 0``, ``R <= f + 2`` or ``m`` outside ``1..R``.
        ShapeMismatchError: updates of different shapes or non-float dtypes.
        NonFiniteUpdateError: an update holds NaN or ±inf.
        VerificationError: empty input, or float64 values of magnitude ``>= 2^480``.
    """
    rows = UpdateRows(updates)
    R = rows.R
    m, k = multikrum_params(R, f=f, m=m)
    est, lo, hi, pruned, centre = _tier1(
        rows, k=k, m=m, block_cols=block_cols, chunk=chunk, prune=prune
    )
    lo_s, hi_s = _score_bounds(lo, hi, k)
    sure_in, sure_out = _classify(lo_s, hi_s, m)
    uncertain = [int(i) for i in np.flatnonzero(~sure_in & ~sure_out)]
    refined64: tuple[int, ...] = ()
    exact_rows: tuple[int, ...] = ()
    exact_scores: dict[int, Fraction] = {}

    if uncertain:
        refined64 = tuple(uncertain)
        e2, r2 = float64_rows(rows, uncertain, centre=centre)
        for a, i in enumerate(uncertain):
            lo_i = np.maximum(lo[i], np.maximum(e2[a] - r2[a], 0.0))
            hi_i = np.minimum(hi[i], e2[a] + r2[a])
            lo[i], lo[:, i] = lo_i, lo_i
            hi[i], hi[:, i] = hi_i, hi_i
            est[i], est[:, i] = e2[a], e2[a]
        lo_s, hi_s = _score_bounds(lo, hi, k)
        sure_in, sure_out = _classify(lo_s, hi_s, m)
        uncertain = [int(i) for i in np.flatnonzero(~sure_in & ~sure_out)]

    scores = _point_estimates(est, k, lo_s, hi_s)
    bounds = np.stack([lo_s, hi_s], axis=1)
    selected = [int(i) for i in np.flatnonzero(sure_in)]
    if uncertain:
        keys, exact_scores = _resolve_ties(rows, uncertain, lo, hi, lo_s, hi_s, k)
        exact_rows = tuple(sorted(exact_scores))
        # Fractions and floats compare exactly in Python; ties fall back to the index.
        order = sorted(uncertain, key=lambda i: (keys[i], i))
        selected += order[: m - len(selected)]
        for i, value in exact_scores.items():
            near = float(value)
            scores[i] = near
            bounds[i, 0] = near if Fraction(near) <= value else np.nextafter(near, -np.inf)
            bounds[i, 1] = near if Fraction(near) >= value else np.nextafter(near, np.inf)
    selected.sort()
    chosen = set(selected)
    return MultiKrumResult(
        selected=selected,
        rejected=[i for i in range(R) if i not in chosen],
        scores=scores,
        score_bounds=bounds,
        f=int(f),
        m=m,
        neighbours=k,
        refined_float64=refined64,
        refined_exact=exact_rows,
        pruned=tuple(pruned),
    )


def _tier1(
    rows: UpdateRows, *, k: int, m: int, block_cols: int, chunk: int, prune: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[int] | None]:
    """Float32 tier: ``(est, lo, hi, pruned, centre)``; may prune hopeless rows early."""
    R, d = rows.R, rows.d
    t1 = Float32Gram(rows, block_cols=block_cols, chunk=chunk)
    probe = -(-d // 10 // t1.block_cols) * t1.block_cols
    if d < 16 * t1.block_cols or probe >= d:  # too few columns to gain anything
        t1.run(d)
        est, err = t1.snapshot()
        return est, np.maximum(est - err, 0.0), est + err, [], None
    t1.run(probe)
    est_p, err_p = t1.snapshot()
    lo_p = np.maximum(est_p - err_p, 0.0)
    phi = probe / d
    masked = np.where(np.eye(R, dtype=bool), np.inf, lo_p)
    lo_s = np.partition(masked, k - 1, axis=1)[:, :k].sum(axis=1)
    masked = np.where(np.eye(R, dtype=bool), np.inf, np.maximum(est_p, 0.0))
    guess = np.partition(masked, k - 1, axis=1)[:, :k].sum(axis=1) / phi
    order = sorted(range(R), key=lambda i: (guess[i], i))
    pruned: list[int] = []
    if prune and m < R:
        cut = 1.25 * guess[order[m - 1]]
        cand = sorted((i for i in range(R) if lo_s[i] > cut), key=lambda i: -lo_s[i])
        pruned = sorted(cand[: R - m])
    keep = np.array([i for i in range(R) if i not in set(pruned)], dtype=np.intp)
    t1.centre = [i for i in order if i not in set(pruned)][:8]
    t1.run(d, keep if pruned else None)
    check_finite_tail(rows, pruned, probe)
    est, err = t1.snapshot()
    lo, hi = np.maximum(est - err, 0.0), est + err
    if pruned:
        # Rows ruled out early keep their partial distances: rigorous lower bounds, no upper.
        p = np.array(pruned, dtype=np.intp)
        for a, b in ((p, slice(None)), (slice(None), p)):
            lo[a, b] = lo_p[a, b]
            hi[a, b] = np.inf
            est[a, b] = np.maximum(est_p[a, b] / phi, lo_p[a, b])
        np.fill_diagonal(lo, 0.0)
        np.fill_diagonal(hi, 0.0)
        np.fill_diagonal(est, 0.0)
    return est, lo, hi, pruned, t1.centre


def _resolve_ties(
    rows: UpdateRows,
    uncertain: list[int],
    lo: np.ndarray,
    hi: np.ndarray,
    lo_s: np.ndarray,
    hi_s: np.ndarray,
    k: int,
) -> tuple[dict[int, Fraction | float], dict[int, Fraction]]:
    """Order keys for the rows still uncertain after float64; exact scores where needed."""
    groups = _Groups(uncertain)
    for a_pos, a in enumerate(uncertain):
        for b in uncertain[a_pos + 1 :]:
            if lo[a, b] == 0.0 and groups.find(a) != groups.find(b):
                ra, rb = rows.row(a), rows.row(b)
                if np.array_equal(ra, rb):
                    groups.union(a, b)
    reps = sorted({groups.find(i) for i in uncertain})
    members = {r: [i for i in uncertain if groups.find(i) == r] for r in reps}
    g_lo = {r: max(float(lo_s[i]) for i in members[r]) for r in reps}
    g_hi = {r: min(float(hi_s[i]) for i in members[r]) for r in reps}
    need = [
        r for r in reps if any(o != r and g_lo[r] <= g_hi[o] and g_lo[o] <= g_hi[r] for o in reps)
    ]
    exact: dict[int, Fraction] = {}
    if need:
        pairs: list[tuple[int, int]] = []
        cands: dict[int, list[int]] = {}
        for r in need:
            hr = hi[r].copy()
            hr[r] = np.inf
            cut = np.partition(hr, k - 1)[k - 1]
            cands[r] = [j for j in range(rows.R) if j != r and lo[r, j] <= cut]
            pairs += [(r, j) for j in cands[r]]
        dist, e0 = exact_distances(rows, pairs)
        scale = Fraction(2) ** (2 * e0)
        for r in need:
            vals = sorted(dist[(r, j)] for j in cands[r])
            value = Fraction(sum(vals[:k])) * scale
            for i in members[r]:
                exact[i] = value
    keys: dict[int, Fraction | float] = {}
    for r in reps:
        key: Fraction | float = exact[r] if r in exact else 0.5 * (g_lo[r] + g_hi[r])
        for i in members[r]:
            keys[i] = key
    return keys, exact
