"""Partitions: disjoint, covering where promised, deterministic under the seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedchain.learning import PartitionError, partition


def _check_disjoint(parts: list[np.ndarray], n: int) -> np.ndarray:
    allidx = np.concatenate(parts)
    assert len(np.unique(allidx)) == len(allidx), "a sample was given to two clients"
    assert allidx.min() >= 0 and allidx.max() < n
    for p in parts:
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0)
    return allidx


labels_st = st.integers(20, 400).flatmap(
    lambda n: st.lists(st.integers(0, 9), min_size=n, max_size=n).map(np.array)
)


@settings(max_examples=40, deadline=None)
@given(labels=labels_st, n_clients=st.integers(1, 20), seed=st.integers(0, 2**32 - 1))
def test_iid_covers_everything_in_near_equal_parts(labels, n_clients, seed) -> None:
    parts = partition(labels, n_clients, scheme="iid", seed=seed)
    allidx = _check_disjoint(parts, len(labels))
    assert len(allidx) == len(labels)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    again = partition(labels, n_clients, scheme="iid", seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


@settings(max_examples=40, deadline=None)
@given(
    labels=labels_st,
    n_clients=st.integers(1, 10),
    alpha=st.sampled_from([0.1, 0.5, 1.0, 100.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_dirichlet_is_disjoint_covering_and_deterministic(labels, n_clients, alpha, seed) -> None:
    parts = partition(labels, n_clients, scheme="dirichlet", alpha=alpha, seed=seed)
    allidx = _check_disjoint(parts, len(labels))
    assert len(allidx) == len(labels)
    assert min(len(p) for p in parts) >= 1
    again = partition(labels, n_clients, scheme="dirichlet", alpha=alpha, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


@settings(max_examples=40, deadline=None)
@given(n_clients=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_buckets_sizes_lie_in_their_bucket(n_clients, seed) -> None:
    labels = np.zeros(20000, dtype=np.int64)
    parts = partition(labels, n_clients, scheme="buckets", seed=seed)
    _check_disjoint(parts, len(labels))
    for p in parts:
        assert 1 <= len(p) < 180
    cyclic = partition(labels, n_clients, scheme="buckets", bucket_order="cyclic", seed=seed)
    for k, p in enumerate(cyclic):
        b = k % 9
        assert max(1, 20 * b) <= len(p) < 20 * (b + 1)


def test_iid_fixed_size_matches_004() -> None:
    labels = np.arange(60000) % 10
    parts = partition(labels, 10, scheme="iid", size=6000, seed=0)
    assert [len(p) for p in parts] == [6000] * 10
    _check_disjoint(parts, 60000)
    # labels stay roughly balanced
    counts = np.bincount(labels[parts[0]], minlength=10)
    assert counts.min() > 500


def test_dirichlet_small_alpha_skews_labels() -> None:
    labels = np.arange(5000) % 10
    skewed = partition(labels, 10, scheme="dirichlet", alpha=0.05, seed=1)
    flat = partition(labels, 10, scheme="dirichlet", alpha=1000.0, seed=1)

    def top_share(parts: list[np.ndarray]) -> float:
        return float(np.mean([np.bincount(labels[p], minlength=10).max() / len(p) for p in parts]))

    assert top_share(skewed) > 0.5 > 0.2 > top_share(flat)


def test_different_seeds_differ() -> None:
    labels = np.arange(1000) % 10
    a = partition(labels, 4, seed=1)
    b = partition(labels, 4, seed=2)
    assert not np.array_equal(a[0], b[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_clients": 0}, "at least 1"),
        ({"n_clients": 11}, "cannot be split"),
        ({"n_clients": 2, "scheme": "zipf"}, "unknown partition scheme"),
        ({"n_clients": 2, "size": 6}, "> 10 available"),
        ({"n_clients": 2, "scheme": "dirichlet", "size": 3}, "for scheme 'iid' only"),
        ({"n_clients": 2, "scheme": "dirichlet", "alpha": 0.0}, "alpha"),
        ({"n_clients": 2, "scheme": "dirichlet", "min_size": 6}, "cannot give"),
        ({"n_clients": 2, "scheme": "buckets", "bucket_order": "cyclic"}, "only 10 available"),
        ({"n_clients": 2, "scheme": "buckets", "bucket_order": "x"}, "bucket_order"),
    ],
)
def test_partition_errors(kwargs, message) -> None:
    labels = np.arange(10) % 3
    n_clients = kwargs.pop("n_clients")
    with pytest.raises(PartitionError, match=message):
        partition(labels, n_clients, seed=0, **kwargs)


def test_labels_must_be_one_dimensional() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        partition(np.zeros((4, 2)), 2, seed=0)
