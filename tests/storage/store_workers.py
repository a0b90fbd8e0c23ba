"""Worker functions for the multi-process LocalStore tests (importable by spawned children)."""

from __future__ import annotations

import hashlib

from fedchain.storage import LocalStore

__all__ = ["blob", "put_many"]


def blob(i: int) -> bytes:
    """Deterministic test blob ``i`` (some span several 256 KiB chunks)."""
    size = 1000 + (i * 97_331) % 700_000
    seed = hashlib.sha256(str(i).encode()).digest()
    return (seed * (size // 32 + 1))[:size]


def put_many(root: str, worker: int, shared: list[int], rounds: int) -> list[tuple[int, str]]:
    """Put the shared blobs (every worker writes them) and two blobs of its own, and read
    them back; returns (blob index, CID) pairs."""
    store = LocalStore(root)
    own = [1000 + 2 * worker, 1001 + 2 * worker]
    out = []
    for _ in range(rounds):
        for i in [*shared, *own]:
            cid = store.put(blob(i))
            assert store.get(cid) == blob(i)
            out.append((i, cid))
    return out
