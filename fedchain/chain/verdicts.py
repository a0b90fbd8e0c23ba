"""Round verdicts as the TaskManager hashes them, and the bitmaps they carry.

A verdict is ``(submitted, accepted, globalModel, codec, weights)``: bit i of ``submitted`` /
``accepted`` is client i (its index in the task, from ``ClientJoined``), ``weights`` are the
per-client basis points of the contribution and data-amount reward policies (empty otherwise).
Every committee member computes the verdict itself and attests :func:`verdict_hash`, which equals
the contract's ``verdictHashOf``::

    keccak256(abi.encode(taskId, round, submitted, accepted, globalModel, codec,
                         keccak256(abi.encodePacked(weights))))

(``abi.encodePacked`` of a ``uint16[]`` pads every element to 32 bytes.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from fedchain.chain.abi import digest32

__all__ = ["BPS", "bitmap", "indices", "make_verdict", "verdict_hash"]

#: Basis-point denominator of reward weights.
BPS = 10_000


def bitmap(members: Iterable[int]) -> int:
    """The 256-bit bitmap with bit i set for every client index i in ``members``."""
    bits = 0
    for i in members:
        if not 0 <= i < 256:
            raise ValueError(f"client index {i} out of range [0, 256)")
        bits |= 1 << i
    return bits


def indices(bits: int) -> list[int]:
    """The client indices set in ``bits``, ascending."""
    return [i for i in range(256) if bits >> i & 1]


def make_verdict(
    *,
    submitted: Iterable[int],
    accepted: Iterable[int],
    global_model: bytes | str,
    codec: int,
    weights: Sequence[int] = (),
) -> dict[str, Any]:
    """The ``Verdict`` struct for ``postVerdict`` from client index sets."""
    return {
        "submitted": bitmap(submitted),
        "accepted": bitmap(accepted),
        "globalModel": digest32(global_model),
        "codec": int(codec),
        "weights": [int(w) for w in weights],
    }


def verdict_hash(task_id: int, round: int, verdict: dict[str, Any]) -> bytes:
    """The hash committee members attest (equals the contract's ``verdictHashOf``)."""
    weights_hash = keccak(b"".join(int(w).to_bytes(32, "big") for w in verdict["weights"]))
    return keccak(
        encode(
            ["uint256", "uint64", "uint256", "uint256", "bytes32", "uint8", "bytes32"],
            [
                int(task_id),
                int(round),
                int(verdict["submitted"]),
                int(verdict["accepted"]),
                digest32(verdict["globalModel"]),
                int(verdict["codec"]),
                weights_hash,
            ],
        )
    )
