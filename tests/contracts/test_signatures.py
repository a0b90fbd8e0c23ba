"""EIP-712: the contract's hashes equal eth_account's, relayed batches record the signers, and a
signature made for another round, task or chain recovers to an address that is not a member."""

from __future__ import annotations

from eth_account import Account

from fedchain.chain import eip712
from fedchain.chain.testing import reverts
from fedchain.chain.verdicts import verdict_hash

from .conftest import RAW, World, digest


def test_typed_hashes_match_eth_account(world: World) -> None:
    chain_id, contract = world.chain.chain_id, world.tasks.address
    message = eip712.update_typed_data(
        chain_id=chain_id,
        verifying_contract=contract,
        task_id=7,
        round=2,
        digest=digest("x"),
        num_samples=60,
        codec=RAW,
    )
    assert world.tasks.hashUpdate(7, 2, digest("x"), 60, RAW) == eip712.typed_data_hash(message)
    join = eip712.join_typed_data(
        chain_id=chain_id, verifying_contract=contract, task_id=7, mortgage=123, nonce=4,
        deadline=1_900_000_000,
    )  # fmt: skip
    assert world.tasks.hashJoin(7, 123, 4, 1_900_000_000) == eip712.typed_data_hash(join)
    assert world.tasks.hashJoin(7, 123, 5, 1_900_000_000) != eip712.typed_data_hash(join)
    att = eip712.attestation_typed_data(
        chain_id=chain_id,
        verifying_contract=contract,
        task_id=7,
        round=1,
        verdict_hash=b"\x05" * 32,
    )
    assert world.tasks.hashAttestation(7, 1, b"\x05" * 32) == eip712.typed_data_hash(att)
    verdict = world.verdict(7, 1, [0, 1], [1], weights=[0, 10_000])
    assert world.tasks.verdictHashOf(7, 1, verdict) == verdict_hash(7, 1, verdict)


def _two_running_tasks(world: World) -> tuple[int, int]:
    """Two tasks with the same three clients and one miner, running side by side."""
    deadline = world.chain.timestamp() + 1000
    tasks = []
    for _ in range(2):
        task, _ = world.create(committeeSize=1, joinDeadline=deadline)
        world.join(task, range(3), range(1))
        tasks.append(task)
    for task in tasks:
        world.start(task)
    return tasks[0], tasks[1]


def test_relayed_batch_records_signers_and_replays_are_not_members(world: World) -> None:
    task, other = _two_running_tasks(world)
    c = world.clients
    good = [world.sign_update(c[0], task, 0), world.sign_update(c[1], task, 0, num_samples=7)]
    replays = [
        world.sign_update(c[2], task, 1),  # another round
        world.sign_update(c[2], other, 0),  # another task
        world.sign_update(c[2], task, 0, chain_id=world.chain.chain_id + 1),  # another chain
        world.sign_update(c[2], task, 0, contract=world.registry.address),  # another contract
    ]
    result = world.tasks.submitUpdatesBySig(task, 0, good + replays, sender=world.outsider)
    events = result.events_named("UpdateSubmitted")
    assert [e.args["client"] for e in events[:2]] == [c[0].address, c[1].address]
    assert events[1].args["numSamples"] == 7 and events[1].args["digest"] == good[1]["digest"]
    members = {a.address for a in c}
    for event in events[2:]:
        assert event.args["client"] not in members
        assert world.tasks.memberOf(task, event.args["client"]).role == 0
    # Python recovers the same signer the committee would check.
    assert (
        eip712.recover_update_signer(
            signed=good[0],
            chain_id=world.chain.chain_id,
            verifying_contract=world.tasks.address,
            task_id=task,
            round=0,
        )
        == c[0].address
    )


def test_bad_batches_revert(world: World) -> None:
    task, _ = world.setup(clients=2, miners=1, committeeSize=1)
    sig = world.sign_update(world.clients[0], task, 0)
    high_s = dict(
        sig, vs=(int.from_bytes(sig["vs"], "big") | (2**255 - 1 >> 1) + 2**254).to_bytes(32, "big")
    )
    with reverts("TaskManagerInvalidSignature", taskId=task, index=1):
        world.tasks.submitUpdatesBySig(task, 0, [sig, high_s], sender=world.outsider)
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        world.tasks.submitUpdatesBySig(task, 0, [dict(sig, r=b"\x00" * 32)], sender=world.outsider)
    with reverts("TaskManagerInvalidCodec", codec=0x71):
        world.tasks.submitUpdatesBySig(task, 0, [dict(sig, codec=0x71)], sender=world.outsider)
    with reverts("TaskManagerZeroSamples", taskId=task):
        world.tasks.submitUpdatesBySig(task, 0, [dict(sig, numSamples=0)], sender=world.outsider)
    with reverts("TaskManagerEmptyBatch", taskId=task):
        world.tasks.submitUpdatesBySig(task, 0, [], sender=world.outsider)
    with reverts("TaskManagerWrongRound", taskId=task, round=1, currentRound=0):
        world.tasks.submitUpdatesBySig(task, 1, [sig], sender=world.outsider)


def test_join_permits(world: World) -> None:
    task, spec = world.create()
    mortgage = spec["clientMortgage"]
    client = world.clients[0]
    wrong = world.permit(client, task, mortgage + 1)  # signed for other terms
    deadline = wrong["deadline"]
    stranger = Account.recover_message(
        eip712.encode_typed_data(
            full_message=eip712.join_typed_data(
                chain_id=world.chain.chain_id,
                verifying_contract=world.tasks.address,
                task_id=task,
                mortgage=mortgage,
                nonce=0,
                deadline=deadline,
            )
        ),
        vrs=(wrong["v"], wrong["r"], wrong["s"]),
    )
    assert stranger != client.address  # the task's terms recover someone else: refused
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        world.tasks.joinClientsBySig(task, [wrong], sender=world.outsider)
    later = world.permit(client, task, mortgage, deadline=deadline + 1)
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):  # deadline is signed
        world.tasks.joinClientsBySig(task, [dict(later, deadline=deadline)], sender=world.outsider)
    stale = world.permit(client, task, mortgage, nonce=1)  # not the client's nonce (0)
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        world.tasks.joinClientsBySig(task, [stale], sender=world.outsider)
    permit = world.permit(client, task, mortgage)
    with reverts("TaskManagerAlreadyJoined", taskId=task, account=client.address):
        world.tasks.joinClientsBySig(task, [permit, permit], sender=world.outsider)
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        world.tasks.joinClientsBySig(task, [dict(permit, v=29)], sender=world.outsider)
    with reverts("TaskManagerEmptyBatch", taskId=task):
        world.tasks.joinClientsBySig(task, [], sender=world.outsider)
    result = world.tasks.joinClientsBySig(task, [permit], sender=world.outsider)
    joined = result.event("ClientJoined").args
    assert (joined["client"], joined["samples"]) == (client.address, 100)
    assert int(world.tasks.joinNonce(client.address)) == 0  # joining does not use the nonce


def test_relayed_attestations_must_come_from_distinct_members(world: World) -> None:
    task, _ = world.create(committeeSize=4)
    world.join(task, range(2), range(4))
    world.until(lambda: world.start(task), lambda: world.distinct(task, 0))
    world.submit(task, 0, [0, 1])
    committee = world.committee(task, 0)
    outsider_miner = next(m for m in world.miners if m not in committee)
    verdict = world.verdict(task, 0, [0, 1], [0, 1])
    for sigs, error in [
        (
            world.attestations(task, 0, verdict, [committee[1], committee[1]]),
            "TaskManagerAlreadyAttested",
        ),
        (world.attestations(task, 0, verdict, [committee[0]]), "TaskManagerAlreadyAttested"),
        (world.attestations(task, 0, verdict, [outsider_miner]), "TaskManagerNotCommitteeMember"),
        (world.attestations(task, 1, verdict, [committee[1]]), "TaskManagerNotCommitteeMember"),
    ]:
        with reverts(error):
            world.tasks.postVerdict(task, 0, verdict, sigs, sender=committee[0])
    # Quorum of 4 is 3: the leader plus two relayed signatures finalize at once.
    sigs = world.attestations(task, 0, verdict, committee[1:3])
    result = world.tasks.postVerdict(task, 0, verdict, sigs, sender=committee[0])
    assert len(result.events_named("VerdictAttested")) == 2
    assert result.events_named("RoundFinalized")


def test_a_member_attests_for_all_its_seats(world: World) -> None:
    """Seats are drawn with replacement: one signature of a member holding two seats counts
    twice, and relaying it again is a second attestation of the same seats."""
    task, _ = world.create(committeeSize=4)
    world.join(task, range(2), range(4))

    def shape() -> bool:  # the leader holds one seat, another member two (quorum is 3)
        seats = world.committee(task, 0)
        return seats.count(seats[0]) == 1 and any(seats.count(m) == 2 for m in seats[1:])

    world.until(lambda: world.start(task), shape)
    world.submit(task, 0, [0, 1])
    seats = world.committee(task, 0)
    double = next(m for m in seats[1:] if seats.count(m) == 2)
    single = next(m for m in seats[1:] if seats.count(m) == 1)
    verdict = world.verdict(task, 0, [0, 1], [0, 1])
    twice = world.attestations(task, 0, verdict, [double, double])
    with reverts("TaskManagerAlreadyAttested", account=double.address):
        world.tasks.postVerdict(task, 0, verdict, twice, sender=seats[0])
    snap = world.chain.snapshot()
    result = world.tasks.postVerdict(
        task, 0, verdict, world.attestations(task, 0, verdict, [single]), sender=seats[0]
    )
    assert not result.events_named("RoundFinalized")  # 2 seats of 4 < quorum 3
    final = world.tasks.attestVerdict(task, 0, verdict_hash(task, 0, verdict), sender=double)
    assert final.events_named("RoundFinalized")  # its one call added both its seats
    world.chain.revert(snap)
    sigs = world.attestations(task, 0, verdict, [double])
    result = world.tasks.postVerdict(task, 0, verdict, sigs, sender=seats[0])
    assert len(result.events_named("VerdictAttested")) == 1
    assert result.events_named("RoundFinalized")  # 1 + 2 seats reach the quorum of 3
