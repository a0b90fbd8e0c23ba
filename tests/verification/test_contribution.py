"""Contribution angles, e^(−θ) mapping, softmax weights and basis points (002 eq. 7-9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fedchain.verification import ShapeMismatchError, VerificationError, WeightError
from fedchain.verification.contribution import (
    BPS_DENOMINATOR,
    contribution_angles,
    contribution_bps,
    contribution_values,
    contribution_weights,
    softmax,
    weights_to_bps,
)


def slow_angle(u: np.ndarray, g: np.ndarray) -> float:
    dot = math.fsum(float(a) * float(b) for a, b in zip(u, g, strict=True))
    nu = math.sqrt(math.fsum(float(a) ** 2 for a in u))
    ng = math.sqrt(math.fsum(float(b) ** 2 for b in g))
    if nu == 0 or ng == 0:
        return math.pi / 2
    return math.acos(max(-1.0, min(1.0, dot / (nu * ng))))


def slow_weights(angles: list[float]) -> list[float]:
    e = [math.exp(math.exp(-t)) for t in angles]
    return [x / math.fsum(e) for x in e]


_vec = hnp.arrays(np.float32, 6, elements=st.floats(-100, 100, width=32))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(_vec, min_size=1, max_size=5), _vec)
def test_angles_and_weights_match_slow_reference(updates, g) -> None:
    theta = contribution_angles(updates, g)
    ref = [slow_angle(u, g) for u in updates]
    assert np.allclose(theta, ref, atol=1e-6)
    w = contribution_weights(angles=theta)
    assert np.allclose(w, slow_weights(list(theta)), rtol=1e-12)
    assert math.isclose(float(w.sum()), 1.0, rel_tol=1e-12)
    bps = weights_to_bps(w)
    assert sum(bps) <= BPS_DENOMINATOR and all(b >= 0 for b in bps)
    assert all(abs(b - x * BPS_DENOMINATOR) < 1.0 + 1e-9 for b, x in zip(bps, w, strict=True))


def test_smaller_angle_means_larger_contribution() -> None:
    # f = e^(−θ) is decreasing (the paper's printed 1 − e^(−θ) would invert the ranking).
    g = np.array([1.0, 0.0], np.float32)
    ups = [np.array([1.0, 0.1], np.float32), np.array([0.0, 1.0], np.float32),
           np.array([-1.0, 0.0], np.float32)]  # fmt: skip
    theta = contribution_angles(ups, g)
    assert theta[0] < theta[1] < theta[2]
    assert math.isclose(theta[1], math.pi / 2) and math.isclose(theta[2], math.pi)
    w = contribution_weights(ups, g)
    assert w[0] > w[1] > w[2]
    assert np.allclose(contribution_values([0.0, math.pi]), [1.0, math.exp(-math.pi)])


def test_zero_update_is_orthogonal() -> None:
    theta = contribution_angles([np.zeros(3, np.float32), np.ones(3, np.float32)], np.ones(3))
    assert math.isclose(theta[0], math.pi / 2) and theta[1] < 1e-6
    assert np.allclose(contribution_angles([np.ones(3)], np.zeros(3)), [math.pi / 2])


def test_hand_computed_bps() -> None:
    # θ = (0, π/2): f = (1, e^(−π/2) = 0.20788); e^f = (2.71828, 1.23106), Σ = 3.94934
    # W = (0.688286, 0.311714) → floor(W · 10,000) = (6882, 3117)
    assert contribution_bps([0.0, math.pi / 2], accepted=[True, True]) == [6882, 3117]
    # a rejected update carries no weight; the accepted ones share everything
    assert contribution_bps([0.0, 1.0, 0.3], accepted=[False, True, True])[0] == 0
    assert contribution_bps([0.0, 1.0], accepted=[False, False]) == [0, 0]
    assert weights_to_bps([0.5, 0.5]) == [5000, 5000]
    assert weights_to_bps([1 / 3] * 3) == [3333, 3333, 3333]


def test_errors() -> None:
    with pytest.raises(ShapeMismatchError):
        contribution_angles([np.ones(3)], np.ones(4))
    with pytest.raises(VerificationError):
        contribution_values([4.0])
    with pytest.raises(WeightError):
        weights_to_bps([0.7, 0.7])
    with pytest.raises(VerificationError):
        contribution_weights()
    with pytest.raises(VerificationError):
        softmax([])
