"""The outlier rule (``fedchain.verification.outliers``) against an exact, obviously-correct
reference: scores from exact rational distances, the lower median of the selected scores."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedchain.verification.errors import VerificationError
from fedchain.verification.multikrum import multikrum
from fedchain.verification.outliers import krum_outliers


def _reference_scores(x: np.ndarray, f: int) -> tuple[list[Fraction], Fraction]:
    """Exact scores and the lower median of the selected ones."""
    rows = [[Fraction(float(v)) for v in row] for row in x.astype(np.float64)]
    R, k = len(rows), len(rows) - f - 2
    dist = [[sum((a - b) ** 2 for a, b in zip(ri, rj, strict=True)) for rj in rows] for ri in rows]
    scores = [sum(sorted(dist[i][j] for j in range(R) if j != i)[:k]) for i in range(R)]
    selected = sorted(range(R), key=lambda i: (scores[i], i))[: R - f]
    return scores, sorted(scores[i] for i in selected)[(len(selected) - 1) // 2]


def _reference(x: np.ndarray, f: int, factor: float) -> list[int]:
    scores, median = _reference_scores(x, f)
    return [i for i, s in enumerate(scores) if s > Fraction(factor) * median]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    honest=st.integers(4, 9),
    attackers=st.integers(0, 3),
    scale=st.floats(0.5, 30.0),
    factor=st.floats(1.2, 6.0),
)
def test_matches_the_exact_reference(
    seed: int, honest: int, attackers: int, scale: float, factor: float
) -> None:
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=24)
    good = centre + 0.3 * rng.normal(size=(honest, 24))
    bad = -scale * centre + rng.normal(size=(attackers, 24))
    x = np.concatenate([good, bad]).astype(np.float32)
    f = min(attackers + 1, x.shape[0] - 3)
    result = multikrum(x, f=f)
    assert krum_outliers(x, result, factor=factor) == _reference(x, f, factor)


def test_pruned_rows_are_judged_on_their_full_scores() -> None:
    """With pruning, an attacker's score is only a partial lower bound: it must be refined."""
    rng = np.random.default_rng(7)
    centre = rng.normal(size=9000)
    x = np.concatenate(
        [centre + 0.3 * rng.normal(size=(8, 9000)), -1.5 * centre[None, :], 4 * centre[None, :]]
    ).astype(np.float32)
    result = multikrum(x, f=2, block_cols=512)
    assert result.pruned, "the test needs rows pruned after the first slice"
    scores, median = _reference_scores(x, 2)
    for factor in (1.5, 3.0, 10.0, 40.0):
        expected = [i for i, s in enumerate(scores) if s > Fraction(factor) * median]
        assert krum_outliers(x, result, factor=factor) == expected


def test_a_score_exactly_at_the_threshold_is_not_an_outlier() -> None:
    # Points on a line: integer distances, so scores and the threshold are exact.
    x = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]], dtype=np.float32)
    result = multikrum(x, f=1)  # k = 2 neighbours
    # Scores: 0 -> 1+4=5, 1 -> 1+1=2, 2 -> 1+1=2, 3 -> 1+4=5, 10 -> 49+64=113; selected 1,2,0,3.
    median = 2  # lower median of [2, 2, 5, 5]
    assert krum_outliers(x, result, factor=113 / median) == []
    assert krum_outliers(x, result, factor=np.nextafter(113 / median, 0)) == [4]
    assert krum_outliers(x, result, factor=2.5) == [4]
    assert krum_outliers(x, result, factor=2.4) == [0, 3, 4]


@pytest.mark.parametrize("factor", [1.0, 0.5, float("nan"), float("inf")])
def test_factor_must_exceed_one(factor: float) -> None:
    x = np.eye(5, dtype=np.float32)
    with pytest.raises(VerificationError, match="outlier factor"):
        krum_outliers(x, multikrum(x, f=1), factor=factor)
