"""Outliers by a stated rule: what Multi-KRUM's cut may keep out, and what it may punish.

Multi-KRUM's ``R − f`` selection is a choice for the aggregate, not evidence: with fewer
attackers than f it leaves honest updates out. An update is shown to be an *outlier* only when

    s(i) > factor · median{ s(j) : j selected }

where ``s`` is the exact Multi-KRUM score (the sum of squared distances to the ``R − f − 2``
nearest updates) and the median is the lower median of the selected updates' scores (at most f
updates are Byzantine, so the selected set's median is an honest update's score).

Every committee member must reach the same decision on any machine, so it is made the way the
selection is made (:mod:`fedchain.verification.multikrum`): from rigorous score intervals first,
refining in float64 only the rows whose interval straddles the threshold, and in exact integer
arithmetic only the rows still undecided. Rounding therefore never changes who is an outlier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from fedchain.verification._arrays import UpdateRows
from fedchain.verification._bounds import U64, float64_rows
from fedchain.verification._exact import exact_distances
from fedchain.verification.errors import VerificationError
from fedchain.verification.multikrum import MultiKrumResult

__all__ = ["krum_outliers"]


def _lower_median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def _refined_bounds(
    rows: UpdateRows, idx: Sequence[int], k: int
) -> tuple[dict[int, float], dict[int, float]]:
    """Float64 score intervals of the rows ``idx`` (tier 2 of the selection)."""
    est, err = float64_rows(rows, idx)
    slack = 2.0 * (k + 1) * U64
    lo: dict[int, float] = {}
    hi: dict[int, float] = {}
    for a, i in enumerate(idx):
        others = np.delete(np.arange(rows.R), i)
        d_lo = np.maximum(est[a, others] - err[a, others], 0.0)
        d_hi = est[a, others] + err[a, others]
        lo[i] = float(np.sort(d_lo)[:k].sum()) * (1.0 - slack)
        hi[i] = float(np.sort(d_hi)[:k].sum()) * (1.0 + slack)
    return lo, hi


def _exact_scores(rows: UpdateRows, idx: Sequence[int], k: int) -> dict[int, Fraction]:
    pairs = [(i, j) for i in idx for j in range(rows.R) if j != i]
    dist, e0 = exact_distances(rows, pairs)
    scale = Fraction(2) ** (2 * e0)
    return {
        i: Fraction(sum(sorted(dist[(i, j)] for j in range(rows.R) if j != i)[:k])) * scale
        for i in idx
    }


def krum_outliers(updates: Any, result: MultiKrumResult, *, factor: float) -> list[int]:
    """The updates whose exact score exceeds ``factor`` × the selected updates' median score.

    Args:
        updates: the same ``(R, d)`` updates :func:`~fedchain.verification.multikrum` judged.
        result: its result on them.
        factor: the threshold ratio (> 1; an honest update's score is about the median).

    Returns:
        The outliers' indices, ascending (selected updates can be outliers too).

    Raises:
        VerificationError: ``factor`` is not a finite number above 1, or ``result`` does not
            belong to ``updates``.
    """
    if not np.isfinite(factor) or factor <= 1.0:
        raise VerificationError(f"the outlier factor must be a finite number > 1, got {factor}")
    rows = UpdateRows(updates)
    if len(result.scores) != rows.R:
        raise VerificationError(f"{rows.R} updates but a result for {len(result.scores)}")
    k, selected = result.neighbours, list(result.selected)
    lo = {i: float(result.score_bounds[i, 0]) for i in range(rows.R)}
    hi = {i: float(result.score_bounds[i, 1]) for i in range(rows.R)}

    def split() -> tuple[list[int], list[int]]:
        # The lower median is monotone in every score: its bounds are the bounds' medians. The
        # products are rounded outwards, so [cut_lo, cut_hi] holds the exact threshold.
        cut_lo = float(np.nextafter(factor * _lower_median(lo[j] for j in selected), -np.inf))
        cut_hi = float(np.nextafter(factor * _lower_median(hi[j] for j in selected), np.inf))
        out = [i for i in range(rows.R) if lo[i] > cut_hi]
        open_ = [i for i in range(rows.R) if lo[i] <= cut_hi and hi[i] > cut_lo]
        return out, open_

    outliers, undecided = split()
    if undecided:  # tier 2: float64 for the undecided rows, then for the median's rows too
        new_lo, new_hi = _refined_bounds(rows, undecided, k)
        lo.update(new_lo)
        hi.update(new_hi)
        outliers, undecided = split()
        if undecided:
            rest = [j for j in selected if j not in new_lo]
            if rest:
                new_lo, new_hi = _refined_bounds(rows, rest, k)
                lo.update(new_lo)
                hi.update(new_hi)
                outliers, undecided = split()
    if undecided:  # tier 3: exact scores of the undecided rows and of every selected row
        exact = _exact_scores(rows, sorted(set(undecided) | set(selected)), k)
        cut = Fraction(factor) * sorted(exact[j] for j in selected)[(len(selected) - 1) // 2]
        outliers = sorted(outliers + [i for i in undecided if exact[i] > cut])
    return outliers
