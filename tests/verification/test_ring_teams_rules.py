"""Ring schedule (M14), team formation (M12) and the verification-rule registry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fedchain.verification import UnknownRuleError, VerificationError
from fedchain.verification.ring import ring_order, ring_round, ring_schedule, run_ring
from fedchain.verification.rules import (
    Verdict,
    aggregate_accepted,
    available_rules,
    get_rule,
    register_rule,
    verify,
)
from fedchain.verification.teams import integrated_value, select_team, team_eligible

MEMBERS = ["alice", "bob", "carol", "dave", "erin"]


def test_ring_schedule_properties() -> None:
    hs = ring_schedule(MEMBERS, rounds=4, seed=7)
    assert len(hs) == 4 * len(MEMBERS)
    assert hs[0].sender is None and hs[0].round == 0 and hs[0].step == 0
    for r in range(4):
        rnd = [h for h in hs if h.round == r]
        assert [h.step for h in rnd] == list(range(len(MEMBERS)))
        assert sorted(h.receiver for h in rnd) == sorted(MEMBERS)  # everyone trains once
        assert [h.receiver for h in rnd] == ring_order(MEMBERS, seed=7, round=r)
    for prev, nxt in itertools.pairwise(hs):
        assert nxt.sender == prev.receiver  # the model is passed on, never teleported
        assert nxt.sender != nxt.receiver
    assert ring_schedule(MEMBERS, rounds=4, seed=7) == hs  # deterministic
    assert ring_schedule(MEMBERS, rounds=4, seed=8) != hs
    orders = {tuple(ring_order(MEMBERS, seed=7, round=r)) for r in range(6)}
    assert len(orders) > 1  # the order changes between rounds
    assert ring_round(["solo"], seed=b"s", round=0) == ring_round(["solo"], seed=b"s", round=0)


def test_run_ring_drives_training_in_schedule_order() -> None:
    log: list[tuple[int, str | None, str]] = []

    def train(member: str, state: list[str]) -> list[str]:
        return [*state, member]

    run = run_ring(
        [],
        MEMBERS,
        train,
        rounds=2,
        seed=b"\x01" * 32,
        on_handover=lambda h, st: log.append((len(st), h.sender, h.receiver)),
    )
    sched = ring_schedule(MEMBERS, rounds=2, seed=b"\x01" * 32)
    assert run.handovers == sched
    assert run.state == [h.receiver for h in sched]
    assert [n for n, _, _ in log] == list(range(10))  # state handed over before each training


def test_ring_errors() -> None:
    for bad in ([], ["a", "a"]):
        with pytest.raises(VerificationError):
            ring_order(bad, seed=1, round=0)
    with pytest.raises(VerificationError):
        ring_order(MEMBERS, seed=-1, round=0)
    with pytest.raises(VerificationError):
        ring_schedule(MEMBERS, rounds=-1, seed=1)


def test_team_formation() -> None:
    names = ["n1", "n2", "n3", "n4"]
    # IV = 0.5·Wp + 0.5·Ab = (0.6, 0.8, 0.8, 0.3)
    team = select_team(names, [0.4, 0.9, 0.7, 0.1], [0.8, 0.7, 0.9, 0.5], size=3)
    assert team.values == pytest.approx([0.6, 0.8, 0.8, 0.3])
    assert team.members == ["n2", "n3", "n1"]  # tie 0.8: earlier candidate first
    assert integrated_value(1.0, 0.0) == 0.5
    assert team_eligible([50, 70, 90], requirement=50)
    assert not team_eligible([50, 70, 40], requirement=50)
    assert team_eligible([100, 50], requirement=[100, 50])  # the leader's requirement is higher
    assert not team_eligible([99, 50], requirement=[100, 50])
    with pytest.raises(VerificationError):
        select_team(names, [0.1] * 4, [0.1] * 4, size=5)
    with pytest.raises(VerificationError):
        select_team(["a", "a"], [0.1] * 2, [0.1] * 2, size=1)


def test_rule_registry() -> None:
    rng = np.random.default_rng(0)
    ups = [rng.standard_normal(50).astype(np.float32) for _ in range(8)]
    ups[3] = ups[3] * 40
    v = verify("multikrum", ups, f=2)
    assert isinstance(v, Verdict) and 3 in v.rejected and len(v.accepted) == 6
    assert v.bitmap() == sum(1 << i for i in v.accepted)
    assert v.accepted_mask() == [i in v.accepted for i in range(8)]
    assert verify("none", ups).accepted == list(range(8))
    assert verify("fedavg", ups).rejected == []
    scores = np.full((8, 8), 0.9)
    scores[:, 5] = 0.2
    mv = verify("mutual_validation", ups, score_matrix=scores)
    assert mv.rejected == [5] and mv.scores is not None
    assert {"fedavg", "multikrum", "mutual_validation", "none"} <= set(available_rules())

    agg = aggregate_accepted(v, ups, [10] * 8)
    expected = np.mean([ups[i] for i in v.accepted], axis=0)
    assert np.allclose(agg, expected, atol=1e-6)

    @register_rule("first_half")
    def _first_half(updates, **_):
        n = len(updates)
        return Verdict("first_half", list(range(n // 2)), list(range(n // 2, n)))

    assert get_rule("first_half") is _first_half
    assert verify("first_half", ups).accepted == [0, 1, 2, 3]
    with pytest.raises(UnknownRuleError, match="unknown verification rule"):
        verify("nope", ups)
    with pytest.raises(VerificationError):
        verify("mutual_validation", ups[:3], score_matrix=scores)
    with pytest.raises(VerificationError):
        aggregate_accepted(Verdict("x", [], list(range(8))), ups, [1] * 8)
