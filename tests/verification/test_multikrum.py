"""Multi-KRUM against slow, obviously correct references (exact rationals and float64 loops)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedchain.verification import (
    ByzantineBoundError,
    NonFiniteUpdateError,
    ShapeMismatchError,
    VerificationError,
    multikrum,
)


def exact_reference(X: np.ndarray, f: int, m: int | None = None) -> tuple[list[int], list]:
    """Multi-KRUM in exact rational arithmetic: pairwise loops, sort, tie → lower index."""
    R = len(X)
    k = R - f - 2
    m = R - f if m is None else m
    q = [[Fraction(float(v)) for v in row] for row in X]
    D = [[sum((a - b) ** 2 for a, b in zip(q[i], q[j], strict=True)) for j in range(R)]
         for i in range(R)]  # fmt: skip
    s = [sum(sorted(D[i][j] for j in range(R) if j != i)[:k]) for i in range(R)]
    order = sorted(range(R), key=lambda i: (s[i], i))
    return sorted(order[:m]), s


def float64_reference(X: np.ndarray, f: int) -> tuple[list[int], np.ndarray, float]:
    """Float64 pairwise loop; also returns the relative gap at the cut-off."""
    R = len(X)
    k, m = R - f - 2, R - f
    Y = np.asarray(X, dtype=np.float64)
    D = np.array([[np.sum((Y[i] - Y[j]) ** 2) for j in range(R)] for i in range(R)])
    s = np.array([np.sort(np.delete(D[i], i))[:k].sum() for i in range(R)])
    order = sorted(range(R), key=lambda i: (s[i], i))
    gap = np.inf
    if m < R:
        a, b = s[order[m - 1]], s[order[m]]
        gap = (b - a) / max(abs(b), 1e-300)
    return sorted(order[:m]), s, gap


def check_against_exact(X: np.ndarray, f: int, m: int | None = None, **kw) -> None:
    res = multikrum(X, f=f, m=m, **kw)
    sel, s = exact_reference(X, f, m)
    assert res.selected == sel
    assert res.rejected == [i for i in range(len(X)) if i not in sel]
    for i, si in enumerate(s):
        lo, hi = res.score_bounds[i]
        assert Fraction(float(lo)) <= si <= Fraction(float(hi))
        assert lo <= res.scores[i] <= hi


# --- hypothesis: random and adversarial small inputs -------------------------------------------

_scales = st.sampled_from([1e-38, 1e-20, 1e-3, 1.0, 1e3, 1e20, 1e30])
_offsets = st.sampled_from([0.0, 1.0, 1e4, 1e7, -3e8, 1e30])


@st.composite
def update_sets(draw):
    R = draw(st.integers(3, 9))
    f = draw(st.integers(0, R - 3))
    d = draw(st.integers(1, 7))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    kind = draw(st.sampled_from(["gauss", "offset", "grid", "dups", "perm"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale, offset = draw(_scales), draw(_offsets)
    if kind == "gauss":
        X = rng.standard_normal((R, d)) * scale
    elif kind == "offset":  # tiny spread around a large common offset
        X = offset + rng.integers(-3, 4, (R, d)) * max(abs(offset), 1.0) * 2.0**-22
    elif kind == "grid":  # many exact ties
        X = rng.integers(-2, 3, (R, d)) * scale
    elif kind == "dups":  # colluding identical updates
        X = rng.standard_normal((R, d)) * scale
        src = rng.integers(0, R, R)
        copy = rng.random(R) < 0.5
        X[copy] = X[src[copy]]
    else:  # rotated copies of one vector: equal scores for different updates
        base = rng.standard_normal(d) * scale
        X = np.stack([np.roll(base, i) * (-1) ** (i // d) for i in range(R)])
    X = X.astype(dtype)
    if not np.isfinite(X).all():
        X = np.nan_to_num(X, posinf=1e30, neginf=-1e30).astype(dtype)
    m = draw(st.one_of(st.none(), st.integers(1, R)))
    return X, f, m


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(update_sets())
def test_selection_equals_exact_reference(case) -> None:
    X, f, m = case
    check_against_exact(X, f, m)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(update_sets())
def test_selection_equals_float64_reference_when_resolvable(case) -> None:
    X, f, _ = case
    sel, _, gap = float64_reference(X, f)
    if gap > 1e-9:  # a float64 loop is itself reliable only above its rounding level
        assert multikrum(X, f=f).selected == sel


# --- hand-made hard inputs --------------------------------------------------------------------


def test_tiny_spread_around_large_offset() -> None:
    rng = np.random.default_rng(1)
    X = (np.float32(3e6) + rng.integers(-8, 9, (12, 40)).astype(np.float32) * 0.25).astype(
        np.float32
    )
    check_against_exact(X, 3)


def test_large_norms_near_float32_max() -> None:
    rng = np.random.default_rng(2)
    X = (rng.standard_normal((10, 30)) * 1e37).astype(np.float32)
    X[3] = np.float32(3.0e38)
    check_against_exact(X, 2)


def test_subnormal_values() -> None:
    rng = np.random.default_rng(3)
    X = (rng.integers(-5, 6, (8, 16)) * 1e-44).astype(np.float32)
    check_against_exact(X, 1)


def test_tiny_values_are_rescaled_not_left_to_float64() -> None:
    rng = np.random.default_rng(12)
    X = (rng.standard_normal((12, 4000)) * 1e-30).astype(np.float32)  # products underflow
    res = multikrum(X, f=3, block_cols=512, chunk=128)
    sel, _, gap = float64_reference(X.astype(np.float64) * 1e30, 3)
    assert gap > 1e-9 and res.selected == sel
    assert not res.refined_float64  # power-of-two rescaling kept tier 1 informative


def test_near_tie_one_float32_ulp_apart() -> None:
    # Rows 0 and 1 differ from the cluster by one ulp in one coordinate; the cut falls there.
    base = np.full((9, 5), np.float32(1.0), dtype=np.float32)
    base[0, 0] = np.nextafter(np.float32(2.0), np.float32(3.0))
    base[1, 0] = np.float32(2.0)
    base[2:, 0] = np.float32(1.0) + np.arange(7, dtype=np.float32) * np.float32(2**-20)
    check_against_exact(base, 1, m=7)


def test_exact_ties_between_different_updates_use_exact_tier() -> None:
    # Four points on a square, one far point: the square's scores tie exactly.
    X = np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [9, 9]], dtype=np.float32) * np.float32(0.1)
    res = multikrum(X, f=1, m=2)
    assert res.selected == [0, 1]  # equal scores → lower indices
    assert res.refined_exact  # the float tiers cannot order them
    check_against_exact(X, 1, 2)


def test_duplicates_tie_without_exact_tier() -> None:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((8, 6)).astype(np.float32)
    X[5] = X[2]
    X[7] = X[2]
    check_against_exact(X, 2, m=5)


def test_honest_cut_uses_float64_tier_and_matches_reference() -> None:
    # Fewer real outliers than f: the cut falls inside the honest cluster.
    rng = np.random.default_rng(5)
    R, d = 30, 20000
    g = rng.standard_normal(d).astype(np.float32)
    X = (g + 0.01 * rng.standard_normal((R, d))).astype(np.float32)
    X[0] = -3 * X[0]
    res = multikrum(X, f=10, block_cols=4096, chunk=512)
    sel, s, gap = float64_reference(X, 10)
    assert gap > 1e-9
    assert res.selected == sel
    assert res.refined_float64  # tier 1 alone was not enough
    assert np.allclose(res.scores, s, rtol=1e-4)


def test_result_independent_of_blocking_and_input_form() -> None:
    rng = np.random.default_rng(6)
    X = (rng.standard_normal((15, 3000)) + 5).astype(np.float32)
    X[[2, 9]] *= 4
    a = multikrum(X, f=4)
    b = multikrum([X[i] for i in range(15)], f=4, block_cols=512, chunk=128)
    c = multikrum([X[i].reshape(30, 100) for i in range(15)], f=4, block_cols=1024, chunk=256)
    assert a.selected == b.selected == c.selected
    assert 2 not in a.selected and 9 not in a.selected
    sel, s, _ = float64_reference(X, 4)
    assert a.selected == sel
    assert np.allclose(a.scores, s, rtol=1e-4)


def test_float16_and_float64_inputs() -> None:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((7, 9))
    check_against_exact(X.astype(np.float16), 2)
    check_against_exact(X, 2)
    mixed = [X[0].astype(np.float32), *X[1:]]
    Y = X.copy()
    Y[0] = X[0].astype(np.float32)
    assert multikrum(mixed, f=2).selected == exact_reference(Y, 2)[0]


def test_torch_tensors_accepted() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    X = rng.standard_normal((6, 11)).astype(np.float32)
    t = [torch.from_numpy(X[i]).requires_grad_(True) for i in range(6)]
    assert multikrum(t, f=1).selected == multikrum(X, f=1).selected
    assert multikrum(torch.from_numpy(X), f=1).selected == multikrum(X, f=1).selected


def test_m_defaults_and_range() -> None:
    X = np.arange(24, dtype=np.float32).reshape(6, 4)
    assert len(multikrum(X, f=1).selected) == 5
    assert multikrum(X, f=1, m=6).selected == list(range(6))
    assert len(multikrum(X, f=1, m=1).selected) == 1
    res = multikrum(X, f=1)
    assert res.neighbours == 3 and res.m == 5 and res.f == 1
    assert res.accepted_mask == [i in res.selected for i in range(6)]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("R", "f", "m"),
    [(4, 2, None), (3, 1, None), (5, -1, None), (6, 1, 0), (6, 1, 7), (6, True, None)],
)
def test_bad_bounds(R: int, f: int, m: int | None) -> None:
    X = np.zeros((R, 3), dtype=np.float32)
    with pytest.raises(ByzantineBoundError):
        multikrum(X, f=f, m=m)


def test_errors_are_value_errors_with_clear_messages() -> None:
    with pytest.raises(ShapeMismatchError, match=r"updates\[1\] has shape"):
        multikrum([np.zeros(3, np.float32), np.zeros(4, np.float32)] * 3, f=1)
    with pytest.raises(ShapeMismatchError, match="dtype"):
        multikrum(np.zeros((5, 3), dtype=np.int64), f=1)
    with pytest.raises(VerificationError, match="empty"):
        multikrum([], f=0)
    with pytest.raises(VerificationError, match="2-D"):
        multikrum(np.zeros(5, dtype=np.float32), f=0)
    with pytest.raises(ValueError):
        multikrum(np.zeros((5, 3), dtype=np.float32), f=3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_updates_rejected_with_index(bad: float) -> None:
    X = np.ones((6, 5000), dtype=np.float32)
    X[4, 4321] = bad
    with pytest.raises(NonFiniteUpdateError) as info:
        multikrum(X, f=1)
    assert info.value.index == 4
    assert "4321" in str(info.value)


# --- early pruning of hopeless updates (small blocks so that it triggers on small data) -------


def _clustered(R: int, d: int, outliers: list[int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(d).astype(np.float32)
    X = (g + 0.05 * rng.standard_normal((R, d))).astype(np.float32)
    for n, i in enumerate(outliers):
        X[i] = -3 * X[i] if n % 2 else rng.standard_normal(d).astype(np.float32) * 3
    return X


def test_pruning_keeps_the_exact_selection() -> None:
    X = _clustered(24, 12000, [1, 5, 6, 17, 23], seed=9)
    res = multikrum(X, f=5, block_cols=256, chunk=128)
    full = multikrum(X, f=5, block_cols=256, chunk=128, prune=False)
    sel, s, gap = float64_reference(X, 5)
    assert gap > 1e-9
    assert res.selected == full.selected == sel
    assert set(res.pruned) == {1, 5, 6, 17, 23} and not full.pruned
    for i in range(24):  # bounds stay rigorous (pruned rows: lower bound only)
        assert res.score_bounds[i, 0] <= s[i] * (1 + 1e-12) <= res.score_bounds[i, 1] * (1 + 1e-9)
    kept = [i for i in range(24) if i not in res.pruned]
    assert np.allclose(res.scores[kept], s[kept], rtol=1e-4)
    assert np.allclose(full.scores, s, rtol=1e-4)


def test_pruning_with_fewer_outliers_than_f_and_list_input() -> None:
    X = _clustered(30, 10000, [3, 11], seed=10)
    res = multikrum([X[i] for i in range(30)], f=8, block_cols=256, chunk=128)
    sel, _, gap = float64_reference(X, 8)
    assert gap > 1e-9
    assert res.selected == sel
    assert {3, 11} <= set(res.rejected)


def test_pruned_rows_still_checked_for_non_finite_values() -> None:
    X = _clustered(20, 9000, [4, 9], seed=11)
    X[9, 8500] = np.nan  # beyond the probe slice of pruned update 9
    with pytest.raises(NonFiniteUpdateError) as info:
        multikrum(X, f=3, block_cols=256, chunk=128)
    assert info.value.index == 9


def test_gram_over_shrinking_row_subsets_stays_rigorous() -> None:
    """Blocks run over a subset of rows are summed apart and scattered when the subset changes
    or at a snapshot: the distances among the rows still active must keep rigorous bounds."""
    from fedchain.verification._arrays import UpdateRows
    from fedchain.verification._bounds import Float32Gram

    X = _clustered(12, 3000, [2, 7], seed=12) + np.float32(40.0)  # offset: centring matters
    Y = X.astype(np.float64)
    g = Float32Gram(UpdateRows(X), block_cols=256, chunk=128)
    a = np.array([0, 1, 3, 4, 5, 6, 8, 9, 10, 11])
    b = np.array([0, 1, 3, 4, 8, 9, 10])
    c = np.array([0, 3, 4, 10])
    g.run(768)
    g.run(1280, a)
    g.run(1792, b)  # a new subset: the sum over a is scattered first
    checks = [(g.snapshot(), b, 1792)]
    g.run(3000, c)
    checks.append((g.snapshot(), c, 3000))
    for (est, err), rows, cols in checks:
        for i in rows:
            for j in rows:
                exact = float(np.sum((Y[i, :cols] - Y[j, :cols]) ** 2))
                assert abs(est[i, j] - exact) <= err[i, j], (i, j, cols)
                assert err[i, j] <= 1e-3 * exact + 1e-9


def test_gather_minus_runs_match_row_by_row() -> None:
    """Subsets of a stacked input are copied run by run; separate arrays row by row: same."""
    from fedchain.verification._arrays import UpdateRows

    X = np.random.default_rng(13).standard_normal((9, 50)).astype(np.float32)
    mu = X[2, 10:40].copy()
    stacked, separate = UpdateRows(X), UpdateRows([X[i].copy() for i in range(9)])
    for idx in ([0, 1, 2, 5, 6, 8], [3], [8, 7, 1], [4, 4, 5], list(range(9))):
        a = np.empty((len(idx), 30), np.float32)
        b = np.empty_like(a)
        stacked.gather_minus(np.array(idx), 10, 40, mu, a)
        separate.gather_minus(np.array(idx), 10, 40, mu, b)
        assert np.array_equal(a, b) and np.array_equal(a, X[idx, 10:40] - mu)
