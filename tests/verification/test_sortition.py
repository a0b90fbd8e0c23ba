"""Stake-weighted committee sortition (M8) with replacement: determinism, a hand-checked case,
repeated seats, splitting stake over sybils gains nothing, edge cases."""

from __future__ import annotations

import math
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
    # miners A, B, C (join order) with stakes 10, 20, 30; total 60 for every seat (with
    # replacement: a drawn miner stays in the pool).
    # k=0: r = draw(0) mod 60 = 4   -> A (4 < 10).
    # k=1: r = draw(1) mod 60 = 16  -> 16 >= 10, r = 6 -> B (6 < 20).
    # k=2: r = draw(2) mod 60 = 58  -> 58 - 10 - 20 = 28 -> C (28 < 30).
    # k=3: r = draw(3) mod 60 = 10  -> 10 >= 10, r = 0 -> B.
    # k=4: r = draw(4) mod 60 = 16  -> B again.
    assert [draw_value(SEED, k) % 60 for k in range(5)] == [4, 16, 58, 10, 16]
    assert committee(SEED, ["A", "B", "C"], [10, 20, 30], 3) == ["A", "B", "C"]
    assert committee(SEED, ["A", "B", "C"], [10, 20, 30], 2) == ["A", "B"]
    assert committee(SEED, ["A", "B", "C"], [10, 20, 30], 1) == ["A"]  # the leader
    # More seats than miners: still `size` seats, repeating miners.
    assert committee(SEED, ["A", "B", "C"], [10, 20, 30], 5) == ["A", "B", "C", "B", "B"]
    nine = committee(SEED, ["A", "B", "C"], [10, 20, 30], 9)
    assert len(nine) == 9 and nine[:5] == ["A", "B", "C", "B", "B"]
    assert committee(SEED, ["solo"], [7], 4) == ["solo"] * 4  # one miner holds every seat


def test_deterministic_with_replacement_and_prefix_stable() -> None:
    miners = [f"0x{i:040x}" for i in range(12)]
    stakes = [10**18 * (i + 1) for i in range(12)]
    a = committee(SEED, miners, stakes, 5)
    assert a == committee(bytearray(SEED), list(miners), list(stakes), 5)
    assert len(a) == 5 and set(a) <= set(miners)
    assert committee(SEED, miners, stakes, 7)[:5] == a  # more seats only append draws
    assert committee(bytes(32), miners, stakes, 5) != a
    # Seats are independent draws: seat k depends on draw k only, never on earlier seats.
    total = sum(stakes)
    for k, seat in enumerate(committee(SEED, miners, stakes, 16)):
        r = draw_value(SEED, k) % total
        i = 0
        while r >= stakes[i]:
            r -= stakes[i]
            i += 1
        assert seat == miners[i]
    # Repeats happen: over some seeds, a 16-seat committee of 12 miners always repeats one.
    assert all(
        len(set(committee(s.to_bytes(32, "big"), miners, stakes, 16))) < 16 for s in range(20)
    )
    # ... and with few seats among many equal stakes repeats are possible but rare.
    repeated = sum(
        len(set(c)) < 3
        for c in (committee(s.to_bytes(32, "big"), miners, [1] * 12, 3) for s in range(2000))
    )
    assert 0 < repeated < 2000 * 0.4  # P(repeat) = 1 - (11/12)(10/12) = 0.236


def test_stake_weighting() -> None:
    # Leader frequency over many seeds follows the stakes (1 : 3): a sanity check, seeded.
    counts = Counter(
        committee(i.to_bytes(32, "big"), ["low", "high"], [1, 3], 1)[0] for i in range(2000)
    )
    assert 0.70 < counts["high"] / 2000 < 0.80


def _seat_distribution(
    attacker: list[tuple[str, int]], size: int, trials: int
) -> tuple[float, list[float]]:
    """Mean seats held by the attacker's addresses and the frequency of each seat count, over
    deterministic seeds, against two honest miners of 30 units each."""
    miners = [("h0", 30), ("h1", 30), *attacker]
    names, stakes = [m for m, _ in miners], [s for _, s in miners]
    counts = [0] * (size + 1)
    for t in range(trials):
        seed = keccak(b"fedchain/tests/sybil" + t.to_bytes(8, "big"))
        seats = committee(seed, names, stakes, size)
        counts[sum(1 for m in seats if m.startswith("a"))] += 1
    mean = sum(k * c for k, c in enumerate(counts)) / trials
    return mean, [c / trials for c in counts]


def test_splitting_stake_over_sybils_gains_nothing() -> None:
    """40 % of the stake expects 40 % of the seats, and the whole distribution of its seat
    count (Binomial(size, 0.4)) is the same held by one address or split over 40 sybils: no
    split gives more seats, a quorum more often, or a lead more often."""
    size, trials, p = 5, 4000, 0.4
    binomial = [math.comb(size, k) * p**k * (1 - p) ** (size - k) for k in range(size + 1)]
    whole_mean, whole = _seat_distribution([("a0", 40)], size, trials)
    split_mean, split = _seat_distribution([(f"a{k}", 1) for k in range(40)], size, trials)
    uneven_mean, uneven = _seat_distribution([("a0", 25), ("a1", 10), ("a2", 5)], size, trials)
    for mean in (whole_mean, split_mean, uneven_mean):
        assert abs(mean - size * p) < 0.08  # sd of the mean: sqrt(5 * .4 * .6 / 4000) = 0.017
    for dist in (whole, split, uneven):
        for k in range(size + 1):
            assert abs(dist[k] - binomial[k]) < 0.03, (k, dist[k], binomial[k])
    quorum = 4  # ceil(2 * 5 / 3) seats
    assert abs(sum(whole[quorum:]) - sum(split[quorum:])) < 0.03
    assert sum(split[quorum:]) < 0.12  # P(Binomial(5, 0.4) >= 4) = 0.087


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
