"""Split a training set among clients: IID, Dirichlet non-IID over labels, or 002's size buckets.

Every scheme is deterministic under ``seed`` and returns disjoint ``int64`` index arrays (sorted
ascending within each client).

Schemes:

- ``"iid"``: a seeded permutation of all indices cut into ``n_clients`` near-equal parts
  (``size`` per client if given, the whole set otherwise). 004 gives each of its 10 clients
  6000 MNIST images drawn at random this way.
- ``"dirichlet"``: for every class c, proportions p_c ~ Dirichlet(alpha · 1_n) split that class's
  (shuffled) samples among the clients; small ``alpha`` (0.1) gives clients few classes, large
  ``alpha`` (100) approaches IID. Every client gets at least ``min_size`` samples: a client
  left short takes the missing samples from the largest client.
- ``"buckets"``: BP2P-FL (002, Sec. 5.2): "each team member randomly had 0–20, 20–40, …,
  160–180 different data sizes". Our reading: each client draws one of ``n_buckets`` buckets
  [w·b, w·(b+1)) (``w = bucket_width`` = 20, ``n_buckets`` = 9) uniformly at random
  (``bucket_order="random"``) — or client k takes bucket k mod n_buckets
  (``bucket_order="cyclic"``) — then a size uniformly in that bucket (at least 1, since a
  client with no data cannot train), then that many samples drawn without replacement from the
  whole set (labels IID).
"""

from __future__ import annotations

import numpy as np

from fedchain.learning.errors import PartitionError

__all__ = ["PARTITION_SCHEMES", "partition"]

PARTITION_SCHEMES = ("iid", "dirichlet", "buckets")


def _iid(n: int, n_clients: int, size: int | None, rng: np.random.Generator) -> list[np.ndarray]:
    total = n if size is None else size * n_clients
    if total > n:
        raise PartitionError(f"{n_clients} clients × {size} samples = {total} > {n} available")
    perm = rng.permutation(n)[:total]
    return [np.asarray(p) for p in np.array_split(perm, n_clients)]


def _dirichlet(
    labels: np.ndarray, n_clients: int, alpha: float, min_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    if not alpha > 0 or not np.isfinite(alpha):
        raise PartitionError(f"dirichlet alpha must be a positive finite number, got {alpha}")
    if min_size * n_clients > len(labels):
        raise PartitionError(f"cannot give {n_clients} clients {min_size} samples each")
    classes = np.unique(labels)
    parts: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
    for c in classes:
        idx = rng.permutation(np.flatnonzero(labels == c))
        p = rng.dirichlet(np.full(n_clients, alpha))
        cuts = (np.cumsum(p)[:-1] * len(idx)).astype(np.int64)
        for k, chunk in enumerate(np.split(idx, cuts)):
            parts[k].append(chunk)
    out = [rng.permutation(np.concatenate(p)) for p in parts]
    # Top-up: a client left below min_size takes samples from the currently largest client.
    for k in range(n_clients):
        while len(out[k]) < min_size:
            donor = int(np.argmax([len(o) for o in out]))
            take = min(min_size - len(out[k]), len(out[donor]) - min_size)
            out[k] = np.concatenate([out[k], out[donor][:take]])
            out[donor] = out[donor][take:]
    return out


def _buckets(
    n: int,
    n_clients: int,
    width: int,
    n_buckets: int,
    order: str,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    if width < 1 or n_buckets < 1:
        raise PartitionError("bucket_width and n_buckets must be at least 1")
    if order == "random":
        buckets = rng.integers(0, n_buckets, size=n_clients)
    elif order == "cyclic":
        buckets = np.arange(n_clients) % n_buckets
    else:
        raise PartitionError(f"bucket_order must be 'random' or 'cyclic', got {order!r}")
    lows = np.maximum(buckets * width, 1)
    sizes = rng.integers(lows, (buckets + 1) * width)
    total = int(sizes.sum())
    if total > n:
        raise PartitionError(f"bucket sizes need {total} samples, only {n} available")
    perm = rng.permutation(n)[:total]
    return np.split(perm, np.cumsum(sizes)[:-1])


def partition(
    labels: np.ndarray,
    n_clients: int,
    *,
    scheme: str = "iid",
    seed: int,
    size: int | None = None,
    alpha: float = 0.5,
    min_size: int = 1,
    bucket_width: int = 20,
    n_buckets: int = 9,
    bucket_order: str = "random",
) -> list[np.ndarray]:
    """Assign sample indices to ``n_clients`` clients.

    Args:
        labels: the training labels (only their count matters except for ``"dirichlet"``).
        n_clients: number of clients (≥ 1).
        scheme: ``"iid"``, ``"dirichlet"`` or ``"buckets"`` (see the module docstring).
        seed: the seed; the same arguments always give the same partition.
        size: ``"iid"`` only: samples per client (default: use the whole set).
        alpha: ``"dirichlet"`` concentration (> 0).
        min_size: ``"dirichlet"``: minimum samples per client.
        bucket_width, n_buckets, bucket_order: ``"buckets"`` parameters (002: 20, 9).

    Returns:
        One sorted ``int64`` index array per client; the arrays are pairwise disjoint.

    Raises:
        PartitionError: unknown scheme, bad parameters, or not enough samples.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise PartitionError(f"labels must be one-dimensional, got shape {labels.shape}")
    if n_clients < 1:
        raise PartitionError(f"n_clients must be at least 1, got {n_clients}")
    n = len(labels)
    if n < n_clients:
        raise PartitionError(f"{n} samples cannot be split among {n_clients} clients")
    if size is not None and (scheme != "iid" or size < 1):
        raise PartitionError("size= is a positive per-client count, for scheme 'iid' only")
    rng = np.random.default_rng(seed)
    if scheme == "iid":
        parts = _iid(n, n_clients, size, rng)
    elif scheme == "dirichlet":
        parts = _dirichlet(labels, n_clients, alpha, min_size, rng)
    elif scheme == "buckets":
        parts = _buckets(n, n_clients, bucket_width, n_buckets, bucket_order, rng)
    else:
        raise PartitionError(f"unknown partition scheme {scheme!r}; known: {PARTITION_SCHEMES}")
    return [np.sort(p).astype(np.int64) for p in parts]
