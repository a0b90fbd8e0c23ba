"""FedAvg against a one-by-one float64 reference (hypothesis) and its error cases."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fedchain.verification import ShapeMismatchError, WeightError
from fedchain.verification.fedavg import fedavg, fedavg_state_dicts, normalized_weights


def reference(updates: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Σ (w_i / Σw) x_i coordinate by coordinate in exact rationals, rounded once."""
    total = sum(Fraction(w) for w in weights)
    flat = [u.reshape(-1) for u in updates]
    pairs = list(zip(weights, flat, strict=True))
    out = [
        float(sum(Fraction(w) / total * Fraction(float(x[k])) for w, x in pairs))
        for k in range(flat[0].size)
    ]
    return np.array(out).reshape(updates[0].shape)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.lists(
                hnp.arrays(np.float32, (3, 2), elements=st.floats(-1e6, 1e6, width=32)),
                min_size=n,
                max_size=n,
            ),
            st.lists(st.integers(0, 10_000), min_size=n, max_size=n).filter(lambda w: sum(w)),
        )
    )
)
def test_matches_exact_reference(case) -> None:
    updates, weights = case
    out = fedavg(updates, weights)
    assert out.shape == (3, 2) and out.dtype == np.float32
    ref = reference(updates, weights).astype(np.float32)
    scale = max(1.0, float(np.max(np.abs(np.stack(updates)))))
    assert np.allclose(out, ref, rtol=0, atol=scale * 2e-7)


def test_weighted_by_sample_count_hand_example() -> None:
    a = np.array([1.0, 2.0], dtype=np.float32)
    b = np.array([3.0, 6.0], dtype=np.float32)
    # n = (1, 3): (1·a + 3·b) / 4 = (2.5, 5.0)
    assert fedavg([a, b], [1, 3]).tolist() == [2.5, 5.0]
    assert fedavg(np.stack([a, b]), [1, 3]).tolist() == [2.5, 5.0]
    assert fedavg([a, b], [0, 5]).tolist() == b.tolist()


def test_deterministic_and_float64_accumulated() -> None:
    rng = np.random.default_rng(0)
    ups = [rng.standard_normal(10_000).astype(np.float32) for _ in range(7)]
    w = [3, 1, 4, 1, 5, 9, 2]
    a, b = fedavg(ups, w), fedavg(ups, w)
    assert a.tobytes() == b.tobytes()
    pairs = zip(w, ups, strict=True)
    exact = sum(np.float64(wi) * u.astype(np.float64) for wi, u in pairs) / sum(w)
    assert np.max(np.abs(a - exact)) <= 1e-6
    assert fedavg([u.astype(np.float64) for u in ups], w).dtype == np.float64


def test_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    t = [torch.ones(2, 2), torch.full((2, 2), 3.0)]
    assert fedavg(t, [1, 1]).tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_state_dicts() -> None:
    s1 = {"w": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float32), "n": np.array(7)}
    s2 = {"w": np.full((2, 2), 3, np.float32), "b": np.ones(2, np.float32), "n": np.array(7)}
    out = fedavg_state_dicts([s1, s2], [3, 1])
    assert list(out) == ["w", "b", "n"]
    assert out["w"].tolist() == [[1.5, 1.5], [1.5, 1.5]] and out["b"].tolist() == [0.25, 0.25]
    assert int(out["n"]) == 7
    with pytest.raises(ShapeMismatchError, match="different keys"):
        fedavg_state_dicts([s1, {"w": s2["w"]}], [1, 1])
    with pytest.raises(ShapeMismatchError, match="'w'"):
        fedavg_state_dicts([s1, {**s2, "w": np.ones(3, np.float32)}], [1, 1])
    with pytest.raises(ShapeMismatchError, match="non-float"):
        fedavg_state_dicts([s1, {**s2, "n": np.array(8)}], [1, 1])


@pytest.mark.parametrize("weights", [[0, 0], [1, -1], [1, float("nan")], [1], [1, 2, 3]])
def test_bad_weights(weights) -> None:
    x = [np.ones(2, np.float32), np.ones(2, np.float32)]
    with pytest.raises(WeightError):
        fedavg(x, weights)


def test_shape_mismatch() -> None:
    with pytest.raises(ShapeMismatchError):
        fedavg([np.ones(2, np.float32), np.ones(3, np.float32)], [1, 1])
    assert normalized_weights([1, 3], 2).tolist() == [0.25, 0.75]
