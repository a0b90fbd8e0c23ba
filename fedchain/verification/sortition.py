"""Stake-weighted committee sortition (M8), recomputable by anyone from the round's seed.

Paper 004 describes Algorand's VRF sortition: each unit of stake is a "sub-user", each user's
priority is the number of its sub-users selected by a binomial draw driven by its VRF hash, and
the highest priority leads. A VRF needs every miner's secret key, and a binomial draw needs
transcendental arithmetic that a contract cannot reproduce bit for bit. Our reading keeps the
idea — seats in proportion to stake, unpredictable before the seed is fixed, verifiable by
everyone — and implements **stake-weighted seat draws with replacement** from a public seed,
identically here and in the Solidity contract:

    total = Σ stakes
    for each seat k in 0 .. size − 1:
        r = uint256(keccak256(seed ‖ uint256(k))) mod total       (k as 32-byte big-endian)
        walk the miners in join order, subtracting stakes, until r < stake_i; seat k is miner i
    seat 0 leads the first attempt, seat 1 the next, ...

Every seat is an independent draw, so a miner's number of seats is Binomial(size, stake/total)
however the stake is split over addresses: splitting into sybils gains nothing (sampling
*without* replacement, which an earlier version used, rewarded it). A miner may hold several
seats; it votes, and is slashed, for each. The seed of round r is
``keccak256(abi.encode(blockhash(seedBlock), taskId, r))`` (:func:`round_seed`), where
``seedBlock`` is the block that opened the round, whose hash no transaction in it can read.
The binomial priority of 004 is kept for experiments (:func:`binomial_subusers`,
:func:`sortition_priority`); it is not used on chain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from eth_hash.auto import keccak

from fedchain.verification.errors import VerificationError, WeightError

__all__ = ["binomial_subusers", "committee", "draw_value", "round_seed", "sortition_priority"]


def _check_seed(seed: bytes) -> bytes:
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
        raise VerificationError("seed must be 32 bytes")
    return bytes(seed)


def draw_value(seed: bytes, k: int) -> int:
    """``uint256(keccak256(seed ‖ uint256(k)))`` — the k-th draw of a round."""
    if not 0 <= k < 2**256:
        raise VerificationError("draw index out of the uint256 range")
    return int.from_bytes(keccak(_check_seed(seed) + k.to_bytes(32, "big")), "big")


def round_seed(block_hash: bytes, task_id: int, round: int) -> bytes:
    """``keccak256(abi.encode(blockhash(seedBlock), taskId, round))``: a round's committee seed."""
    if not 0 <= task_id < 2**256 or not 0 <= round < 2**256:
        raise VerificationError("task id and round must be uint256")
    return bytes(
        keccak(_check_seed(block_hash) + task_id.to_bytes(32, "big") + round.to_bytes(32, "big"))
    )


def committee(seed: bytes, miners: Sequence[str], stakes: Sequence[int], size: int) -> list[str]:
    """Draw ``size`` stake-weighted committee seats (with replacement).

    Args:
        seed: the round's 32-byte seed (:func:`round_seed`).
        miners: miner addresses in join order (unique).
        stakes: each miner's stake, positive integers (wei), same length as ``miners``.
        size: number of seats, ``>= 1``.

    Returns:
        The seats in drawn order (a miner may appear more than once); seat 0 leads.
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
    total = sum(stakes)
    seats: list[str] = []
    for k in range(size):
        r = draw_value(seed, k) % total
        for miner, stake in zip(miners, stakes, strict=True):
            if r < stake:
                seats.append(miner)
                break
            r -= stake
    return seats


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
