"""Peer-to-peer ring training (M14; 002 Algorithm 2, 001 Algorithm 1) as a schedule.

Besides the star topology (clients → committee → leader), a team can pass the model from member
to member: each member trains on the model it receives and hands it on. 002 Algorithm 2 picks a
random first member and each member then sends to a random member that has not trained yet,
i.e. a random permutation per round. Ours is drawn from a public seed so that everyone (and the
chain) can recompute it: a Fisher–Yates shuffle driven by
``keccak256(seed ‖ uint256(round) ‖ uint256(step))``.

Round r has one hand-over per member: step 0 hands the model from the previous holder (the last
trainer of round r − 1; ``None`` — the requester's initial model — in round 0) to the first
member, step s hands it from the (s−1)-th to the s-th member. Every hand-over is meant to be
recorded as a model transaction (``on_handover`` in :func:`run_ring`). The model after the last
member of the last round is the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from eth_hash.auto import keccak

from fedchain.verification.errors import VerificationError

__all__ = ["Handover", "RingRun", "ring_order", "ring_round", "ring_schedule", "run_ring"]

T = TypeVar("T")


@dataclass(frozen=True)
class Handover:
    """One hand-over of the model: in ``round``, at ``step``, ``sender`` → ``receiver``.

    ``sender`` is ``None`` for the very first hand-over (the initial model).
    """

    round: int
    step: int
    sender: str | None
    receiver: str


def _seed_bytes(seed: bytes | int) -> bytes:
    if isinstance(seed, bool):
        raise VerificationError("seed must be bytes or a non-negative integer")
    if isinstance(seed, int):
        if not 0 <= seed < 2**256:
            raise VerificationError("an integer seed must fit in 256 bits")
        return seed.to_bytes(32, "big")
    if isinstance(seed, (bytes, bytearray)) and len(seed) > 0:
        return bytes(seed)
    raise VerificationError("seed must be non-empty bytes or a non-negative integer")


def _check_members(members: Sequence[str]) -> list[str]:
    names = list(members)
    if not names:
        raise VerificationError("a ring needs at least one member")
    if len(set(names)) != len(names):
        raise VerificationError("ring members must be unique")
    return names


def ring_order(members: Sequence[str], *, seed: bytes | int, round: int) -> list[str]:
    """The order in which ``members`` train in ``round`` (a seeded Fisher–Yates shuffle)."""
    names = _check_members(members)
    if round < 0:
        raise VerificationError("round must be >= 0")
    base = _seed_bytes(seed) + round.to_bytes(32, "big")
    pool = names[:]
    order: list[str] = []
    for step in range(len(names)):
        r = int.from_bytes(keccak(base + step.to_bytes(32, "big")), "big") % len(pool)
        order.append(pool.pop(r))
    return order


def ring_round(
    members: Sequence[str], *, seed: bytes | int, round: int, previous: str | None = None
) -> list[Handover]:
    """Hand-overs of one round; ``previous`` is who holds the model before it (None: initial)."""
    order = ring_order(members, seed=seed, round=round)
    senders: list[str | None] = [previous, *order[:-1]]
    return [
        Handover(round=round, step=s, sender=senders[s], receiver=order[s])
        for s in range(len(order))
    ]


def ring_schedule(members: Sequence[str], *, rounds: int, seed: bytes | int) -> list[Handover]:
    """All hand-overs of ``rounds`` rounds, in order."""
    if rounds < 0:
        raise VerificationError("rounds must be >= 0")
    out: list[Handover] = []
    previous: str | None = None
    for r in range(rounds):
        hs = ring_round(members, seed=seed, round=r, previous=previous)
        out += hs
        previous = hs[-1].receiver
    return out


@dataclass
class RingRun(Generic[T]):
    """Result of :func:`run_ring`: the final state and every hand-over, in order."""

    state: T
    handovers: list[Handover] = field(default_factory=list)


def run_ring(
    initial_state: T,
    members: Sequence[str],
    train_fn: Callable[[str, T], T],
    *,
    rounds: int,
    seed: bytes | int,
    on_handover: Callable[[Handover, T], None] | None = None,
) -> RingRun[T]:
    """Drive ring training: each receiver trains on the model it gets and passes it on.

    Args:
        initial_state: the requester's initial model (any object: a state dict, an array...).
        members: the team members (unique names or addresses).
        train_fn: ``train_fn(member, state) -> new state`` — the member's local training.
        rounds: number of passes around the ring.
        seed: public seed of the schedule (bytes or int).
        on_handover: called as ``on_handover(handover, state_sent)`` before each receiver trains
            (e.g. to record a model transaction).
    """
    state = initial_state
    run: RingRun[T] = RingRun(state=state)
    for h in ring_schedule(members, rounds=rounds, seed=seed):
        if on_handover is not None:
            on_handover(h, state)
        state = train_fn(h.receiver, state)
        run.handovers.append(h)
    run.state = state
    return run
