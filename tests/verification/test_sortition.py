"""Stake-weighted committee sortition (M8): determinism, a hand-checked case, edge cases."""

from __future__ import annotations

from collections import Counter

import pytest
from eth_hash.auto import keccak

from fedchain.verification import VerificationError, WeightError
from fedchain.verification.sortition import (
    binomial_subusers,
    committee,
    draw_value,
    sortition_priority,
)

SEED = bytes(range(32))


def test_draw_value_is_keccak_of_seed_and_uint256_index() -> None:
    # Ethereum's keccak-256 (not NIST SHA3-256): the well-known digest of the empty string.
    assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    for k in (0, 1, 2, 255, 2**64):
        assert draw_value(SEED, k) == int.from_bytes(keccak(SEED + k.to_bytes(32, "big")), "big")
    assert draw_value(SEED, 0) == 0x77355D4A862F94A7E5925B3054D446D88C8A9E46B64E69AA8A47FE70CFFE75B8


def test_hand_checked_committee() -> None:
    # miners A, B, C (join order) with stakes 10, 20, 30; total 60.
    # k=0: r = draw(0) mod 60 = 4   → A (4 < 10).             remaining B, C; total 50
    # k=1: r = draw(1) mod 50 = 26  → B? 26 ≥ 20, r = 6 → C.   remaining B;    total 20
    # k=2: r = draw(2) mod 20 = 18  → B (18 < 20).
    assert draw_value(SEED, 0) % 60 == 4
    assert draw_value(SEED, 1) % 50 == 26
    assert draw_value(SEED, 2) % 20 == 18
    assert committee(SEED, ["A", "B", "C"], [10, 20, 30], 3) == ["A", "C", "B"]
    assert committee(SEED, ["A", "B", "C"], [10, 20, 30], 2) == ["A", "C"]
    assert committee(SEED, ["A", "B", "C"], [10, 20, 30], 1) == ["A"]  # the leader
    assert committee(SEED, ["A", "B", "C"], [10, 20, 30], 9) == ["A", "C", "B"]  # everyone


def test_deterministic_distinct_and_prefix_stable() -> None:
    miners = [f"0x{i:040x}" for i in range(12)]
    stakes = [10**18 * (i + 1) for i in range(12)]
    a = committee(SEED, miners, stakes, 5)
    assert a == committee(bytearray(SEED), list(miners), list(stakes), 5)
    assert len(set(a)) == 5
    assert committee(SEED, miners, stakes, 7)[:5] == a  # more seats only append draws
    assert committee(bytes(32), miners, stakes, 5) != a


def test_stake_weighting() -> None:
    # Leader frequency over many seeds follows the stakes (1 : 3): a sanity check, seeded.
    counts = Counter(
        committee(i.to_bytes(32, "big"), ["low", "high"], [1, 3], 1)[0] for i in range(2000)
    )
    assert 0.70 < counts["high"] / 2000 < 0.80


@pytest.mark.parametrize(
    ("seed", "miners", "stakes", "size", "exc"),
    [
        (b"short", ["A"], [1], 1, VerificationError),
        (SEED, [], [], 1, VerificationError),
        (SEED, ["A", "B"], [1], 1, WeightError),
        (SEED, ["A", "B"], [1, 0], 1, WeightError),
        (SEED, ["A", "B"], [1, True], 1, WeightError),
        (SEED, ["A", "a"], [1, 1], 1, VerificationError),
        (SEED, ["A"], [1], 0, VerificationError),
    ],
)
def test_committee_errors(seed, miners, stakes, size, exc) -> None:
    with pytest.raises(exc):
        committee(seed, miners, stakes, size)


def test_binomial_subusers() -> None:
    p = 0.25  # coins = 2: B(0) = 0.5625, B(1) = 0.375, B(2) = 0.0625
    assert binomial_subusers(0.0, coins=2, p=p) == 0
    assert binomial_subusers(0.5624, coins=2, p=p) == 0
    assert binomial_subusers(0.5626, coins=2, p=p) == 1
    assert binomial_subusers(0.9374, coins=2, p=p) == 1
    assert binomial_subusers(0.9376, coins=2, p=p) == 2
    assert binomial_subusers(0.5, coins=0, p=p) == 0 and binomial_subusers(0.5, coins=3, p=1) == 3
    prio = sortition_priority(SEED, "0xabc", coins=100, expected=20, total_coins=1000)
    assert prio == sortition_priority(SEED, "0xABC", coins=100, expected=20, total_coins=1000)
    assert 0 <= prio <= 100
    with pytest.raises(VerificationError):
        binomial_subusers(1.0, coins=2, p=p)
