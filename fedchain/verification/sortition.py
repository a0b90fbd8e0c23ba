"""Stake-weighted committee sortition (M8), recomputable by anyone from the round's seed.

Paper 004 describes Algorand's VRF sortition: each unit of stake is a "sub-user", each user's
priority is the number of its sub-users selected by a binomial draw driven by its VRF hash, and
the highest priority leads. A VRF needs every miner's secret key, and a binomial draw needs
transcendental arithmetic that a contract cannot reproduce bit for bit. Our reading keeps the
idea — selection probability proportional to stake, unpredictable before the seed is fixed,
verifiable by everyone — and implements **stake-weighted sampling without replacement** from a
public on-chain seed, identically here and in the Solidity contract:

    total = Σ stakes
    for k in 0 .. min(size, n) − 1:
        r = uint256(keccak256(seed ‖ uint256(k))) mod total       (k as 32-byte big-endian)
        walk the remaining miners in join order, subtracting stakes, until r < stake_i;
        pick miner i; remove it (the others keep their order); total −= stake_i
    result[0] is the leader

With ``size >= len(miners)`` every miner is picked, in drawn order. Stakes are positive
integers (wei). The binomial priority of 004 is kept for experiments
(:func:`binomial_subusers`, :func:`sortition_priority`); it is not used on chain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from eth_hash.auto import keccak

from fedchain.verification.errors import VerificationError, WeightError

__all__ = ["binomial_subusers", "committee", "draw_value", "sortition_priority"]


def _check_seed(seed: bytes) -> bytes:
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
        raise VerificationError("seed must be 32 bytes")
    return bytes(seed)


def draw_value(seed: bytes, k: int) -> int:
    """``uint256(keccak256(seed ‖ uint256(k)))`` — the k-th draw of a round."""
    if not 0 <= k < 2**256:
        raise VerificationError("draw index out of the uint256 range")
    return int.from_bytes(keccak(_check_seed(seed) + k.to_bytes(32, "big")), "big")


def committee(seed: bytes, miners: Sequence[str], stakes: Sequence[int], size: int) -> list[str]:
    """Draw a stake-weighted committee of ``size`` miners (without replacement).

    Args:
        seed: the round's 32-byte seed (fixed on chain when the round opens).
        miners: miner addresses in join order (unique).
        stakes: each miner's stake, positive integers (wei), same length as ``miners``.
        size: committee size, ``>= 1``; larger than ``len(miners)`` means everyone.

    Returns:
        The committee in drawn order; element 0 is the leader.
    """
    seed = _check_seed(seed)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise VerificationError(f"committee size must be a positive integer, got {size!r}")
    if len(miners) == 0:
        raise VerificationError("no miners to draw from")
    if len(stakes) != len(miners):
        raise WeightError(f"{len(stakes)} stakes for {len(miners)} miners")
    if len({str(m).lower() for m in miners}) != len(miners):
        raise VerificationError("miner addresses must be unique")
    for m, s in zip(miners, stakes, strict=True):
        if isinstance(s, bool) or not isinstance(s, int) or s <= 0:
            raise WeightError(f"stake of {m} must be a positive integer, got {s!r}")
    remaining = list(zip(miners, stakes, strict=True))
    total = sum(stakes)
    chosen: list[str] = []
    for k in range(min(size, len(remaining))):
        r = draw_value(seed, k) % total
        for pos, (miner, stake) in enumerate(remaining):
            if r < stake:
                chosen.append(miner)
                del remaining[pos]
                total -= stake
                break
            r -= stake
    return chosen


def binomial_subusers(x: float, *, coins: int, p: float) -> int:
    """Number of selected sub-users for a user with ``coins`` units, given ``x ∈ [0, 1)``.

    The inverse binomial CDF: the smallest ``j`` with
    ``x < Σ_{k≤j} C(coins, k) p^k (1 − p)^(coins − k)``.
    004 prints the interval as ``[Σ_{k=0}^{j}, Σ_{k=0}^{j+1})``, which leaves ``[0, B(0))``
    uncovered; we use the standard inverse-CDF reading (Algorand's intent). float64, for
    experiments only.
    """
    if not 0.0 <= x < 1.0:
        raise VerificationError("x must lie in [0, 1)")
    if coins < 0 or not 0.0 <= p <= 1.0:
        raise VerificationError("coins must be >= 0 and p in [0, 1]")
    if coins == 0 or p == 0.0:
        return 0
    if p == 1.0:
        return coins
    log_q = math.log1p(-p)
    log_term = coins * log_q  # log B(0)
    cdf = math.exp(log_term)
    j = 0
    ratio = math.log(p) - log_q
    while x >= cdf and j < coins:
        j += 1
        log_term += math.log(coins - j + 1) - math.log(j) + ratio
        cdf += math.exp(log_term)
    return j


def sortition_priority(
    seed: bytes, address: str, *, coins: int, expected: int, total_coins: int
) -> int:
    """004's priority of one user: its selected sub-users, ``p = expected / total_coins``.

    A real deployment feeds a VRF output; here ``keccak256(seed ‖ address)`` stands in for it
    (anyone can compute it, so it is *not* private). For experiments only.
    """
    if total_coins <= 0 or not 0 <= expected <= total_coins:
        raise VerificationError("need total_coins > 0 and 0 <= expected <= total_coins")
    h = int.from_bytes(keccak(_check_seed(seed) + address.lower().encode()), "big")
    return binomial_subusers((h >> 203) / 2**53, coins=coins, p=expected / total_coins)
