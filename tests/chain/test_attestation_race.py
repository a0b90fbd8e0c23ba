"""A transaction whose cost changed between its gas estimate and its block is resent.

The race of issue 9: a miner estimates ``attestVerdict`` while its attestation would not
complete the quorum; another member's attestation lands first, so this one finalizes the round
(many times the gas) and runs out of gas inside the TaskManager -> TaskManagerExtension
DELEGATECALL, where ``gasUsed`` stays below the limit. The tests force that order by taking the
estimate, then landing the other attestation, then handing the stale estimate back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from fedchain.chain import connect, find_anvil_binary
from fedchain.chain.errors import AnvilError, ContractError
from fedchain.chain.transact import Transactor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contracts.conftest import World, build_world  # the contract tests' world

CHAINS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]
#: What a role treats as "the round moved on: look again" (fedchain/roles/miner.py).
DONE_ERRORS = {
    "TaskManagerAlreadyAttested",
    "TaskManagerWrongRound",
    "TaskManagerWrongStatus",
    "TaskManagerNoVerdict",
}


@pytest.fixture(scope="module", params=CHAINS)
def race_world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "anvil":
        try:
            find_anvil_binary()
        except AnvilError as exc:
            pytest.skip(str(exc))
    chain = connect(request.param, accounts=3)
    try:
        yield build_world(chain)
    finally:
        chain.close()


@pytest.fixture
def world(race_world: World) -> Iterator[World]:
    snap = race_world.chain.snapshot()
    try:
        yield race_world
    finally:
        race_world.chain.revert(snap)


def _verdict_stage(w: World) -> tuple[int, bytes, list[LocalAccount]]:
    """A task whose round 0 has the leader's verdict and one attestation: 2 of the quorum of
    4 (committee of 5 distinct members: seats are drawn with replacement, so the test retries
    the start until a block's hash gives five different ones, about 1 block in 26). Returns
    (task, verdict hash, the three members yet to attest)."""
    task, _ = w.create(committeeSize=5, byzantineF=1, rounds=2)
    w.join(task, range(2), range(5))
    w.until(lambda: w.start(task), lambda: w.distinct(task, 0), tries=512)
    w.submit(task, 0, [0, 1])
    leader, a, *rest = w.committee(task, 0)
    assert int(w.tasks.quorum(task)) == 4
    w.tasks.postVerdict(task, 0, w.verdict(task, 0, [0, 1], [0, 1]), [], sender=leader)
    vhash = bytes(w.tasks.pendingVerdictHash(task))
    w.tasks.attestVerdict(task, 0, vhash, sender=a)
    return task, vhash, rest


def _stale_estimates(
    monkeypatch: pytest.MonkeyPatch, sender: LocalAccount, meanwhile: list[Callable[[], Any]]
) -> list[int]:
    """Make ``sender``'s n-th gas estimate see the state before ``meanwhile[n]`` lands (as when
    another process's transaction is mined between our estimate and our block)."""
    real = Transactor.estimate_gas
    estimates: list[int] = []

    def estimate_then_race(self: Transactor, tx: Any, *, context: str = "") -> int:
        if tx.get("from") != sender.address or not meanwhile:
            return real(self, tx, context=context)
        estimate = real(self, tx, context=context)
        estimates.append(estimate)
        meanwhile.pop(0)()  # the other member's transaction lands first
        return estimate

    monkeypatch.setattr(Transactor, "estimate_gas", estimate_then_race)
    return estimates


@pytest.mark.parametrize("race_world", CHAINS, indirect=True)
def test_the_attestation_that_became_finalizing_is_resent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    task, vhash, (b, c, _) = _verdict_stage(world)
    estimates = _stale_estimates(
        monkeypatch, c, [lambda: world.tasks.attestVerdict(task, 0, vhash, sender=b)]
    )
    result = world.tasks.attestVerdict(task, 0, vhash, sender=c)
    assert len(estimates) == 1  # the stale one; the resend's estimate is the real one
    assert result.events_named("RoundFinalized")
    assert result.gas_used > estimates[0] * 1.25 + 10_000  # the stale limit could not have held
    assert int(world.tasks.taskInfo(task).round) == 1
    # The run-out transaction was paid for and recorded as failed; the resend as the result.
    assert world.chain.gas.records[-1].tx_hash == result.tx_hash


@pytest.mark.parametrize("race_world", CHAINS, indirect=True)
def test_a_resend_into_a_final_round_raises_the_named_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-estimate finds the round final already: the contract's own error, which the roles
    read as "done, look again", instead of an out-of-gas or a replay that did not revert."""
    task, vhash, (b, c, d) = _verdict_stage(world)
    _stale_estimates(monkeypatch, d, [
        lambda: world.tasks.attestVerdict(task, 0, vhash, sender=b),  # d becomes finalizing...
        lambda: world.tasks.attestVerdict(task, 0, vhash, sender=c),  # ...then c finalizes first
    ])  # fmt: skip
    with pytest.raises(ContractError) as info:
        world.tasks.attestVerdict(task, 0, vhash, sender=d)
    assert info.value.error_name in DONE_ERRORS, str(info.value)
    assert int(world.tasks.taskInfo(task).round) == 1
